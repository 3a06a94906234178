//! `store copy`: SQLite to PostgreSQL and back, every table, the same digest.

use authbridge_store::copy::{Cell, TABLES, copy};
use authbridge_store::{
    AccountStore, Avatar, Enforcement, IdRange, LoginFailure, NewUser, StoreError,
};

mod common;
use common::local;

/// A store with a row in every table.
fn populate(s: &dyn AccountStore) {
    s.set_id_range(IdRange {
        min: 500_000,
        max: 599_999,
    })
    .unwrap();
    s.create_user(&local("Ann", &["staff", "España"]), 10)
        .unwrap();
    s.create_user(
        &NewUser {
            uid: "bob".into(),
            display_name: Some("Bob \"B\" O'Neil".into()),
            email: Some("bob@example.org".into()),
            backend: "Database".into(),
            password_hash: Some("$argon2id$bob".into()),
            quota: Some("5 GB".into()),
            language: Some("de".into()),
            welcome_pending: true,
            ..NewUser::default()
        },
        11,
    )
    .unwrap();
    s.record_login("carol@mail.example", "IMAP", &["mail.example".into()], 12)
        .unwrap();
    s.set_enabled("bob", false).unwrap();
    s.add_subadmin("staff", "ann").unwrap();
    s.set_group_display_name("España", Some("Equipo")).unwrap();
    s.add_app_password("ann", "phone", &[7; 32], 13).unwrap();
    s.add_app_password("ann", "laptop", &[8; 32], 14).unwrap();
    s.set_setting("ann", "core", "lang", "fr").unwrap();
    s.set_profile("ann", "role", "Ops").unwrap();
    s.set_verifier(
        "carol@mail.example",
        "carol@mail.example",
        "$argon2id$v",
        15,
    )
    .unwrap();
    s.set_login_failure(&LoginFailure {
        login: "mallory".into(),
        source: "203.0.113.5".into(),
        failures: 4,
        last_failure: 16,
    })
    .unwrap();
    s.set_app_enabled("user_ftp", false).unwrap();
    s.add_password_token("ann", b"token-hash", 99).unwrap();
    s.set_avatar(
        "ann",
        &Avatar {
            image: vec![0x89, b'P', b'N', b'G', 0, 255],
            mime: "image/png".into(),
        },
        17,
    )
    .unwrap();
    s.set_totp_secret("ann", b"sealed\0secret", true, 18)
        .unwrap();
    assert!(s.use_totp_step("ann", 42).unwrap());
    s.set_backup_codes("ann", &[[1; 32], [2; 32]]).unwrap();
    assert!(s.use_backup_code("ann", &[1; 32]).unwrap());
    s.start_code_attempt("ann", 19, &|_, _| 0).unwrap().unwrap();
    s.set_enforcement(&Enforcement {
        enforced: true,
        groups: vec!["staff".into(), "admin".into()],
        excluded: vec!["España".into()],
    })
    .unwrap();
}

#[test]
fn sqlite_to_postgres_and_back_carries_every_table_unchanged() {
    let sqlite = common::sqlite();
    populate(&*sqlite);
    let source = sqlite.export().unwrap();
    for (table, rows) in TABLES.iter().zip(&source.tables) {
        assert!(!rows.is_empty(), "{} has no row to copy", table.name);
    }
    let postgres = common::postgres();
    let there = copy(&*sqlite, &*postgres, false).unwrap();
    assert_eq!(there.digest, source.digest());
    assert_eq!(postgres.export().unwrap().digest(), source.digest());

    // What the copy holds works there: an app password, ids, the allocator.
    assert_eq!(
        postgres
            .app_password_by_hash(&[8; 32])
            .unwrap()
            .unwrap()
            .uid,
        "Ann"
    );
    assert_eq!(
        postgres.posix_user("ann").unwrap(),
        sqlite.posix_user("ann").unwrap()
    );
    assert!(!postgres.user("BOB").unwrap().enabled);
    assert_eq!(
        postgres.enforcement().unwrap(),
        sqlite.enforcement().unwrap()
    );
    postgres.create_user(&local("dan", &[]), 20).unwrap();
    sqlite.create_user(&local("dan", &[]), 20).unwrap();
    assert_eq!(
        postgres.posix_user("dan").unwrap(),
        sqlite.posix_user("dan").unwrap(),
        "the next id is the one the source would have given"
    );
    let id = postgres.add_app_password("dan", "x", &[9; 32], 21).unwrap();
    assert!(id > 2, "app password ids go on after the copied ones: {id}");
    // Copied again over itself (--replace): ids never go back, neither app
    // passwords' nor POSIX ones ("frank" got one there, not in the source).
    postgres.create_user(&local("frank", &[]), 23).unwrap();
    let frank = postgres.posix_user("frank").unwrap().unwrap().id;
    copy(&*sqlite, &*postgres, true).unwrap();
    postgres.create_user(&local("eve", &[]), 24).unwrap();
    assert!(postgres.posix_user("eve").unwrap().unwrap().id > frank);
    let again = postgres
        .add_app_password("ann", "y", &[10; 32], 22)
        .unwrap();
    assert!(again > id, "{again} after {id}");

    // And back, into a fresh SQLite file: the same digest again.
    let back = common::sqlite();
    let returned = copy(&*postgres, &*back, false).unwrap();
    assert_eq!(returned.digest, postgres.export().unwrap().digest());
    assert_eq!(back.export().unwrap().digest(), returned.digest);
}

#[test]
fn a_target_with_accounts_is_refused_unless_replaced() {
    let from = common::sqlite();
    populate(&*from);
    let to = common::postgres();
    to.create_user(&local("zed", &[]), 1).unwrap();
    let before = to.export().unwrap().digest();
    assert!(matches!(
        copy(&*from, &*to, false),
        Err(StoreError::TargetNotEmpty)
    ));
    assert_eq!(to.export().unwrap().digest(), before, "nothing written");
    // Only enforcement switched on: that too would be lost.
    let enforced = common::postgres();
    enforced
        .set_enforcement(&Enforcement {
            enforced: true,
            ..Enforcement::default()
        })
        .unwrap();
    assert!(matches!(
        copy(&*from, &*enforced, false),
        Err(StoreError::TargetNotEmpty)
    ));
    let replaced = copy(&*from, &*to, true).unwrap();
    assert_eq!(replaced.digest, from.export().unwrap().digest());
    assert!(matches!(to.user("zed"), Err(StoreError::NoSuchUser(_))));
}

#[test]
fn values_of_every_kind_survive() {
    // Text with quotes, tabs and non-ASCII; negative and large integers; NULLs.
    let s = common::postgres();
    s.create_user(
        &NewUser {
            uid: "uni".into(),
            display_name: Some("tab\there 'q' \"dq\" ✓".into()),
            backend: "Database".into(),
            groups: vec!["Ünïcode".into()],
            ..NewUser::default()
        },
        i64::MAX,
    )
    .unwrap();
    s.set_login_failure(&LoginFailure {
        login: "neg".into(),
        source: "x".into(),
        failures: 1,
        last_failure: i64::MIN,
    })
    .unwrap();
    let snap = s.export().unwrap();
    let users = &snap.tables[0];
    assert!(users[0].contains(&Cell::Int(i64::MAX)));
    assert!(users[0].contains(&Cell::Null));
    let t = common::sqlite();
    assert_eq!(copy(&*s, &*t, false).unwrap().digest, snap.digest());
    assert_eq!(
        t.user("UNI").unwrap().display_name,
        s.user("uni").unwrap().display_name
    );
    assert_eq!(
        t.members("ünïcode").err().map(|e| e.to_string()),
        Some("group \"ünïcode\" does not exist".into()),
        "only ASCII folds"
    );
    assert_eq!(t.members("Ünïcode").unwrap(), ["uni"]);
}
