//! `authbridge serve`: loads the config, opens the store, and runs the daemon.

use anyhow::Context;
use authbridge_daemon::{Bounded, Engine, LoadError, Server, Service};
use authbridge_local::Gate;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::accounts::Accounts;
use crate::config;
use crate::failure::Failure;

fn engine(config_path: &Path, accounts: &Accounts) -> Result<Engine, LoadError> {
    let loaded = config::load_optional_with_text(config_path).map_err(LoadError::new)?;
    let external =
        crate::chains::external_chain(config_path, loaded.as_ref().map(|(f, t)| (f, t.as_str())))
            .map_err(LoadError::new)?;
    let file = loaded.map(|(f, _)| f);
    let twofactor = file
        .as_ref()
        .map(|f| f.twofactor.clone())
        .unwrap_or_default();
    let settings = file.as_ref().map(|f| f.daemon.clone()).unwrap_or_default();
    let bounded =
        |b: &Arc<dyn authbridge_core::Authenticator>| -> Arc<dyn authbridge_core::Authenticator> {
            Arc::new(Bounded::new(
                Arc::clone(b),
                settings.max_concurrent_per_backend,
                settings.queue_per_backend,
            ))
        };
    let external = authbridge_core::Chain::new(external.backends().iter().map(bounded).collect());
    let chain = crate::chains::full_chain(accounts, &external, true);
    // Read again on SIGHUP, with the rest of the config.
    let names = Arc::new(authbridge_local::Names::watching(
        &file.as_ref().map(|f| f.names.clone()).unwrap_or_default(),
    ));
    names.check_files().map_err(LoadError::new)?;
    Ok(Engine {
        gate: Gate::new(
            chain,
            Arc::clone(&accounts.store),
            authbridge_core::clock::now,
            Arc::clone(&names),
        ),
        names,
        revoke_app_passwords_on_reset: file
            .as_ref()
            .is_some_and(|f| f.revoke_app_passwords_on_reset),
        throttle: file
            .as_ref()
            .map(|f| f.throttle.clone())
            .unwrap_or_default(),
        nss: file.as_ref().map(|f| f.nss.clone()).unwrap_or_default(),
        policy: file
            .as_ref()
            .map(|f| f.password_policy.clone())
            .unwrap_or_default(),
        mail: file.as_ref().and_then(|f| f.mail.clone()),
        twofactor: Arc::new(authbridge_twofactor::TwoFactor::new(
            Arc::clone(&accounts.store),
            &accounts.key,
            &twofactor.issuer,
        )),
        twofactor_setup_url: twofactor.setup_url_or(&accounts.public_base()),
        daemon: settings,
    })
}

/// The system installation (store in /var/lib/authbridge) listens where the modules
/// look by default; any other store (the embedded default, a test, a second
/// instance) keeps its socket beside it.
pub(crate) fn socket_path(
    given: Option<PathBuf>,
    configured: Option<PathBuf>,
    data_dir: &Path,
) -> PathBuf {
    given.or(configured).unwrap_or_else(|| {
        if authbridge_store::DataDir::resolve(Some(data_dir.to_owned()), None, false).is_system() {
            PathBuf::from(authbridge_proto::DEFAULT_SOCKET)
        } else {
            data_dir.join("authbridge.sock")
        }
    })
}

pub fn run(
    config_path: PathBuf,
    config_given: bool,
    location: &crate::accounts::Location,
    socket: Option<PathBuf>,
    listen: Option<std::net::SocketAddr>,
) -> Result<(), Failure> {
    // SAFETY: single-threaded here, before the runtime starts any thread.
    unsafe {
        std::env::set_var(
            std::ffi::OsStr::from_bytes(authbridge_proto::LOOP_GUARD.to_bytes()),
            "YES",
        )
    };
    if config_given && !config_path.exists() {
        return Err(Failure::config(format!(
            "{}: no such file",
            config_path.display()
        )));
    }
    let file = config::load_optional(&config_path).map_err(Failure::config)?;
    let log = file.as_ref().map(|f| f.log.clone()).unwrap_or_default();
    authbridge::logging::init("info", log.format);
    raise_descriptor_limit();
    let accounts = crate::accounts::open(&config_path, file.as_ref(), location)
        .map_err(|e| Failure::config(format!("{e:#}")))?;
    let accounts = Arc::new(accounts);
    let socket = socket_path(
        socket,
        file.as_ref().and_then(|f| f.daemon.socket.clone()),
        &accounts.data_dir,
    );
    let http_settings = file.as_ref().map(|f| f.http.clone()).unwrap_or_default();
    let metrics_listen = file.as_ref().and_then(|f| f.metrics.listen);
    let compat = file.as_ref().map(|f| f.ocs.compat).unwrap_or_default();
    let listen = listen.or(http_settings.enabled.then_some(http_settings.listen));
    // The first admin is for the HTTP API; without it nobody would need one.
    if listen.is_some() {
        first_admin(&accounts).context("cannot create the first admin account")?;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(async move {
        let loader_accounts = Arc::clone(&accounts);
        let loader_path = config_path.clone();
        let loader = Box::new(move || engine(&loader_path, &loader_accounts));
        let service = Service::new(loader, Arc::clone(&accounts.store)).map_err(Failure::config)?;
        let service = Arc::new(service);
        let server = Server::bind(&socket, Arc::clone(&service)).map_err(Failure::failed)?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let nss_changed = Arc::new(tokio::sync::Notify::new());
        watch_directory(&*accounts.store, &socket, Arc::clone(&nss_changed));
        let nss_cache = tokio::spawn(authbridge_daemon::publish_nss_cache(
            Arc::clone(&service),
            socket.clone(),
            nss_changed,
            stopped.clone(),
        ));
        let following = tokio::spawn(authbridge_daemon::follow_other_hosts(
            Arc::clone(&service),
            stopped.clone(),
        ));
        let http = match listen {
            Some(addr) => Some(
                start_http(
                    addr,
                    &http_settings,
                    compat,
                    Arc::clone(&service),
                    stopped.clone(),
                )
                .await?,
            ),
            None => None,
        };
        // Metrics are optional: a port someone else holds must not keep the
        // daemon, and with it PAM and NSS, from starting.
        let metrics = match metrics_listen {
            Some(addr) => match start_metrics(addr, stopped).await {
                Ok(task) => Some(task),
                Err(e) => {
                    tracing::warn!(%addr, "no metrics endpoint: {e}");
                    None
                }
            },
            None => None,
        };
        let result = server.run().await.map_err(Failure::failed);
        let _ = stop.send(true);
        let _ = nss_cache.await;
        let _ = following.await;
        for task in [http, metrics].into_iter().flatten() {
            let _ = tokio::time::timeout(service.request_timeout(), task).await;
        }
        result
    });
    // Backend checks abandoned at their request's timeout may still sit on blocking
    // threads until their own timeout; the process need not wait for them.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// Changes of users and groups made through this daemon mark the NSS cache
/// file stale at once and wake its publisher.
fn watch_directory(
    store: &dyn authbridge_store::AccountStore,
    socket: &Path,
    changed: Arc<tokio::sync::Notify>,
) {
    let dir = authbridge_nsscache::cache_dir(socket);
    store.on_directory_change(Box::new(move || {
        if let Err(e) = authbridge_nsscache::invalidate(&dir) {
            tracing::warn!("the NSS cache could not be marked stale: {e}");
        }
        changed.notify_one();
    }));
}

/// Binds the OCS API and serves it until `stopped` turns true (then drains).
async fn start_http(
    addr: std::net::SocketAddr,
    settings: &authbridge_daemon::HttpSettings,
    compat: authbridge_daemon::Compat,
    service: Arc<Service>,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, Failure> {
    use authbridge_daemon::http;
    let tls = match (&settings.tls_cert, &settings.tls_key) {
        (Some(cert), Some(key)) => Some(http::Tls::load(cert, key).map_err(Failure::config)?),
        (None, None) => None,
        _ => {
            return Err(Failure::config(
                "[http] needs both tls_cert and tls_key, or neither",
            ));
        }
    };
    let listener = http::bind(addr).await.map_err(Failure::failed)?;
    let bound = listener.local_addr().map_err(Failure::failed)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if !bound.ip().is_loopback() && tls.is_none() {
        tracing::warn!(%bound, "the OCS API listens beyond loopback without TLS: set [http] tls_cert and tls_key, or put a TLS proxy in front");
    }
    tracing::info!(%bound, %scheme, "OCS API listening");
    let base_url = format!("{scheme}://{bound}");
    let app = authbridge_daemon::ocs::router(Arc::new(authbridge_daemon::ocs::Ocs {
        service,
        base_url,
        trusted_proxies: settings.trusted_proxies.clone(),
        compat,
    }));
    let limits = http::Limits {
        max_connections: settings.max_connections,
        max_connections_per_client: settings.max_connections_per_client,
        header_timeout: settings.header_timeout,
        request_timeout: settings.request_timeout,
        trusted_proxies: settings.trusted_proxies.clone(),
    };
    Ok(tokio::spawn(http::serve(
        listener, app, tls, limits, stopped,
    )))
}

/// Binds the metrics endpoint and serves it until `stopped` turns true. Scrapers
/// are few: a handful of connections, each answered within seconds.
async fn start_metrics(
    addr: std::net::SocketAddr,
    stopped: tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<()>, Failure> {
    use authbridge_daemon::{http, metrics};
    let listener = http::bind(addr).await.map_err(Failure::failed)?;
    let bound = listener.local_addr().map_err(Failure::failed)?;
    if !bound.ip().is_loopback() {
        tracing::warn!(%bound, "the metrics listen beyond loopback, without TLS or authentication: they show backend names and login rates");
    }
    tracing::info!(%bound, "metrics listening");
    let app = metrics::router(metrics::BuildInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: env!("AUTHBRIDGE_GIT_COMMIT").to_owned(),
    });
    let limits = http::Limits {
        max_connections: 16,
        max_connections_per_client: 4,
        header_timeout: std::time::Duration::from_secs(5),
        request_timeout: std::time::Duration::from_secs(5),
        trusted_proxies: Vec::new(),
    };
    Ok(tokio::spawn(http::serve(
        listener, app, None, limits, stopped,
    )))
}

/// Where the first admin's generated password is written (mode 0600, in the
/// data directory): never on standard output, which systemd keeps in the journal.
pub const FIRST_ADMIN_PASSWORD_FILE: &str = "first-admin-password";

/// On first start of an empty store: an `admin` account in the admin group, its
/// generated password written once to a 0600 file in the data directory; only
/// the file's path is printed.
fn first_admin(accounts: &Accounts) -> anyhow::Result<()> {
    use authbridge_store::{NewUser, UserQuery};
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let empty = accounts
        .store
        .users(&UserQuery {
            limit: 1,
            ..UserQuery::default()
        })?
        .is_empty();
    if !empty {
        return Ok(());
    }
    if let Err(refusal) = accounts.names.check_user("admin") {
        // Some cloud images have a system user "admin": never shadow it.
        tracing::warn!(
            "no first admin created: {refusal}; create one with `authbridge user add -g admin NAME`"
        );
        return Ok(());
    }
    let password = zeroize::Zeroizing::new(authbridge_local::generate_app_password());
    let path = accounts.data_dir.join(FIRST_ADMIN_PASSWORD_FILE);
    // Written before the account exists: a failure leaves no admin nobody can use.
    let _ = std::fs::remove_file(&path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    writeln!(file, "{}", password.as_str())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    let created = accounts.store.create_user(
        &NewUser {
            uid: "admin".into(),
            backend: authbridge_store::LOCAL_BACKEND.into(),
            password_hash: Some(authbridge_local::hash_password(&password)),
            groups: vec![authbridge_local::ADMIN_GROUP.into()],
            ..NewUser::default()
        },
        authbridge_core::clock::now(),
    );
    if let Err(authbridge_store::StoreError::UserExists(_)) = created {
        // Another host on the same database made it first: its password is
        // in that host's data directory, not here.
        let _ = std::fs::remove_file(&path);
        return Ok(());
    }
    created?;
    println!(
        "authbridge: the store was empty; created the account \"admin\" (group admin); its password is in {} (mode 0600)",
        path.display()
    );
    println!(
        "authbridge: read it once, then delete the file and change the password with `authbridge user resetpassword admin`"
    );
    Ok(())
}

/// The soft limit on open descriptors up to the hard one (systemd's default soft
/// limit is 1024); the connection caps, not the limit, decide who gets a place.
fn raise_descriptor_limit() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 && limit.rlim_cur < limit.rlim_max
        {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!("cannot raise the open-file limit; staying at the soft limit");
            }
        }
    }
}
