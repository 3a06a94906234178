//! `authbridge user sync-account-data`: occ's `user:sync-account-data`, for the
//! external accounts: what each account's own backend tells without a password
//! (the groups it derives, IMAP's group_domain).

use anyhow::Result;
use authbridge_core::{Authenticator, Derived};
use authbridge_store::{LOCAL_BACKEND, UserQuery};
use std::sync::Arc;

use crate::accounts::Accounts;
use crate::chains::external_chain;

/// What the account's own backend (the first configured one of its kind that
/// serves it) says of it. Another backend is never asked: a mail server that
/// knows the same name is another person (each account belongs to one backend).
fn derived(backends: &[Arc<dyn Authenticator>], backend: &str, uid: &str) -> Option<Derived> {
    backends
        .iter()
        .filter(|b| b.kind().as_str() == backend)
        .find_map(|b| b.derive(uid))
}

pub(super) fn run(accounts: &Accounts, limit: Option<usize>, offset: usize) -> Result<()> {
    let store = &*accounts.store;
    let chain = external_chain(&accounts.config_path, None)?;
    let users = store.users(&UserQuery {
        search: None,
        limit: limit.unwrap_or(usize::MAX >> 1),
        offset,
        disabled_only: false,
    })?;
    let external: Vec<_> = users
        .iter()
        .filter(|u| u.backend != LOCAL_BACKEND)
        .collect();
    let progress = crate::progress::Progress::over(external.len(), "accounts");
    for user in external {
        progress.inc();
        let Some(derived) = derived(chain.backends(), &user.backend, &user.uid) else {
            progress.suspend(|| {
                eprintln!(
                    "{} - no configured {} backend serves it",
                    user.uid, user.backend
                )
            });
            continue;
        };
        if !derived.uid.eq_ignore_ascii_case(&user.uid) {
            // An account id is never renamed behind its owner's back.
            progress.suspend(|| {
                eprintln!(
                    "{} - the {} backend now calls it {}: not renamed",
                    user.uid, user.backend, derived.uid
                )
            });
            continue;
        }
        // Groups a backend derives are ordinary groups, never the admin role
        // (as at a login).
        let groups: Vec<String> = derived
            .groups
            .into_iter()
            .filter(|g| !g.eq_ignore_ascii_case(authbridge_local::ADMIN_GROUP))
            .collect();
        if store.sync_account(&user.uid, &groups, authbridge_core::clock::now())? {
            progress.suspend(|| println!("{} - updated", user.uid));
        }
    }
    Ok(())
}
