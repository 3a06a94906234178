//! A login and password that have passed the checks every backend relies on.

use secrecy::{ExposeSecret, SecretString};
use std::fmt;

/// Input that is refused before any network I/O.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CredentialError {
    #[error("the login is empty")]
    EmptyLogin,
    #[error("the password is empty")]
    EmptyPassword,
    #[error("the login contains a CR, LF or NUL character")]
    ControlInLogin,
    #[error("the password contains a CR, LF or NUL character")]
    ControlInPassword,
    #[error("the login is longer than {MAX_LOGIN_BYTES} bytes")]
    LoginTooLong,
    #[error("the password is longer than {MAX_PASSWORD_BYTES} bytes")]
    PasswordTooLong,
}

/// Logins are ids (Nextcloud: 64 characters) or e-mail-style names (an address
/// has at most 254): anything longer is refused before it is looked up, counted
/// by the throttle or sent anywhere.
pub const MAX_LOGIN_BYTES: usize = 255;

/// Generous for passphrases (PAM's own conversation limit is 512), small enough
/// that no one pays for hashing megabytes.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// A login with its password. The password lives in a zeroizing secret and never
/// appears in `Debug` output.
///
/// Construction refuses CR, LF and NUL in either part: every line-based protocol we
/// speak (IMAP, FTP) would otherwise let a login smuggle a second command, and C
/// libraries (libsmbclient) would silently truncate at NUL.
pub struct Credentials {
    login: String,
    password: SecretString,
}

fn has_line_control(s: &str) -> bool {
    s.contains(['\r', '\n', '\0'])
}

impl Credentials {
    pub fn new(login: &str, password: SecretString) -> Result<Self, CredentialError> {
        if login.is_empty() {
            return Err(CredentialError::EmptyLogin);
        }
        if login.len() > MAX_LOGIN_BYTES {
            return Err(CredentialError::LoginTooLong);
        }
        if has_line_control(login) {
            return Err(CredentialError::ControlInLogin);
        }
        usable_password(password.expose_secret())?;
        Ok(Credentials {
            login: login.to_owned(),
            password,
        })
    }

    pub fn login(&self) -> &str {
        &self.login
    }

    pub fn password(&self) -> &SecretString {
        &self.password
    }
}

/// Can a person log in with this password once it is set? Every path that sets a
/// password (OCS, the mailed link, PAM, the CLI) asks this, whatever the policy
/// says: a password with CR, LF or NUL, or longer than any login accepts, would
/// lock its owner out.
pub fn usable_password(password: &str) -> Result<(), CredentialError> {
    if password.is_empty() {
        return Err(CredentialError::EmptyPassword);
    }
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CredentialError::PasswordTooLong);
    }
    if has_line_control(password) {
        return Err(CredentialError::ControlInPassword);
    }
    Ok(())
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("login", &self.login)
            .field("password", &"[redacted]")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn creds(login: &str, password: &str) -> Result<Credentials, CredentialError> {
        Credentials::new(login, SecretString::from(password.to_owned()))
    }

    #[test]
    fn refuses_line_breaks_and_nul_in_either_part() {
        for bad in ["a\rb", "a\nb", "a\0b", "\r\n"] {
            assert_eq!(
                creds(bad, "pw").unwrap_err(),
                CredentialError::ControlInLogin
            );
            assert_eq!(
                creds("alice", bad).unwrap_err(),
                CredentialError::ControlInPassword
            );
        }
    }

    #[test]
    fn refuses_empty_parts() {
        assert_eq!(creds("", "pw").unwrap_err(), CredentialError::EmptyLogin);
        assert_eq!(
            creds("alice", "").unwrap_err(),
            CredentialError::EmptyPassword
        );
    }

    #[test]
    fn keeps_every_other_character_and_redacts_debug() {
        let c = creds("alice", "sp ace\"\\'%@{ü").unwrap();
        assert_eq!(c.password().expose_secret(), "sp ace\"\\'%@{ü");
        let shown = format!("{c:?}");
        assert!(!shown.contains("sp ace"), "{shown}");
        assert!(shown.contains("redacted"));
    }

    #[test]
    fn refuses_overlong_logins_and_passwords() {
        let login = "a".repeat(MAX_LOGIN_BYTES);
        assert!(creds(&login, "pw").is_ok());
        assert_eq!(
            creds(&format!("{login}a"), "pw").unwrap_err(),
            CredentialError::LoginTooLong
        );
        let password = "p".repeat(MAX_PASSWORD_BYTES + 1);
        assert_eq!(
            creds("alice", &password).unwrap_err(),
            CredentialError::PasswordTooLong
        );
    }

    #[test]
    fn a_password_to_set_must_be_one_a_login_accepts() {
        assert_eq!(usable_password("fine and long"), Ok(()));
        for bad in ["a\rb", "a\nb", "a\0b"] {
            assert_eq!(
                usable_password(bad),
                Err(CredentialError::ControlInPassword)
            );
        }
        assert_eq!(usable_password(""), Err(CredentialError::EmptyPassword));
        assert_eq!(
            usable_password(&"p".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(CredentialError::PasswordTooLong)
        );
    }
}
