//! One canonical spelling of a user id.

use unicode_normalization::UnicodeNormalization;

/// Unicode NFC, then lower case: `Alice`, `ALICE` and a decomposed `Alíce` are
/// the same person as `alice` / `alíce`, never two accounts (a long-standing
/// user_external complaint).
pub fn canonical_uid(login: &str) -> String {
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
}
