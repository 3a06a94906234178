//! `authbridge twofactorauth ...`: second factors, as occ's `twofactorauth:*`
//! commands manage them, with occ's sentences.

mod defs;

pub use defs::{BackupCodesCommand, TotpCommand, TwoFactorCommand};

use anyhow::{Result, bail};
use authbridge_core::clock;
use authbridge_store::Enforcement;
use authbridge_twofactor::{Provider, TwoFactor, enforcement, qr};

use crate::accounts::Accounts;

pub fn run(accounts: &Accounts, command: TwoFactorCommand) -> Result<()> {
    let twofactor = TwoFactor::new(
        std::sync::Arc::clone(&accounts.store),
        &accounts.key,
        &accounts.twofactor.issuer,
    );
    match command {
        TwoFactorCommand::State { uid } => state(accounts, &twofactor, &uid),
        TwoFactorCommand::Enable { uid, provider_id } => {
            let uid = accounts.store.user(&uid)?.uid;
            match provider(&provider_id)? {
                Provider::Totp => set_up_totp(&twofactor, &uid, false, true),
                Provider::BackupCodes => {
                    if accounts.store.second_factors(&uid)?.backup_codes > 0 {
                        bail!(
                            "Two-factor provider backup_codes is already enabled for user {uid}; \
                             new codes: authbridge twofactorauth backup-codes generate {uid}"
                        );
                    }
                    println!("Two-factor provider backup_codes enabled for user {uid}.");
                    print_backup_codes(&twofactor, &uid)
                }
            }
        }
        TwoFactorCommand::Disable { uid, provider_id } => {
            let uid = accounts.store.user(&uid)?.uid;
            let provider = provider(&provider_id)?;
            twofactor.disable(&uid, provider)?;
            println!(
                "Two-factor provider {} disabled for user {uid}.",
                provider.id()
            );
            Ok(())
        }
        TwoFactorCommand::Enforce {
            on,
            off,
            group,
            exclude,
        } => enforce(accounts, on, off, group, exclude),
        TwoFactorCommand::Cleanup { provider_id } => {
            accounts.store.cleanup_provider(&provider_id)?;
            println!(
                "All user-provider associations for provider {provider_id} have been removed."
            );
            Ok(())
        }
        TwoFactorCommand::Totp {
            command: TotpCommand::Setup { uid, replace },
        } => {
            let uid = accounts.store.user(&uid)?.uid;
            set_up_totp(&twofactor, &uid, replace, false)
        }
        TwoFactorCommand::BackupCodes {
            command: BackupCodesCommand::Generate { uid },
        } => {
            let uid = accounts.store.user(&uid)?.uid;
            print_backup_codes(&twofactor, &uid)
        }
    }
}

fn provider(id: &str) -> Result<Provider> {
    match Provider::from_id(id) {
        Some(provider) => Ok(provider),
        None => bail!("The provider '{id}' does not exist (authbridge has backup_codes and totp)"),
    }
}

/// occ's `twofactorauth:state`, and a line when enforcement covers the user.
fn state(accounts: &Accounts, twofactor: &TwoFactor, uid: &str) -> Result<()> {
    let uid = accounts.store.user(uid)?.uid;
    let enabled = twofactor.enabled_providers(&uid)?;
    let on = if enabled.is_empty() {
        "not enabled"
    } else {
        "enabled"
    };
    println!("Two-factor authentication is {on} for user {uid}");
    let enforcement = accounts.store.enforcement()?;
    if enforcement::is_enforced_for(&enforcement, &accounts.store.user_groups(&uid)?) {
        println!("Two-factor authentication is enforced for user {uid}");
    }
    let (enabled, disabled): (Vec<Provider>, Vec<Provider>) =
        Provider::ALL.into_iter().partition(|p| enabled.contains(p));
    for (title, list) in [
        ("Enabled providers:", enabled),
        ("Disabled providers:", disabled),
    ] {
        if !list.is_empty() {
            println!("{title}");
            for provider in list {
                println!("- {}", provider.id());
            }
        }
    }
    Ok(())
}

fn enforce(
    accounts: &Accounts,
    on: bool,
    off: bool,
    groups: Vec<String>,
    excluded: Vec<String>,
) -> Result<()> {
    if on {
        for gid in groups.iter().chain(&excluded) {
            if !accounts.store.group_exists(gid)? {
                bail!("group {gid:?} does not exist: nothing was changed");
            }
        }
        accounts.store.set_enforcement(&Enforcement {
            enforced: true,
            groups,
            excluded,
        })?;
    } else if off {
        accounts.store.set_enforcement(&Enforcement::default())?;
    }
    println!("{}", enforcement::describe(&accounts.store.enforcement()?));
    Ok(())
}

/// A new TOTP secret, enabled at once, shown once: the URI, the secret for
/// typing, and a QR code.
fn set_up_totp(twofactor: &TwoFactor, uid: &str, replace: bool, occ_words: bool) -> Result<()> {
    if !replace && twofactor.enabled_providers(uid)?.contains(&Provider::Totp) {
        bail!(
            "Two-factor provider totp is already enabled for user {uid}; to give a new secret \
             (the old one stops working): authbridge twofactorauth totp setup --replace {uid}"
        );
    }
    let setup = twofactor.set_up_totp(uid, true, clock::now())?;
    if occ_words {
        println!("Two-factor provider totp enabled for user {uid}.");
    } else {
        println!("TOTP is set up for user {uid}: scan the code below, or type the secret.");
    }
    println!("URI: {}", setup.uri.as_str());
    println!("Secret: {}", setup.secret_base32.as_str());
    print!("{}", qr::terminal(&setup.uri));
    println!();
    Ok(())
}

fn print_backup_codes(twofactor: &TwoFactor, uid: &str) -> Result<()> {
    let codes = twofactor.generate_backup_codes(uid)?;
    println!(
        "Backup codes for {uid}, each usable once (they are not shown again; older codes no longer work):"
    );
    for code in &codes {
        println!("{}", code.as_str());
    }
    Ok(())
}
