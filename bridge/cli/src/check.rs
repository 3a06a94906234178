//! `authbridge check USER`.

use authbridge_core::{Authenticator, Chain, Credentials, Outcome, SecretString, Verdict};
use authbridge_local::{AppPasswords, Gate, LocalPasswords};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::config;

const ACCEPTED: u8 = 0;
const REJECTED: u8 = 1;
const UNAVAILABLE: u8 = 2;
const CONFIG_ERROR: u8 = 3;

pub fn run(
    config_path: PathBuf,
    config_given: bool,
    data_dir: Option<PathBuf>,
    user: &str,
    password_from_env: bool,
) -> ExitCode {
    // Without --config, a missing default file means "no external backends":
    // local users and app passwords still work on the embedded default.
    let loaded = if config_given || config_path.exists() {
        match config::load(&config_path) {
            Ok(loaded) => Some(loaded),
            Err(e) => return fail(CONFIG_ERROR, &e.to_string()),
        }
    } else {
        None
    };
    // Every configuration error is found before anything is written.
    let external = match external_chain(&config_path, loaded.as_ref().map(|(f, t)| (f, t.as_str())))
    {
        Ok(chain) => chain,
        Err(message) => return fail(CONFIG_ERROR, &message),
    };
    let accounts = match crate::open_store(&config_path, loaded.as_ref().map(|(f, _)| f), data_dir)
    {
        Ok(accounts) => accounts,
        Err(e) => return fail(CONFIG_ERROR, &format!("{e:#}")),
    };
    let chain = full_chain(&accounts, &external, true);
    // Asked only once the configuration is known to be good.
    let password = match read_password(password_from_env) {
        Ok(p) => p,
        Err(message) => return fail(CONFIG_ERROR, &message),
    };
    // Refused before any network I/O: CR, LF, NUL or empty parts.
    let credentials = match Credentials::new(user, password) {
        Ok(c) => c,
        Err(e) => {
            println!("rejected: {e}");
            return ExitCode::from(REJECTED);
        }
    };
    let gate = Gate::new(
        chain,
        Arc::clone(&accounts.store),
        crate::accounts::now,
        Arc::clone(&accounts.names),
    );
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            return fail(
                CONFIG_ERROR,
                &format!("cannot start the async runtime: {e}"),
            );
        }
    };
    let decision = runtime.block_on(gate.authenticate(&credentials));
    for attempt in &decision.attempts {
        println!(
            "{}: {} ({} ms)",
            attempt.backend,
            attempt.verdict,
            attempt.elapsed.as_millis()
        );
    }
    match decision.outcome {
        Outcome::Accepted {
            backend, uid, kind, ..
        } => {
            println!("accepted by {backend} ({kind}) as {uid}");
            ExitCode::from(ACCEPTED)
        }
        Outcome::Rejected => {
            println!("rejected");
            ExitCode::from(REJECTED)
        }
        Outcome::Unavailable => {
            let down = decision
                .attempts
                .iter()
                .filter(|a| matches!(a.verdict, Verdict::Unavailable { .. }))
                .count();
            println!("unavailable: no backend accepted and {down} could not be asked");
            ExitCode::from(UNAVAILABLE)
        }
    }
}

fn read_password(from_env: bool) -> Result<SecretString, String> {
    if from_env {
        return match std::env::var("AUTHBRIDGE_PASSWORD") {
            Ok(p) => Ok(SecretString::from(p)),
            Err(_) => {
                Err("--password-from-env: AUTHBRIDGE_PASSWORD is not set (or not UTF-8)".into())
            }
        };
    }
    rpassword::prompt_password("Password: ")
        .map(SecretString::from)
        .map_err(|e| {
            format!("cannot read the password from the terminal ({e}); use --password-from-env")
        })
}

/// The configured external backends. `loaded` is the config if the caller read it
/// already; otherwise it is read if it exists (no file: no external backends).
pub fn external_chain(
    config_path: &std::path::Path,
    loaded: Option<(&config::ConfigFile, &str)>,
) -> Result<Chain, String> {
    let read;
    let config = match loaded {
        Some(c) => Some(c),
        None if config_path.exists() => {
            read = config::load(config_path).map_err(|e| e.to_string())?;
            Some((&read.0, read.1.as_str()))
        }
        None => None,
    };
    match config {
        Some((file, text)) => {
            config::build_chain(config_path, file, text, &smb_child).map_err(|e| e.to_string())
        }
        None => Ok(Chain::default()),
    }
}

/// App passwords (if asked for), local users, then the external backends, in order.
pub fn full_chain(accounts: &crate::Accounts, external: &Chain, with_app_passwords: bool) -> Chain {
    let mut backends: Vec<Arc<dyn Authenticator>> = Vec::new();
    if with_app_passwords {
        backends.push(Arc::new(AppPasswords::new(
            Arc::clone(&accounts.store),
            Arc::clone(&accounts.key),
            crate::accounts::now,
        )));
    }
    backends.push(Arc::new(LocalPasswords::new(Arc::clone(&accounts.store))));
    backends.extend(external.backends().iter().cloned());
    Chain::new(backends)
}

/// The SMB child is this same program with the hidden `smb-child` subcommand.
fn smb_child() -> std::io::Result<(PathBuf, Vec<String>)> {
    Ok((std::env::current_exe()?, vec!["smb-child".to_owned()]))
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("authbridge: {message}");
    ExitCode::from(code)
}
