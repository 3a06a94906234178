//! IMAP backend: a password is right when the IMAP server accepts it.
//!
//! Configured the two ways Nextcloud's user_external configures it (a PHP mailbox
//! string, or host/port/sslmode/domain arguments), with TLS and certificate
//! validation by default and user_external's domain rules.

mod config;
mod domain;
mod mailbox;
mod session;

use async_trait::async_trait;
use authbridge_core::tls::TlsConfigError;
use authbridge_core::{Authenticator, BackendKind, Credentials, Verdict, run_blocking, tls};
use std::sync::Arc;

pub use config::{ImapConfig, ImapConfigError, ImapSettings, Security, SslMode};
pub use domain::{DomainRules, Mapped};
pub use mailbox::{Mailbox, MailboxError, parse as parse_mailbox};

pub struct ImapBackend {
    name: String,
    target: Arc<session::Target>,
    rules: DomainRules,
    settings: ImapSettings,
}

impl ImapBackend {
    /// A backend for these settings; only its TLS set-up can fail.
    pub fn new(settings: ImapSettings) -> Result<Self, TlsConfigError> {
        let name = format!("imap:{}:{}", settings.host, settings.port);
        if settings.security == Security::Plaintext {
            tracing::warn!(
                backend = %name,
                "IMAP without TLS: passwords cross the network readable, as the config asks"
            );
        }
        if !settings.tls.tls_verify && settings.security != Security::Plaintext {
            tracing::warn!(backend = %name, "IMAP certificate validation is switched off");
        }
        let target = session::Target {
            host: settings.host.clone(),
            port: settings.port,
            security: settings.security,
            tls: settings.tls.client_config()?,
            server_name: tls::server_name(&settings.host)?,
        };
        Ok(ImapBackend {
            name,
            target: Arc::new(target),
            rules: DomainRules {
                domain: settings.domain.clone(),
                strip_domain: settings.strip_domain,
                group_domain: settings.group_domain,
            },
            settings,
        })
    }

    pub fn settings(&self) -> &ImapSettings {
        &self.settings
    }

    /// Reaches the server without credentials (see `session::probe`).
    pub fn probe(&self) -> Result<String, Verdict> {
        session::probe(
            &self.target,
            authbridge_core::Deadline::start(self.settings.timeouts),
        )
    }
}

#[async_trait]
impl Authenticator for ImapBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Imap
    }

    fn serves(&self, login: &str) -> bool {
        self.rules.map(login).is_ok()
    }

    fn derive(&self, login: &str) -> Option<authbridge_core::Derived> {
        let mapped = self.rules.map(login).ok()?;
        Some(authbridge_core::Derived {
            uid: mapped.uid,
            groups: mapped.groups,
        })
    }

    async fn authenticate(&self, credentials: &Credentials) -> Verdict {
        let who = match self.rules.map(credentials.login()) {
            Ok(who) => who,
            Err(reason) => return Verdict::Rejected(reason),
        };
        let target = Arc::clone(&self.target);
        let password = credentials.password().clone();
        run_blocking(self.settings.timeouts, move |deadline| {
            session::check(&target, &who, &password, deadline)
        })
        .await
    }
}
