//! FTP backend: a password is right when the FTP server logs the user in with it.
//!
//! Explicit FTPS (AUTH TLS, RFC 4217) with certificate validation is the default;
//! a server that refuses AUTH TLS never sees the password. Plaintext FTP only when
//! the config says `secure = false` together with `allow_plaintext = true`.

mod config;
mod session;

use async_trait::async_trait;
use authbridge_core::tls::{self, TlsConfigError};
use authbridge_core::{Authenticator, BackendKind, Credentials, Verdict, run_blocking};
use std::sync::Arc;

pub use config::{FtpConfig, FtpConfigError, FtpSettings};

pub struct FtpBackend {
    name: String,
    target: Arc<session::Target>,
    settings: FtpSettings,
}

impl FtpBackend {
    /// A backend for these settings; only its TLS set-up can fail.
    pub fn new(settings: FtpSettings) -> Result<Self, TlsConfigError> {
        let name = format!("ftp:{}:{}", settings.host, settings.port);
        let tls = if settings.secure {
            // Checked here so that a bad host name is a start-up error, not a per-login one.
            tls::server_name(&settings.host)?;
            if !settings.tls.tls_verify {
                tracing::warn!(backend = %name, "FTPS certificate validation is switched off");
            }
            Some(settings.tls.client_config()?)
        } else {
            tracing::warn!(
                backend = %name,
                "FTP without TLS: passwords cross the network readable, as the config asks"
            );
            None
        };
        Ok(FtpBackend {
            target: Arc::new(session::Target {
                host: settings.host.clone(),
                port: settings.port,
                tls,
            }),
            name,
            settings,
        })
    }

    /// Reaches the server without credentials (see `session::probe`).
    pub fn probe(&self) -> Result<String, authbridge_core::Verdict> {
        session::probe(
            &self.target,
            authbridge_core::Deadline::start(self.settings.timeouts),
        )
    }
}

#[async_trait]
impl Authenticator for FtpBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Ftp
    }

    fn serves(&self, _login: &str) -> bool {
        true
    }

    /// The login is the account, in its canonical form; no groups.
    fn derive(&self, login: &str) -> Option<authbridge_core::Derived> {
        Some(authbridge_core::Derived {
            uid: authbridge_core::canonical_uid(login),
            groups: Vec::new(),
        })
    }

    async fn authenticate(&self, credentials: &Credentials) -> Verdict {
        let target = Arc::clone(&self.target);
        let login = credentials.login().to_owned();
        let password = credentials.password().clone();
        run_blocking(self.settings.timeouts, move |deadline| {
            session::check(&target, &login, &password, deadline)
        })
        .await
    }
}
