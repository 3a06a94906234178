//! The store, the app-password key and the policies a command works with,
//! opened from the config file and the data directory.

use std::path::{Path, PathBuf};

use crate::config;
use crate::failure::Failure;

/// The store and the app-password key, in the data directory (both created on
/// first use).
pub struct Accounts {
    pub store: authbridge_store::SharedStore,
    pub key: std::sync::Arc<authbridge_local::SecretKey>,
    /// The config's `revoke_app_passwords_on_reset`.
    pub revoke_on_reset: bool,
    /// The config's `[password_policy]`.
    pub policy: authbridge_local::PasswordPolicy,
    /// The config file, for commands that need the backend chain.
    pub config_path: PathBuf,
    pub data_dir: PathBuf,
    /// The config's `[mail]`, for `user welcome`.
    pub mail: Option<authbridge_daemon::MailSettings>,
    /// Where the OCS API listens (the default base of mailed links).
    pub http_listen: std::net::SocketAddr,
    /// What the NSS module gives accounts (their home is occ's user_directory).
    pub nss: authbridge_daemon::NssSettings,
    /// The config's `[names]`: system names and deny lists.
    pub names: std::sync::Arc<authbridge_local::Names>,
    /// The config's `[twofactor]`.
    pub twofactor: authbridge_daemon::TwoFactorSettings,
}

impl Accounts {
    /// Where users reach authbridge's pages: `[mail] base_url`, else the OCS
    /// API's listening address.
    pub fn public_base(&self) -> String {
        self.mail
            .as_ref()
            .and_then(|m| m.base_url.clone())
            .unwrap_or_else(|| format!("http://{}", self.http_listen))
    }
}

/// Where the data directory and the store are, as the command line (or the
/// environment) gave them.
#[derive(Debug, Clone, Default)]
pub struct Location {
    pub data_dir: Option<PathBuf>,
    /// `--store` / `AUTHBRIDGE_STORE`.
    pub store: Option<String>,
}

impl Location {
    pub fn data_dir(&self, config: Option<&config::ConfigFile>) -> authbridge_store::DataDir {
        let from_config = config.and_then(|c| c.data_dir.clone());
        // SAFETY: geteuid has no preconditions and cannot fail.
        let is_root = unsafe { libc::geteuid() } == 0;
        authbridge_store::DataDir::resolve(self.data_dir.clone(), from_config, is_root)
    }

    /// The store: `--store`, else the config's `[store] url`, else the SQLite
    /// file in the data directory.
    pub fn store(
        &self,
        config: Option<&config::ConfigFile>,
        dir: &authbridge_store::DataDir,
    ) -> anyhow::Result<authbridge_store::StoreLocation> {
        let given = self
            .store
            .clone()
            .or_else(|| config.and_then(|c| c.store.url.clone()));
        Ok(match given {
            Some(text) => authbridge_store::StoreLocation::parse(&text)?,
            None => authbridge_store::StoreLocation::in_data_dir(&dir.store_path()),
        })
    }
}

/// `config` is the file at `config_path` as the caller read it (`None`: there is none).
pub fn open(
    config_path: &Path,
    config: Option<&config::ConfigFile>,
    location: &Location,
) -> anyhow::Result<Accounts> {
    use anyhow::Context;
    let dir = location.data_dir(config);
    dir.ensure()?;
    let store_location = location.store(config, &dir)?;
    let section = config.map(|c| c.store.clone()).unwrap_or_default();
    section.check()?;
    let postgres = section.postgres();
    let store = store_location
        .open(&postgres)
        .with_context(|| format!("store {}", store_location.describe()))?;
    if let Some(c) = config {
        configure_id_range(&*store, c.nss.id_range())?;
    }
    let names = std::sync::Arc::new(authbridge_local::Names::new(
        &config.map(|c| c.names.clone()).unwrap_or_default(),
    ));
    names.check_files()?;
    let key = authbridge_local::SecretKey::load_or_create(&dir.secret_key_path())
        .with_context(|| format!("secret key {}", dir.secret_key_path().display()))?;
    Ok(Accounts {
        store,
        key: std::sync::Arc::new(key),
        revoke_on_reset: config.is_some_and(|c| c.revoke_app_passwords_on_reset),
        policy: config
            .map(|c| c.password_policy.clone())
            .unwrap_or_default(),
        config_path: config_path.to_owned(),
        data_dir: dir.path().to_owned(),
        mail: config.and_then(|c| c.mail.clone()),
        http_listen: config
            .map(|c| c.http.listen)
            .unwrap_or_else(|| authbridge_daemon::HttpSettings::default().listen),
        nss: config.map(|c| c.nss.clone()).unwrap_or_default(),
        names,
        twofactor: config.map(|c| c.twofactor.clone()).unwrap_or_default(),
    })
}

/// A change of users or groups committed by this command marks the daemon's
/// NSS cache file stale at once (as `sss_cache -E` does for SSSD): the modules
/// ask the daemon until it has published a new one.
fn mark_nss_cache_stale_on_change(store: &dyn authbridge_store::AccountStore, socket: &Path) {
    let dir = authbridge_nsscache::cache_dir(socket);
    store.on_directory_change(Box::new(move || {
        if let Err(e) = authbridge_nsscache::invalidate(&dir) {
            tracing::warn!(
                "the NSS cache in {} could not be marked stale: {e}",
                dir.display()
            );
        }
    }));
}

/// The config's `[nss]` id range into the store. A store shared by hosts
/// takes it from the first host that sets one; a host whose range differs
/// later is told so and the store's is kept (hosts that each wrote their own
/// would hand out ids from whichever started last).
fn configure_id_range(
    store: &dyn authbridge_store::AccountStore,
    range: authbridge_store::IdRange,
) -> anyhow::Result<()> {
    if !store.shared_by_hosts() {
        return Ok(store.set_id_range(range)?);
    }
    let stored = store.id_range()?;
    if stored == range {
        return Ok(());
    }
    if stored == authbridge_store::IdRange::default() {
        return Ok(store.set_id_range(range)?);
    }
    tracing::warn!(
        "[nss] id_min..id_max is {}..{} here, but {}..{} in the shared store, which is kept: give every host the same range",
        range.min,
        range.max,
        stored.min,
        stored.max
    );
    Ok(())
}

/// Opens the store for a user or group command and runs it.
pub fn with_store(
    config_path: &Path,
    location: &Location,
    socket: Option<PathBuf>,
    command: impl FnOnce(&Accounts) -> anyhow::Result<()>,
) -> Result<(), Failure> {
    let config = config::load_optional(config_path).map_err(anyhow::Error::from)?;
    let accounts = open(config_path, config.as_ref(), location)?;
    let configured = config.as_ref().and_then(|c| c.daemon.socket.clone());
    let socket = crate::serve::socket_path(socket, configured, &accounts.data_dir);
    mark_nss_cache_stale_on_change(&*accounts.store, &socket);
    command(&accounts)?;
    Ok(())
}
