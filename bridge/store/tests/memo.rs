//! The SQLite store keeps what every login reads in memory while the database
//! is unchanged. A commit from anywhere — another process, an administrator's
//! `sqlite3` — must show at the very next read. The writes here go through a
//! plain connection of their own, which the store knows nothing of.

use authbridge_store::{AppPasswordStore, SqliteStore, Store, TwoFactorStore};
use rusqlite::Connection;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

mod common;

fn store_with_alice() -> (tempfile::TempDir, SqliteStore, Connection) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authbridge.sqlite");
    let store = SqliteStore::open(&path).unwrap();
    common::plain(&store, "alice");
    let outside = Connection::open(&path).unwrap();
    outside
        .busy_timeout(std::time::Duration::from_secs(10))
        .unwrap();
    (dir, store, outside)
}

#[test]
fn a_change_from_outside_shows_at_the_next_read_of_every_kept_answer() {
    let (_dir, store, outside) = store_with_alice();
    store
        .add_app_password("alice", "phone", &[7; 32], 1)
        .unwrap();
    // Read twice each: the second comes from memory.
    for _ in 0..2 {
        assert!(
            store
                .app_password_by_hash(&[7; 32])
                .unwrap()
                .unwrap()
                .user_enabled
        );
        assert!(store.credential_state("alice").unwrap().enabled);
        assert_eq!(store.second_factors("alice").unwrap().backup_codes, 0);
    }
    outside
        .execute("UPDATE users SET enabled = 0 WHERE uid = 'alice'", [])
        .unwrap();
    assert!(
        !store
            .app_password_by_hash(&[7; 32])
            .unwrap()
            .unwrap()
            .user_enabled
    );
    assert!(!store.credential_state("alice").unwrap().enabled);
    outside
        .execute(
            "INSERT INTO twofactor_backup_codes (uid, hash, used) VALUES ('alice', x'00', 0)",
            [],
        )
        .unwrap();
    assert_eq!(store.second_factors("alice").unwrap().backup_codes, 1);
    outside.execute("DELETE FROM app_passwords", []).unwrap();
    assert_eq!(store.app_password_by_hash(&[7; 32]).unwrap(), None);
    outside.execute("DELETE FROM users", []).unwrap();
    assert!(store.credential_state("alice").is_err());
    assert!(store.second_factors("alice").is_err());
}

#[test]
fn the_stores_own_writes_show_at_the_next_read() {
    let (_dir, store, _outside) = store_with_alice();
    let id = store
        .add_app_password("alice", "phone", &[9; 32], 1)
        .unwrap();
    assert!(store.app_password_by_hash(&[9; 32]).unwrap().is_some());
    assert!(store.app_password_by_hash(&[9; 32]).unwrap().is_some());
    store.delete_app_password("alice", id).unwrap();
    assert_eq!(store.app_password_by_hash(&[9; 32]).unwrap(), None);
    store.credential_state("alice").unwrap();
    store.set_enabled("alice", false).unwrap();
    assert!(!store.credential_state("alice").unwrap().enabled);
}

/// A writer commits numbered password hashes from outside as fast as it can
/// and says which one it has committed; readers through the memo must never
/// see one older than what was committed before their read began.
#[test]
fn a_read_never_answers_older_than_the_last_commit_before_it() {
    let (_dir, store, outside) = store_with_alice();
    let store = Arc::new(store);
    let committed = Arc::new(AtomicI64::new(0));
    const WRITES: i64 = 400;
    let writer = {
        let committed = Arc::clone(&committed);
        std::thread::spawn(move || {
            for i in 1..=WRITES {
                outside
                    .execute(
                        "UPDATE users SET password_hash = ?1 WHERE uid = 'alice'",
                        [format!("h{i}")],
                    )
                    .unwrap();
                committed.store(i, Ordering::SeqCst);
            }
        })
    };
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let (store, committed) = (Arc::clone(&store), Arc::clone(&committed));
            std::thread::spawn(move || {
                let mut reads = 0u64;
                loop {
                    let floor = committed.load(Ordering::SeqCst);
                    let hash = store.credential_state("alice").unwrap().password_hash;
                    let seen: i64 = hash
                        .as_deref()
                        .and_then(|h| h.strip_prefix('h'))
                        .map_or(0, |n| n.parse().unwrap());
                    assert!(seen >= floor, "read {seen} after {floor} was committed");
                    reads += 1;
                    if floor == WRITES {
                        return reads;
                    }
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
}
