//! `authbridge user sync-account-data`: occ's `user:sync-account-data`, for the
//! external accounts: what the configured backends tell without a password.

use anyhow::Result;
use authbridge_core::{Authenticator, BackendKind, Derived};
use authbridge_store::{LOCAL_BACKEND, Store, UserQuery};
use std::sync::Arc;

use crate::accounts::Accounts;
use crate::chains::external_chain;

/// The first configured external backend that serves `uid`, and what it says.
fn derived(backends: &[Arc<dyn Authenticator>], uid: &str) -> Option<(BackendKind, Derived)> {
    backends
        .iter()
        .find_map(|b| Some((b.kind(), b.derive(uid)?)))
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
    for user in users.iter().filter(|u| u.backend != LOCAL_BACKEND) {
        let Some((kind, derived)) = derived(chain.backends(), &user.uid) else {
            eprintln!("{} - no configured backend serves it", user.uid);
            continue;
        };
        if !derived.uid.eq_ignore_ascii_case(&user.uid) {
            // An account id is never renamed behind its owner's back.
            eprintln!(
                "{} - the {kind} backend now calls it {}: not renamed",
                user.uid, derived.uid
            );
            continue;
        }
        // Groups a backend derives are ordinary groups, never the admin role
        // (as at a login).
        let groups: Vec<String> = derived
            .groups
            .into_iter()
            .filter(|g| !g.eq_ignore_ascii_case(authbridge_local::ADMIN_GROUP))
            .collect();
        if store.sync_account(
            &user.uid,
            kind.as_str(),
            &groups,
            authbridge_core::clock::now(),
        )? {
            println!("{} - updated", user.uid);
        }
    }
    Ok(())
}
