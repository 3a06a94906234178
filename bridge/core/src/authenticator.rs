//! The one trait every way of checking a password implements.

use async_trait::async_trait;
use std::fmt;

use crate::{Credentials, Verdict};

/// Where an account comes from, named as Nextcloud's user_external names its backends
/// (`Database` is a local account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BackendKind {
    Database,
    AppPassword,
    Imap,
    Smb,
    Ftp,
}

impl BackendKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Database => "Database",
            BackendKind::AppPassword => "AppPassword",
            BackendKind::Imap => "IMAP",
            BackendKind::Smb => "SMB",
            BackendKind::Ftp => "FTP",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An account as a backend would record it on its next login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derived {
    pub uid: String,
    pub groups: Vec<String>,
}

/// Checks a password. Implementations must never turn an error into
/// [`Verdict::Accepted`], and never report a failure to get an answer as
/// [`Verdict::Rejected`].
#[async_trait]
pub trait Authenticator: Send + Sync {
    /// A name for logs and CLI output, e.g. `imap:mail.example.com:993`.
    fn name(&self) -> &str;

    fn kind(&self) -> BackendKind;

    /// Could a person log in here with this login, before anyone has? An
    /// external backend says yes for every login it would ask its server about
    /// (IMAP: the configured domain's); local checks say no. Provisioning uses it
    /// to keep such names for admins.
    fn serves(&self, _login: &str) -> bool {
        false
    }

    /// What this backend can tell about `login` without a password, when it
    /// serves it: the account id it maps the login to and the groups it derives
    /// (occ's `user:sync-account-data`). Local checks tell nothing.
    fn derive(&self, _login: &str) -> Option<Derived> {
        None
    }

    async fn authenticate(&self, credentials: &Credentials) -> Verdict;
}
