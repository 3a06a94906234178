//! `authbridge`: the command line of the authentication bridge.

mod accounts;
mod check;
mod output;
mod serve;

use authbridge::{config, import};
use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "authbridge",
    version,
    about = "Checks passwords against IMAP, SMB and FTP servers"
)]
struct Cli {
    /// Config file [default: /etc/authbridge/config.toml]
    #[arg(long, global = true, env = "AUTHBRIDGE_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,

    /// Where the store and the secret key live [default: the config's data_dir,
    /// else /var/lib/authbridge for root and ./authbridge-data otherwise]
    #[arg(long, global = true, env = "AUTHBRIDGE_DATA_DIR", value_name = "DIR")]
    data_dir: Option<PathBuf>,

    /// The daemon's socket [default: the config's [daemon] socket, else as
    /// `serve` says]; the NSS cache file lives beside it, and commands that
    /// change users or groups mark it stale
    #[arg(long, global = true, env = "AUTHBRIDGE_SOCKET", value_name = "PATH")]
    socket: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Check a user's password against the configured backends, in order.
    ///
    /// The password is read from the terminal without echo, or with
    /// --password-from-env from AUTHBRIDGE_PASSWORD; never from the command line.
    ///
    /// Exit codes: 0 accepted, 1 rejected, 2 unavailable (no backend accepted
    /// and at least one could not be asked), 3 configuration or usage error.
    #[command(verbatim_doc_comment)]
    Check {
        /// The login to check
        user: String,
        /// Read the password from the AUTHBRIDGE_PASSWORD environment variable
        #[arg(long)]
        password_from_env: bool,
    },
    /// Manage users (occ's user commands). Exit codes: 0 done, 1 failed.
    User {
        #[command(subcommand)]
        command: accounts::UserCommand,
    },
    /// Manage groups (occ's group commands). Exit codes: 0 done, 1 failed.
    Group {
        #[command(subcommand)]
        command: accounts::GroupCommand,
    },
    /// Run the daemon that answers the PAM and NSS modules.
    ///
    /// Listens on [daemon] socket (default /run/authbridge/authbridge.sock for the
    /// system store in /var/lib/authbridge, DATA_DIR/authbridge.sock for any other). SIGHUP reloads the config, SIGTERM
    /// stops after the requests in flight. Log level from AUTHBRIDGE_LOG (default info).
    /// Exit codes: 0 stopped by a signal, 3 configuration error, 1 runtime failure.
    #[command(verbatim_doc_comment)]
    Serve {
        /// Serve the OCS API and /auth/check on this address [default: [http] listen,
        /// else 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The SMB child process (started by authbridge itself; reads binary frames on stdin).
    #[cfg(feature = "smb")]
    #[command(hide = true)]
    SmbChild,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the authbridge TOML equivalent of a Nextcloud config.php's `user_backends`.
    ///
    /// Whatever cannot be converted as it stands is named on standard error.
    /// Exit codes: 0 converted, 3 the file cannot be read or has no user_backends.
    #[command(name = "import-nextcloud", verbatim_doc_comment)]
    ImportNextcloud {
        /// Path to Nextcloud's config/config.php
        config_php: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The daemon logs every decision; the commands only what goes wrong.
    let default_level = match cli.command {
        Command::Serve { .. } => "info",
        _ => "warn",
    };
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AUTHBRIDGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level)),
        )
        .init();
    let config_given = cli.config.is_some();
    let config_path = config::path_or_default(cli.config);
    match cli.command {
        Command::Check {
            user,
            password_from_env,
        } => check::run(
            config_path,
            config_given,
            cli.data_dir,
            &user,
            password_from_env,
        ),
        Command::Serve { listen } => {
            serve::run(config_path, config_given, cli.data_dir, cli.socket, listen)
        }
        Command::User { command } => with_store(&config_path, cli.data_dir, cli.socket, |s| {
            accounts::run_user(s, command)
        }),
        Command::Group { command } => with_store(&config_path, cli.data_dir, cli.socket, |s| {
            accounts::run_group(s, command)
        }),
        Command::Config {
            command: ConfigCommand::ImportNextcloud { config_php },
        } => import::run(&config_php),
        #[cfg(feature = "smb")]
        Command::SmbChild => ExitCode::from(authbridge_smb::child_main() as u8),
    }
}

/// The store and the app-password key, in the data directory (both created on
/// first use).
pub struct Accounts {
    pub store: std::sync::Arc<authbridge_store::SqliteStore>,
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
    /// The config's `[names]`: system names and deny lists.
    pub names: std::sync::Arc<authbridge_local::Names>,
}

/// `config` is the file at `config_path` as the caller read it (`None`: there is none).
pub fn open_store(
    config_path: &std::path::Path,
    config: Option<&config::ConfigFile>,
    data_dir: Option<PathBuf>,
) -> anyhow::Result<Accounts> {
    use anyhow::Context;
    let from_config = config.as_ref().and_then(|c| c.data_dir.clone());
    // SAFETY: geteuid has no preconditions and cannot fail.
    let is_root = unsafe { libc::geteuid() } == 0;
    let dir = authbridge_store::DataDir::resolve(data_dir, from_config, is_root);
    dir.ensure()?;
    let store = authbridge_store::SqliteStore::open(&dir.store_path())?;
    if let Some(c) = config {
        use authbridge_store::Directory;
        store.set_id_range(c.nss.id_range())?;
    }
    let names = std::sync::Arc::new(authbridge_local::Names::new(
        &config.map(|c| c.names.clone()).unwrap_or_default(),
    ));
    names.check_files()?;
    let key = authbridge_local::SecretKey::load_or_create(&dir.secret_key_path())
        .with_context(|| format!("secret key {}", dir.secret_key_path().display()))?;
    Ok(Accounts {
        store: std::sync::Arc::new(store),
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
        names,
    })
}

/// A change of users or groups committed by this command marks the daemon's
/// NSS cache file stale at once (as `sss_cache -E` does for SSSD): the modules
/// ask the daemon until it has published a new one.
fn mark_nss_cache_stale_on_change(store: &authbridge_store::SqliteStore, socket: &std::path::Path) {
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

fn with_store(
    config_path: &std::path::Path,
    data_dir: Option<PathBuf>,
    socket: Option<PathBuf>,
    command: impl FnOnce(&Accounts) -> anyhow::Result<()>,
) -> ExitCode {
    let opened = config::load_optional(config_path)
        .map_err(anyhow::Error::from)
        .and_then(|config| {
            let accounts = open_store(config_path, config.as_ref(), data_dir)?;
            let configured = config.as_ref().and_then(|c| c.daemon.socket.clone());
            let socket = serve::socket_path(socket, configured, &accounts.data_dir);
            mark_nss_cache_stale_on_change(&accounts.store, &socket);
            Ok(accounts)
        });
    match opened.and_then(|accounts| command(&accounts)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authbridge: {}", accounts::describe(&e));
            ExitCode::FAILURE
        }
    }
}
