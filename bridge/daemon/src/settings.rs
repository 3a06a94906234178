//! The daemon's sections of the config file: `[daemon]`, `[throttle]`, `[nss]`.

use serde::Deserialize;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DaemonSettings {
    /// Where the daemon listens; the modules read the same key.
    pub socket: Option<PathBuf>,
    /// Longest a request may take before it is answered "unavailable".
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Checks running at once against one backend.
    pub max_concurrent_per_backend: usize,
    /// Checks waiting for one backend; beyond that, "unavailable" at once.
    pub queue_per_backend: usize,
    /// Accept an external password that the backend accepted within this long
    /// without asking it again, from memory (0 = off; SSSD's option of the name).
    #[serde(with = "humantime_serde")]
    pub cached_auth_timeout: Duration,
    /// The same for local users' login passwords over HTTP Basic (0 = off): a
    /// script's every request would otherwise cost an argon2id hash.
    #[serde(with = "humantime_serde")]
    pub http_credential_cache: Duration,
    /// Accepted passwords the credential cache holds at most.
    pub credential_cache_entries: usize,
    /// When every backend is unavailable, accept a matching password for this long
    /// after the last online success (0 = off).
    #[serde(with = "humantime_serde")]
    pub offline_credentials_expiration: Duration,
    /// Wrong offline passwords allowed before `offline_failed_login_delay` applies
    /// (as SSSD's option of the same name; 0 = no limit).
    pub offline_failed_login_attempts: u32,
    #[serde(with = "humantime_serde")]
    pub offline_failed_login_delay: Duration,
    /// Socket connections open at once (never more than the open-file limit leaves
    /// room for); an eighth of them is kept for root and the daemon's own uid
    /// (PAM), so unprivileged peers cannot lock logins out.
    pub max_connections: usize,
    /// Socket connections one unprivileged uid may hold open at once.
    pub max_connections_per_uid: usize,
    /// A whole request frame must arrive within this; an idle or trickling peer
    /// is disconnected.
    #[serde(with = "humantime_serde")]
    pub frame_timeout: Duration,
}

impl Default for DaemonSettings {
    fn default() -> Self {
        DaemonSettings {
            socket: None,
            request_timeout: Duration::from_secs(15),
            max_concurrent_per_backend: 16,
            queue_per_backend: 256,
            cached_auth_timeout: Duration::ZERO,
            http_credential_cache: Duration::from_secs(30),
            credential_cache_entries: 65_536,
            offline_credentials_expiration: Duration::ZERO,
            offline_failed_login_attempts: 3,
            offline_failed_login_delay: Duration::from_secs(5 * 60),
            max_connections: 4096,
            max_connections_per_uid: 32,
            frame_timeout: Duration::from_secs(5),
        }
    }
}

/// Nextcloud's brute-force protection: each failure doubles the delay.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThrottleSettings {
    /// The delay after the first failure.
    #[serde(with = "humantime_serde")]
    pub first_delay: Duration,
    /// The delay never grows beyond this (Nextcloud: 25 s).
    #[serde(with = "humantime_serde")]
    pub max_delay: Duration,
    /// Failures older than this are forgotten (Nextcloud: 12 h).
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// An attempt inside the delay waits out the rest of it when that is at most
    /// this long (as Nextcloud sleeps); a longer rest, or a second attempt while
    /// one waits, is refused at once and reaches no backend.
    #[serde(with = "humantime_serde")]
    pub max_wait: Duration,
    /// Attempts of one (login, source) running at once while it has no failures
    /// (with failures: one); more wait for a place, at most `max_wait`.
    pub max_in_flight_per_login: u32,
    /// Attempts of one source running at once, whatever the login.
    pub max_in_flight_per_source: u32,
    /// Failures of one source, across all logins, before the whole source waits
    /// the doubling delay too (0: only per login).
    pub source_failures_before_delay: u32,
}

impl Default for ThrottleSettings {
    fn default() -> Self {
        ThrottleSettings {
            first_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(25),
            window: Duration::from_secs(12 * 3600),
            max_wait: Duration::from_secs(2),
            max_in_flight_per_login: 8,
            max_in_flight_per_source: 32,
            source_failures_before_delay: 20,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NssSettings {
    pub id_min: u32,
    pub id_max: u32,
    /// `%u` is replaced by the user name.
    pub home: String,
    pub shell: String,
    /// How long the NSS module may answer from the memory-mapped cache file
    /// before it must be republished (SSSD's `memcache_timeout`; 0 = no file,
    /// every lookup asks the daemon).
    #[serde(with = "humantime_serde")]
    pub memcache_timeout: std::time::Duration,
}

impl Default for NssSettings {
    fn default() -> Self {
        let range = authbridge_store::IdRange::default();
        NssSettings {
            id_min: range.min,
            id_max: range.max,
            home: "/home/%u".into(),
            shell: "/bin/bash".into(),
            memcache_timeout: std::time::Duration::from_secs(300),
        }
    }
}

impl NssSettings {
    pub fn id_range(&self) -> authbridge_store::IdRange {
        authbridge_store::IdRange {
            min: self.id_min,
            max: self.id_max,
        }
    }

    pub fn home_of(&self, user: &str) -> String {
        self.home.replace("%u", user)
    }
}

/// `[http]`: the OCS API and `/auth/check`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    pub enabled: bool,
    /// Loopback by default; `authbridge serve --listen` overrides it.
    pub listen: std::net::SocketAddr,
    /// PEM certificate chain and key: HTTPS instead of HTTP when both are set.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Reverse proxies (e.g. nginx) whose `X-Forwarded-For` names the client the
    /// throttle counts; empty: the header is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Connections served at once; more are closed at once.
    pub max_connections: usize,
    /// Connections of one client address (an IPv6 client by its /64) at once;
    /// `trusted_proxies` only count against `max_connections`.
    pub max_connections_per_client: usize,
    /// A whole request, body included, must be read and answered within this.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// A request's headers must arrive within this (slowloris), and a TLS
    /// handshake must finish within it.
    #[serde(with = "humantime_serde")]
    pub header_timeout: Duration,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            enabled: true,
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 8080)),
            tls_cert: None,
            tls_key: None,
            trusted_proxies: Vec::new(),
            max_connections: 512,
            max_connections_per_client: 64,
            request_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
        }
    }
}

/// `[ocs]`: how the OCS Provisioning API answers.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OcsSettings {
    /// Whose status codes, where Nextcloud and its documents differ
    /// (`ocs::compat` has the table).
    pub compat: Compat,
}

/// `[ocs] compat`: `nextcloud` (the default) answers as today's Nextcloud
/// server does; `documented` as the Provisioning API documents say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compat {
    #[default]
    Nextcloud,
    Documented,
}

/// `[mail]`: the SMTP relay for welcome and password-reset mails.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    pub relay: String,
    #[serde(default = "smtp_port")]
    pub port: u16,
    /// "starttls" (the default), "tls" (implicit), or "none" (a relay on loopback).
    #[serde(default)]
    pub security: MailSecurity,
    /// Trust only this CA for the relay's certificate.
    pub ca_file: Option<PathBuf>,
    pub username: Option<String>,
    pub password: Option<String>,
    /// The sender, e.g. "authbridge <noreply@example.org>".
    pub from: String,
    /// Where users reach authbridge's password page, e.g. "https://id.example.org".
    /// Default: the address the OCS API listens on.
    pub base_url: Option<String>,
    /// How long a password link works.
    #[serde(default = "token_lifetime", with = "humantime_serde")]
    pub link_lifetime: Duration,
}

#[derive(Debug, Clone, Copy, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailSecurity {
    #[default]
    Starttls,
    Tls,
    None,
}

fn smtp_port() -> u16 {
    25
}

fn token_lifetime() -> Duration {
    Duration::from_secs(24 * 3600)
}

/// `[metrics]`: Prometheus's text format on an address of its own.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// e.g. "127.0.0.1:9464"; none (the default): no metrics endpoint.
    pub listen: Option<std::net::SocketAddr>,
}

/// `[twofactor]`: how second factors are presented.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TwoFactorSettings {
    /// The issuer authenticator apps show beside the account (`otpauth://`).
    pub issuer: String,
    /// Where users enrol, named in the message a user under enforcement without
    /// a second factor gets, e.g. "https://id.example.org/twofactor/setup".
    /// Default: `/twofactor/setup` on the address the OCS API listens on.
    pub setup_url: Option<String>,
}

impl TwoFactorSettings {
    /// The enrolment page: as configured, else on `base` (where users reach
    /// authbridge's pages).
    pub fn setup_url_or(&self, base: &str) -> String {
        self.setup_url
            .clone()
            .unwrap_or_else(|| format!("{}/twofactor/setup", base.trim_end_matches('/')))
    }
}

impl Default for TwoFactorSettings {
    fn default() -> Self {
        TwoFactorSettings {
            issuer: authbridge_twofactor::DEFAULT_ISSUER.to_owned(),
            setup_url: None,
        }
    }
}
