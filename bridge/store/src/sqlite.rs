//! The embedded store: one SQLite file in the data directory, WAL, foreign keys
//! on, migrations applied on open, every write in an IMMEDIATE transaction (so two
//! processes writing at once queue on the lock instead of failing).

use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use crate::{
    AppPassword, AppPasswordMatch, AppPasswordStore, Avatar, CredentialState, NewUser, Report,
    Result, Store, StoreError, User, UserDataStore, UserQuery, validate_gid, validate_uid,
};

/// "ABRG": marks the file as authbridge's, so a stranger's database is refused.
const APPLICATION_ID: i64 = 0x4142_5247;

/// Each entry moves the schema one version up; never edit one that has shipped.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE users (
    uid             TEXT PRIMARY KEY COLLATE NOCASE,
    display_name    TEXT,
    email           TEXT,
    backend         TEXT NOT NULL,
    password_hash   TEXT,
    enabled         INTEGER NOT NULL DEFAULT 1,
    first_seen      INTEGER,
    last_seen       INTEGER,
    quota           TEXT,
    language        TEXT,
    welcome_pending INTEGER NOT NULL DEFAULT 0,
    created         INTEGER NOT NULL
);
CREATE INDEX users_backend ON users(backend);
CREATE TABLE groups (
    gid     TEXT PRIMARY KEY COLLATE NOCASE,
    created INTEGER NOT NULL
);
CREATE TABLE memberships (
    gid TEXT NOT NULL REFERENCES groups(gid) ON DELETE CASCADE,
    uid TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    PRIMARY KEY (gid, uid)
);
CREATE INDEX memberships_uid ON memberships(uid);
CREATE TABLE subadmins (
    gid TEXT NOT NULL REFERENCES groups(gid) ON DELETE CASCADE,
    uid TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    PRIMARY KEY (gid, uid)
);
CREATE TABLE app_passwords (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    uid           TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    hash          BLOB NOT NULL UNIQUE,
    created       INTEGER NOT NULL,
    last_activity INTEGER NOT NULL
);
CREATE INDEX app_passwords_uid ON app_passwords(uid);
CREATE TABLE settings (
    uid   TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    app   TEXT NOT NULL,
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (uid, app, key)
);
CREATE TABLE profile (
    uid   TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    field TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (uid, field)
);
INSERT INTO groups (gid, created) VALUES ('admin', 0);
"#,
    r#"
-- POSIX ids for the NSS module: one sequence for users and groups (a user's
-- private group has the user's number, so the two can never collide), handed out
-- by a trigger on every insert path and never reused (the counter only grows).
ALTER TABLE users ADD COLUMN id_number INTEGER;
ALTER TABLE groups ADD COLUMN id_number INTEGER;
CREATE TABLE id_allocator (
    only INTEGER PRIMARY KEY CHECK (only = 1),
    min  INTEGER NOT NULL,
    max  INTEGER NOT NULL,
    next INTEGER NOT NULL
);
INSERT INTO id_allocator VALUES (1, 200000, 299999, 200000);
UPDATE users SET id_number = 200000 + (SELECT count(*) FROM users u WHERE u.rowid < users.rowid);
UPDATE groups SET id_number = 200000 + (SELECT count(*) FROM users)
    + (SELECT count(*) FROM groups g WHERE g.rowid < groups.rowid);
UPDATE id_allocator SET next = 200000 + (SELECT count(*) FROM users) + (SELECT count(*) FROM groups);
CREATE UNIQUE INDEX users_id_number ON users(id_number);
CREATE UNIQUE INDEX groups_id_number ON groups(id_number);
CREATE TRIGGER users_id_number AFTER INSERT ON users WHEN NEW.id_number IS NULL
BEGIN
    UPDATE id_allocator SET next = max(next, min) + 1;
    SELECT RAISE(ABORT, 'authbridge: id range exhausted') FROM id_allocator WHERE next - 1 > max;
    UPDATE users SET id_number = (SELECT next - 1 FROM id_allocator) WHERE rowid = NEW.rowid;
END;
CREATE TRIGGER groups_id_number AFTER INSERT ON groups WHEN NEW.id_number IS NULL
BEGIN
    UPDATE id_allocator SET next = max(next, min) + 1;
    SELECT RAISE(ABORT, 'authbridge: id range exhausted') FROM id_allocator WHERE next - 1 > max;
    UPDATE groups SET id_number = (SELECT next - 1 FROM id_allocator) WHERE rowid = NEW.rowid;
END;

-- Brute-force throttling: failures per (login, source), kept across restarts.
CREATE TABLE login_failures (
    login        TEXT NOT NULL,
    source       TEXT NOT NULL,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL,
    PRIMARY KEY (login, source)
);

-- Verifiers of external passwords for the daemon's cache and offline logins.
-- Gone with the user, and dropped on a password reset or a disable.
CREATE TABLE verifiers (
    login                TEXT PRIMARY KEY COLLATE NOCASE,
    uid                  TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    verifier             TEXT NOT NULL,
    verified_online      INTEGER NOT NULL,
    offline_failures     INTEGER NOT NULL DEFAULT 0,
    last_offline_failure INTEGER
);
CREATE INDEX verifiers_uid ON verifiers(uid);
"#,
    r#"
-- authbridge's optional modules, switched on and off through the OCS apps API.
CREATE TABLE apps (
    id      TEXT PRIMARY KEY,
    enabled INTEGER NOT NULL
);
-- Single-use links to set a password (welcome and reset mails): only a hash of
-- the token is kept.
CREATE TABLE password_tokens (
    hash    BLOB PRIMARY KEY,
    uid     TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    expires INTEGER NOT NULL
);
CREATE INDEX subadmins_uid ON subadmins(uid);
"#,
    r#"
-- Substring search over uid, display name and e-mail (the OCS user search) through
-- a trigram index, kept in step with the users table by triggers.
CREATE VIRTUAL TABLE users_search USING fts5(
    uid, display_name, email,
    content = 'users', content_rowid = 'rowid', tokenize = 'trigram'
);
INSERT INTO users_search (users_search) VALUES ('rebuild');
CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN
    INSERT INTO users_search (rowid, uid, display_name, email)
    VALUES (new.rowid, new.uid, new.display_name, new.email);
END;
CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN
    INSERT INTO users_search (users_search, rowid, uid, display_name, email)
    VALUES ('delete', old.rowid, old.uid, old.display_name, old.email);
END;
CREATE TRIGGER users_search_update AFTER UPDATE OF uid, display_name, email ON users BEGIN
    INSERT INTO users_search (users_search, rowid, uid, display_name, email)
    VALUES ('delete', old.rowid, old.uid, old.display_name, old.email);
    INSERT INTO users_search (rowid, uid, display_name, email)
    VALUES (new.rowid, new.uid, new.display_name, new.email);
END;
"#,
    r#"
-- Memberships and subadmin rows hold the stored spelling of the group and the user.
-- Older versions wrote whatever case the request used ("Admin" for "admin"): such a
-- row gave rights that lookups of the stored spelling did not see. Rewrite them.
INSERT OR IGNORE INTO memberships (gid, uid)
    SELECT g.gid, u.uid FROM memberships m
    JOIN groups g ON g.gid = m.gid JOIN users u ON u.uid = m.uid;
DELETE FROM memberships
    WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.gid = memberships.gid COLLATE BINARY)
       OR NOT EXISTS (SELECT 1 FROM users u WHERE u.uid = memberships.uid COLLATE BINARY);
INSERT OR IGNORE INTO subadmins (gid, uid)
    SELECT g.gid, u.uid FROM subadmins s
    JOIN groups g ON g.gid = s.gid JOIN users u ON u.uid = s.uid;
DELETE FROM subadmins
    WHERE NOT EXISTS (SELECT 1 FROM groups g WHERE g.gid = subadmins.gid COLLATE BINARY)
       OR NOT EXISTS (SELECT 1 FROM users u WHERE u.uid = subadmins.uid COLLATE BINARY);
UPDATE app_passwords SET uid = (SELECT u.uid FROM users u WHERE u.uid = app_passwords.uid);
UPDATE password_tokens SET uid = (SELECT u.uid FROM users u WHERE u.uid = password_tokens.uid);
UPDATE verifiers SET uid = (SELECT u.uid FROM users u WHERE u.uid = verifiers.uid);
CREATE INDEX IF NOT EXISTS login_failures_last ON login_failures(last_failure);
CREATE INDEX IF NOT EXISTS password_tokens_uid ON password_tokens(uid);
"#,
    r#"
-- A counter that moves with every change the NSS module can show (a user's name,
-- number, display name or state; groups; memberships), whoever wrote it — the
-- daemon or the CLI. The daemon republishes its NSS cache file when it moves.
CREATE TABLE IF NOT EXISTS directory_generation (
    only  INTEGER PRIMARY KEY CHECK (only = 1),
    value INTEGER NOT NULL
);
INSERT OR IGNORE INTO directory_generation VALUES (1, 0);
CREATE TRIGGER IF NOT EXISTS directory_users_insert AFTER INSERT ON users
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_users_delete AFTER DELETE ON users
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_users_update AFTER UPDATE OF uid, display_name, id_number, enabled ON users
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_groups_insert AFTER INSERT ON groups
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_groups_delete AFTER DELETE ON groups
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_groups_update AFTER UPDATE OF gid, id_number ON groups
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_memberships_insert AFTER INSERT ON memberships
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_memberships_delete AFTER DELETE ON memberships
BEGIN UPDATE directory_generation SET value = value + 1; END;
CREATE TRIGGER IF NOT EXISTS directory_memberships_update AFTER UPDATE ON memberships
BEGIN UPDATE directory_generation SET value = value + 1; END;
"#,
    r#"
-- A group's display name (Nextcloud's; the id is shown when there is none), and
-- avatars users uploaded (generated ones are drawn on request, never kept).
-- Tables, not columns, so that the migration can run again.
CREATE TABLE IF NOT EXISTS group_names (
    gid          TEXT PRIMARY KEY COLLATE NOCASE
                 REFERENCES groups(gid) ON DELETE CASCADE ON UPDATE CASCADE,
    display_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS avatars (
    uid     TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE,
    image   BLOB NOT NULL,
    mime    TEXT NOT NULL,
    updated INTEGER NOT NULL
);
"#,
    r#"
-- Second factors. A TOTP secret is kept sealed (encrypted under a key derived
-- from the data directory's key); it counts once confirmed by a first code.
-- last_step is the newest time step a code was accepted for: no older or equal
-- step is accepted again (no replay).
CREATE TABLE IF NOT EXISTS twofactor_totp (
    uid       TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE,
    secret    BLOB NOT NULL,
    confirmed INTEGER NOT NULL,
    last_step INTEGER NOT NULL,
    created   INTEGER NOT NULL
);
-- Backup codes: single use, only a keyed hash of each is kept.
CREATE TABLE IF NOT EXISTS twofactor_backup_codes (
    uid  TEXT NOT NULL REFERENCES users(uid) ON DELETE CASCADE,
    hash BLOB NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (uid, hash)
);
-- Wrong second-factor codes per user, whatever the source: a right password
-- does not clear them, only an accepted code does (a stolen password must not
-- buy endless code guesses from many addresses).
CREATE TABLE IF NOT EXISTS twofactor_failures (
    uid          TEXT PRIMARY KEY REFERENCES users(uid) ON DELETE CASCADE,
    failures     INTEGER NOT NULL,
    last_failure INTEGER NOT NULL
);
-- occ twofactorauth:enforce: on or off, and the groups it names.
CREATE TABLE IF NOT EXISTS twofactor_enforcement (
    only     INTEGER PRIMARY KEY CHECK (only = 1),
    enforced INTEGER NOT NULL
);
INSERT OR IGNORE INTO twofactor_enforcement VALUES (1, 0);
CREATE TABLE IF NOT EXISTS twofactor_enforcement_groups (
    gid      TEXT NOT NULL COLLATE NOCASE,
    excluded INTEGER NOT NULL,
    PRIMARY KEY (gid, excluded)
);
"#,
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
        };
        store.migrate()?;
        // Opened after the migration, so that they see the current schema.
        for _ in 0..READERS {
            let reader = connect(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
            reader.pragma_update(None, "query_only", "ON")?;
            store.readers.push(Mutex::new(reader));
        }
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

impl Store for SqliteStore {
    fn create_user(&self, user: &NewUser, now: i64) -> Result<User> {
        validate_uid(&user.uid)?;
        for gid in &user.groups {
            validate_gid(gid)?;
        }
        self.write(|tx| {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO users (uid, display_name, email, backend, password_hash, welcome_pending, created, quota, language)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    user.uid,
                    user.display_name,
                    user.email,
                    user.backend,
                    user.password_hash,
                    user.welcome_pending,
                    now,
                    user.quota,
                    user.language
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::UserExists(user.uid.clone()));
            }
            for gid in &user.groups {
                let gid = ensure_group(tx, gid, now)?;
                tx.execute(
                    "INSERT OR IGNORE INTO memberships (gid, uid) VALUES (?1, ?2)",
                    params![gid, user.uid],
                )?;
            }
            for gid in &user.subadmin_of {
                let gid = require_group(tx, gid)?;
                tx.execute(
                    "INSERT OR IGNORE INTO subadmins (gid, uid) VALUES (?1, ?2)",
                    params![gid, user.uid],
                )?;
            }
            get_user(tx, &user.uid)
        })
    }

    fn user(&self, uid: &str) -> Result<User> {
        get_user(&self.lock(), uid)
    }

    fn users(&self, q: &UserQuery) -> Result<Vec<User>> {
        let conn = self.lock();
        let search = q.search.as_deref().unwrap_or("");
        // The trigram index answers a search of three characters or more; when it
        // matches many users, walking the uid order with LIKE stops sooner.
        if search.chars().count() >= 3 {
            let phrase = format!("\"{}\"", search.replace('"', "\"\""));
            // One pass over the index: at most 1001 matches tell "few" from "many".
            let rowids: Vec<i64> = conn
                .prepare_cached(
                    "SELECT rowid FROM users_search WHERE users_search MATCH ?1 LIMIT 1001",
                )?
                .query_map([&phrase], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if rowids.len() <= 1000 {
                let list = format!(
                    "[{}]",
                    rowids
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                );
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users
                     WHERE rowid IN (SELECT value FROM json_each(?1))
                       AND (?2 = 0 OR enabled = 0)
                     ORDER BY uid LIMIT ?3 OFFSET ?4"
                ))?;
                let rows = stmt.query_map(
                    params![list, q.disabled_only, q.limit as i64, q.offset as i64],
                    user_from_row,
                )?;
                return Ok(rows.collect::<rusqlite::Result<_>>()?);
            }
        }
        let pattern = like_pattern(search);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE (uid LIKE ?1 ESCAPE '\\' OR display_name LIKE ?1 ESCAPE '\\' OR email LIKE ?1 ESCAPE '\\')
               AND (?2 = 0 OR enabled = 0)
             ORDER BY uid LIMIT ?3 OFFSET ?4"
        ))?;
        let rows = stmt.query_map(
            params![pattern, q.disabled_only, q.limit as i64, q.offset as i64],
            user_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delete_user(&self, uid: &str) -> Result<()> {
        // Memberships, subadmin rights, app passwords, settings and profile go with
        // the user (ON DELETE CASCADE).
        self.write(|tx| user_row(tx.execute("DELETE FROM users WHERE uid = ?1", [uid])?, uid))
    }

    fn set_enabled(&self, uid: &str, enabled: bool) -> Result<()> {
        self.write(|tx| {
            if !enabled {
                tx.execute(
                    "DELETE FROM verifiers WHERE uid = (SELECT uid FROM users WHERE uid = ?1)",
                    [uid],
                )?;
                drop_password_tokens(tx, uid)?;
            }
            user_row(
                tx.execute(
                    "UPDATE users SET enabled = ?2 WHERE uid = ?1",
                    params![uid, enabled],
                )?,
                uid,
            )
        })
    }

    fn password_hash(&self, uid: &str) -> Result<Option<String>> {
        let conn = self.lock();
        conn.cached_row(
            "SELECT password_hash FROM users WHERE uid = ?1",
            [uid],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
    }

    fn credential_state(&self, uid: &str) -> Result<CredentialState> {
        self.lock()
            .cached_row(
                "SELECT enabled, backend, password_hash FROM users WHERE uid = ?1",
                [uid],
                |r| {
                    Ok(CredentialState {
                        enabled: r.get(0)?,
                        backend: r.get(1)?,
                        password_hash: r.get(2)?,
                    })
                },
            )
            .optional()?
            .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
    }

    fn set_password_hash(&self, uid: &str, hash: Option<&str>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM verifiers WHERE uid = (SELECT uid FROM users WHERE uid = ?1)",
                [uid],
            )?;
            drop_password_tokens(tx, uid)?;
            user_row(
                tx.execute(
                    "UPDATE users SET password_hash = ?2 WHERE uid = ?1",
                    params![uid, hash],
                )?,
                uid,
            )
        })
    }

    fn record_login(&self, uid: &str, backend: &str, groups: &[String], now: i64) -> Result<User> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO users (uid, backend, first_seen, last_seen, created) VALUES (?1, ?2, ?3, ?3, ?3)
                 ON CONFLICT (uid) DO UPDATE SET last_seen = ?3, first_seen = coalesce(first_seen, ?3)",
                params![uid, backend, now],
            )?;
            let uid = require_user(tx, uid)?;
            for gid in groups {
                let gid = ensure_group(tx, gid, now)?;
                tx.execute(
                    "INSERT OR IGNORE INTO memberships (gid, uid) VALUES (?1, ?2)",
                    params![gid, uid],
                )?;
            }
            get_user(tx, &uid)
        })
    }

    fn sync_account(&self, uid: &str, groups: &[String], now: i64) -> Result<bool> {
        self.write(|tx| {
            let user = get_user(tx, uid)?;
            if user.backend == crate::LOCAL_BACKEND {
                return Ok(false);
            }
            let mut changed = false;
            for gid in groups {
                let gid = ensure_group(tx, gid, now)?;
                changed |= tx.execute(
                    "INSERT OR IGNORE INTO memberships (gid, uid) VALUES (?1, ?2)",
                    params![gid, user.uid],
                )? > 0;
            }
            Ok(changed)
        })
    }

    fn touch_last_seen(&self, uid: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            user_row(
                tx.execute(
                    "UPDATE users SET last_seen = ?2, first_seen = coalesce(first_seen, ?2) WHERE uid = ?1",
                    params![uid, now],
                )?,
                uid,
            )
        })
    }

    fn note_login(&self, uid: &str, now: i64, min_interval: i64) -> Result<()> {
        let seen: Option<Option<i64>> = self
            .lock()
            .cached_row("SELECT last_seen FROM users WHERE uid = ?1", [uid], |r| {
                r.get(0)
            })
            .optional()?;
        match seen {
            None => Err(StoreError::NoSuchUser(uid.to_owned())),
            Some(Some(last)) if now.saturating_sub(last) < min_interval => Ok(()),
            Some(_) => self.touch_last_seen(uid, now),
        }
    }

    fn report(&self) -> Result<Report> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT backend, count(*) FROM users GROUP BY backend ORDER BY backend")?;
        let per_backend = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let (total, active, disabled): (i64, i64, i64) = conn.cached_row(
            "SELECT count(*), count(last_seen), coalesce(sum(enabled = 0), 0) FROM users",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(Report {
            per_backend,
            total: total as u64,
            active: active as u64,
            disabled: disabled as u64,
        })
    }

    fn create_group(&self, gid: &str, now: i64) -> Result<()> {
        validate_gid(gid)?;
        self.write(|tx| {
            match tx.execute(
                "INSERT OR IGNORE INTO groups (gid, created) VALUES (?1, ?2)",
                params![gid, now],
            )? {
                0 => Err(StoreError::GroupExists(gid.to_owned())),
                _ => Ok(()),
            }
        })
    }

    fn delete_group(&self, gid: &str) -> Result<()> {
        if gid.eq_ignore_ascii_case("admin") {
            return Err(StoreError::AdminGroup);
        }
        self.write(
            |tx| match tx.execute("DELETE FROM groups WHERE gid = ?1", [gid])? {
                0 => Err(StoreError::NoSuchGroup(gid.to_owned())),
                _ => Ok(()),
            },
        )
    }

    fn groups(&self, search: Option<&str>, limit: usize, offset: usize) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT gid FROM groups WHERE gid LIKE ?1 ESCAPE '\\' ORDER BY gid LIMIT ?2 OFFSET ?3",
        )?;
        let rows = stmt.query_map(
            params![
                like_pattern(search.unwrap_or("")),
                limit as i64,
                offset as i64
            ],
            |r| r.get(0),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn group_display_name(&self, gid: &str) -> Result<Option<String>> {
        let conn = self.lock();
        let gid = require_group(&conn, gid)?;
        Ok(conn
            .cached_row(
                "SELECT display_name FROM group_names WHERE gid = ?1",
                [gid],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_group_display_name(&self, gid: &str, name: Option<&str>) -> Result<()> {
        self.write(|tx| {
            let gid = require_group(tx, gid)?;
            match name {
                Some(name) => tx.execute(
                    "INSERT INTO group_names (gid, display_name) VALUES (?1, ?2)
                     ON CONFLICT (gid) DO UPDATE SET display_name = ?2",
                    params![gid, name],
                )?,
                None => tx.execute("DELETE FROM group_names WHERE gid = ?1", [gid])?,
            };
            Ok(())
        })
    }

    fn group_counts(&self, gid: &str) -> Result<(u64, u64)> {
        let conn = self.lock();
        let gid = require_group(&conn, gid)?;
        Ok(conn.cached_row(
            "SELECT COUNT(*), COALESCE(SUM(NOT u.enabled), 0)
             FROM memberships m JOIN users u ON u.uid = m.uid WHERE m.gid = ?1",
            [gid],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    fn group_exists(&self, gid: &str) -> Result<bool> {
        match require_group(&self.lock(), gid) {
            Ok(_) => Ok(true),
            Err(StoreError::NoSuchGroup(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn members(&self, gid: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let gid = require_group(&conn, gid)?;
        let mut stmt =
            conn.prepare_cached("SELECT uid FROM memberships WHERE gid = ?1 ORDER BY uid")?;
        let rows = stmt.query_map([&gid], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn user_groups(&self, uid: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let uid = require_user(&conn, uid)?;
        let mut stmt =
            conn.prepare_cached("SELECT gid FROM memberships WHERE uid = ?1 ORDER BY gid")?;
        let rows = stmt.query_map([&uid], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_member(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|tx| {
            let gid = require_group(tx, gid)?;
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "INSERT OR IGNORE INTO memberships (gid, uid) VALUES (?1, ?2)",
                params![gid, uid],
            )? == 1)
        })
    }

    fn remove_member(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|tx| {
            let gid = require_group(tx, gid)?;
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM memberships WHERE gid = ?1 AND uid = ?2",
                params![gid, uid],
            )? == 1)
        })
    }
}

impl AppPasswordStore for SqliteStore {
    fn add_app_password(&self, uid: &str, name: &str, hash: &[u8], now: i64) -> Result<i64> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            tx.execute(
                "INSERT INTO app_passwords (uid, name, hash, created, last_activity) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![uid, name, hash, now],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn app_password_by_hash(&self, hash: &[u8]) -> Result<Option<AppPasswordMatch>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT t.id, t.uid, t.hash, u.enabled, t.last_activity
             FROM app_passwords t JOIN users u ON u.uid = t.uid WHERE t.hash = ?1",
        )?;
        Ok(stmt
            .query_row([hash], |r| {
                Ok(AppPasswordMatch {
                    id: r.get(0)?,
                    uid: r.get(1)?,
                    hash: r.get(2)?,
                    user_enabled: r.get(3)?,
                    last_activity: r.get(4)?,
                })
            })
            .optional()?)
    }

    fn app_passwords(&self, uid: &str) -> Result<Vec<AppPassword>> {
        let conn = self.lock();
        let uid = require_user(&conn, uid)?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, uid, name, created, last_activity FROM app_passwords WHERE uid = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([&uid], |r| {
            Ok(AppPassword {
                id: r.get(0)?,
                uid: r.get(1)?,
                name: r.get(2)?,
                created: r.get(3)?,
                last_activity: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delete_app_password(&self, uid: &str, id: i64) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM app_passwords WHERE uid = ?1 AND id = ?2",
                params![uid, id],
            )? == 1)
        })
    }

    fn delete_app_passwords_before(&self, uid: &str, before: i64) -> Result<usize> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM app_passwords WHERE uid = ?1 AND last_activity < ?2",
                params![uid, before],
            )?)
        })
    }

    fn touch_app_password(&self, id: i64, now: i64, min_interval: i64) -> Result<()> {
        // Only writes when the value is stale, so steady use costs no write per check.
        self.write(|tx| {
            tx.execute(
                "UPDATE app_passwords SET last_activity = ?2 WHERE id = ?1 AND last_activity <= ?2 - ?3",
                params![id, now, min_interval],
            )?;
            Ok(())
        })
    }
}

impl SqliteStore {
    /// Updates one column of a user row; the column name is ours, never input.
    pub(crate) fn set_user_column(
        &self,
        uid: &str,
        column: &'static str,
        value: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            user_row(
                tx.execute(
                    &format!("UPDATE users SET {column} = ?2 WHERE uid = ?1"),
                    params![uid, value],
                )?,
                uid,
            )
        })
    }
}

impl UserDataStore for SqliteStore {
    fn settings(&self, uid: &str, app: Option<&str>) -> Result<Vec<(String, String, String)>> {
        let conn = self.lock();
        let uid = &require_user(&conn, uid)?;
        let mut stmt = conn.prepare_cached(
            "SELECT app, key, value FROM settings WHERE uid = ?1 AND (?2 IS NULL OR app = ?2) ORDER BY app, key",
        )?;
        let rows = stmt.query_map(params![uid, app], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_setting(&self, uid: &str, app: &str, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            let uid = &require_user(tx, uid)?;
            tx.execute(
                "INSERT INTO settings (uid, app, key, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (uid, app, key) DO UPDATE SET value = ?4",
                params![uid, app, key, value],
            )?;
            Ok(())
        })
    }

    fn delete_setting(&self, uid: &str, app: &str, key: &str) -> Result<bool> {
        self.write(|tx| {
            let uid = &require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM settings WHERE uid = ?1 AND app = ?2 AND key = ?3",
                params![uid, app, key],
            )? == 1)
        })
    }

    fn profile(&self, uid: &str) -> Result<Vec<(String, String)>> {
        let conn = self.lock();
        let uid = &require_user(&conn, uid)?;
        let mut stmt =
            conn.prepare_cached("SELECT field, value FROM profile WHERE uid = ?1 ORDER BY field")?;
        let rows = stmt.query_map([uid], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_profile(&self, uid: &str, field: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            let uid = &require_user(tx, uid)?;
            tx.execute(
                "INSERT INTO profile (uid, field, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (uid, field) DO UPDATE SET value = ?3",
                params![uid, field, value],
            )?;
            Ok(())
        })
    }

    fn delete_profile(&self, uid: &str, field: &str) -> Result<bool> {
        self.write(|tx| {
            let uid = &require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM profile WHERE uid = ?1 AND field = ?2",
                params![uid, field],
            )? == 1)
        })
    }

    fn set_display_name(&self, uid: &str, name: Option<&str>) -> Result<()> {
        self.set_user_column(uid, "display_name", name)
    }

    fn set_email(&self, uid: &str, email: Option<&str>) -> Result<()> {
        // A link mailed to the old address must not outlive the change.
        self.write(|tx| {
            drop_password_tokens(tx, uid)?;
            user_row(
                tx.execute(
                    "UPDATE users SET email = ?2 WHERE uid = ?1",
                    params![uid, email],
                )?,
                uid,
            )
        })
    }

    fn avatar(&self, uid: &str) -> Result<Option<Avatar>> {
        Ok(self
            .lock()
            .cached_row(
                "SELECT image, mime FROM avatars WHERE uid = ?1",
                [uid],
                |r| {
                    Ok(Avatar {
                        image: r.get(0)?,
                        mime: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn set_avatar(&self, uid: &str, avatar: &Avatar, now: i64) -> Result<()> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            tx.execute(
                "INSERT INTO avatars (uid, image, mime, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (uid) DO UPDATE SET image = ?2, mime = ?3, updated = ?4",
                params![uid, avatar.image, avatar.mime, now],
            )?;
            Ok(())
        })
    }

    fn delete_avatar(&self, uid: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM avatars WHERE uid = ?1", [uid])? > 0))
    }
}
