//! The answer of one backend to one password check.

use std::fmt;

/// What a backend says about a login and password.
///
/// The three cases are kept apart on purpose: PAM return codes, offline caching and
/// operator logs all depend on the difference between "the password is wrong" and
/// "nobody could tell us".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The server confirmed the password.
    Accepted(Accepted),
    /// The server (or a local rule) said no.
    Rejected(RejectReason),
    /// No answer could be had: refused, timed out, TLS failure, protocol garbage.
    Unavailable {
        kind: UnavailableKind,
        detail: String,
    },
}

impl Verdict {
    pub fn unavailable(kind: UnavailableKind, detail: impl Into<String>) -> Self {
        Verdict::Unavailable {
            kind,
            detail: detail.into(),
        }
    }

    /// A short word for logs and CLI output.
    pub fn label(&self) -> &'static str {
        match self {
            Verdict::Accepted(_) => "accepted",
            Verdict::Rejected(_) => "rejected",
            Verdict::Unavailable { .. } => "unavailable",
        }
    }
}

/// A confirmed login: the canonical user id and any groups the backend derived
/// (for example the mail domain with IMAP's `group_domain`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    pub uid: String,
    pub groups: Vec<String>,
}

/// Why a backend said no. Only ever logged, never shown to the person logging in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RejectReason {
    /// Wrong password or unknown user: servers rarely tell the two apart, by design.
    BadCredentials,
    /// The login names a domain this backend does not serve; no connection was made.
    WrongDomain(String),
    /// The server says the account exists but is disabled.
    AccountDisabled,
    /// The server says the account is locked out.
    AccountLocked,
    /// The server says the password has expired.
    PasswordExpired,
    /// Anything else the server stated plainly, kept verbatim for the log.
    Server(String),
    /// The name belongs to the system (its passwd file) or a deny list:
    /// authbridge never authenticates it, whatever a backend would say.
    SystemName(String),
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RejectReason::BadCredentials => f.write_str("wrong password or unknown user"),
            RejectReason::WrongDomain(d) => {
                write!(
                    f,
                    "login is in domain {d:?}, which this backend does not serve"
                )
            }
            RejectReason::AccountDisabled => f.write_str("account disabled"),
            RejectReason::AccountLocked => f.write_str("account locked out"),
            RejectReason::PasswordExpired => f.write_str("password expired"),
            RejectReason::Server(s) => write!(f, "server said: {s}"),
            RejectReason::SystemName(why) => f.write_str(why),
        }
    }
}

/// Why no answer could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnavailableKind {
    /// Name resolution or TCP connect failed.
    Connect,
    /// The connect or overall timeout ran out.
    Timeout,
    /// TLS could not be established (including STARTTLS refused or an untrusted certificate).
    Tls,
    /// The server said something we could not make sense of, or closed the connection.
    Protocol,
    /// The server behaves in a way that makes its answer untrustworthy
    /// (e.g. an FTP server that logs a user in without asking for the password).
    Misconfigured,
    /// The backend's own queue is full.
    Overloaded,
}

impl fmt::Display for UnavailableKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnavailableKind::Connect => "connect",
            UnavailableKind::Timeout => "timeout",
            UnavailableKind::Tls => "tls",
            UnavailableKind::Protocol => "protocol",
            UnavailableKind::Misconfigured => "misconfigured server",
            UnavailableKind::Overloaded => "overloaded",
        })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Accepted(a) if a.groups.is_empty() => write!(f, "accepted as {:?}", a.uid),
            Verdict::Accepted(a) => {
                write!(
                    f,
                    "accepted as {:?} (groups: {})",
                    a.uid,
                    a.groups.join(", ")
                )
            }
            Verdict::Rejected(r) => write!(f, "rejected: {r}"),
            Verdict::Unavailable { kind, detail } => write!(f, "unavailable ({kind}): {detail}"),
        }
    }
}
