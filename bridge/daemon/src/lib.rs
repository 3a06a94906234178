//! The authbridge daemon (`authbridge serve`) as a library: one [`Service`]
//! that decides every password check, and the fronts that ask it.
//!
//! The decision: the brute-force throttle, the credential cache, the backend
//! chain behind a per-backend concurrency bound ([`Bounded`]), offline logins
//! from argon2id verifiers, and the names policy. The fronts: the unix socket
//! the PAM and NSS modules speak to ([`Server`], with its inline fast path),
//! the memory-mapped NSS cache file it publishes ([`publish_nss_cache`]), and
//! the HTTP server ([`http`]) with Nextcloud's OCS Provisioning API,
//! `/auth/check` and the password-link page ([`ocs`]); the welcome mail
//! ([`send_password_link`]) goes out from the OCS API and the CLI.

mod avatar;
mod bounded;
pub use authbridge_core::clock;
mod credential_cache;
mod decision_line;
mod directory;
mod follow;
pub mod http;
mod inline;
mod last_login;
mod log_budget;
pub mod log_format;
mod mail;
pub mod metrics;
mod modules;
mod nss_cache;
pub mod ocs;
mod server;
mod service;
mod settings;
mod throttle;
mod verifiers;

pub use follow::{FOLLOW_EVERY, run as follow_other_hosts};
pub use mail::{MailError, send_password_link};
pub use nss_cache::run as publish_nss_cache;

pub use avatar::{ImageError, ImageKind, PreparedUpload, prepare_upload};
pub use bounded::Bounded;
pub use server::{ServeError, Server};
pub use service::{Engine, LoadError, Loader, Service, ServiceError};
pub use settings::{
    Compat, DaemonSettings, HttpSettings, MailSecurity, MailSettings, MetricsSettings, NssSettings,
    OcsSettings, ThrottleSettings, TwoFactorSettings,
};
