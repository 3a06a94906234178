//! The app-password lifecycle on a real store: add, accepted, last_activity moves
//! (at most once a minute), disable and delete take effect at once.

use authbridge_core::{Authenticator, Credentials, RejectReason, SecretString, Verdict};
use authbridge_local::{AppPasswords, SecretKey, generate_app_password};
use authbridge_store::{AppPasswordStore, NewUser, SqliteStore, Store};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

static NOW: AtomicI64 = AtomicI64::new(1_000_000);

fn clock() -> i64 {
    NOW.load(Ordering::SeqCst)
}

fn creds(login: &str, password: &str) -> Credentials {
    Credentials::new(login, SecretString::from(password.to_owned())).unwrap()
}

#[tokio::test]
async fn lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
    let key = Arc::new(SecretKey::load_or_create(&dir.path().join("secret.key")).unwrap());
    store
        .create_user(
            &NewUser {
                uid: "layla".into(),
                backend: "IMAP".into(),
                ..NewUser::default()
            },
            0,
        )
        .unwrap();
    let token = generate_app_password();
    let id = store
        .add_app_password("layla", "laptop", &key.hash(&token), clock())
        .unwrap();
    let auth = AppPasswords::new(store.clone(), Arc::clone(&key), clock);

    assert!(
        matches!(auth.authenticate(&creds("layla", &token)).await, Verdict::Accepted(a) if a.uid == "layla")
    );
    assert!(matches!(
        auth.authenticate(&creds("Layla", &token)).await,
        Verdict::Accepted(_)
    ));
    let bad = Verdict::Rejected(RejectReason::BadCredentials);
    assert_eq!(auth.authenticate(&creds("layla", "wrong-token")).await, bad);
    assert_eq!(
        auth.authenticate(&creds("someone-else", &token)).await,
        bad,
        "only for its own user"
    );

    let last = |store: &SqliteStore| store.app_passwords("layla").unwrap()[0].last_activity;
    NOW.fetch_add(30, Ordering::SeqCst);
    auth.authenticate(&creds("layla", &token)).await;
    assert_eq!(last(&store), 1_000_000, "not moved within a minute");
    NOW.fetch_add(31, Ordering::SeqCst);
    auth.authenticate(&creds("layla", &token)).await;
    assert_eq!(last(&store), 1_000_061, "moved after a minute");

    store.set_enabled("layla", false).unwrap();
    assert_eq!(
        auth.authenticate(&creds("layla", &token)).await,
        Verdict::Rejected(RejectReason::AccountDisabled)
    );
    store.set_enabled("layla", true).unwrap();
    assert!(store.delete_app_password("layla", id).unwrap());
    assert_eq!(auth.authenticate(&creds("layla", &token)).await, bad);
}

#[test]
fn delete_before_a_date_and_with_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
    let key = SecretKey::load_or_create(&dir.path().join("secret.key")).unwrap();
    store
        .create_user(
            &NewUser {
                uid: "bob".into(),
                backend: "Database".into(),
                ..NewUser::default()
            },
            0,
        )
        .unwrap();
    store
        .add_app_password("bob", "old", &key.hash("a"), 100)
        .unwrap();
    store
        .add_app_password("bob", "new", &key.hash("b"), 300)
        .unwrap();
    assert_eq!(store.delete_app_passwords_before("bob", 200).unwrap(), 1);
    assert_eq!(store.app_passwords("bob").unwrap()[0].name, "new");
    store.delete_user("bob").unwrap();
    assert!(
        store
            .app_password_by_hash(&key.hash("b"))
            .unwrap()
            .is_none()
    );
}
