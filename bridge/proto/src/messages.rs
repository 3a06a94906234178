//! What travels in the frames.

/// How the daemon's `Response::Error` begins for a request it cannot decode
/// (one made by a newer module, for instance).
pub const BAD_REQUEST: &str = "bad request";

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A password or a code on the wire: wiped when dropped, and never shown by
/// `Debug` (a request printed in a log line shows `Secret(..)`). Encoded as
/// the plain string it holds, so frames are unchanged.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(Zeroizing<String>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl std::ops::Deref for Secret {
    type Target = Zeroizing<String>;
    fn deref(&self) -> &Zeroizing<String> {
        &self.0
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Secret {
        Secret(Zeroizing::new(text))
    }
}

impl From<Zeroizing<String>> for Secret {
    fn from(text: Zeroizing<String>) -> Secret {
        Secret(text)
    }
}

impl Secret {
    /// The text, still wiped when the returned value is dropped.
    pub fn into_inner(self) -> Zeroizing<String> {
        self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// Check a password (PAM authenticate).
    Authenticate(AuthRequest),
    /// May this user log in now (PAM acct_mgmt)?
    Account {
        user: String,
    },
    /// A session opened (PAM open_session): records the last login.
    OpenSession {
        user: String,
        service: String,
        rhost: Option<String>,
    },
    /// Change a local user's password under the policy (PAM chauthtok); root only.
    /// Without the old password when root itself asks (`passwd USER` run by root).
    ChangePassword {
        user: String,
        old_password: Option<Secret>,
        new_password: Secret,
    },
    /// Where the user's password lives, before asking for a new one (chauthtok).
    PasswordOwner {
        user: String,
    },
    PasswdByName(String),
    PasswdById(u32),
    /// Every user, for setpwent/getpwent.
    PasswdAll,
    GroupByName(String),
    GroupById(u32),
    /// Every group, for setgrent/getgrent.
    GroupAll,
    /// The gids of the groups a user belongs to, for initgroups.
    GroupIdsOf(String),
    /// `Authenticate`, saying who started the asking process: its real uid
    /// (`getuid()`; su and sudo run setuid root for the user who typed them).
    /// Believed only from root and the daemon's uid, as PAM_RHOST is; spares the
    /// daemon reading `/proc` for it, as it must for `Authenticate`.
    AuthenticateStartedBy {
        request: AuthRequest,
        real_uid: u32,
    },
    /// `AuthenticateStartedBy` from a module that knows second factors. The
    /// answer is a [`Step`]. A daemon refuses the older requests for a user who
    /// needs a second factor (an old module cannot ask for the code).
    AuthenticateTwoStep {
        request: AuthRequest,
        real_uid: Option<u32>,
        mode: TwoFactorMode,
    },
    /// The code asked for by `Step::Code`, with its ticket. Answered by a
    /// final [`Step`] (`Done` or `Refused`). A ticket is good for one code, for
    /// a few minutes, from the peer uid it was given to.
    SecondFactor {
        ticket: Ticket,
        code: Secret,
    },
    // Variants are only ever appended: postcard numbers them in order, and a
    // module loaded before an upgrade still speaks the old numbers.
}

/// Names a password check waiting for its code; random, 256 bits.
pub type Ticket = [u8; 32];

/// The module line's `twofactor=` option.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TwoFactorMode {
    /// Ask users who set up a second factor or are under enforcement.
    Optional,
    /// Ask every user; one without a second factor is refused (told to enrol).
    Required,
    /// Never ask (a service that cannot show a second prompt, such as an IMAP
    /// server's PAM stack): only an app password passes for a user who needs a
    /// second factor; a login password is refused.
    Off,
}

/// How far a two-step authentication got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    /// Decided: the password, and the code when one was asked.
    Done(AuthAnswer),
    /// The password is right; a code is needed, sent with this ticket.
    Code { ticket: Ticket },
    /// Refused, with words for the user (how to enrol, or to use an app
    /// password). Not a wrong password: nothing was counted against it.
    Refused { message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The PAM service (`sshd`, `login`, ...), for the log.
    pub service: String,
    pub user: String,
    pub password: Secret,
    /// PAM_RHOST: the remote host, the throttle's source when set.
    pub rhost: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    Auth(AuthAnswer),
    Account(AccountStatus),
    /// A request that needs no data back was carried out.
    Done,
    PasswordChange(PasswordChange),
    PasswordOwner(PasswordOwner),
    /// Zero or more entries; empty means "not found".
    Passwd(Vec<Passwd>),
    Group(Vec<Group>),
    GroupIds(Vec<u32>),
    /// The request was refused or failed; the text is for logs.
    Error(String),
    /// The answer to `AuthenticateTwoStep` and `SecondFactor`.
    Step(Step),
    // Appended only, as the requests.
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthAnswer {
    pub status: AuthStatus,
    /// The canonical user id when accepted.
    pub uid: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthStatus {
    Accepted,
    /// Wrong password (or a user only a backend could know).
    Rejected,
    /// No backend serves this login and the store does not know it.
    UnknownUser,
    /// The account is disabled in authbridge.
    Disabled,
    /// Too many recent failures for this login and source; no backend was asked.
    Throttled,
    /// No backend could be asked and no offline verifier applied.
    Unavailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountStatus {
    Active,
    Disabled,
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PasswordOwner {
    /// A local user: authbridge changes it.
    Local,
    /// The text says where to change it.
    External(String),
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PasswordChange {
    Changed,
    /// The old password is wrong.
    Denied,
    /// The account's password lives elsewhere; the text says where to change it.
    External(String),
    /// The new password breaks the policy; the text says how.
    Policy(String),
    /// authbridge does not know this user.
    Unknown,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Passwd {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub gecos: String,
    pub dir: String,
    pub shell: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub name: String,
    pub gid: u32,
    pub members: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_never_shown_and_go_on_the_wire_as_plain_strings() {
        let code = Request::SecondFactor {
            ticket: [7; 32],
            code: "123456".to_owned().into(),
        };
        assert!(!format!("{code:?}").contains("123456"));
        let auth = AuthRequest {
            service: "sshd".into(),
            user: "alice".into(),
            password: "hunter22".to_owned().into(),
            rhost: None,
        };
        assert!(!format!("{auth:?}").contains("hunter22"));
        #[derive(Serialize)]
        struct Plain {
            service: String,
            user: String,
            password: String,
            rhost: Option<String>,
        }
        let plain = Plain {
            service: "sshd".into(),
            user: "alice".into(),
            password: "hunter22".into(),
            rhost: None,
        };
        assert_eq!(
            postcard::to_allocvec(&auth).unwrap(),
            postcard::to_allocvec(&plain).unwrap(),
            "frames from older modules still decode"
        );
    }
}
