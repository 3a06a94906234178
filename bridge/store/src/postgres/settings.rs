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
            .field("url", &describe(&self.url))
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
        "the PostgreSQL URL has an @ that is not the one before the host: write an @ in a password or parameter as %40"
    )]
    AmbiguousAt,
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
        if ambiguous_at(&self.url) {
            return Err(SettingsError::AmbiguousAt);
        }
        let mut config: tokio_postgres::Config = self.url.parse().map_err(SettingsError::Url)?;
        if config.get_dbname().is_none() {
            return Err(SettingsError::NoDatabase);
        }
        if config.get_ssl_mode() != SslMode::Require {
            // "prefer" falls back to plain text when the server (or whoever
            // sits between) says no TLS: only loopback may go without. An
            // address given as hostaddr is where the driver connects.
            for host in config.get_hosts() {
                if let Host::Tcp(name) = host
                    && !is_loopback(name)
                {
                    return Err(SettingsError::PlainTextToRemote(name.clone()));
                }
            }
            if let Some(addr) = config.get_hostaddrs().iter().find(|a| !a.is_loopback()) {
                return Err(SettingsError::PlainTextToRemote(addr.to_string()));
            }
        }
        // Several hosts (a primary and its replicas): only the primary takes
        // writes, and a replica may lag behind a disable.
        if config.get_hosts().len() > 1 || config.get_hostaddrs().len() > 1 {
            config.target_session_attrs(tokio_postgres::config::TargetSessionAttrs::ReadWrite);
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

/// The driver takes everything up to the first @ as user and password, so a
/// second @ (or one in the path or query) moves part of a password into the
/// host name: such a URL is refused, and never shown.
fn ambiguous_at(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    rest.matches('@').count() > 1 || rest[authority_end..].contains('@')
}

/// The database a URL names, for messages and logs: user, hosts, ports and
/// database as the driver reads them, never a password (nor anything else
/// the URL holds). Text the driver cannot read is not shown at all.
pub fn describe(url: &str) -> String {
    const UNREADABLE: &str = "postgresql://(a URL that cannot be read)";
    if ambiguous_at(url) {
        return UNREADABLE.into();
    }
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return UNREADABLE.into();
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            Host::Tcp(name) => name.clone(),
            Host::Unix(path) => path.display().to_string(),
        })
        .chain(config.get_hostaddrs().iter().map(|a| a.to_string()))
        .collect();
    let mut ports: Vec<String> = Vec::new();
    for port in config.get_ports() {
        // The driver fills in the default for every host: say it once.
        if !ports.contains(&port.to_string()) {
            ports.push(port.to_string());
        }
    }
    let user = config
        .get_user()
        .map(|u| format!("{u}@"))
        .unwrap_or_default();
    let port = match ports.is_empty() {
        true => String::new(),
        false => format!(":{}", ports.join(",")),
    };
    format!(
        "postgresql://{user}{}{port}/{}",
        hosts.join(","),
        config.get_dbname().unwrap_or("")
    )
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
        for url in [
            "postgresql://ab:s3cret@db:5432/ab?sslmode=require",
            "postgresql://db/ab?user=ab&password=s3cret",
            "postgresql://ab:pa/s3cret@db/ab",
            "postgresql://ab:pa?s3cret@db/ab",
            "postgresql://db/ab?pass%77ord=s3cret",
            "PostgreSQL://u:s3cret@db/ab",
            "postgresql://db.example.org/auth?sslmode=require&user=ab&password=p@s3cret",
            "postgresql://ab:s3c@s3cret@db/auth",
        ] {
            let shown = describe(url);
            assert!(!shown.contains("s3cret"), "{url} -> {shown}");
        }
        assert_eq!(
            describe("postgresql://ab:s3cret@db1,db2:5432/auth?sslmode=require"),
            "postgresql://ab@db1,db2:5432/auth"
        );
        let s = PostgresSettings::new("postgresql://ab:s3cret@db/ab");
        assert!(!format!("{s:?}").contains("s3cret"));
    }

    #[test]
    fn an_at_sign_the_driver_would_misread_is_refused() {
        for url in [
            "postgresql://db.example.org/auth?user=ab&password=p@ss",
            "postgresql://ab:s3c@ret@db/auth",
        ] {
            assert!(
                matches!(
                    PostgresSettings::new(url).config(),
                    Err(SettingsError::AmbiguousAt)
                ),
                "{url}"
            );
        }
        assert!(
            PostgresSettings::new("postgresql://ab:p%40ss@127.0.0.1/auth")
                .config()
                .is_ok()
        );
    }

    #[test]
    fn a_hostaddr_beyond_loopback_needs_tls_too() {
        for url in [
            "postgresql://localhost/ab?hostaddr=10.0.0.5",
            "postgresql:///ab?hostaddr=10.0.0.5",
        ] {
            assert!(
                matches!(
                    PostgresSettings::new(url).config(),
                    Err(SettingsError::PlainTextToRemote(_))
                ),
                "{url}"
            );
        }
        assert!(
            PostgresSettings::new("postgresql://localhost/ab?hostaddr=127.0.0.1")
                .config()
                .is_ok()
        );
    }

    #[test]
    fn several_hosts_connect_to_the_primary_only() {
        let config = PostgresSettings::new("postgresql://db1,db2/ab?sslmode=require")
            .config()
            .unwrap();
        assert_eq!(
            config.get_target_session_attrs(),
            tokio_postgres::config::TargetSessionAttrs::ReadWrite
        );
    }
}
