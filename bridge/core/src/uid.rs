//! One canonical spelling of a user id.

use unicode_normalization::UnicodeNormalization;

/// Unicode NFC, then lower case: `Alice`, `ALICE` and a decomposed `Alíce` are
/// the same person as `alice` / `alíce`, never two accounts (a long-standing
/// user_external complaint).
pub fn canonical_uid(login: &str) -> String {
    // ASCII is in NFC already, and its lower case is ASCII's own: the usual
    // login (every check folds it, several times) needs no Unicode tables.
    if login.is_ascii() {
        return login.to_ascii_lowercase();
    }
    login.nfc().collect::<String>().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_and_composes() {
        assert_eq!(canonical_uid("Alice"), "alice");
        // "e" + combining acute (U+0301) composes to U+00E9.
        assert_eq!(canonical_uid("Jose\u{301}"), "jos\u{e9}");
        assert_eq!(canonical_uid("JOS\u{c9}"), "jos\u{e9}");
    }

    #[test]
    fn the_ascii_shortcut_folds_as_unicode_does() {
        let unicode = |s: &str| s.nfc().collect::<String>().to_lowercase();
        let every_ascii: String = (0u8..=127).map(char::from).collect();
        assert_eq!(canonical_uid(&every_ascii), unicode(&every_ascii));
        for login in ["Alice", "BOB.Smith-2@Example.ORG", "", "K", "\u{212a}elvin"] {
            assert_eq!(canonical_uid(login), unicode(login), "{login:?}");
        }
    }
}
