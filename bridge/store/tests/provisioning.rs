//! Subadmin rights, quota and language, app switches and password-set tokens.

use authbridge_store::{NewUser, StoreError};

mod common;
use common::Opened;

/// Two users in one group.
fn populate(s: &Opened) {
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
}

fn subadmin_rights_per_group(s: &Opened) {
    populate(s);
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

fn quota_language_and_app_switches(s: &Opened) {
    populate(s);
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

fn password_tokens_are_single_use_and_expire(s: &Opened) {
    populate(s);
    s.add_password_token("ann", b"h1", 100).unwrap();
    s.add_password_token("tom", b"h2", 100).unwrap();
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

fn a_newer_link_a_used_link_a_new_password_a_new_address_or_a_disable_ends_every_earlier_link(
    s: &Opened,
) {
    populate(s);
    let alive = |h: &[u8]| s.peek_password_token(h, 0).unwrap().is_some();
    s.add_password_token("ann", b"old", 100).unwrap();
    s.add_password_token("ann", b"new", 100).unwrap();
    assert!(!alive(b"old"), "a newer link replaces the older one");
    assert!(alive(b"new"));
    // Another user's link is not touched by any of this.
    s.add_password_token("tom", b"toms", 100).unwrap();

    s.set_password_hash("ann", Some("$argon2id$x")).unwrap();
    assert!(!alive(b"new"), "a password set by any path ends the link");

    s.add_password_token("ann", b"a", 100).unwrap();
    s.set_email("ann", Some("ann@new.example")).unwrap();
    assert!(!alive(b"a"), "a changed address ends the link");

    s.add_password_token("ann", b"b", 100).unwrap();
    s.set_enabled("ANN", false).unwrap();
    assert!(!alive(b"b"), "a disable ends the link");
    s.set_enabled("ann", true).unwrap();

    assert!(alive(b"toms"));
}

contract!(
    subadmin_rights_per_group,
    quota_language_and_app_switches,
    password_tokens_are_single_use_and_expire,
    a_newer_link_a_used_link_a_new_password_a_new_address_or_a_disable_ends_every_earlier_link,
);
