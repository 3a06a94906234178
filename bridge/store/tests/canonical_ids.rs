//! Memberships and subadmin rows hold the stored spelling of a group, whatever
//! case a request used; rows an older version wrote in another case are repaired
//! when the store is opened.

use authbridge_store::SqliteStore;
use authbridge_store::prelude::*;

mod common;
use common::{Opened, plain};

fn a_membership_given_in_another_case_is_the_stored_group(s: &Opened) {
    plain(&**s, "u2");
    assert!(s.add_member("Admin", "U2").unwrap());
    assert_eq!(
        s.members("admin").unwrap(),
        ["u2"],
        "listed under the stored id"
    );
    assert_eq!(s.user_groups("u2").unwrap(), ["admin"]);
    assert!(
        s.remove_member("admin", "u2").unwrap(),
        "removed by the stored id"
    );
    assert!(s.user_groups("u2").unwrap().is_empty());

    s.create_group("Staff", 1).unwrap();
    assert!(s.add_subadmin("STAFF", "u2").unwrap());
    assert_eq!(s.subadmin_groups("u2").unwrap(), ["Staff"]);
    assert_eq!(s.group_subadmins("staff").unwrap(), ["u2"]);
    assert!(s.remove_subadmin("staff", "U2").unwrap());
}

#[test]
fn rows_an_older_version_wrote_in_another_case_are_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite");
    {
        let s = SqliteStore::open(&path).unwrap();
        plain(&s, "u2");
        plain(&s, "u3");
        s.create_group("staff", 1).unwrap();
    }
    {
        // What schema 4 let through: the request's spelling, twice for u3.
        let raw = rusqlite::Connection::open(&path).unwrap();
        raw.execute_batch(
            "INSERT INTO memberships (gid, uid) VALUES ('Admin', 'U2');
             INSERT INTO memberships (gid, uid) VALUES ('staff', 'u3');
             INSERT INTO memberships (gid, uid) VALUES ('STAFF', 'u3');
             INSERT INTO subadmins (gid, uid) VALUES ('Staff', 'u2');
             PRAGMA user_version = 4;",
        )
        .unwrap();
    }
    let s = SqliteStore::open(&path).unwrap();
    assert_eq!(s.members("admin").unwrap(), ["u2"]);
    assert_eq!(s.members("staff").unwrap(), ["u3"]);
    assert_eq!(s.group_subadmins("staff").unwrap(), ["u2"]);
    let raw = rusqlite::Connection::open(&path).unwrap();
    let odd: i64 = raw
        .query_row(
            "SELECT count(*) FROM memberships WHERE gid NOT IN (SELECT gid FROM groups) COLLATE BINARY",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(odd, 0, "no row names a group in another case");
}

contract!(a_membership_given_in_another_case_is_the_stored_group,);
