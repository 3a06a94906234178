//! Subadmin rights, quota and language, app switches and password-set tokens.

use authbridge_store::{NewUser, ProvisioningStore, SqliteStore, Store, StoreError};

fn store() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().unwrap();
    let s = SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
    for uid in ["tom", "ann"] {
        s.create_user(
            &NewUser {
                uid: uid.into(),
                backend: "Database".into(),
                groups: vec!["team".into()],
                ..NewUser::default()
            },
            0,
        )
        .unwrap();
    }
    (dir, s)
}

#[test]
fn subadmin_rights_per_group() {
    let (_d, s) = store();
    assert!(s.add_subadmin("team", "tom").unwrap());
    assert!(!s.add_subadmin("team", "tom").unwrap(), "already");
    assert_eq!(s.subadmin_groups("tom").unwrap(), ["team"]);
    assert_eq!(s.group_subadmins("team").unwrap(), ["tom"]);
    assert!(matches!(
        s.add_subadmin("nope", "tom"),
        Err(StoreError::NoSuchGroup(_))
    ));
    assert!(matches!(
        s.add_subadmin("team", "nobody"),
        Err(StoreError::NoSuchUser(_))
    ));
    assert!(!s.remove_subadmin("team", "ann").unwrap());
    assert!(s.remove_subadmin("team", "tom").unwrap());
    assert!(s.subadmin_groups("tom").unwrap().is_empty());
    s.add_subadmin("team", "tom").unwrap();
    s.delete_group("team").unwrap();
    assert!(
        s.subadmin_groups("tom").unwrap().is_empty(),
        "rights go with the group"
    );
}

#[test]
fn quota_language_and_app_switches() {
    let (_d, s) = store();
    s.set_quota("ann", Some("5 GB")).unwrap();
    s.set_language("ann", Some("de")).unwrap();
    let ann = s.user("ann").unwrap();
    assert_eq!(
        (ann.quota.as_deref(), ann.language.as_deref()),
        (Some("5 GB"), Some("de"))
    );
    assert_eq!(s.app_enabled("ftp").unwrap(), None);
    s.set_app_enabled("ftp", false).unwrap();
    assert_eq!(s.app_enabled("ftp").unwrap(), Some(false));
    s.set_app_enabled("ftp", true).unwrap();
    s.set_welcome_pending("ann", true).unwrap();
    assert!(s.user("ann").unwrap().welcome_pending);
    s.set_welcome_pending("ann", false).unwrap();
    assert!(!s.user("ann").unwrap().welcome_pending);
    assert_eq!(s.app_enabled("ftp").unwrap(), Some(true));
}

#[test]
fn password_tokens_are_single_use_and_expire() {
    let (_d, s) = store();
    s.add_password_token("ann", b"h1", 100).unwrap();
    s.add_password_token("ann", b"h2", 100).unwrap();
    assert_eq!(
        s.peek_password_token(b"h1", 50).unwrap().as_deref(),
        Some("ann")
    );
    assert_eq!(
        s.take_password_token(b"h1", 50).unwrap().as_deref(),
        Some("ann")
    );
    assert_eq!(s.take_password_token(b"h1", 50).unwrap(), None, "used up");
    assert_eq!(s.peek_password_token(b"h2", 100).unwrap(), None, "expired");
    assert_eq!(s.take_password_token(b"h2", 100).unwrap(), None);
    s.add_password_token("tom", b"h3", 100).unwrap();
    s.delete_user("tom").unwrap();
    assert_eq!(
        s.take_password_token(b"h3", 0).unwrap(),
        None,
        "gone with the user"
    );
}
