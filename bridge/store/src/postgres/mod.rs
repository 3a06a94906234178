//! The shared store: PostgreSQL, one database for the daemons of many login
//! hosts.
//!
//! The store traits are synchronous, and the daemon calls them from its async
//! threads too. So the connections' socket work runs on a small runtime of the
//! store's own, and a call waits for its statements on the calling thread, at
//! most `timeout` in all: a database that is down or slow becomes
//! [`StoreError::Unavailable`] within that time, never a wrong answer.
//!
//! Writes run at READ COMMITTED, each in one transaction; the few
//! read-then-write paths lock the row they read first (`FOR UPDATE`), every
//! "use once" is one conditional `UPDATE` or `DELETE … RETURNING`, so two nodes
//! cannot both take the same token, code or id.

mod accounts;
mod app_passwords;
mod connection;
mod posix;
mod provisioning;
mod security;
mod settings;
mod transfer;
mod twofactor;
mod user_data;

use std::sync::OnceLock;

pub use connection::Db;
pub use settings::{MAX_POOL_SIZE, MAX_TIMEOUT, PostgresSettings, describe};

use crate::{Result, StoreError};
use connection::Pool;

/// Each entry moves the schema one version up; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[include_str!("migrations/0001_schema.sql")];

/// Every node runs the migrations under this advisory lock ("ABRG"), so two
/// daemons starting at once take turns.
const MIGRATION_LOCK: i64 = 0x4142_5247;

pub struct PostgresStore {
    pool: Pool,
    /// Told after each commit through this handle that changed what NSS shows.
    on_directory_change: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl PostgresStore {
    /// Connects and brings the schema up to date. A database that holds tables
    /// but no authbridge schema is refused and left untouched.
    pub fn open(settings: &PostgresSettings) -> Result<PostgresStore> {
        let store = PostgresStore {
            pool: Pool::new(settings)?,
            on_directory_change: OnceLock::new(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version of the database and the one this build knows.
    pub fn schema(&self) -> Result<(i64, i64)> {
        let found = self.read(schema_version)?;
        Ok((found.unwrap_or(0), MIGRATIONS.len() as i64))
    }

    /// As [`PostgresStore::schema`], without opening the store: nothing is
    /// migrated or written (`authbridge doctor`).
    pub fn schema_of(settings: &PostgresSettings) -> Result<(i64, i64)> {
        let found = Pool::new(settings)?.read(schema_version)?;
        Ok((found.unwrap_or(0), MIGRATIONS.len() as i64))
    }

    fn migrate(&self) -> Result<()> {
        self.pool.write(|db| {
            db.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
            let version = match schema_version(db)? {
                Some(v) => v,
                None => {
                    let tables: i64 = db
                        .query_one(
                            "SELECT count(*) FROM information_schema.tables
                             WHERE table_schema = current_schema()",
                            &[],
                        )?
                        .get(0);
                    if tables > 0 {
                        return Err(StoreError::NotAStore {
                            path: db.describe(),
                            detail: "its schema holds tables of another program".into(),
                        });
                    }
                    db.batch(
                        "CREATE TABLE authbridge_schema (
                             one INTEGER PRIMARY KEY CHECK (one = 1),
                             version BIGINT NOT NULL
                         );
                         INSERT INTO authbridge_schema VALUES (1, 0);",
                    )?;
                    0
                }
            };
            let known = MIGRATIONS.len() as i64;
            if version > known {
                return Err(StoreError::NewerSchema {
                    found: version,
                    known,
                });
            }
            for migration in &MIGRATIONS[version as usize..] {
                db.batch(migration)?;
            }
            db.execute("UPDATE authbridge_schema SET version = $1", &[&known])?;
            Ok(())
        })
    }

    /// Runs `f` outside a transaction (one statement sees one snapshot).
    pub(crate) fn read<T>(&self, f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        self.pool.read(f)
    }

    /// Runs one statement that changes nothing NSS shows, committed on its
    /// own (PostgreSQL makes a single statement atomic): one round trip
    /// instead of a transaction's three, for the writes of every login.
    pub(crate) fn write_one<T>(&self, f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        self.pool.read(f)
    }

    /// Runs `f` in one transaction: all of it or none of it. A transaction a
    /// deadlock or a serialization conflict aborted runs again.
    pub(crate) fn write<T>(&self, mut f: impl FnMut(&mut Db<'_>) -> Result<T>) -> Result<T> {
        let listening = self.on_directory_change.get().is_some();
        let (value, directory_changed) = self.pool.write(|db| {
            let value = f(db)?;
            let changed = listening && db.directory_changed()?;
            Ok((value, changed))
        })?;
        if directory_changed && let Some(listener) = self.on_directory_change.get() {
            listener();
        }
        Ok(value)
    }
}

fn schema_version(db: &mut Db<'_>) -> Result<Option<i64>> {
    let exists: bool = db
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables
                            WHERE table_schema = current_schema() AND table_name = 'authbridge_schema')",
            &[],
        )?
        .get(0);
    if !exists {
        return Ok(None);
    }
    Ok(Some(
        db.query_one("SELECT version FROM authbridge_schema", &[])?
            .get(0),
    ))
}

impl crate::AccountStore for PostgresStore {
    fn on_directory_change(&self, listener: Box<dyn Fn() + Send + Sync>) -> bool {
        self.on_directory_change.set(listener).is_ok()
    }

    fn shared_by_hosts(&self) -> bool {
        true
    }
}
