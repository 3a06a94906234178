//! The `[[backend]] type = "imap"` section, in either of the two ways Nextcloud
//! configures IMAP: a PHP mailbox string, or user_external's host/port/sslmode.

use authbridge_core::Timeouts;
use authbridge_core::tls::TlsSettings;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

use crate::mailbox::{self, MailboxError};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Security {
    /// TLS from the first byte (imaps, usually port 993).
    Implicit,
    /// STARTTLS, required: if the server does not offer it, no password is sent.
    StartTls,
    /// No TLS at all. Only when the config says so in words.
    Plaintext,
}

/// user_external's `sslmode` argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SslMode {
    Ssl,
    Tls,
    None,
}

/// The section as written in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImapConfig {
    /// `{host[:port][/flag...]}` — exclusive with `host`.
    pub mailbox: Option<String>,
    pub host: Option<String>,
    pub port: Option<u16>,
    pub sslmode: Option<SslMode>,
    /// Must be true with `sslmode = "none"`: passwords then cross the network readable.
    #[serde(default)]
    pub allow_plaintext: bool,
    pub domain: Option<String>,
    #[serde(default = "yes")]
    pub strip_domain: bool,
    #[serde(default)]
    pub group_domain: bool,
    pub ca_file: Option<PathBuf>,
    pub tls_verify: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
}

fn yes() -> bool {
    true
}

/// A checked configuration, ready to connect with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub tls: TlsSettings,
    pub domain: Option<String>,
    pub strip_domain: bool,
    pub group_domain: bool,
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImapConfigError {
    #[error(transparent)]
    Mailbox(#[from] MailboxError),
    #[error("give either `mailbox` or `host`, not both")]
    MailboxAndHost,
    #[error("`host` (or `mailbox`) is required")]
    NoHost,
    #[error("`{0}` belongs to the host/port form; with `mailbox` put it in the mailbox flags")]
    MixedForms(&'static str),
    #[error(
        "`sslmode = \"none\"` sends passwords readable on the network; \
         add `allow_plaintext = true` to this section if that is really meant"
    )]
    PlaintextNotAllowed,
    #[error("`port` must be from 1 to 65535")]
    Port,
    #[error("`domain` must be a bare domain like \"example.com\"")]
    Domain,
    #[error("`host` must be a host name or address, without spaces or control characters")]
    HostCharacters,
    #[error(
        "`group_domain = true` needs `domain`: only the configured domain may become a group, never one a login names"
    )]
    GroupDomainWithoutDomain,
}

impl ImapConfig {
    /// Checks a PHP mailbox string alone (for config.php import).
    pub fn mailbox_check(mailbox: &str) -> Result<(), MailboxError> {
        mailbox::parse(mailbox).map(|_| ())
    }

    pub fn resolve(&self) -> Result<ImapSettings, ImapConfigError> {
        let (host, port, security, validate) = match (&self.mailbox, &self.host) {
            (Some(_), Some(_)) => return Err(ImapConfigError::MailboxAndHost),
            (None, None) => return Err(ImapConfigError::NoHost),
            (Some(m), None) => {
                if self.port.is_some() {
                    return Err(ImapConfigError::MixedForms("port"));
                }
                if self.sslmode.is_some() {
                    return Err(ImapConfigError::MixedForms("sslmode"));
                }
                let m = mailbox::parse(m)?;
                (m.host, m.port, m.security, m.validate_cert)
            }
            (None, Some(h)) => {
                let security = match self.sslmode {
                    Some(SslMode::Ssl) => Security::Implicit,
                    // Unset means STARTTLS required: safe by default, unlike user_external.
                    Some(SslMode::Tls) | None => Security::StartTls,
                    Some(SslMode::None) if self.allow_plaintext => Security::Plaintext,
                    Some(SslMode::None) => return Err(ImapConfigError::PlaintextNotAllowed),
                };
                (h.clone(), self.port, security, None)
            }
        };
        if host.trim().is_empty() {
            return Err(ImapConfigError::NoHost);
        }
        if host.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(ImapConfigError::HostCharacters);
        }
        if port == Some(0) {
            return Err(ImapConfigError::Port);
        }
        // user_external's default is 143; implicit TLS means imaps, which is 993.
        let port = port.unwrap_or(if security == Security::Implicit {
            993
        } else {
            143
        });
        let domain = match self.domain.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(d) if d.contains(['@', '/', ' ']) => return Err(ImapConfigError::Domain),
            Some(d) => Some(d.to_owned()),
        };
        if self.group_domain && domain.is_none() {
            return Err(ImapConfigError::GroupDomainWithoutDomain);
        }
        Ok(ImapSettings {
            host,
            port,
            security,
            tls: TlsSettings {
                ca_file: self.ca_file.clone(),
                tls_verify: self.tls_verify.or(validate).unwrap_or(true),
            },
            domain,
            strip_domain: self.strip_domain,
            group_domain: self.group_domain,
            timeouts: Timeouts::with_overrides(self.connect_timeout, self.timeout),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_form(sslmode: Option<SslMode>) -> ImapConfig {
        ImapConfig {
            mailbox: None,
            host: Some("mail.example.com".into()),
            port: None,
            sslmode,
            allow_plaintext: false,
            domain: None,
            strip_domain: true,
            group_domain: false,
            ca_file: None,
            tls_verify: None,
            connect_timeout: None,
            timeout: None,
        }
    }

    #[test]
    fn host_form_defaults() {
        let s = host_form(None).resolve().unwrap();
        assert_eq!((s.port, s.security), (143, Security::StartTls));
        assert!(s.tls.tls_verify);
        assert_eq!(s.timeouts, Timeouts::default());
        let s = host_form(Some(SslMode::Ssl)).resolve().unwrap();
        assert_eq!((s.port, s.security), (993, Security::Implicit));
    }

    #[test]
    fn plaintext_needs_words() {
        assert_eq!(
            host_form(Some(SslMode::None)).resolve().unwrap_err(),
            ImapConfigError::PlaintextNotAllowed
        );
        let mut c = host_form(Some(SslMode::None));
        c.allow_plaintext = true;
        assert_eq!(c.resolve().unwrap().security, Security::Plaintext);
    }

    #[test]
    fn mailbox_form_and_mixing() {
        let mut c = host_form(None);
        c.host = None;
        c.mailbox = Some("{127.0.0.1:1993/imap/ssl/novalidate-cert}".into());
        let s = c.resolve().unwrap();
        assert_eq!(
            (s.port, s.security, s.tls.tls_verify),
            (1993, Security::Implicit, false)
        );
        c.port = Some(1);
        assert_eq!(
            c.resolve().unwrap_err(),
            ImapConfigError::MixedForms("port")
        );
        c.port = None;
        c.host = Some("x".into());
        assert_eq!(c.resolve().unwrap_err(), ImapConfigError::MailboxAndHost);
    }

    #[test]
    fn bad_domain_and_port() {
        let mut c = host_form(None);
        c.domain = Some("@example.com".into());
        assert_eq!(c.resolve().unwrap_err(), ImapConfigError::Domain);
    }

    #[test]
    fn a_host_with_spaces_or_control_characters_is_refused() {
        for bad in [
            "mail.example.com\n",
            "mail example.com",
            "mail\0.example.com",
        ] {
            let mut c = host_form(None);
            c.host = Some(bad.into());
            assert_eq!(
                c.resolve().unwrap_err(),
                ImapConfigError::HostCharacters,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn group_domain_needs_a_configured_domain() {
        let mut c = host_form(None);
        c.group_domain = true;
        assert_eq!(
            c.resolve().unwrap_err(),
            ImapConfigError::GroupDomainWithoutDomain
        );
        c.domain = Some("example.com".into());
        assert!(c.resolve().is_ok());
        let mut c = host_form(None);
        c.port = Some(0);
        assert_eq!(c.resolve().unwrap_err(), ImapConfigError::Port);
    }
}
