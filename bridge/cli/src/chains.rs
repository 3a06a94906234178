//! Which authenticators a command asks, in which order: the external backends
//! of the config file, behind app passwords and local passwords.

use authbridge_core::{Authenticator, Chain};
use authbridge_local::{AppPasswords, LocalPasswords};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::config;

/// The configured external backends. `loaded` is the config if the caller read it
/// already; otherwise it is read if it exists (no file: no external backends).
pub fn external_chain(
    config_path: &Path,
    loaded: Option<(&config::ConfigFile, &str)>,
) -> Result<Chain, config::ConfigError> {
    let read;
    let config = match loaded {
        Some(c) => Some(c),
        None if config_path.exists() => {
            read = config::load(config_path)?;
            Some((&read.0, read.1.as_str()))
        }
        None => None,
    };
    match config {
        Some((file, text)) => config::build_chain(config_path, file, text, &smb_child),
        None => Ok(Chain::default()),
    }
}

/// App passwords (if asked for), local users, then the external backends, in order.
pub fn full_chain(
    accounts: &crate::accounts::Accounts,
    external: &Chain,
    with_app_passwords: bool,
) -> Chain {
    let mut backends: Vec<Arc<dyn Authenticator>> = Vec::new();
    if with_app_passwords {
        backends.push(Arc::new(AppPasswords::new(
            Arc::clone(&accounts.store),
            Arc::clone(&accounts.key),
            authbridge_core::clock::now,
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
