//! The store contract: accounts, groups and memberships, on both stores.

use authbridge_store::{
    AccountStore, PostgresSettings, PostgresStore, SqliteStore, StoreError, UserQuery,
};
use std::path::Path;

mod common;
use common::{Opened, local};

fn all(store: &dyn AccountStore) -> Vec<String> {
    store
        .users(&UserQuery {
            limit: 10_000,
            ..UserQuery::default()
        })
        .unwrap()
        .into_iter()
        .map(|u| u.uid)
        .collect()
}

fn users_groups_and_memberships(s: &Opened) {
    let layla = s
        .create_user(&local("layla", &["users", "db-admins"]), 100)
        .unwrap();
    assert_eq!(layla.backend, "Database");
    assert!(layla.enabled && layla.last_seen.is_none());
    assert_eq!(s.user_groups("layla").unwrap(), ["db-admins", "users"]);
    assert_eq!(
        s.groups(None, 100, 0).unwrap(),
        ["admin", "db-admins", "users"]
    );
    assert_eq!(s.members("users").unwrap(), ["layla"]);

    assert!(matches!(
        s.create_user(&local("LAYLA", &[]), 101),
        Err(StoreError::UserExists(_))
    ));
    assert!(s.add_member("admin", "layla").unwrap());
    assert!(!s.add_member("admin", "layla").unwrap(), "already a member");
    assert!(matches!(
        s.add_member("nosuch", "layla"),
        Err(StoreError::NoSuchGroup(_))
    ));
    assert!(matches!(
        s.add_member("admin", "nobody"),
        Err(StoreError::NoSuchUser(_))
    ));
    assert!(s.remove_member("admin", "layla").unwrap());
    assert!(matches!(
        s.delete_group("admin"),
        Err(StoreError::AdminGroup)
    ));
    s.delete_group("db-admins").unwrap();
    assert_eq!(s.user_groups("layla").unwrap(), ["users"]);
}

fn search_paging_and_disabled(s: &Opened) {
    for uid in ["alice", "bob", "carol", "dave"] {
        s.create_user(&local(uid, &[]), 1).unwrap();
    }
    s.set_enabled("bob", false).unwrap();
    let q = |search: Option<&str>, limit, offset, disabled_only| {
        s.users(&UserQuery {
            search: search.map(Into::into),
            limit,
            offset,
            disabled_only,
        })
        .unwrap()
        .into_iter()
        .map(|u| u.uid)
        .collect::<Vec<_>>()
    };
    assert_eq!(q(None, 2, 1, false), ["bob", "carol"]);
    assert_eq!(q(Some("a"), 10, 0, false), ["alice", "carol", "dave"]);
    assert_eq!(
        q(Some("%"), 10, 0, false),
        Vec::<String>::new(),
        "LIKE wildcards are literal"
    );
    assert_eq!(q(None, 10, 0, true), ["bob"]);
}

fn a_failed_create_leaves_nothing_behind(s: &Opened) {
    s.create_user(&local("taken", &[]), 1).unwrap();
    assert!(s.create_user(&local("taken", &["newgroup"]), 2).is_err());
    assert!(
        !s.group_exists("newgroup").unwrap(),
        "the group of a failed create is not created"
    );
    assert!(matches!(
        s.create_user(&local("ok", &["bad\ngroup"]), 3),
        Err(StoreError::InvalidUid(_))
    ));
    assert!(matches!(
        s.create_user(&local(" lead", &[]), 3),
        Err(StoreError::InvalidUid(_))
    ));
    assert_eq!(all(&**s), ["taken"]);
}

fn delete_takes_memberships_along(s: &Opened) {
    s.create_user(&local("gone", &["team"]), 1).unwrap();
    s.delete_user("gone").unwrap();
    assert!(s.members("team").unwrap().is_empty());
    assert!(matches!(
        s.delete_user("gone"),
        Err(StoreError::NoSuchUser(_))
    ));
}

fn external_logins_are_recorded(s: &Opened) {
    let first = s
        .record_login("alice", "IMAP", &["example.com".into()], 1000)
        .unwrap();
    assert_eq!(
        (first.backend.as_str(), first.first_seen, first.last_seen),
        ("IMAP", Some(1000), Some(1000))
    );
    assert_eq!(s.user_groups("alice").unwrap(), ["example.com"]);
    let again = s
        .record_login("alice", "IMAP", &["example.com".into()], 2000)
        .unwrap();
    assert_eq!(
        (again.first_seen, again.last_seen),
        (Some(1000), Some(2000))
    );
    let report = s.report().unwrap();
    assert_eq!(report.per_backend, [("IMAP".to_owned(), 1)]);
    assert_eq!((report.total, report.active, report.disabled), (1, 1, 0));
}

#[test]
fn a_file_that_is_not_a_store_is_refused_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authbridge.sqlite");
    let text = b"this is a text file, not a database\n".repeat(200);
    std::fs::write(&path, &text).unwrap();
    let err = SqliteStore::open(&path).err().expect("refused");
    assert!(matches!(err, StoreError::NotAStore { .. }), "{err}");
    assert_eq!(std::fs::read(&path).unwrap(), text);

    let other = dir.path().join("other.sqlite");
    sqlite_of_another_program(&other);
    let before = std::fs::read(&other).unwrap();
    let err = SqliteStore::open(&other).err().expect("refused");
    assert!(err.to_string().contains("another program"), "{err}");
    assert_eq!(std::fs::read(&other).unwrap(), before);
}

/// A SQLite file made by "another program": a store file renamed, its marker cleared.
fn sqlite_of_another_program(path: &Path) {
    let tmp = tempfile::tempdir().unwrap();
    let made = tmp.path().join("x.sqlite");
    drop(SqliteStore::open(&made).unwrap());
    // Clear application_id in the header (offset 68, big-endian u32) as a stranger's file has.
    let mut bytes = std::fs::read(&made).unwrap();
    bytes[68..72].copy_from_slice(&[0, 0, 0, 0]);
    std::fs::write(path, bytes).unwrap();
}

fn two_writers_at_once_lose_nothing(s: &Opened) {
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let open = s.opener();
            std::thread::spawn(move || {
                // Each writer has its own handle, as two CLI processes (or two
                // nodes) would.
                let s = open();
                for i in 0..200 {
                    s.create_user(&local(&format!("w{w}-{i:03}"), &["shared"]), 1)
                        .unwrap();
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    assert_eq!(all(&**s).len(), 400);
    assert_eq!(s.members("shared").unwrap().len(), 400);
}

/// Nodes creating the same account at once: exactly one create wins, the
/// others are told it exists, and no id is spent twice.
fn simultaneous_creates_of_one_id_make_one_user(s: &Opened) {
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(8));
    let outcomes: Vec<_> = (0..8)
        .map(|w| {
            let (open, barrier) = (s.opener(), barrier.clone());
            std::thread::spawn(move || {
                let s = open();
                barrier.wait();
                // Spelled differently by each: ids are unique regardless of case.
                let uid = if w % 2 == 0 { "Racer" } else { "racer" };
                s.create_user(&local(uid, &["pit"]), 1)
            })
        })
        .collect();
    let mut created = 0;
    for o in outcomes {
        match o.join().unwrap() {
            Ok(_) => created += 1,
            Err(StoreError::UserExists(_)) => {}
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(created, 1);
    assert_eq!(all(&**s).len(), 1);
    assert_eq!(s.members("pit").unwrap().len(), 1);
}

fn group_display_names_and_avatars_go_with_their_group_and_user(s: &Opened) {
    use authbridge_store::Avatar;
    s.create_user(&local("ann", &["España"]), 1).unwrap();
    assert_eq!(s.group_display_name("españa").unwrap(), None);
    s.set_group_display_name("España", Some("Equipo España"))
        .unwrap();
    assert_eq!(
        s.group_display_name("ESPAñA").unwrap().as_deref(),
        Some("Equipo España")
    );
    assert!(matches!(
        s.set_group_display_name("nope", Some("x")),
        Err(StoreError::NoSuchGroup(_))
    ));
    let avatar = Avatar {
        image: vec![0x89, b'P', b'N', b'G'],
        mime: "image/png".into(),
    };
    assert_eq!(s.group_counts("España").unwrap(), (1, 0));
    s.set_enabled("ann", false).unwrap();
    assert_eq!(s.group_counts("España").unwrap(), (1, 1));
    s.set_avatar("ANN", &avatar, 2).unwrap();
    assert_eq!(s.avatar("ann").unwrap(), Some(avatar.clone()));
    assert!(matches!(
        s.set_avatar("nobody", &avatar, 2),
        Err(StoreError::NoSuchUser(_))
    ));
    // Gone with their group and their user.
    s.delete_group("España").unwrap();
    s.create_group("España", 3).unwrap();
    assert_eq!(s.group_display_name("España").unwrap(), None);
    s.delete_user("ann").unwrap();
    assert_eq!(s.avatar("ann").unwrap(), None);
}

fn a_login_moves_last_seen_at_most_once_a_minute(s: &Opened) {
    s.create_user(&local("ann", &[]), 1).unwrap();
    s.note_login("ann", 1000, 60).unwrap();
    let ann = s.user("ann").unwrap();
    assert_eq!((ann.first_seen, ann.last_seen), (Some(1000), Some(1000)));
    s.note_login("ANN", 1059, 60).unwrap();
    assert_eq!(s.user("ann").unwrap().last_seen, Some(1000));
    s.note_login("ann", 1060, 60).unwrap();
    let ann = s.user("ann").unwrap();
    assert_eq!((ann.first_seen, ann.last_seen), (Some(1000), Some(1060)));
    assert!(matches!(
        s.note_login("nobody", 1, 60),
        Err(StoreError::NoSuchUser(_))
    ));
}

contract!(
    two_writers_at_once_lose_nothing,
    simultaneous_creates_of_one_id_make_one_user,
    group_display_names_and_avatars_go_with_their_group_and_user,
    users_groups_and_memberships,
    search_paging_and_disabled,
    a_failed_create_leaves_nothing_behind,
    delete_takes_memberships_along,
    external_logins_are_recorded,
    a_login_moves_last_seen_at_most_once_a_minute,
);

#[test]
fn a_postgres_database_of_another_program_is_refused_and_untouched() {
    let server = authbridge_testsupport::postgres::shared();
    let url = server.create_database();
    let name = url.rsplit('/').next().unwrap();
    server.psql(name, "CREATE TABLE invoices (id int)");
    let err = PostgresStore::open(&PostgresSettings::new(&url))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("another program"), "{err}");
    assert_eq!(
        server.psql(name, "SELECT string_agg(table_name, ',') FROM information_schema.tables WHERE table_schema = 'public'"),
        "invoices"
    );
}

#[test]
fn a_postgres_store_of_a_newer_version_is_refused() {
    let server = authbridge_testsupport::postgres::shared();
    let url = server.create_database();
    drop(PostgresStore::open(&PostgresSettings::new(&url)).unwrap());
    let name = url.rsplit('/').next().unwrap();
    server.psql(name, "UPDATE authbridge_schema SET version = 99");
    let err = PostgresStore::open(&PostgresSettings::new(&url))
        .err()
        .expect("refused");
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err}"
    );
}

#[test]
fn nodes_starting_at_once_migrate_once() {
    let url = authbridge_testsupport::postgres::shared().create_database();
    let starts: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                PostgresStore::open(&PostgresSettings::new(&url)).map(|s| s.schema().unwrap())
            })
        })
        .collect();
    for start in starts {
        let (found, known) = start.join().unwrap().unwrap();
        assert_eq!(found, known);
    }
}
