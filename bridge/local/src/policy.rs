//! The password policy of Nextcloud's password_policy app: a minimum length
//! (default 10), common passwords forbidden, and optionally upper and lower case,
//! digits and special characters.

use std::collections::HashSet;
use std::sync::OnceLock;

/// Each rule that can fail, named in its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password must be at least {0} characters long")]
    TooShort(usize),
    #[error("the password is among the most common passwords; please make it unique")]
    Common,
    #[error("the password must contain both upper and lower case characters")]
    NeedsMixedCase,
    #[error("the password must contain at least one digit")]
    NeedsDigit,
    #[error("the password must contain at least one special character")]
    NeedsSpecial,
}

/// The `[password_policy]` section of the config.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub forbid_common: bool,
    pub require_mixed_case: bool,
    pub require_digit: bool,
    pub require_special: bool,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 10,
            forbid_common: true,
            require_mixed_case: false,
            require_digit: false,
            require_special: false,
        }
    }
}

impl PasswordPolicy {
    /// Every rule the password breaks, in a fixed order (empty: acceptable).
    pub fn violations(&self, password: &str) -> Vec<PolicyError> {
        let mut broken = Vec::new();
        if password.chars().count() < self.min_length {
            broken.push(PolicyError::TooShort(self.min_length));
        }
        if self.forbid_common && is_common(password) {
            broken.push(PolicyError::Common);
        }
        if self.require_mixed_case
            && !(password.chars().any(char::is_uppercase)
                && password.chars().any(char::is_lowercase))
        {
            broken.push(PolicyError::NeedsMixedCase);
        }
        if self.require_digit && !password.chars().any(|c| c.is_ascii_digit()) {
            broken.push(PolicyError::NeedsDigit);
        }
        if self.require_special && !password.chars().any(|c| !c.is_alphanumeric()) {
            broken.push(PolicyError::NeedsSpecial);
        }
        broken
    }
}

/// The common-password list shipped in `data/` (see its README for provenance).
const COMMON_PASSWORDS: &str = include_str!("../data/common-passwords.txt");

fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| COMMON_PASSWORDS.lines().collect())
}

/// Compared case-insensitively: "Password123" is as guessable as "password123".
fn is_common(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_holds_over_100000_distinct_passwords() {
        assert!(
            common_passwords().len() >= 100_000,
            "{}",
            common_passwords().len()
        );
        assert_eq!(
            common_passwords().len(),
            COMMON_PASSWORDS.lines().count(),
            "no duplicates"
        );
    }

    #[test]
    fn defaults_are_length_10_and_no_common_passwords() {
        let p = PasswordPolicy::default();
        assert_eq!(p.violations("zq!x7"), [PolicyError::TooShort(10)]);
        assert_eq!(p.violations("california"), [PolicyError::Common]);
        assert_eq!(p.violations("Enterprise"), [PolicyError::Common]);
        assert_eq!(p.violations("1234567890"), [PolicyError::Common]);
        assert!(p.violations("quartz-lantern-88").is_empty());
    }

    #[test]
    fn optional_rules_each_name_themselves() {
        let p = PasswordPolicy {
            require_mixed_case: true,
            require_digit: true,
            require_special: true,
            ..PasswordPolicy::default()
        };
        assert_eq!(
            p.violations("quartzlanternx"),
            [
                PolicyError::NeedsMixedCase,
                PolicyError::NeedsDigit,
                PolicyError::NeedsSpecial
            ]
        );
        assert!(p.violations("Quartz-Lantern-88").is_empty());
        assert_eq!(
            PolicyError::NeedsDigit.to_string(),
            "the password must contain at least one digit"
        );
    }
}
