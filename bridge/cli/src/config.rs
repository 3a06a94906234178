//! `/etc/authbridge/config.toml`: where it is, what it holds, and errors that name
//! the file, the line and the key.

use authbridge_core::{Authenticator, Chain};
use authbridge_ftp::{FtpBackend, FtpConfig};
use authbridge_imap::{ImapBackend, ImapConfig};
use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub const DEFAULT_PATH: &str = "/etc/authbridge/config.toml";

/// The config file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    /// Where authbridge keeps its store and key (see `--data-dir`).
    pub data_dir: Option<PathBuf>,
    /// The account store, when not the SQLite file in the data directory.
    #[serde(default)]
    pub store: StoreSection,
    /// Delete a user's app passwords when their password is reset (default off).
    #[serde(default)]
    pub revoke_app_passwords_on_reset: bool,
    /// Rules for local passwords (defaults: 10 characters, no common passwords).
    #[serde(default)]
    pub password_policy: authbridge_local::PasswordPolicy,
    /// `authbridge serve`: socket, timeouts, verifier cache, offline logins.
    #[serde(default)]
    pub daemon: authbridge_daemon::DaemonSettings,
    /// Brute-force throttling (Nextcloud's doubling delay).
    #[serde(default)]
    pub throttle: authbridge_daemon::ThrottleSettings,
    /// What the NSS module shows: id range, home and shell templates.
    #[serde(default)]
    pub nss: authbridge_daemon::NssSettings,
    /// The OCS Provisioning API and /auth/check.
    #[serde(default)]
    pub http: authbridge_daemon::HttpSettings,
    /// How the OCS API answers (`compat`: Nextcloud's codes or the documented ones).
    #[serde(default)]
    pub ocs: authbridge_daemon::OcsSettings,
    /// The SMTP relay for welcome and password-reset mails.
    pub mail: Option<authbridge_daemon::MailSettings>,
    /// Second factors: the issuer apps show, where users enrol.
    #[serde(default)]
    pub twofactor: authbridge_daemon::TwoFactorSettings,
    /// System names and deny lists: names authbridge never creates, records,
    /// authenticates or exports.
    #[serde(default)]
    pub names: authbridge_local::NameSettings,
    /// Prometheus metrics on an address of their own (off by default).
    #[serde(default)]
    pub metrics: authbridge_daemon::MetricsSettings,
    /// How log lines look (`format = "text"` or `"json"`).
    #[serde(default)]
    pub log: crate::logging::LogSettings,
    /// Tried in this order, as Nextcloud tries its `user_backends`.
    #[serde(default)]
    pub backend: Vec<toml::Spanned<BackendSection>>,
}

/// `[store]`: PostgreSQL for several hosts; unset, the SQLite file in the
/// data directory.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSection {
    /// `postgresql://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=require]` or
    /// `sqlite:PATH` (`--store` and `AUTHBRIDGE_STORE` win over it).
    pub url: Option<String>,
    /// PEM file of the CA that signed PostgreSQL's certificate (default: the
    /// system's roots).
    pub ca_file: Option<PathBuf>,
    /// Connections each process keeps to PostgreSQL at most.
    pub pool_size: usize,
    /// The longest a store call waits before it answers "unavailable".
    #[serde(with = "humantime_serde")]
    pub timeout: std::time::Duration,
}

impl Default for StoreSection {
    fn default() -> Self {
        let defaults = authbridge_store::PostgresSettings::new("");
        StoreSection {
            url: None,
            ca_file: None,
            pool_size: defaults.pool_size,
            timeout: defaults.timeout,
        }
    }
}

impl std::fmt::Debug for StoreSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold the database's password.
        f.debug_struct("StoreSection")
            .field(
                "url",
                &self.url.as_deref().map(authbridge_store::describe_url),
            )
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl StoreSection {
    /// The limits a config file may set (a copy may wait longer).
    pub fn check(&self) -> anyhow::Result<()> {
        use authbridge_store::postgres_limits::{MAX_POOL_SIZE, MAX_TIMEOUT};
        anyhow::ensure!(
            !self.timeout.is_zero() && self.timeout <= MAX_TIMEOUT,
            "[store] timeout must be above 0 and at most {}s",
            MAX_TIMEOUT.as_secs()
        );
        anyhow::ensure!(
            (1..=MAX_POOL_SIZE).contains(&self.pool_size),
            "[store] pool_size must be 1 to {MAX_POOL_SIZE}, not {}",
            self.pool_size
        );
        Ok(())
    }

    pub fn postgres(&self) -> authbridge_store::PostgresSettings {
        authbridge_store::PostgresSettings {
            url: String::new(),
            ca_file: self.ca_file.clone(),
            pool_size: self.pool_size,
            timeout: self.timeout,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum BackendSection {
    Imap(ImapConfig),
    Ftp(FtpConfig),
    #[cfg(feature = "smb")]
    Smb(authbridge_smb::SmbConfig),
}

impl BackendSection {
    fn type_name(&self) -> &'static str {
        match self {
            BackendSection::Imap(_) => "imap",
            BackendSection::Ftp(_) => "ftp",
            #[cfg(feature = "smb")]
            BackendSection::Smb(_) => "smb",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source} (set --config or AUTHBRIDGE_CONFIG)")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: {message}")]
    At {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

/// `--config`, else `AUTHBRIDGE_CONFIG` (clap reads both), else the default.
pub fn path_or_default(given: Option<PathBuf>) -> PathBuf {
    given.unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
}

/// The config, if the file exists. A missing file is no error for the account
/// commands: they work without any backend configured.
/// The file and its text (for error lines), or `None` when there is no file.
pub fn load_optional_with_text(path: &Path) -> Result<Option<(ConfigFile, String)>, ConfigError> {
    if !path.exists() {
        return Ok(None);
    }
    load(path).map(Some)
}

pub fn load_optional(path: &Path) -> Result<Option<ConfigFile>, ConfigError> {
    if !path.exists() {
        return Ok(None);
    }
    Ok(Some(load(path)?.0))
}

pub fn load(path: &Path) -> Result<(ConfigFile, String), ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    let file: ConfigFile = toml::from_str(&text).map_err(|e| ConfigError::At {
        path: path.to_owned(),
        line: e.span().map_or(1, |s| line_of(&text, s.start)),
        message: e.message().to_owned(),
    })?;
    Ok((file, text))
}

/// Builds the chain of backends. `smb_child` says how to start the SMB child.
pub fn build_chain(
    path: &Path,
    file: &ConfigFile,
    text: &str,
    #[cfg_attr(not(feature = "smb"), allow(unused_variables))]
    smb_child: &dyn Fn() -> std::io::Result<(PathBuf, Vec<String>)>,
) -> Result<Chain, ConfigError> {
    let mut backends: Vec<Arc<dyn Authenticator>> = Vec::new();
    for (index, section) in file.backend.iter().enumerate() {
        let span = section.span();
        let at = |message: String| ConfigError::At {
            path: path.to_owned(),
            line: line_of_key(text, span.clone(), &message),
            message: format!(
                "backend #{} ({}): {message}",
                index + 1,
                section.get_ref().type_name()
            ),
        };
        let backend: Arc<dyn Authenticator> = match section.get_ref() {
            BackendSection::Imap(c) => {
                let settings = c.resolve().map_err(|e| at(e.to_string()))?;
                Arc::new(ImapBackend::new(settings).map_err(|e| at(e.to_string()))?)
            }
            BackendSection::Ftp(c) => {
                let settings = c.resolve().map_err(|e| at(e.to_string()))?;
                Arc::new(FtpBackend::new(settings).map_err(|e| at(e.to_string()))?)
            }
            #[cfg(feature = "smb")]
            BackendSection::Smb(c) => {
                let settings = c.resolve().map_err(|e| at(e.to_string()))?;
                let (program, args) =
                    smb_child().map_err(|e| at(format!("cannot locate the SMB child: {e}")))?;
                let command = authbridge_smb::ChildCommand { program, args };
                Arc::new(
                    authbridge_smb::SmbBackend::new(settings, command)
                        .map_err(|e| at(format!("cannot prepare the SMB child: {e}")))?,
                )
            }
        };
        backends.push(backend);
    }
    Ok(Chain::new(backends))
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of the key a message names in backticks, if it is written inside the
/// section; else the section's first line.
fn line_of_key(text: &str, span: Range<usize>, message: &str) -> usize {
    // "`sslmode = \"none\"` sends..." names the key `sslmode`.
    let key = message
        .split('`')
        .nth(1)
        .and_then(|quoted| quoted.split([' ', '=']).next());
    if let Some(key) = key {
        let section = &text[span.start.min(text.len())..span.end.min(text.len())];
        let mut offset = span.start;
        for line in section.split_inclusive('\n') {
            let trimmed = line.trim_start();
            if trimmed
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
            {
                return line_of(text, offset);
            }
            offset += line.len();
        }
    }
    line_of(text, span.start)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_store_url_password_never_shows_in_debug() {
        let section = StoreSection {
            url: Some("postgresql://ab:s3cret@db.example.org/ab?sslmode=require".into()),
            ..StoreSection::default()
        };
        let shown = format!("{section:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("ab@db.example.org"), "{shown}");
    }

    fn chain_error(text: &str) -> String {
        let path = Path::new("/etc/authbridge/config.toml");
        let no_child = || Err(std::io::Error::other("no child in unit tests"));
        match toml::from_str::<ConfigFile>(text) {
            Err(e) => format!(
                "{}:{}: {}",
                path.display(),
                e.span().map_or(1, |s| line_of(text, s.start)),
                e.message()
            ),
            Ok(file) => build_chain(path, &file, text, &no_child)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
        }
    }

    #[test]
    fn unknown_key_names_the_line_and_the_key() {
        let e = chain_error("[[backend]]\ntype = \"imap\"\nhost = \"h\"\nhots = \"x\"\n");
        assert!(e.starts_with("/etc/authbridge/config.toml:"), "{e}");
        assert!(e.contains("unknown field `hots`"), "{e}");
    }

    #[test]
    fn unknown_backend_type() {
        let e = chain_error("[[backend]]\ntype = \"ldap\"\nhost = \"h\"\n");
        assert!(e.contains("unknown variant `ldap`"), "{e}");
        assert!(e.contains(":1:") || e.contains(":2:"), "{e}");
    }

    #[test]
    fn semantic_errors_point_at_the_key() {
        let text = "[[backend]]\ntype = \"imap\"\nhost = \"mail\"\n\n[[backend]]\ntype = \"imap\"\nhost = \"h\"\nsslmode = \"none\"\n";
        let e = chain_error(text);
        assert!(e.starts_with("/etc/authbridge/config.toml:"), "{e}");
        assert!(e.contains("backend #2 (imap)"), "{e}");
        assert!(e.contains("allow_plaintext"), "{e}");
        let text = "[[backend]]\ntype = \"imap\"\nmailbox = \"{h/ssl/bogus}\"\n";
        let e = chain_error(text);
        assert!(e.contains("unknown flag /bogus"), "{e}");
        let text = "[[backend]]\ntype = \"ftp\"\nhost = \"h\"\nport = 0\n";
        assert_eq!(
            chain_error(text),
            "/etc/authbridge/config.toml:4: backend #1 (ftp): `port` must be from 1 to 65535"
        );
    }

    #[test]
    fn type_errors_and_top_level_typos() {
        let e = chain_error("[[backend]]\ntype = \"ftp\"\nhost = \"h\"\nport = \"twenty-one\"\n");
        assert!(e.contains("invalid type"), "{e}");
        let e = chain_error("[[backends]]\ntype = \"ftp\"\n");
        assert!(e.contains("unknown field `backends`"), "{e}");
    }

    #[test]
    fn an_empty_file_is_an_empty_chain() {
        assert_eq!(chain_error(""), "");
    }
}
