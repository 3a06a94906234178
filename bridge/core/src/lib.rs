//! The core of authbridge: one [`Authenticator`] trait that every way of checking a
//! password implements, the three-way [`Verdict`], the ordered [`Chain`] of backends,
//! validated [`Credentials`], and the connection plumbing (deadlines, TLS) that the
//! network backends share.

mod authenticator;
mod chain;
pub mod clock;
mod credentials;
mod deadline;
pub mod tls;
mod uid;
mod verdict;

pub use authenticator::{Authenticator, BackendKind, Derived};
pub use chain::{Attempt, Chain, Decision, Outcome};
pub use credentials::{
    CredentialError, Credentials, MAX_LOGIN_BYTES, MAX_PASSWORD_BYTES, usable_password,
};
pub use deadline::{Deadline, Timeouts, io_unavailable, run_blocking};
pub use secrecy::{ExposeSecret, SecretString};
pub use uid::canonical_uid;
pub use verdict::{Accepted, RejectReason, UnavailableKind, Verdict};
