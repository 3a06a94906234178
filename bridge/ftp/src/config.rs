//! The `[[backend]] type = "ftp"` section (user_external's host and secure arguments,
//! plus port, TLS trust and timeouts).

use authbridge_core::Timeouts;
use authbridge_core::tls::TlsSettings;
use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FtpConfig {
    pub host: String,
    pub port: Option<u16>,
    /// Explicit FTPS (AUTH TLS). Default true, unlike user_external.
    pub secure: Option<bool>,
    /// Must be true with `secure = false`.
    #[serde(default)]
    pub allow_plaintext: bool,
    pub ca_file: Option<PathBuf>,
    pub tls_verify: Option<bool>,
    #[serde(default, with = "humantime_serde")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FtpSettings {
    pub host: String,
    pub port: u16,
    pub secure: bool,
    pub tls: TlsSettings,
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FtpConfigError {
    #[error("`host` must not be empty")]
    NoHost,
    #[error("`port` must be from 1 to 65535")]
    Port,
    #[error(
        "`secure = false` sends passwords readable on the network; \
         add `allow_plaintext = true` to this section if that is really meant"
    )]
    PlaintextNotAllowed,
}

impl FtpConfig {
    pub fn resolve(&self) -> Result<FtpSettings, FtpConfigError> {
        if self.host.trim().is_empty() {
            return Err(FtpConfigError::NoHost);
        }
        if self.port == Some(0) {
            return Err(FtpConfigError::Port);
        }
        let secure = self.secure.unwrap_or(true);
        if !secure && !self.allow_plaintext {
            return Err(FtpConfigError::PlaintextNotAllowed);
        }
        Ok(FtpSettings {
            host: self.host.trim().to_owned(),
            port: self.port.unwrap_or(21),
            secure,
            tls: TlsSettings {
                ca_file: self.ca_file.clone(),
                tls_verify: self.tls_verify.unwrap_or(true),
            },
            timeouts: Timeouts::with_overrides(self.connect_timeout, self.timeout),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(secure: Option<bool>, allow_plaintext: bool) -> FtpConfig {
        FtpConfig {
            host: "ftp.example.com".into(),
            port: None,
            secure,
            allow_plaintext,
            ca_file: None,
            tls_verify: None,
            connect_timeout: None,
            timeout: None,
        }
    }

    #[test]
    fn secure_by_default_on_port_21() {
        let s = config(None, false).resolve().unwrap();
        assert!(s.secure && s.tls.tls_verify);
        assert_eq!(s.port, 21);
    }

    #[test]
    fn plaintext_needs_words() {
        assert_eq!(
            config(Some(false), false).resolve().unwrap_err(),
            FtpConfigError::PlaintextNotAllowed
        );
        assert!(!config(Some(false), true).resolve().unwrap().secure);
    }

    #[test]
    fn bad_host_and_port() {
        let mut c = config(None, false);
        c.port = Some(0);
        assert_eq!(c.resolve().unwrap_err(), FtpConfigError::Port);
        c.port = None;
        c.host = " ".into();
        assert_eq!(c.resolve().unwrap_err(), FtpConfigError::NoHost);
    }
}
