//! `authbridge serve`: answers the PAM and NSS modules over a unix socket.
//!
//! The policy lives here, in front of the backend chain: the brute-force throttle
//! ([`throttle`]), the verifier cache and offline logins ([`verifiers`]), bounded
//! concurrency per backend ([`bounded`]), and the directory the NSS module shows
//! ([`directory`]). [`server`] is the socket, the signals and the decision log.

pub mod bounded;
pub use authbridge_core::clock;
pub mod credential_cache;
pub mod directory;
pub mod http;
mod inline;
mod log_budget;
pub mod mail;
pub mod nss_cache;
pub mod ocs;
pub mod server;
pub mod service;
pub mod settings;
pub mod throttle;
pub mod verifiers;

pub use bounded::Bounded;
pub use server::{ServeError, Server};
pub use service::{Engine, LoadError, Loader, Service, ServiceError};
pub use settings::{
    DaemonSettings, HttpSettings, MailSecurity, MailSettings, NssSettings, ThrottleSettings,
};
