//! user_external's rules for turning what a person typed into the IMAP login,
//! the canonical uid and the domain group.

use authbridge_core::{RejectReason, canonical_uid};

/// Who to log in as, and who that makes the person on success.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// Sent to the IMAP server (the person's own spelling).
    pub imap_login: String,
    /// NFC, lower-cased.
    pub uid: String,
    pub groups: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct DomainRules {
    pub domain: Option<String>,
    pub strip_domain: bool,
    pub group_domain: bool,
}

impl DomainRules {
    /// Applies the rules. A login in another domain is rejected here, before any
    /// connection is made.
    pub fn map(&self, typed: &str) -> Result<Mapped, RejectReason> {
        // Mail clients and some web forms escape "@" as "%40"; only unescape when the
        // login has no real "@" (user_external does the same).
        let login = if !typed.contains('@') && typed.contains("%40") {
            typed.replace("%40", "@")
        } else {
            typed.to_owned()
        };
        let (local, login_domain) = match login.split_once('@') {
            Some((l, d)) => (l, Some(d)),
            None => (login.as_str(), None),
        };
        let Some(domain) = &self.domain else {
            // No domain configured: the login goes as typed, and no group comes of
            // it (a domain the person typed must never become a group).
            return Ok(Mapped {
                uid: canonical_uid(&login),
                groups: vec![],
                imap_login: login.clone(),
            });
        };
        let local = match login_domain {
            None => local,
            // Domain names are case-insensitive; a second "@" never matches.
            Some(d) if d.eq_ignore_ascii_case(domain) => local,
            Some(d) => return Err(RejectReason::WrongDomain(d.to_owned())),
        };
        // "alice" and "alice@example.com" are one mailbox, so one account: the
        // uid is the same whichever way it was typed.
        let full = format!("{local}@{domain}");
        Ok(Mapped {
            uid: canonical_uid(if self.strip_domain { local } else { &full }),
            groups: self.group(),
            imap_login: if login_domain.is_some() {
                login.clone()
            } else {
                full
            },
        })
    }

    /// The configured domain, as an ordinary group.
    fn group(&self) -> Vec<String> {
        match &self.domain {
            Some(d) if self.group_domain => vec![d.to_ascii_lowercase()],
            _ => vec![],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(domain: Option<&str>, strip: bool, group: bool) -> DomainRules {
        DomainRules {
            domain: domain.map(Into::into),
            strip_domain: strip,
            group_domain: group,
        }
    }

    fn mapped(login: &str, uid: &str, groups: &[&str]) -> Mapped {
        Mapped {
            imap_login: login.into(),
            uid: uid.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn no_domain_configured_passes_the_login_through() {
        let r = rules(None, true, false);
        assert_eq!(r.map("Alice").unwrap(), mapped("Alice", "alice", &[]));
        assert_eq!(
            r.map("Alice@Other.org").unwrap(),
            mapped("Alice@Other.org", "alice@other.org", &[])
        );
    }

    #[test]
    fn bare_login_gets_the_domain_appended() {
        let r = rules(Some("example.com"), true, false);
        assert_eq!(
            r.map("alice").unwrap(),
            mapped("alice@example.com", "alice", &[])
        );
    }

    #[test]
    fn login_in_the_domain_is_stripped_or_kept() {
        let strip = rules(Some("example.com"), true, false);
        assert_eq!(
            strip.map("Alice@example.com").unwrap(),
            mapped("Alice@example.com", "alice", &[])
        );
        let keep = rules(Some("example.com"), false, false);
        assert_eq!(
            keep.map("Alice@EXAMPLE.com").unwrap(),
            mapped("Alice@EXAMPLE.com", "alice@example.com", &[])
        );
    }

    #[test]
    fn other_domains_are_rejected() {
        let r = rules(Some("example.com"), true, false);
        assert_eq!(
            r.map("alice@evil.org").unwrap_err(),
            RejectReason::WrongDomain("evil.org".into())
        );
        assert!(r.map("alice@example.com@evil.org").is_err());
        assert!(r.map("alice@").is_err());
    }

    #[test]
    fn percent_40_means_at_only_without_a_real_at() {
        let r = rules(Some("example.com"), true, false);
        assert_eq!(
            r.map("alice%40example.com").unwrap(),
            mapped("alice@example.com", "alice", &[])
        );
        let r = rules(None, true, false);
        assert_eq!(r.map("a%40b@c").unwrap().imap_login, "a%40b@c");
    }

    #[test]
    fn group_domain_carries_the_configured_domain_only() {
        let r = rules(Some("example.com"), true, true);
        assert_eq!(r.map("alice").unwrap().groups, vec!["example.com"]);
        assert_eq!(
            r.map("alice@Example.COM").unwrap().groups,
            vec!["example.com"]
        );
        // Without a configured domain, a typed one never becomes a group (the
        // config refuses group_domain without domain; the rules hold anyway).
        let r = rules(None, true, true);
        assert!(r.map("alice@admin").unwrap().groups.is_empty());
        assert!(r.map("bob").unwrap().groups.is_empty());
    }

    #[test]
    fn one_mailbox_is_one_uid_however_it_is_typed() {
        let keep = rules(Some("example.com"), false, false);
        assert_eq!(
            keep.map("alice").unwrap(),
            mapped("alice@example.com", "alice@example.com", &[])
        );
        assert_eq!(
            keep.map("Alice@example.com").unwrap().uid,
            "alice@example.com"
        );
        let strip = rules(Some("example.com"), true, false);
        assert_eq!(strip.map("alice").unwrap().uid, "alice");
        assert_eq!(strip.map("alice@EXAMPLE.com").unwrap().uid, "alice");
    }

    #[test]
    fn uids_are_nfc_and_lower_case() {
        let r = rules(Some("example.com"), true, false);
        assert_eq!(r.map("Jose\u{301}").unwrap().uid, "jos\u{e9}");
        assert_eq!(r.map("JOS\u{c9}@example.com").unwrap().uid, "jos\u{e9}");
    }
}
