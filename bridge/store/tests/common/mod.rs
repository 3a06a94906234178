//! What the store's test files share: the contract suite's two stores.
//!
//! A test of the store contract is a function of an [`Opened`] store, listed in
//! a [`contract!`] block, which runs it once on SQLite (a file in a temp dir)
//! and once on PostgreSQL (a fresh database on a server the test process
//! starts on 127.0.0.1, see `authbridge_testsupport::postgres`).

#![allow(dead_code)]

use std::ops::Deref;
use std::sync::Arc;

use authbridge_store::{AccountStore, NewUser, PostgresSettings, PostgresStore, SqliteStore};

/// A local user in these groups, its password hash a stand-in (nothing here
/// verifies it).
pub fn local(uid: &str, groups: &[&str]) -> NewUser {
    NewUser {
        uid: uid.into(),
        backend: "Database".into(),
        password_hash: Some("$argon2id$stand-in".into()),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..NewUser::default()
    }
}

/// A local user without a password (nothing here logs in).
pub fn plain(s: &dyn AccountStore, uid: &str) {
    s.create_user(
        &NewUser {
            uid: uid.into(),
            backend: "Database".into(),
            ..NewUser::default()
        },
        1,
    )
    .unwrap();
}

type Opener = Arc<dyn Fn() -> Box<dyn AccountStore> + Send + Sync>;

/// A store under test, and how to open it again (as another process or
/// another node would).
pub struct Opened {
    store: Box<dyn AccountStore>,
    opener: Opener,
    _dir: Option<tempfile::TempDir>,
}

impl Opened {
    /// Another handle on the same data.
    pub fn reopen(&self) -> Box<dyn AccountStore> {
        (self.opener)()
    }

    pub fn opener(&self) -> Opener {
        Arc::clone(&self.opener)
    }
}

impl Deref for Opened {
    type Target = dyn AccountStore;
    fn deref(&self) -> &Self::Target {
        &*self.store
    }
}

pub fn sqlite() -> Opened {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authbridge.sqlite");
    let opener: Opener = Arc::new(move || Box::new(SqliteStore::open(&path).unwrap()));
    Opened {
        store: opener(),
        opener,
        _dir: Some(dir),
    }
}

pub fn postgres() -> Opened {
    let url = authbridge_testsupport::postgres::shared().create_database();
    let opener: Opener =
        Arc::new(move || Box::new(PostgresStore::open(&PostgresSettings::new(&url)).unwrap()));
    Opened {
        store: opener(),
        opener,
        _dir: None,
    }
}

/// Runs each listed `fn name(s: &Opened)` on both stores, as `sqlite::name`
/// and `postgres::name`.
#[macro_export]
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name(&$crate::common::sqlite()) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name(&$crate::common::postgres()) } )*
        }
    };
}
