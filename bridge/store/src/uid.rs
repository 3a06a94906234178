//! Nextcloud's rules for user and group ids created by an admin.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UidError {
    #[error("the id is empty")]
    Empty,
    #[error("the id {0:?} is longer than 64 characters")]
    TooLong(String),
    #[error("the id {0:?} starts or ends with a space")]
    OuterSpace(String),
    #[error("the id {id:?} contains {ch:?}; allowed are a-z, A-Z, 0-9, space and _ . @ - '")]
    Character { id: String, ch: char },
    #[error("the id {0:?} consists of dots only")]
    DotsOnly(String),
    #[error("the id {id:?} contains {ch:?}, a control, invisible or non-character")]
    Control { id: String, ch: char },
}

/// Accepts what Nextcloud accepts for a new uid: 1 to 64 characters from
/// `a-z A-Z 0-9 space _ . @ - '`, without leading or trailing space, and not dots
/// only (`.` and `..` would make home directories like `/home/..`).
pub fn validate_uid(id: &str) -> Result<(), UidError> {
    if id.is_empty() {
        return Err(UidError::Empty);
    }
    if id.chars().all(|c| c == '.') {
        return Err(UidError::DotsOnly(id.to_owned()));
    }
    if id.chars().count() > 64 {
        return Err(UidError::TooLong(id.to_owned()));
    }
    if id.starts_with(' ') || id.ends_with(' ') {
        return Err(UidError::OuterSpace(id.to_owned()));
    }
    if let Some(ch) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, ' ' | '_' | '.' | '@' | '-' | '\'')))
    {
        return Err(UidError::Character {
            id: id.to_owned(),
            ch,
        });
    }
    Ok(())
}

/// A character a name must not hold, though Unicode allows it: control
/// characters, invisible format characters (zero-width spaces and joiners,
/// bidirectional overrides, the BOM, tags: `sudo\u{200B}` would pass for
/// `sudo` to the eye and to `grep -w`), and non-characters (U+FFFE cannot
/// even be written in XML).
pub fn hidden_character(c: char) -> bool {
    let n = c as u32;
    c.is_control()
        || matches!(
            n,
            0x00AD
                | 0x0600..=0x0605
                | 0x061C
                | 0x06DD
                | 0x070F
                | 0x0890..=0x0891
                | 0x08E2
                | 0x180E
                | 0x200B..=0x200F
                | 0x202A..=0x202E
                | 0x2060..=0x2064
                | 0x2066..=0x206F
                | 0xFEFF
                | 0xFFF9..=0xFFFB
                | 0x110BD
                | 0x110CD
                | 0x13430..=0x1343F
                | 0x1BCA0..=0x1BCA3
                | 0x1D173..=0x1D17A
                | 0xE0001
                | 0xE0020..=0xE007F
                | 0xFDD0..=0xFDEF
        )
        || n & 0xFFFE == 0xFFFE
}

/// A group id as Nextcloud takes one: any characters but control characters (a
/// line break or a NUL would forge log lines and NSS records), at most 64 of
/// them (Nextcloud hashes longer names into a different id; authbridge refuses
/// them instead). What NSS may show is decided apart from this
/// (`authbridge_local::Names::check_export`).
pub fn validate_gid(id: &str) -> Result<(), UidError> {
    if id.is_empty() {
        return Err(UidError::Empty);
    }
    if id.chars().count() > 64 {
        return Err(UidError::TooLong(id.to_owned()));
    }
    if let Some(ch) = id.chars().find(|&c| hidden_character(c)) {
        return Err(UidError::Control {
            id: id.to_owned(),
            ch,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dots_only_is_refused() {
        for id in [".", "..", "..."] {
            assert!(
                matches!(validate_uid(id), Err(UidError::DotsOnly(_))),
                "{id}"
            );
        }
        assert!(validate_uid("a.b").is_ok() && validate_uid(".profile").is_ok());
    }

    #[test]
    fn group_ids_take_any_character_but_control_characters() {
        for gid in ["España", "a/b", "x:y", " lead", "Q&A", "日本"] {
            assert_eq!(validate_gid(gid), Ok(()), "{gid}");
        }
        assert_eq!(validate_gid(""), Err(UidError::Empty));
        assert!(matches!(
            validate_gid("a\nb"),
            Err(UidError::Control { ch: '\n', .. })
        ));
        assert!(matches!(
            validate_gid("a\u{85}"),
            Err(UidError::Control { .. })
        ));
        // Found by review: invisible and non-characters passed, and a group
        // "sudo" + ZERO WIDTH SPACE looked like sudo to `id -nG | grep -w`.
        for hidden in [
            "sudo\u{200B}",
            "wheel\u{202E}",
            "a\u{FEFF}",
            "a\u{FFFE}b",
            "x\u{E0041}",
        ] {
            assert!(
                matches!(validate_gid(hidden), Err(UidError::Control { .. })),
                "{hidden:?}"
            );
        }
        assert!(validate_gid(&"é".repeat(64)).is_ok());
        assert!(matches!(
            validate_gid(&"é".repeat(65)),
            Err(UidError::TooLong(_))
        ));
    }

    #[test]
    fn examples() {
        assert!(validate_uid("layla").is_ok());
        assert!(validate_uid("O'Brien.x-y_z@example.com").is_ok());
        assert!(validate_uid("with space").is_ok());
        assert_eq!(validate_uid(""), Err(UidError::Empty));
        assert!(matches!(validate_uid(" x"), Err(UidError::OuterSpace(_))));
        assert!(matches!(validate_uid("x "), Err(UidError::OuterSpace(_))));
        assert!(matches!(
            validate_uid("a/b"),
            Err(UidError::Character { ch: '/', .. })
        ));
        assert!(matches!(
            validate_uid("josé"),
            Err(UidError::Character { ch: 'é', .. })
        ));
        assert!(validate_uid(&"a".repeat(64)).is_ok());
        assert!(matches!(
            validate_uid(&"a".repeat(65)),
            Err(UidError::TooLong(_))
        ));
    }

    proptest! {
        #[test]
        fn every_id_of_allowed_characters_but_dots_only_is_accepted(id in "[a-zA-Z0-9_.@'-][a-zA-Z0-9 _.@'-]{0,62}[a-zA-Z0-9_.@'-]") {
            // The generator can make "..", which the dots-only rule refuses on purpose.
            let dots_only = id.chars().all(|c| c == '.');
            prop_assert_eq!(validate_uid(&id).is_ok(), !dots_only, "{:?}", validate_uid(&id));
        }

        #[test]
        fn any_other_character_is_refused(
            prefix in "[a-z]{1,10}",
            bad in any::<char>().prop_filter("not allowed", |c| !(c.is_ascii_alphanumeric() || " _.@-'".contains(*c))),
            suffix in "[a-z]{1,10}",
        ) {
            let id = format!("{prefix}{bad}{suffix}");
            prop_assert!(
                matches!(validate_uid(&id), Err(UidError::Character { ch, .. }) if ch == bad),
                "{:?}",
                validate_uid(&id)
            );
        }

        #[test]
        fn length_limit_is_64_characters(n in 1usize..200) {
            let id = "a".repeat(n);
            prop_assert_eq!(validate_uid(&id).is_ok(), n <= 64);
        }
    }
}
