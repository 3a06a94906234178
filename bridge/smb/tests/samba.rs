//! The SMB backend against a real Samba smbd (started by ci/servers/smbd.sh) on
//! 127.0.0.1, through the real child process.

use authbridge_core::{
    Authenticator, Credentials, RejectReason, SecretString, UnavailableKind, Verdict,
};
use authbridge_smb::{ChildCommand, SmbBackend, SmbConfig};
use authbridge_testsupport::faults::{Endpoint, Expect, Faults};
use authbridge_testsupport::{
    AWKWARD_PASSWORDS, SilentServer, Smbd, accepted, long_password, unavailable_kind,
};

fn child() -> ChildCommand {
    ChildCommand {
        program: env!("CARGO_BIN_EXE_authbridge-smb-child").into(),
        args: vec![],
    }
}

fn backend(toml_text: &str) -> SmbBackend {
    let config: SmbConfig = toml::from_str(toml_text).expect("test config parses");
    SmbBackend::new(config.resolve().expect("test config resolves"), child()).expect("backend")
}

fn share_backend(s: &Smbd) -> SmbBackend {
    backend(&format!(
        "host = '127.0.0.1'\nport = {}\nshare = 'share'",
        s.port
    ))
}

/// The shared fault cases that apply without TLS.
fn faults() -> Faults<impl Fn(&Endpoint<'_>) -> SmbBackend> {
    Faults::new("alice", "alice-smb-pw", |e: &Endpoint<'_>| {
        let mut config = format!("host = '{}'\nport = {}\nshare = 'share'\n", e.host, e.port);
        if let Some(timeout) = e.timeout {
            config.push_str(&format!("timeout = '{}ms'\n", timeout.as_millis()));
        }
        backend(&config)
    })
}

async fn check(b: &SmbBackend, login: &str, password: &str) -> Verdict {
    let creds = Credentials::new(login, SecretString::from(password.to_owned())).unwrap();
    b.authenticate(&creds).await
}

const REJECTED: Verdict = Verdict::Rejected(RejectReason::BadCredentials);

#[tokio::test]
async fn right_wrong_and_unknown() {
    let s = Smbd::start(&[("alice", "alice-smb-pw")]);
    {
        let b = share_backend(&s);
        assert_eq!(check(&b, "alice", "alice-smb-pw").await, accepted("alice"));
        assert_eq!(check(&b, "alice", "not-her-password").await, REJECTED);
        assert_eq!(check(&b, "nobody", "whatever").await, REJECTED);
        // A cached session must not let the wrong password through right after a right one.
        assert_eq!(check(&b, "alice", "alice-smb-pw").await, accepted("alice"));
        assert_eq!(check(&b, "alice", "alice-smb-pw-but-wrong").await, REJECTED);
    }
}

#[tokio::test]
async fn awkward_and_long_passwords() {
    let long = long_password();
    let mut users: Vec<(&str, &str)> = AWKWARD_PASSWORDS.to_vec();
    users.push(("long", &long));
    let s = Smbd::start(&users);
    let b = share_backend(&s);
    for (user, password) in users {
        assert_eq!(
            check(&b, user, password).await,
            accepted(user),
            "user {user}"
        );
        assert_eq!(
            check(&b, user, &format!("{password}x")).await,
            REJECTED,
            "user {user}"
        );
    }
}

#[tokio::test]
async fn disabled_and_locked_accounts_are_rejected_with_the_reason() {
    let s = Smbd::start(&[("bob", "bob-smb-pw")]);
    let b = share_backend(&s);
    assert_eq!(check(&b, "bob", "bob-smb-pw").await, accepted("bob"));
    s.pdbedit(&["-c", "[D]", "-u", "bob"]);
    assert_eq!(
        check(&b, "bob", "bob-smb-pw").await,
        Verdict::Rejected(RejectReason::AccountDisabled)
    );
    s.pdbedit(&["-c", "[]", "-u", "bob"]);
    s.pdbedit(&["-c", "[L]", "-u", "bob"]);
    assert_eq!(
        check(&b, "bob", "bob-smb-pw").await,
        Verdict::Rejected(RejectReason::AccountLocked)
    );
    s.pdbedit(&["-c", "[]", "-u", "bob"]);
    assert_eq!(check(&b, "bob", "bob-smb-pw").await, accepted("bob"));
}

#[tokio::test]
async fn a_guest_session_never_counts_as_the_users() {
    let s = Smbd::start_with_guest_mapping(&[("alice", "alice-smb-pw")]);
    let b = backend(&format!(
        "host = '127.0.0.1'\nport = {}\nshare = 'share'\ntimeout = '2s'",
        s.port
    ));
    // The server maps this unknown user to guest and would let the session in;
    // libsmbclient, told to require signing, refuses the unsigned guest session.
    let v = check(&b, "mallory", "anything").await;
    assert!(matches!(v, Verdict::Rejected(_)), "{v}");
    assert_eq!(check(&b, "alice", "alice-smb-pw").await, accepted("alice"));
}

#[tokio::test]
async fn closed_port_is_unavailable() {
    faults()
        .closed_port_is_unavailable(Expect::AnyUnavailable)
        .await;
}

#[tokio::test]
async fn a_missing_share_is_unavailable_not_rejected() {
    let s = Smbd::start(&[("alice", "alice-smb-pw")]);
    let b = backend(&format!(
        "host = '127.0.0.1'\nport = {}\nshare = 'nosuch'",
        s.port
    ));
    let v = check(&b, "alice", "alice-smb-pw").await;
    assert!(unavailable_kind(&v).is_some(), "{v}");
}

#[tokio::test]
async fn a_silent_server_is_unavailable_within_the_timeout_and_the_child_recovers() {
    let _stuck = faults()
        .silent_server_is_unavailable_within_the_timeout()
        .await;
    // The stuck child was killed; a new one serves the next check.
    let s = Smbd::start(&[("alice", "alice-smb-pw")]);
    let b2 = share_backend(&s);
    assert_eq!(check(&b2, "alice", "alice-smb-pw").await, accepted("alice"));
}

#[tokio::test]
async fn a_full_queue_is_unavailable_at_once() {
    let silent = SilentServer::start();
    let b = std::sync::Arc::new(backend(&format!(
        "host = '127.0.0.1'\nport = {}\nshare = 'share'\ntimeout = '1s'\nqueue = 1",
        silent.port
    )));
    // One check is in the child, one waits in the queue; the rest find it full.
    let checks: Vec<_> = (0..4)
        .map(|_| {
            let b = std::sync::Arc::clone(&b);
            tokio::spawn(async move { check(&b, "alice", "alice-smb-pw").await })
        })
        .collect();
    let mut overloaded = 0;
    for c in checks {
        let v = c.await.unwrap();
        assert!(unavailable_kind(&v).is_some(), "{v}");
        if unavailable_kind(&v) == Some(UnavailableKind::Overloaded) {
            overloaded += 1;
        }
    }
    assert!(overloaded >= 1, "a bounded queue turns extra checks away");
}

/// `authbridge doctor`'s probe: one SMB2 NEGOTIATE, no session, no password;
/// a server that is not SMB, or is silent, or is not there, is named as such.
#[test]
fn the_probe_negotiates_a_dialect_without_credentials() {
    use authbridge_core::{Deadline, Timeouts};
    use std::time::Duration;
    let deadline = || {
        Deadline::start(Timeouts::with_overrides(
            Some(Duration::from_secs(2)),
            Some(Duration::from_secs(2)),
        ))
    };
    let s = Smbd::start(&[("alice", "alice-smb-pw")]);
    let seen = authbridge_smb::probe("127.0.0.1", s.port, deadline()).expect("probe");
    assert!(seen.starts_with("SMB2 NEGOTIATE, dialect 3.0.2"), "{seen}");

    let silent = SilentServer::start();
    match authbridge_smb::probe("127.0.0.1", silent.port, deadline()) {
        Err(Verdict::Unavailable { kind, .. }) => assert_eq!(kind, UnavailableKind::Timeout),
        other => panic!("{other:?}"),
    }
    let closed = authbridge_testsupport::ClosedPort::hold();
    match authbridge_smb::probe("127.0.0.1", closed.port, deadline()) {
        Err(Verdict::Unavailable { kind, .. }) => assert_eq!(kind, UnavailableKind::Connect),
        other => panic!("{other:?}"),
    }
}
