//! Passwords set from the command line: asked, generated, reset, or replaced by
//! a mailed link.

use anyhow::{Context, Result, bail};
use authbridge_local::{PasswordPolicy, hash_password};
use authbridge_store::{AccountStore, LOCAL_BACKEND};
use std::io::IsTerminal;
use zeroize::Zeroizing;

use crate::accounts::Accounts;

/// A new password from OC_PASS, or the terminal (asked twice), checked against
/// the policy. Every copy is wiped when dropped.
pub(super) fn new_password(from_env: bool, policy: &PasswordPolicy) -> Result<Zeroizing<String>> {
    let password = if from_env {
        Zeroizing::new(
            std::env::var("OC_PASS").context("--password-from-env given but OC_PASS is not set")?,
        )
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to ask for the password on; use --password-from-env (OC_PASS)");
        }
        let first = Zeroizing::new(rpassword::prompt_password("Enter password: ")?);
        let second = Zeroizing::new(rpassword::prompt_password("Confirm password: ")?);
        if first != second {
            bail!("the passwords do not match");
        }
        first
    };
    authbridge_core::usable_password(&password)?;
    let broken = policy.violations(&password);
    if !broken.is_empty() {
        let rules: Vec<String> = broken.iter().map(ToString::to_string).collect();
        bail!("password refused by the policy: {}", rules.join("; "));
    }
    Ok(password)
}

/// 32 characters from a 62-letter alphabet (about 190 bits) from the OS CSPRNG.
pub(super) fn generated() -> Zeroizing<String> {
    Zeroizing::new(authbridge_local::random_alphanumeric(32))
}

/// `revoke_app_passwords_on_reset`: a reset takes the user's app passwords along.
fn revoke_if_configured(accounts: &Accounts, uid: &str) -> Result<()> {
    if accounts.revoke_on_reset {
        let n = accounts.store.delete_app_passwords_before(uid, i64::MAX)?;
        println!("Revoked {n} app password(s) of {uid}");
    }
    Ok(())
}

/// A user whose password authbridge keeps (not an IMAP, SMB or FTP account).
fn local_user(store: &dyn AccountStore, uid: &str) -> Result<authbridge_store::User> {
    let user = store.user(uid)?;
    if user.backend != LOCAL_BACKEND {
        bail!(
            "{uid} is a {} user: the password lives on that server; change it there, not here",
            user.backend
        );
    }
    Ok(user)
}

/// Mails the user a single-use link to set their password (with `reset`, the
/// current password stops working first).
pub(super) fn welcome(accounts: &Accounts, uid: &str, reset: bool) -> Result<()> {
    let store = &*accounts.store;
    let user = local_user(store, uid)?;
    if reset {
        // A password nobody knows: only the link opens the account again.
        store.set_password_hash(uid, Some(&hash_password(&generated())))?;
        revoke_if_configured(accounts, uid)?;
    }
    let base_url = format!("http://{}", accounts.http_listen);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(authbridge_daemon::send_password_link(
        accounts.mail.as_ref(),
        store,
        &user.uid,
        &base_url,
    ))?;
    println!(
        "A link to set the password was mailed to {}",
        user.email.as_deref().unwrap_or_default()
    );
    Ok(())
}

/// Sets a new password (asked or from OC_PASS), or clears it.
pub(super) fn reset(
    accounts: &Accounts,
    uid: &str,
    password_from_env: bool,
    no_password: bool,
) -> Result<()> {
    let store = &*accounts.store;
    let policy = &accounts.policy;
    local_user(store, uid)?;
    if no_password {
        eprint!("Are you sure you want to clear the password for {uid}? [y/N] ");
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            bail!("the password was not changed");
        }
        store.set_password_hash(uid, None)?;
    } else {
        let password = new_password(password_from_env, policy)?;
        store.set_password_hash(uid, Some(&hash_password(&password)))?;
    }
    println!("Successfully reset password for {uid}");
    revoke_if_configured(accounts, uid)?;
    Ok(())
}
