//! Who must use a second factor under `twofactorauth:enforce`, and how occ says
//! so. Nextcloud's rule: with enforced groups, exactly their members (the
//! excluded list does not matter); without, everybody but the excluded groups'
//! members.

use authbridge_store::Enforcement;

pub fn is_enforced_for(enforcement: &Enforcement, user_groups: &[String]) -> bool {
    let member = |list: &[String]| {
        list.iter()
            .any(|g| user_groups.iter().any(|mine| mine.eq_ignore_ascii_case(g)))
    };
    if !enforcement.enforced {
        false
    } else if !enforcement.groups.is_empty() {
        member(&enforcement.groups)
    } else {
        !member(&enforcement.excluded)
    }
}

/// occ's sentence for the state.
pub fn describe(enforcement: &Enforcement) -> String {
    if !enforcement.enforced {
        return "Two-factor authentication is not enforced".to_owned();
    }
    if !enforcement.groups.is_empty() {
        return format!(
            "Two-factor authentication is enforced for members of the group(s) {}",
            enforcement.groups.join(", ")
        );
    }
    let mut text = "Two-factor authentication is enforced for all users".to_owned();
    if !enforcement.excluded.is_empty() {
        text.push_str(", except members of ");
        text.push_str(&enforcement.excluded.join(", "));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn groups(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    fn state(enforced: bool, on: &[&str], excluded: &[&str]) -> Enforcement {
        Enforcement {
            enforced,
            groups: groups(on),
            excluded: groups(excluded),
        }
    }

    #[test]
    fn enforced_groups_decide_alone_then_exclusions() {
        let off = state(false, &["admin"], &[]);
        assert!(!is_enforced_for(&off, &groups(&["admin"])));
        let all = state(true, &[], &[]);
        assert!(is_enforced_for(&all, &[]));
        let all_but = state(true, &[], &["service-accounts"]);
        assert!(is_enforced_for(&all_but, &groups(&["staff"])));
        assert!(!is_enforced_for(&all_but, &groups(&["Service-Accounts"])));
        let some = state(true, &["admin", "finance"], &["service-accounts"]);
        assert!(is_enforced_for(&some, &groups(&["finance"])));
        assert!(
            is_enforced_for(&some, &groups(&["admin", "service-accounts"])),
            "enforced groups overrule the excluded list"
        );
        assert!(!is_enforced_for(&some, &groups(&["staff"])));
    }

    /// The sentences of the seed's `twofactorauth:enforce` examples.
    #[test]
    fn occ_sentences() {
        assert_eq!(
            describe(&state(true, &[], &[])),
            "Two-factor authentication is enforced for all users"
        );
        assert_eq!(
            describe(&state(true, &["admin", "finance"], &["service-accounts"])),
            "Two-factor authentication is enforced for members of the group(s) admin, finance"
        );
        assert_eq!(
            describe(&state(false, &[], &[])),
            "Two-factor authentication is not enforced"
        );
        assert_eq!(
            describe(&state(true, &[], &["a", "b"])),
            "Two-factor authentication is enforced for all users, except members of a, b"
        );
    }
}
