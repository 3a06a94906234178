//! The account store: users seen or provisioned, groups, memberships, subadmins,
//! app passwords and per-user settings and profile fields.
//!
//! [`AccountStore`] (every store trait as supertraits) is what the commands and
//! the daemon hold. Two implementations: [`SqliteStore`], the embedded default
//! for one machine, and [`PostgresStore`], one database for the daemons of many
//! hosts; the store tests run on both. The traits are synchronous on purpose:
//! every operation is one short transaction; PostgreSQL's calls wait on the
//! calling thread while the store's own runtime drives the sockets.
//! [`copy`] moves every table from one store to the other.

pub mod copy;
mod datadir;
mod location;
mod posix;
mod postgres;
mod provisioning;
mod security;
mod sqlite;
mod twofactor;
mod uid;

pub use posix::{Directory, IdRange, PosixGroup, PosixUser};
pub use provisioning::ProvisioningStore;
pub use security::{LoginFailure, SecurityStore, Verifier};

pub use datadir::{DataDir, DataDirError, SYSTEM_DATA_DIR};
pub use location::StoreLocation;
pub use postgres::{PostgresSettings, PostgresStore, describe as describe_url};

/// What a config file may set for PostgreSQL.
pub mod postgres_limits {
    pub use crate::postgres::{MAX_POOL_SIZE, MAX_TIMEOUT};
}
pub use sqlite::{MAX_LOGIN_FAILURES, SqliteStore};
pub use twofactor::{BACKUP_CODES, Enforcement, SecondFactors, TotpSecret, TwoFactorStore};
pub use uid::{UidError, hidden_character, validate_gid, validate_uid};

/// Where an account comes from, named as Nextcloud's user_external names it.
pub const LOCAL_BACKEND: &str = "Database";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub uid: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    /// `Database` for local users, `IMAP` / `SMB` / `FTP` for external ones.
    pub backend: String,
    pub enabled: bool,
    /// Unix seconds of the first and the latest accepted login.
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub quota: Option<String>,
    pub language: Option<String>,
    /// Created with a generated password and an e-mail: a welcome mail is owed.
    pub welcome_pending: bool,
}

/// The columns that decide whether a password accepted earlier still stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialState {
    pub enabled: bool,
    pub backend: String,
    /// A local user's argon2id PHC string (a new salt on every reset).
    pub password_hash: Option<String>,
}

/// What `user add` creates.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub uid: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub backend: String,
    /// argon2id PHC string for local users; `None` for external ones.
    pub password_hash: Option<String>,
    pub welcome_pending: bool,
    /// Groups to join, created when missing.
    pub groups: Vec<String>,
    /// Groups this user administers as a subadmin (they must exist).
    pub subadmin_of: Vec<String>,
    pub quota: Option<String>,
    pub language: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct UserQuery {
    pub search: Option<String>,
    pub limit: usize,
    pub offset: usize,
    pub disabled_only: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("user {0:?} does not exist")]
    NoSuchUser(String),
    #[error("group {0:?} does not exist")]
    NoSuchGroup(String),
    #[error("user {0:?} already exists")]
    UserExists(String),
    #[error("group {0:?} already exists")]
    GroupExists(String),
    #[error("the admin group cannot be deleted")]
    AdminGroup,
    #[error(transparent)]
    InvalidUid(#[from] UidError),
    #[error("{path} is not an authbridge store ({detail}); it was left untouched")]
    NotAStore { path: String, detail: String },
    #[error("the store was written by a newer authbridge (schema {found}, this one knows {known})")]
    NewerSchema { found: i64, known: i64 },
    #[error(
        "no POSIX id is left in the configured range [nss] id_min..id_max; widen the range (ids are never reused)"
    )]
    IdRangeExhausted,
    #[error("invalid id range {0}..{1}: id_min must be above 0 and not above id_max")]
    InvalidIdRange(u32, u32),
    #[error("store error: {0}")]
    Sqlite(rusqlite::Error),
    #[error("store error: {0}")]
    Postgres(String),
    /// The database cannot be reached or did not answer in time: nothing is
    /// known of the account (never "rejected").
    #[error("the store is unavailable: {0}")]
    Unavailable(String),
    /// The database aborted a transaction to break a deadlock; it runs again
    /// (never leaves the store).
    #[error("the store aborted a transaction: {0}")]
    Retry(String),
    #[error("store settings: {0}")]
    Settings(String),
    #[error("unexpected answer from the store: {0}")]
    Unexpected(String),
    #[error("the target store already holds data; --replace empties it first")]
    TargetNotEmpty,
    #[error(
        "the copy does not match its source (digest {expected}, the target holds {found}); the target was changed"
    )]
    CopyMismatch { expected: String, found: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// Store errors since the process started, constraint conflicts (which the
/// store turns into answers such as "already exists") left out: every
/// statement's error becomes a `StoreError` here, so this is the one place to
/// count them (the daemon's `authbridge_store_errors_total`).
static ERRORS_SEEN: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

pub fn errors_seen() -> u64 {
    ERRORS_SEEN.load(std::sync::atomic::Ordering::Relaxed)
}

pub(crate) fn count_error() {
    ERRORS_SEEN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        // The id triggers abort with this text when the range is used up.
        match &e {
            rusqlite::Error::SqliteFailure(_, Some(m)) if m.contains("id range exhausted") => {
                StoreError::IdRangeExhausted
            }
            _ => {
                let conflict = matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::ConstraintViolation)
                );
                if !conflict {
                    count_error();
                }
                StoreError::Sqlite(e)
            }
        }
    }
}

pub type Result<T> = std::result::Result<T, StoreError>;

/// Everything authbridge keeps, as one object: the daemon and the commands hold
/// an `Arc<dyn AccountStore>` and never learn which database is behind it.
pub trait AccountStore:
    Store
    + AppPasswordStore
    + UserDataStore
    + ProvisioningStore
    + SecurityStore
    + TwoFactorStore
    + Directory
    + copy::Transfer
    + Send
    + Sync
{
    /// Calls `listener` after every committed change of what NSS shows made
    /// through this handle (the NSS cache file is marked stale by it). Other
    /// processes' changes reach a daemon through the directory generation.
    /// Set once; a second listener is refused.
    fn on_directory_change(&self, listener: Box<dyn Fn() + Send + Sync>) -> bool;

    /// Whether daemons on other hosts may write it too: then a daemon's
    /// in-memory state taken from it (module switches, throttle counts) must
    /// be read again now and then ([`SqliteStore`] is one machine's file).
    fn shared_by_hosts(&self) -> bool;
}

/// Every store trait, for code that holds a concrete store (tests, tools).
pub mod prelude {
    pub use crate::{
        AccountStore, AppPasswordStore, Directory, ProvisioningStore, SecurityStore, Store,
        TwoFactorStore, UserDataStore,
    };
}

/// The store as the daemon and the commands share it.
pub type SharedStore = std::sync::Arc<dyn AccountStore>;

/// The operations authbridge needs from an account store.
pub trait Store {
    fn create_user(&self, user: &NewUser, now: i64) -> Result<User>;
    fn user(&self, uid: &str) -> Result<User>;
    fn users(&self, query: &UserQuery) -> Result<Vec<User>>;
    fn delete_user(&self, uid: &str) -> Result<()>;
    fn set_enabled(&self, uid: &str, enabled: bool) -> Result<()>;
    fn password_hash(&self, uid: &str) -> Result<Option<String>>;
    /// What an accepted password depends on: a credential cached in memory stays
    /// good only while this is unchanged (one read, whoever changed it).
    fn credential_state(&self, uid: &str) -> Result<CredentialState>;
    fn set_password_hash(&self, uid: &str, hash: Option<&str>) -> Result<()>;
    /// An accepted login: creates an external user on first sight, updates
    /// last_seen, creates and joins the groups the backend derived.
    fn record_login(&self, uid: &str, backend: &str, groups: &[String], now: i64) -> Result<User>;
    /// What an external account's own backend tells of it without a password
    /// (`user sync-account-data`): groups to join, created when missing. The
    /// account's backend never changes here (another server's user of the same
    /// name is another person); local accounts are left alone. Returns whether
    /// anything changed.
    fn sync_account(&self, uid: &str, groups: &[String], now: i64) -> Result<bool>;
    /// A session opened for a known user (PAM open_session): last_seen moves.
    fn touch_last_seen(&self, uid: &str, now: i64) -> Result<()>;
    /// An accepted login of any kind: last_seen (and first_seen, the first
    /// time) moves, unless it moved less than `min_interval` seconds ago, so
    /// that steady logins cost a read, not a write each.
    fn note_login(&self, uid: &str, now: i64, min_interval: i64) -> Result<()>;
    /// Users per backend, enabled and disabled, and how many ever logged in.
    fn report(&self) -> Result<Report>;

    fn create_group(&self, gid: &str, now: i64) -> Result<()>;
    /// The group's display name, if one was set (Nextcloud shows the id then).
    fn group_display_name(&self, gid: &str) -> Result<Option<String>>;
    fn set_group_display_name(&self, gid: &str, name: Option<&str>) -> Result<()>;
    /// Members of the group, and how many of them are disabled.
    fn group_counts(&self, gid: &str) -> Result<(u64, u64)>;
    fn delete_group(&self, gid: &str) -> Result<()>;
    fn groups(&self, search: Option<&str>, limit: usize, offset: usize) -> Result<Vec<String>>;
    fn group_exists(&self, gid: &str) -> Result<bool>;
    fn members(&self, gid: &str) -> Result<Vec<String>>;
    fn user_groups(&self, uid: &str) -> Result<Vec<String>>;
    fn add_member(&self, gid: &str, uid: &str) -> Result<bool>;
    fn remove_member(&self, gid: &str, uid: &str) -> Result<bool>;
}

/// An app password as listed (never its secret: only a keyed hash is stored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPassword {
    pub id: i64,
    pub uid: String,
    pub name: String,
    pub created: i64,
    pub last_activity: i64,
}

/// What validating an app password needs, found by its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPasswordMatch {
    pub id: i64,
    pub uid: String,
    pub hash: Vec<u8>,
    pub user_enabled: bool,
    pub last_activity: i64,
}

/// App passwords, stored only as keyed hashes.
pub trait AppPasswordStore {
    fn add_app_password(&self, uid: &str, name: &str, hash: &[u8], now: i64) -> Result<i64>;
    fn app_password_by_hash(&self, hash: &[u8]) -> Result<Option<AppPasswordMatch>>;
    fn app_passwords(&self, uid: &str) -> Result<Vec<AppPassword>>;
    fn delete_app_password(&self, uid: &str, id: i64) -> Result<bool>;
    /// Deletes the user's app passwords last used before `before`; returns how many.
    fn delete_app_passwords_before(&self, uid: &str, before: i64) -> Result<usize>;
    /// Moves last_activity to `now` unless it moved less than `min_interval` ago.
    fn touch_app_password(&self, id: i64, now: i64, min_interval: i64) -> Result<()>;
}

/// Per-user settings (app, key, value) and profile fields, as occ's
/// `user:setting` and `user:profile` manage them.
pub trait UserDataStore {
    fn settings(&self, uid: &str, app: Option<&str>) -> Result<Vec<(String, String, String)>>;
    fn set_setting(&self, uid: &str, app: &str, key: &str, value: &str) -> Result<()>;
    fn delete_setting(&self, uid: &str, app: &str, key: &str) -> Result<bool>;
    fn profile(&self, uid: &str) -> Result<Vec<(String, String)>>;
    fn set_profile(&self, uid: &str, field: &str, value: &str) -> Result<()>;
    fn delete_profile(&self, uid: &str, field: &str) -> Result<bool>;
    fn set_display_name(&self, uid: &str, name: Option<&str>) -> Result<()>;
    fn set_email(&self, uid: &str, email: Option<&str>) -> Result<()>;
    /// An avatar the user uploaded: the image and its media type.
    fn avatar(&self, uid: &str) -> Result<Option<Avatar>>;
    fn set_avatar(&self, uid: &str, avatar: &Avatar, now: i64) -> Result<()>;
    fn delete_avatar(&self, uid: &str) -> Result<bool>;
}

/// An uploaded avatar, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Avatar {
    pub image: Vec<u8>,
    /// `image/png` or `image/jpeg`.
    pub mime: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// (backend, number of users), by backend name.
    pub per_backend: Vec<(String, u64)>,
    pub total: u64,
    pub active: u64,
    pub disabled: u64,
}
