//! How to reach the database: the URL, its TLS, the pool and the time limit,
//! checked before anything connects.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio_postgres::config::{Host, SslMode};

/// `[store]` for PostgreSQL.
#[derive(Clone)]
pub struct PostgresSettings {
    /// `postgresql://user:password@host:port/dbname?sslmode=require`.
    pub url: String,
    /// PEM file of the CA that signed the server's certificate; the system's
    /// roots when unset.
    pub ca_file: Option<PathBuf>,
    /// Connections this process keeps at most.
    pub pool_size: usize,
    /// The longest a store call waits, connecting included: past it the call
    /// answers "unavailable".
    pub timeout: Duration,
}

impl std::fmt::Debug for PostgresSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password.
        f.debug_struct("PostgresSettings")
            .field("url", &redact(&self.url))
            .field("ca_file", &self.ca_file)
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub const MAX_POOL_SIZE: usize = 64;
pub const MAX_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("the PostgreSQL URL is not valid: {0}")]
    Url(tokio_postgres::Error),
    #[error("the PostgreSQL URL names no database (postgresql://HOST/DBNAME)")]
    NoDatabase,
    #[error(
        "{0} is not on this machine: connections to it must use TLS (add sslmode=require to the URL; [store] ca_file names the CA)"
    )]
    PlainTextToRemote(String),
    #[error("[store] pool_size must be 1 to {MAX_POOL_SIZE}, not {0}")]
    PoolSize(usize),
    #[error("the store timeout must be above 0 and at most an hour")]
    Timeout,
    #[error("{path}: {detail}")]
    CaFile { path: String, detail: String },
}

impl PostgresSettings {
    /// `store copy` reads and writes whole tables in one call.
    pub const COPY_TIMEOUT: Duration = Duration::from_secs(3600);

    pub fn new(url: &str) -> PostgresSettings {
        PostgresSettings {
            url: url.to_owned(),
            ca_file: None,
            pool_size: 4,
            timeout: Duration::from_secs(5),
        }
    }

    /// The driver's configuration, with authbridge's limits added: connect and
    /// statement timeouts, keepalives, and TLS required beyond loopback.
    pub(super) fn config(&self) -> Result<tokio_postgres::Config, SettingsError> {
        if self.pool_size == 0 || self.pool_size > MAX_POOL_SIZE {
            return Err(SettingsError::PoolSize(self.pool_size));
        }
        // A config file's timeout is at most MAX_TIMEOUT (the CLI checks);
        // only a copy waits longer.
        if self.timeout.is_zero() || self.timeout > Self::COPY_TIMEOUT {
            return Err(SettingsError::Timeout);
        }
        let mut config: tokio_postgres::Config = self.url.parse().map_err(SettingsError::Url)?;
        if config.get_dbname().is_none() {
            return Err(SettingsError::NoDatabase);
        }
        if config.get_ssl_mode() != SslMode::Require {
            // "prefer" falls back to plain text when the server (or whoever
            // sits between) says no TLS: only loopback may go without.
            for host in config.get_hosts() {
                if let Host::Tcp(name) = host
                    && !is_loopback(name)
                {
                    return Err(SettingsError::PlainTextToRemote(name.clone()));
                }
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(self.timeout);
        }
        if config.get_application_name().is_none() {
            config.application_name("authbridge");
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.tcp_user_timeout(self.timeout.max(Duration::from_secs(10)));
        // The server gives up on a statement when the caller has: nothing keeps
        // running for an answer nobody waits for.
        let ms = self.timeout.as_millis();
        let options = match config.get_options() {
            Some(own) => format!("{own} -c statement_timeout={ms} -c lock_timeout={ms}"),
            None => format!("-c statement_timeout={ms} -c lock_timeout={ms}"),
        };
        config.options(&options);
        Ok(config)
    }

    /// TLS as rustls does it: certificates checked against `ca_file` (or the
    /// system's roots) and the host name.
    pub(super) fn tls(&self) -> Result<tokio_postgres_rustls::MakeRustlsConnect, SettingsError> {
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca_file {
            Some(path) => {
                let ca_error = |detail: String| SettingsError::CaFile {
                    path: path.display().to_string(),
                    detail,
                };
                let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
                let mut found = 0;
                for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                    let cert = cert.map_err(|e| ca_error(e.to_string()))?;
                    roots.add(cert).map_err(|e| ca_error(e.to_string()))?;
                    found += 1;
                }
                if found == 0 {
                    return Err(ca_error("no PEM certificate in it".into()));
                }
            }
            None => {
                for cert in rustls_native_certs::load_native_certs().certs {
                    // A system root rustls cannot parse is skipped, as browsers do.
                    let _ = roots.add(cert);
                }
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| SettingsError::CaFile {
                path: "TLS".into(),
                detail: e.to_string(),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(tokio_postgres_rustls::MakeRustlsConnect::new(tls))
    }
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The URL with its password replaced, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{hosts}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    // A password can also come as a query parameter.
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|kv| match kv.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => kv.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_refused_beyond_loopback() {
        for url in [
            "postgresql://db.example.org/ab",
            "postgresql://db.example.org/ab?sslmode=prefer",
            "postgresql://10.0.0.5/ab?sslmode=disable",
            "postgresql://127.0.0.1,db.example.org/ab",
        ] {
            assert!(
                matches!(
                    PostgresSettings::new(url).config(),
                    Err(SettingsError::PlainTextToRemote(_))
                ),
                "{url}"
            );
        }
        for url in [
            "postgresql://127.0.0.1:5432/ab",
            "postgresql://localhost/ab",
            "postgresql://[::1]/ab",
            "postgresql://db.example.org/ab?sslmode=require",
            "postgresql:///ab?host=/run/postgresql",
        ] {
            assert!(PostgresSettings::new(url).config().is_ok(), "{url}");
        }
    }

    #[test]
    fn limits_are_checked_and_a_database_is_named() {
        let mut s = PostgresSettings::new("postgresql://127.0.0.1/ab");
        s.pool_size = 0;
        assert!(matches!(s.config(), Err(SettingsError::PoolSize(0))));
        s.pool_size = MAX_POOL_SIZE + 1;
        assert!(matches!(s.config(), Err(SettingsError::PoolSize(_))));
        s.pool_size = 4;
        s.timeout = Duration::ZERO;
        assert!(matches!(s.config(), Err(SettingsError::Timeout)));
        s.timeout = PostgresSettings::COPY_TIMEOUT + Duration::from_secs(1);
        assert!(matches!(s.config(), Err(SettingsError::Timeout)));
        assert!(matches!(
            PostgresSettings::new("postgresql://127.0.0.1").config(),
            Err(SettingsError::NoDatabase)
        ));
    }

    #[test]
    fn the_statement_timeout_follows_the_call_timeout() {
        let mut s = PostgresSettings::new("postgresql://127.0.0.1/ab?options=-c%20work_mem%3D8MB");
        s.timeout = Duration::from_millis(2500);
        let config = s.config().unwrap();
        let options = config.get_options().unwrap();
        assert!(options.starts_with("-c work_mem=8MB "), "{options}");
        assert!(options.contains("statement_timeout=2500"), "{options}");
        assert_eq!(
            config.get_connect_timeout(),
            Some(&Duration::from_millis(2500))
        );
    }

    #[test]
    fn passwords_never_show() {
        assert_eq!(
            redact("postgresql://ab:s3cret@db:5432/ab?sslmode=require"),
            "postgresql://ab:***@db:5432/ab?sslmode=require"
        );
        assert_eq!(
            redact("postgresql://db/ab?user=ab&password=s3cret"),
            "postgresql://db/ab?user=ab&password=***"
        );
        assert_eq!(redact("postgresql://db/ab"), "postgresql://db/ab");
        let s = PostgresSettings::new("postgresql://ab:s3cret@db/ab");
        assert!(!format!("{s:?}").contains("s3cret"));
    }
}
