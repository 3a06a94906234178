//! The embedded store: one SQLite file in the data directory, WAL, foreign keys
//! on, migrations applied on open, every write in an IMMEDIATE transaction (so two
//! processes writing at once queue on the lock instead of failing).

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

mod accounts;
mod app_passwords;
mod memo;
mod posix;
mod provisioning;
mod security;
mod transfer;
mod twofactor;
mod user_data;
mod wal_index;

use crate::{Result, StoreError, User};

/// "ABRG": marks the file as authbridge's, so a stranger's database is refused.
const APPLICATION_ID: i64 = 0x4142_5247;

/// Each entry moves the schema one version up; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_schema.sql"),
    include_str!("migrations/0002_posix_ids_throttle_verifiers.sql"),
    include_str!("migrations/0003_apps_password_links.sql"),
    include_str!("migrations/0004_user_search.sql"),
    include_str!("migrations/0005_canonical_spellings.sql"),
    include_str!("migrations/0006_directory_generation.sql"),
    include_str!("migrations/0007_group_names_avatars.sql"),
    include_str!("migrations/0008_second_factors.sql"),
];

/// The most (login, source) pairs the throttle keeps; past it the oldest go (the
/// daemon's throttle evicts them here too, so the table stays as bounded).
pub const MAX_LOGIN_FAILURES: usize = 10_000;

pub struct SqliteStore {
    /// The one connection that writes (SQLite has one writer at a time anyway).
    conn: Mutex<Connection>,
    /// Connections for reads: in WAL mode they run beside each other and beside
    /// the writer, so concurrent lookups do not queue behind one mutex.
    readers: Vec<Mutex<Connection>>,
    next_reader: std::sync::atomic::AtomicUsize,
    /// Set by the writer's update hook when a trigger moved the directory
    /// generation in the transaction running now.
    directory_touched: Arc<AtomicBool>,
    /// Told after each commit that changed what NSS shows (see
    /// [`SqliteStore::on_directory_change`]).
    on_directory_change: OnceLock<Box<dyn Fn() + Send + Sync>>,
    /// What every login reads, kept while the database is unchanged.
    memo: memo::Memo,
}

/// Enough to keep two cores busy with reads while the writer writes.
const READERS: usize = 4;

fn connect(path: &Path, flags: OpenFlags) -> Result<Connection> {
    let conn = Connection::open_with_flags(path, flags | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

/// The store and its -wal and -shm files readable by their owner only, also when an
/// older version (or a umask of 022) made them 0644.
fn private_files(path: &Path) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let mut all = vec![path.to_owned()];
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        all.push(name.into());
    }
    for file in all {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).map_err(
                |source| StoreError::Io {
                    path: file.display().to_string(),
                    source,
                },
            )?;
        }
    }
    Ok(())
}

fn not_a_store(path: &Path, detail: impl ToString) -> StoreError {
    StoreError::NotAStore {
        path: path.display().to_string(),
        detail: detail.to_string(),
    }
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` and brings its schema up to date.
    /// A file that is not an authbridge store is refused and left untouched.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let existed = path.exists()
            && std::fs::metadata(path)
                .map(|m| m.len() > 0)
                .unwrap_or(false);
        // The file holds password hashes: created 0600 before SQLite opens it, so
        // SQLite gives its -wal and -shm files the same mode.
        if !path.exists() {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(path)
                .map_err(|e| StoreError::Io {
                    path: path.display().to_string(),
                    source: e,
                })?;
        }
        let conn = connect(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        )?;
        if existed {
            // Read-only probes first: nothing is written to a stranger's file.
            let id: i64 = conn
                .query_row("PRAGMA application_id", [], |r| r.get(0))
                .map_err(|e| not_a_store(path, e))?;
            let tables: i64 = conn
                .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
                .map_err(|e| not_a_store(path, e))?;
            if id != APPLICATION_ID && tables > 0 {
                return Err(not_a_store(
                    path,
                    "it is a SQLite database of another program",
                ));
            }
        }
        conn.pragma_update(None, "journal_mode", "WAL")?;
        private_files(path)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        let directory_touched = Arc::new(AtomicBool::new(false));
        let touched = Arc::clone(&directory_touched);
        // The directory triggers write this table, and only they do.
        conn.update_hook(Some(
            move |_: rusqlite::hooks::Action, _: &str, table: &str, _| {
                if table == "directory_generation" {
                    touched.store(true, Ordering::Relaxed);
                }
            },
        ));
        let mut store = SqliteStore {
            conn: Mutex::new(conn),
            readers: Vec::new(),
            next_reader: Default::default(),
            directory_touched,
            on_directory_change: OnceLock::new(),
            memo: memo::Memo::new(None),
        };
        store.migrate()?;
        // Opened after the migration, so that they see the current schema.
        for _ in 0..READERS {
            let reader = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            reader.pragma_update(None, "query_only", "ON")?;
            store.readers.push(Mutex::new(reader));
        }
        // The writer has written (the migration), so its wal-index is mapped.
        let index = wal_index::WalIndex::of(&store.writer());
        store.memo = memo::Memo::new(index);
        Ok(store)
    }

    /// The schema version of the store at `path` and the one this build knows,
    /// read without opening it for writing (`authbridge doctor`).
    pub fn schema_of(path: &Path) -> Result<(i64, i64)> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
        let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        Ok((found, MIGRATIONS.len() as i64))
    }

    fn migrate(&self) -> Result<()> {
        let mut conn = self.writer();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        let known = MIGRATIONS.len() as i64;
        if version > known {
            return Err(StoreError::NewerSchema {
                found: version,
                known,
            });
        }
        for migration in &MIGRATIONS[version as usize..] {
            tx.execute_batch(migration)?;
        }
        tx.pragma_update(None, "user_version", known)?;
        tx.pragma_update(None, "application_id", APPLICATION_ID)?;
        tx.commit()?;
        Ok(())
    }

    fn writer(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (the transaction
        // rolls back on drop), so a poisoned lock is safe to keep using.
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A connection for reads: a free reader if there is one, else the next in turn.
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return self.writer();
        }
        let start = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for i in 0..self.readers.len() {
            let reader = &self.readers[(start + i) % self.readers.len()];
            match reader.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        self.readers[start % self.readers.len()]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Runs `f` in an IMMEDIATE transaction: all of it, or none of it.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&rusqlite::Transaction<'_>) -> Result<T>,
    ) -> Result<T> {
        let mut conn = self.writer();
        self.directory_touched.store(false, Ordering::Relaxed);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let value = f(&tx)?;
        tx.commit()?;
        // Told after the commit and still under the writer lock: whoever
        // listens sees the change in the store, and no later change overtakes it.
        if self.directory_touched.swap(false, Ordering::Relaxed)
            && let Some(listener) = self.on_directory_change.get()
        {
            listener();
        }
        Ok(value)
    }
}

impl crate::AccountStore for SqliteStore {
    fn on_directory_change(&self, listener: Box<dyn Fn() + Send + Sync>) -> bool {
        self.on_directory_change.set(listener).is_ok()
    }

    fn shared_by_hosts(&self) -> bool {
        false
    }
}

const USER_COLUMNS: &str = "uid, display_name, email, backend, enabled, first_seen, last_seen, quota, language, welcome_pending";

fn user_from_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        uid: r.get(0)?,
        display_name: r.get(1)?,
        email: r.get(2)?,
        backend: r.get(3)?,
        enabled: r.get(4)?,
        first_seen: r.get(5)?,
        last_seen: r.get(6)?,
        quota: r.get(7)?,
        language: r.get(8)?,
        welcome_pending: r.get(9)?,
    })
}

/// `query_row` through the connection's statement cache: the hot lookups (a
/// user, an app password, a POSIX entry) are parsed once per connection, not
/// on every login.
pub(crate) trait CachedRow {
    fn cached_row<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T>;
}

impl CachedRow for Connection {
    fn cached_row<T, P: rusqlite::Params>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    ) -> rusqlite::Result<T> {
        self.prepare_cached(sql)?.query_row(params, f)
    }
}

/// An UPDATE or DELETE of one user's row: no row touched means no such user.
fn user_row(changed: usize, uid: &str) -> Result<()> {
    match changed {
        0 => Err(StoreError::NoSuchUser(uid.to_owned())),
        _ => Ok(()),
    }
}

pub(crate) fn get_user(conn: &Connection, uid: &str) -> Result<User> {
    conn.cached_row(
        &format!("SELECT {USER_COLUMNS} FROM users WHERE uid = ?1"),
        [uid],
        user_from_row,
    )
    .optional()?
    .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
}

/// The group's id as stored (ids are unique regardless of ASCII case): every row
/// that names a group holds this spelling, never the caller's.
pub(crate) fn require_group(conn: &Connection, gid: &str) -> Result<String> {
    conn.cached_row("SELECT gid FROM groups WHERE gid = ?1", [gid], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NoSuchGroup(gid.to_owned()))
}

/// The user's id as stored.
pub(crate) fn require_user(conn: &Connection, uid: &str) -> Result<String> {
    conn.cached_row("SELECT uid FROM users WHERE uid = ?1", [uid], |r| r.get(0))
        .optional()?
        .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
}

/// Every password link of the user stops working (a newer link, a new password,
/// a changed address, a disabled account).
pub(crate) fn drop_password_tokens(conn: &Connection, uid: &str) -> Result<()> {
    // The user's stored spelling: the caller's may differ in case.
    conn.execute(
        "DELETE FROM password_tokens WHERE uid = (SELECT uid FROM users WHERE uid = ?1)",
        [uid],
    )?;
    Ok(())
}

/// Creates the group when missing; returns its id as stored.
fn ensure_group(tx: &rusqlite::Transaction<'_>, gid: &str, now: i64) -> Result<String> {
    tx.execute(
        "INSERT OR IGNORE INTO groups (gid, created) VALUES (?1, ?2)",
        params![gid, now],
    )?;
    require_group(tx, gid)
}

/// `LIKE` pattern matching `search` anywhere, with its wildcards escaped.
fn like_pattern(search: &str) -> String {
    let escaped = search
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}
