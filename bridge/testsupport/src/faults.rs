//! The fault cases every network backend must answer alike, written once: a
//! closed port, a server that accepts and never speaks (the timeout), a
//! certificate nobody trusts, TLS not offered.
//!
//! A backend's test file makes a [`Faults`] with a function that builds its
//! backend for an [`Endpoint`] (where to connect, which certificates to trust,
//! which timeout), and runs each case that applies to it from a test of its own:
//!
//! ```text
//! #[tokio::test]
//! async fn closed_port_is_unavailable() {
//!     faults().closed_port_is_unavailable(Expect::Kind(UnavailableKind::Connect)).await;
//! }
//! ```
//!
//! What only the server can tell (that no password reached it) stays with the
//! backend's own test, next to the server it started.

use std::path::Path;
use std::time::{Duration, Instant};

use authbridge_core::{
    Authenticator, Credentials, SecretString, Timeouts, UnavailableKind, Verdict,
};

use crate::{ClosedPort, Pki, SilentServer, accepted, unavailable_kind};

/// Where and how a case wants the backend to connect.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    pub host: &'static str,
    pub port: u16,
    pub trust: Trust<'a>,
    /// The overall timeout to configure; `None` leaves the backend's default.
    pub timeout: Option<Duration>,
}

impl Endpoint<'_> {
    fn at(port: u16) -> Self {
        Endpoint {
            host: "127.0.0.1",
            port,
            trust: Trust::System,
            timeout: None,
        }
    }
}

/// Which certificates the backend accepts (backends without TLS ignore it).
#[derive(Debug, Clone, Copy)]
pub enum Trust<'a> {
    /// Those signed by this CA only (`ca_file`).
    Ca(&'a Path),
    /// The system store (no `ca_file`), which does not hold the tests' CA.
    System,
    /// Any: certificate validation is off.
    Unchecked,
}

/// What a check must come back as.
#[derive(Debug, Clone, Copy)]
pub enum Expect {
    /// Unavailable of exactly this kind.
    Kind(UnavailableKind),
    /// Unavailable, whatever the kind.
    AnyUnavailable,
}

impl Expect {
    fn check(self, case: &str, verdict: &Verdict) {
        let kind = unavailable_kind(verdict);
        match self {
            Expect::Kind(expected) => assert_eq!(kind, Some(expected), "{case}: {verdict}"),
            Expect::AnyUnavailable => assert!(kind.is_some(), "{case}: {verdict}"),
        }
    }
}

/// The timeout configured against the silent server.
pub const SILENT_TIMEOUT: Duration = Duration::from_secs(1);

/// How much earlier than the configured timeout a timeout may end: socket
/// timeouts run on kernel ticks and may end up to a tick (at most 10 ms) before
/// a deadline measured with `Instant`.
const EARLY: Duration = Duration::from_millis(50);

/// The fault cases, for one backend.
pub struct Faults<F> {
    login: &'static str,
    password: &'static str,
    build: F,
}

impl<F, B> Faults<F>
where
    F: Fn(&Endpoint<'_>) -> B,
    B: Authenticator,
{
    /// `login` and `password` are right on the real servers the TLS cases are
    /// given; `build` makes the backend for an endpoint.
    pub fn new(login: &'static str, password: &'static str, build: F) -> Self {
        Faults {
            login,
            password,
            build,
        }
    }

    /// The same cases for another user.
    pub fn with_user(self, login: &'static str, password: &'static str) -> Self {
        Faults {
            login,
            password,
            ..self
        }
    }

    async fn check(&self, backend: &B) -> Verdict {
        let credentials =
            Credentials::new(self.login, SecretString::from(self.password.to_owned())).unwrap();
        backend.authenticate(&credentials).await
    }

    /// Nothing listens on the port: the connect is refused.
    pub async fn closed_port_is_unavailable(&self, expect: Expect) {
        let closed = ClosedPort::hold();
        let backend = (self.build)(&Endpoint::at(closed.port));
        expect.check("closed port", &self.check(&backend).await);
    }

    /// The server accepts and never says a word: the check is unavailable
    /// (timeout) once the configured timeout has run out, not before and not at
    /// some later limit. Returns the backend, for a test that goes on with it.
    pub async fn silent_server_is_unavailable_within_the_timeout(&self) -> B {
        let silent = SilentServer::start();
        let backend = (self.build)(&Endpoint {
            timeout: Some(SILENT_TIMEOUT),
            ..Endpoint::at(silent.port)
        });
        let started = Instant::now();
        let verdict = self.check(&backend).await;
        let elapsed = started.elapsed();
        assert_eq!(
            unavailable_kind(&verdict),
            Some(UnavailableKind::Timeout),
            "silent server: {verdict}"
        );
        let ignored = Timeouts::default().timeout;
        assert!(
            ignored >= 5 * SILENT_TIMEOUT,
            "the default timeout ({ignored:?}) must stay well above the configured one"
        );
        // The server never speaks, so a backend ignoring its 1 s would wait for the 10 s default: the midpoint leaves 4.5 s for a loaded machine.
        let bound = SILENT_TIMEOUT + (ignored - SILENT_TIMEOUT) / 2;
        assert!(
            elapsed >= SILENT_TIMEOUT - EARLY && elapsed < bound,
            "silent server: unavailable after {elapsed:?}, configured {SILENT_TIMEOUT:?}, \
             default {ignored:?}"
        );
        backend
    }

    /// A certificate signed by a CA the backend was not told to trust is
    /// unavailable (TLS), whether another CA or the system store is configured;
    /// with validation off the same server accepts. `port` is a TLS port of a
    /// real server holding `pki`'s certificate, where the suite's login is right.
    pub async fn untrusted_certificate_is_unavailable_unless_validation_is_off(
        &self,
        port: u16,
        pki: &Pki,
    ) {
        for trust in [Trust::Ca(&pki.other_ca_file), Trust::System] {
            let backend = (self.build)(&Endpoint {
                trust,
                ..Endpoint::at(port)
            });
            let verdict = self.check(&backend).await;
            assert_eq!(
                unavailable_kind(&verdict),
                Some(UnavailableKind::Tls),
                "trusting {trust:?}: {verdict}"
            );
        }
        let unchecked = (self.build)(&Endpoint {
            trust: Trust::Unchecked,
            ..Endpoint::at(port)
        });
        assert_eq!(
            self.check(&unchecked).await,
            accepted(self.login),
            "validation off"
        );
    }

    /// A server that does not offer TLS, where the backend requires it: the check
    /// is unavailable (TLS). Whether a password reached the server is for the
    /// caller to ask the server.
    pub async fn tls_not_offered_is_unavailable(&self, port: u16) {
        let backend = (self.build)(&Endpoint::at(port));
        let verdict = self.check(&backend).await;
        assert_eq!(
            unavailable_kind(&verdict),
            Some(UnavailableKind::Tls),
            "TLS not offered: {verdict}"
        );
    }
}
