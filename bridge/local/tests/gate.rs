//! The store decides, whatever a backend says: disabled accounts are refused before
//! any backend is asked, and an account belongs to one backend only.

use async_trait::async_trait;
use authbridge_core::{
    Accepted, Authenticator, BackendKind, Chain, Credentials, Outcome, SecretString, Verdict,
};
use authbridge_local::Gate;
use authbridge_store::{NewUser, SqliteStore, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Stands in for a mail or file server (tested for real elsewhere): it accepts
/// any password and counts how often it was asked.
struct Accepting {
    kind: BackendKind,
    asked: AtomicUsize,
}

#[async_trait]
impl Authenticator for Accepting {
    fn name(&self) -> &str {
        "accepting"
    }
    fn kind(&self) -> BackendKind {
        self.kind
    }
    async fn authenticate(&self, c: &Credentials) -> Verdict {
        self.asked.fetch_add(1, Ordering::SeqCst);
        // Maps "name@domain" to "name", as IMAP's strip_domain does.
        let name = c.login().split('@').next().unwrap_or_default();
        Verdict::Accepted(Accepted {
            uid: name.to_lowercase(),
            groups: vec!["example.org".into()],
        })
    }
}

fn setup(kind: BackendKind) -> (tempfile::TempDir, Arc<SqliteStore>, Arc<Accepting>, Gate) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
    let backend = Arc::new(Accepting {
        kind,
        asked: AtomicUsize::new(0),
    });
    let chain = Chain::new(vec![Arc::clone(&backend) as Arc<dyn Authenticator>]);
    let gate = Gate::new(chain, Arc::clone(&store), || 42);
    (dir, store, backend, gate)
}

fn creds(login: &str) -> Credentials {
    Credentials::new(login, SecretString::from("pw".to_owned())).unwrap()
}

#[tokio::test]
async fn external_logins_are_recorded_with_their_groups() {
    let (_dir, store, _, gate) = setup(BackendKind::Imap);
    assert!(matches!(
        gate.authenticate(&creds("Alice")).await.outcome,
        Outcome::Accepted { .. }
    ));
    let alice = store.user("alice").unwrap();
    assert_eq!(
        (alice.backend.as_str(), alice.last_seen),
        ("IMAP", Some(42))
    );
    assert_eq!(store.user_groups("alice").unwrap(), ["example.org"]);
}

#[tokio::test]
async fn a_disabled_account_never_reaches_a_backend() {
    let (_dir, store, backend, gate) = setup(BackendKind::Imap);
    gate.authenticate(&creds("alice")).await;
    store.set_enabled("alice", false).unwrap();
    let d = gate.authenticate(&creds("alice")).await;
    assert_eq!(d.outcome, Outcome::Rejected);
    assert_eq!(
        backend.asked.load(Ordering::SeqCst),
        1,
        "asked only before the disable"
    );
}

#[tokio::test]
async fn an_account_belongs_to_one_backend() {
    let (_dir, store, backend, gate) = setup(BackendKind::Smb);
    store
        .create_user(
            &NewUser {
                uid: "sally".into(),
                backend: "Database".into(),
                ..NewUser::default()
            },
            0,
        )
        .unwrap();
    let d = gate.authenticate(&creds("sally")).await;
    assert_eq!(d.outcome, Outcome::Rejected, "{:?}", d.attempts);
    assert_eq!(store.user("sally").unwrap().backend, "Database");
    // A local account's password is never shown to an external server.
    assert_eq!(backend.asked.load(Ordering::SeqCst), 0);
    // A login the store does not know is asked; when the server maps it onto the
    // local account, the store still refuses that account to the server.
    let d = gate.authenticate(&creds("sally@example.org")).await;
    assert_eq!(d.outcome, Outcome::Rejected, "{:?}", d.attempts);
    assert_eq!(backend.asked.load(Ordering::SeqCst), 1);
    assert!(format!("{:?}", d.attempts).contains("belongs to the Database backend"));
    // An account the SMB backend owns is still asked there.
    gate.authenticate(&creds("sam")).await;
    let d = gate.authenticate(&creds("sam")).await;
    assert!(
        matches!(d.outcome, Outcome::Accepted { .. }),
        "{:?}",
        d.attempts
    );
    assert_eq!(backend.asked.load(Ordering::SeqCst), 3);
}
