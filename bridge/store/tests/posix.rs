//! POSIX ids for NSS, and the daemon's throttle and verifier state.

use authbridge_store::{AccountStore, IdRange, LoginFailure, StoreError};

mod common;
use common::{Opened, local};

fn every_user_and_group_gets_a_distinct_id_from_the_range(s: &Opened) {
    s.create_user(&local("alice", &["staff"]), 1).unwrap();
    s.record_login("bob", "IMAP", &["mail".into()], 2).unwrap();
    s.create_group("ops", 3).unwrap();
    let mut ids: Vec<u32> = s.posix_users().unwrap().iter().map(|u| u.id).collect();
    ids.extend(s.posix_groups().unwrap().iter().map(|g| g.id));
    assert_eq!(ids.len(), 6, "2 users, admin + staff + mail + ops: {ids:?}");
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids collide: {ids:?}");
    assert!(
        ids.iter().all(|id| (200_000..=299_999).contains(id)),
        "{ids:?}"
    );
    let alice = s.posix_user("ALICE").unwrap().unwrap();
    assert_eq!(s.posix_user_by_id(alice.id).unwrap().unwrap().name, "alice");
    let staff = s.posix_group("staff").unwrap().unwrap();
    assert_eq!(staff.members, vec!["alice".to_string()]);
    assert_eq!(
        s.posix_groups_of("alice").unwrap(),
        vec![("staff".to_owned(), staff.id)]
    );
    assert_eq!(
        s.posix_group_by_id(staff.id).unwrap().unwrap().name,
        "staff"
    );
    assert!(s.posix_user("nobody-here").unwrap().is_none());
}

fn ids_are_never_reused_after_a_delete(s: &Opened) {
    s.create_user(&local("carol", &[]), 1).unwrap();
    let first = s.posix_user("carol").unwrap().unwrap().id;
    s.delete_user("carol").unwrap();
    s.create_user(&local("carol", &[]), 2).unwrap();
    let second = s.posix_user("carol").unwrap().unwrap().id;
    assert!(second > first, "{first} then {second}");
}

fn an_exhausted_range_refuses_the_create_and_writes_nothing(s: &Opened) {
    s.set_id_range(IdRange {
        min: 300_000,
        max: 300_001,
    })
    .unwrap();
    s.create_user(&local("u1", &[]), 1).unwrap();
    s.create_user(&local("u2", &[]), 1).unwrap();
    let err = s.create_user(&local("u3", &["newgroup"]), 1).unwrap_err();
    assert!(matches!(err, StoreError::IdRangeExhausted), "{err}");
    assert!(matches!(s.user("u3"), Err(StoreError::NoSuchUser(_))));
    assert!(!s.group_exists("newgroup").unwrap());
    assert_eq!(s.posix_user("u1").unwrap().unwrap().id, 300_000);
    assert!(matches!(
        s.set_id_range(IdRange { min: 5, max: 4 }),
        Err(StoreError::InvalidIdRange(5, 4))
    ));
}

fn disable_and_password_reset_drop_verifiers(s: &Opened) {
    s.record_login("dave", "IMAP", &[], 1).unwrap();
    s.set_verifier("dave@example.org", "dave", "$argon2id$v", 1)
        .unwrap();
    assert!(s.verifier("dave@example.org").unwrap().is_some());
    s.set_enabled("dave", false).unwrap();
    assert!(s.verifier("dave@example.org").unwrap().is_none());
    s.set_enabled("dave", true).unwrap();
    s.set_verifier("dave", "dave", "$argon2id$v", 1).unwrap();
    s.set_password_hash("dave", None).unwrap();
    assert!(s.verifier("dave").unwrap().is_none());
    s.set_verifier("dave", "dave", "$argon2id$v", 1).unwrap();
    s.record_offline_failure("dave", 5).unwrap();
    let v = s.verifier("dave").unwrap().unwrap();
    assert_eq!((v.offline_failures, v.last_offline_failure), (1, Some(5)));
    s.confirm_verifier("dave", 9).unwrap();
    let v = s.verifier("dave").unwrap().unwrap();
    assert_eq!((v.offline_failures, v.verified_online), (0, 9));
    s.delete_user("dave").unwrap();
    assert!(s.verifier("dave").unwrap().is_none());
}

fn login_failures_expire_after_the_window(s: &Opened) {
    let f = |login: &str, at| LoginFailure {
        login: login.into(),
        source: "203.0.113.9".into(),
        failures: 3,
        last_failure: at,
    };
    s.set_login_failure(&f("old", 10)).unwrap();
    s.set_login_failure(&f("new", 100)).unwrap();
    assert_eq!(s.login_failures(50).unwrap(), vec![f("new", 100)]);
    s.clear_login_failures("new", "203.0.113.9").unwrap();
    assert!(s.login_failures(0).unwrap().is_empty());
}

fn the_directory_generation_moves_with_what_nss_shows_and_only_with_it(s: &Opened) {
    let mut last = s.directory_generation().unwrap();
    let mut moved = |what: &str, s: &dyn AccountStore| {
        let now = s.directory_generation().unwrap();
        let did = now != last;
        last = now;
        assert!(did, "{what} did not move the generation");
    };
    s.create_user(&local("alice", &[]), 1).unwrap();
    moved("a new user", &**s);
    s.create_group("ops", 2).unwrap();
    moved("a new group", &**s);
    s.add_member("ops", "alice").unwrap();
    moved("a membership", &**s);
    s.set_display_name("alice", Some("Alice A.")).unwrap();
    moved("a display name", &**s);
    s.set_enabled("alice", false).unwrap();
    moved("a disable", &**s);
    s.remove_member("ops", "alice").unwrap();
    moved("a membership removed", &**s);
    s.delete_group("ops").unwrap();
    moved("a group deleted", &**s);
    s.record_login("bob", "IMAP", &[], 3).unwrap();
    moved("an external user's first login", &**s);
    s.delete_user("bob").unwrap();
    moved("a user deleted", &**s);

    // Logins, sessions and password changes change nothing NSS shows.
    s.set_enabled("alice", true).unwrap();
    let before = s.directory_generation().unwrap();
    s.touch_last_seen("alice", 10).unwrap();
    s.set_password_hash("alice", Some("$argon2id$other"))
        .unwrap();
    s.set_email("alice", Some("a@example.org")).unwrap();
    assert_eq!(s.directory_generation().unwrap(), before);
}

fn the_credential_state_changes_with_a_reset_a_disable_and_a_delete(s: &Opened) {
    s.create_user(&local("alice", &[]), 1).unwrap();
    let first = s.credential_state("ALICE").unwrap();
    assert!(first.enabled);
    assert_eq!(first.backend, "Database");
    s.set_password_hash("alice", Some("$argon2id$new")).unwrap();
    let reset = s.credential_state("alice").unwrap();
    assert_ne!(reset, first);
    s.set_enabled("alice", false).unwrap();
    assert!(!s.credential_state("alice").unwrap().enabled);
    s.delete_user("alice").unwrap();
    assert!(matches!(
        s.credential_state("alice"),
        Err(StoreError::NoSuchUser(_))
    ));
}

fn the_directory_listener_hears_each_committed_change_nss_shows_and_nothing_else(s: &Opened) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let heard = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&heard);
    assert!(s.on_directory_change(Box::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
    })));
    assert!(!s.on_directory_change(Box::new(|| {})), "set once");
    s.create_user(&local("alice", &["staff"]), 1).unwrap();
    assert_eq!(heard.swap(0, Ordering::SeqCst), 1, "one commit, one call");
    s.touch_last_seen("alice", 5).unwrap();
    s.set_password_hash("alice", Some("$argon2id$x")).unwrap();
    assert_eq!(heard.load(Ordering::SeqCst), 0, "nothing NSS shows changed");
    s.set_enabled("alice", false).unwrap();
    s.delete_user("alice").unwrap();
    assert_eq!(heard.swap(0, Ordering::SeqCst), 2);
    // A refused write (no such user) changed nothing.
    assert!(s.set_enabled("nobody", false).is_err());
    assert_eq!(heard.load(Ordering::SeqCst), 0);
}

/// Failures counted by several hosts add up in the store; one older than the
/// window starts the count again.
fn login_failures_from_several_hosts_add_up(s: &Opened) {
    let other = s.reopen();
    let one = s
        .add_login_failure("ann", "198.51.100.7", 1_000, 0)
        .unwrap();
    assert_eq!((one.failures, one.last_failure), (1, 1_000));
    let two = other
        .add_login_failure("ann", "198.51.100.7", 2_000, 0)
        .unwrap();
    assert_eq!((two.failures, two.last_failure), (2, 2_000));
    assert_eq!(
        s.add_login_failure("ann", "198.51.100.7", 3_000, 0)
            .unwrap()
            .failures,
        3
    );
    s.add_login_failure("bob", "198.51.100.7", 3_500, 0)
        .unwrap();
    let after: Vec<_> = other
        .login_failures_after(2_500)
        .unwrap()
        .into_iter()
        .map(|f| (f.login, f.failures))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(after, [("ann".to_owned(), 3), ("bob".to_owned(), 1)]);
    // Past the window: counted from one again.
    let fresh = other
        .add_login_failure("ann", "198.51.100.7", 90_000, 50_000)
        .unwrap();
    assert_eq!(fresh.failures, 1);
}

contract!(
    login_failures_from_several_hosts_add_up,
    the_directory_listener_hears_each_committed_change_nss_shows_and_nothing_else,
    every_user_and_group_gets_a_distinct_id_from_the_range,
    ids_are_never_reused_after_a_delete,
    an_exhausted_range_refuses_the_create_and_writes_nothing,
    disable_and_password_reset_drop_verifiers,
    login_failures_expire_after_the_window,
    the_directory_generation_moves_with_what_nss_shows_and_only_with_it,
    the_credential_state_changes_with_a_reset_a_disable_and_a_delete,
);
