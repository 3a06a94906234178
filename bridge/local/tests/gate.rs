//! The store decides, whatever a backend says: disabled accounts are refused before
//! any backend is asked, and an account belongs to one backend only.

use authbridge_core::{
    Authenticator, BackendKind, Chain, Credentials, Outcome, RejectReason, SecretString, Verdict,
};
use authbridge_local::{Gate, Names};
use authbridge_store::{NewUser, SqliteStore, Store};
use authbridge_testsupport::Scripted;
use std::sync::Arc;

/// A gate whose only backend stands in for a mail or file server (tested for
/// real elsewhere): it accepts any password and counts how often it was asked.
fn setup(kind: BackendKind) -> (tempfile::TempDir, Arc<SqliteStore>, Arc<Scripted>, Gate) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
    let backend = Scripted::accepting(kind, &["example.org"]);
    let chain = Chain::new(vec![Arc::clone(&backend) as Arc<dyn Authenticator>]);
    let gate = Gate::new(chain, store.clone(), || 42, Arc::new(Names::default()));
    (dir, store, backend, gate)
}

#[tokio::test]
async fn a_system_name_is_refused_before_any_backend_even_with_a_store_row() {
    let (_dir, store, backend, gate) = setup(BackendKind::Imap);
    // An old database that recorded "root" (and "daemon", a name /etc/passwd knows).
    for uid in ["root", "daemon"] {
        store
            .record_login(uid, "IMAP", &[], 1)
            .expect("written directly, as an old version could");
        let decision = gate.authenticate(&creds(uid)).await;
        assert!(matches!(decision.outcome, Outcome::Rejected), "{uid}");
        assert!(matches!(
            decision.attempts[0].verdict,
            Verdict::Rejected(RejectReason::SystemName(_))
        ));
    }
    assert_eq!(backend.asked(), 0, "no backend was asked");
    // Not recorded on a first login either.
    let decision = gate.authenticate(&creds("Bin")).await;
    assert!(matches!(decision.outcome, Outcome::Rejected));
    assert!(store.user("bin").is_err());
}

#[tokio::test]
async fn a_group_derived_from_a_login_is_never_the_admin_role() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
    // A backend that accepts anyone into the groups it was given.
    let backend = Scripted::accepting(BackendKind::Imap, &["Admin", "example.org"]);
    let chain = Chain::new(vec![backend as Arc<dyn Authenticator>]);
    let gate = Gate::new(chain, store.clone(), || 42, Arc::new(Names::default()));
    assert!(matches!(
        gate.authenticate(&creds("mallory")).await.outcome,
        Outcome::Accepted { .. }
    ));
    assert_eq!(store.user_groups("mallory").unwrap(), vec!["example.org"]);
    assert!(store.members("admin").unwrap().is_empty());
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
    assert_eq!(backend.asked(), 1, "asked only before the disable");
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
    assert_eq!(backend.asked(), 0);
    // A login the store does not know is asked; when the server maps it onto the
    // local account, the store still refuses that account to the server.
    let d = gate.authenticate(&creds("sally@example.org")).await;
    assert_eq!(d.outcome, Outcome::Rejected, "{:?}", d.attempts);
    assert_eq!(backend.asked(), 1);
    assert!(format!("{:?}", d.attempts).contains("belongs to the Database backend"));
    // An account the SMB backend owns is still asked there.
    gate.authenticate(&creds("sam")).await;
    let d = gate.authenticate(&creds("sam")).await;
    assert!(
        matches!(d.outcome, Outcome::Accepted { .. }),
        "{:?}",
        d.attempts
    );
    assert_eq!(backend.asked(), 3);
}

/// The store cannot answer the app-password lookup (the table is locked past
/// the store's timeout) while it still answers the account lookup. A backend
/// that accepts still lets the user in; one that says no gives "unavailable"
/// marked as the store's failure, which keeps the daemon from trying an
/// offline verifier (it may hold a password the server has just refused).
#[tokio::test(flavor = "multi_thread")]
async fn a_store_that_cannot_answer_app_passwords_marks_the_decision() {
    use authbridge_local::{AppPasswords, SecretKey, store_failed};
    use authbridge_store::{PostgresSettings, PostgresStore, SharedStore};
    let server = authbridge_testsupport::postgres::shared();
    let url = server.create_database();
    let mut settings = PostgresSettings::new(&url);
    settings.timeout = std::time::Duration::from_secs(1);
    let store: SharedStore = Arc::new(PostgresStore::open(&settings).unwrap());
    store
        .record_login("carol@example.org", "IMAP", &[], 1)
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let key = Arc::new(SecretKey::load_or_create(&dir.path().join("key")).unwrap());
    let gate_with = |backend: &Arc<Scripted>| {
        let chain = Chain::new(vec![
            Arc::new(AppPasswords::new(store.clone(), key.clone(), || 42))
                as Arc<dyn Authenticator>,
            Arc::clone(backend) as Arc<dyn Authenticator>,
        ]);
        Gate::new(chain, store.clone(), || 42, Arc::new(Names::default()))
    };
    let refusing = Scripted::always(
        BackendKind::Imap,
        Verdict::Rejected(RejectReason::BadCredentials),
    );
    let accepting = Scripted::accepting(BackendKind::Imap, &["example.org"]);
    let name = url.rsplit('/').next().unwrap();
    let mut holder = server
        .psql_command(
            name,
            "BEGIN; LOCK TABLE app_passwords IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(5); COMMIT;",
        )
        .spawn()
        .unwrap();
    let locked = authbridge_testsupport::eventually(std::time::Duration::from_secs(5), || {
        server.psql(
            name,
            "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'app_passwords'::regclass",
        ) == "1"
    });
    assert!(locked, "the lock was not taken");
    let credentials = Credentials::new(
        "carol@example.org",
        SecretString::from("a-password".to_owned()),
    )
    .unwrap();
    let refused = gate_with(&refusing).authenticate(&credentials).await;
    let accepted = gate_with(&accepting).authenticate(&credentials).await;
    holder.kill().ok();
    holder.wait().ok();
    assert_eq!(refused.outcome, Outcome::Unavailable, "{refused:?}");
    assert!(store_failed(&refused), "{refused:?}");
    assert!(
        matches!(accepted.outcome, Outcome::Accepted { .. }),
        "the mail server's yes still counts: {accepted:?}"
    );
    assert!(!store_failed(&accepted));
}
