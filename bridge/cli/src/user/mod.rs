//! `authbridge user ...`: occ's user commands on the store.

mod avatar;
mod defs;
mod passwords;
mod settings;
mod sync;

pub use defs::{UserAdd, UserCommand};

use anyhow::{Result, bail};
use authbridge_core::clock;
use authbridge_local::hash_password;
use authbridge_store::{LOCAL_BACKEND, NewUser, UserQuery};
use serde_json::{Map, Value, json};

use crate::accounts::Accounts;
use crate::defs::Listing;
use crate::output;
use crate::tokens;

pub fn run(accounts: &Accounts, command: UserCommand) -> Result<()> {
    let store = &*accounts.store;
    match command {
        UserCommand::Add(a) => add(accounts, &a)?,
        UserCommand::Delete { uid } => {
            store.delete_user(&uid)?;
            println!("The specified user was deleted");
        }
        UserCommand::Disable { uid } => {
            store.set_enabled(&uid, false)?;
            println!("The specified user is disabled");
        }
        UserCommand::Enable { uid } => {
            store.set_enabled(&uid, true)?;
            println!("The specified user is enabled");
        }
        UserCommand::Info { uid, output } => {
            let user = store.user(&uid)?;
            output::print(output, &output::user_json(store, &accounts.nss, &user)?);
        }
        UserCommand::List { listing, disabled } => list(accounts, listing, disabled)?,
        UserCommand::Lastseen { uid, all } => lastseen(accounts, uid, all)?,
        UserCommand::Report => report(accounts)?,
        UserCommand::Setting {
            uid,
            app,
            key,
            value,
            delete,
            output,
        } => settings::setting(store, &uid, app, key, value, delete, output)?,
        UserCommand::Profile {
            uid,
            field,
            value,
            delete,
            output,
        } => settings::profile(store, &uid, field, value, delete, output)?,
        UserCommand::AuthTokens(command) => tokens::run(accounts, command)?,
        UserCommand::AddAppPassword(t) => {
            eprintln!("user add-app-password is deprecated; use user auth-tokens add");
            tokens::add(accounts, &t)?;
        }
        UserCommand::Welcome {
            uid,
            reset_password,
        } => passwords::welcome(accounts, &uid, reset_password)?,
        UserCommand::Avatar(command) => avatar::run(store, command)?,
        UserCommand::ClearAvatarCache => avatar::clear_cache(),
        UserCommand::SyncAccountData { limit, offset } => sync::run(accounts, limit, offset)?,
        UserCommand::Resetpassword {
            uid,
            password_from_env,
            no_password,
        } => passwords::reset(accounts, &uid, password_from_env, no_password)?,
    }
    Ok(())
}

fn add(accounts: &Accounts, a: &UserAdd) -> Result<()> {
    let store = &*accounts.store;
    let policy = &accounts.policy;
    authbridge_store::validate_uid(&a.uid)?;
    accounts.names.check_user(&a.uid)?;
    if store.user(&a.uid).is_ok() {
        bail!("the user {:?} already exists", a.uid);
    }
    let (backend, password_hash) = match a.backend {
        Some(external) => {
            if a.uid != authbridge_core::canonical_uid(&a.uid) {
                bail!(
                    "external accounts are named as their backend names them: {:?}, not {:?}",
                    authbridge_core::canonical_uid(&a.uid),
                    a.uid
                );
            }
            (external.name(), None)
        }
        None if a.generate_password => {
            (LOCAL_BACKEND, Some(hash_password(&passwords::generated())))
        }
        None => (
            LOCAL_BACKEND,
            Some(hash_password(&passwords::new_password(
                a.password_from_env,
                policy,
            )?)),
        ),
    };
    let user = store.create_user(
        &NewUser {
            uid: a.uid.clone(),
            display_name: a.display_name.clone(),
            email: a.email.clone(),
            backend: backend.into(),
            password_hash,
            welcome_pending: a.generate_password && a.email.is_some(),
            groups: a.group.clone(),
            ..NewUser::default()
        },
        clock::now(),
    )?;
    println!("The account \"{}\" was created successfully", user.uid);
    if let Some(name) = &a.display_name {
        println!("Display name set to \"{name}\"");
    }
    for gid in &a.group {
        println!("Account \"{}\" added to group \"{gid}\"", user.uid);
        if let Err(hidden) = accounts.names.check_export(gid) {
            println!("Note: {hidden}");
        }
    }
    let email = a.email.as_deref().unwrap_or_default();
    // As occ: with a mail relay configured, the welcome mail (a link to set the
    // password) goes out at once; a relay that fails leaves the account made.
    if accounts.mail.is_some() && !email.is_empty() && backend == LOCAL_BACKEND {
        if let Err(e) = passwords::welcome(accounts, &user.uid, false) {
            eprintln!(
                "The welcome email to {email} could not be sent ({e}): send it with `authbridge user welcome {}`",
                user.uid
            );
        }
    } else if user.welcome_pending {
        println!(
            "Welcome email to {email} is pending: send it with `authbridge user welcome {}`",
            user.uid
        );
    }
    Ok(())
}

fn list(accounts: &Accounts, listing: Listing, disabled: bool) -> Result<()> {
    let store = &*accounts.store;
    let Listing {
        search,
        limit,
        offset,
        info,
        output,
    } = listing;
    let users = store.users(&UserQuery {
        search,
        limit,
        offset,
        disabled_only: disabled,
    })?;
    let mut m = Map::new();
    let progress = crate::progress::Progress::over(users.len(), "users");
    for u in &users {
        progress.inc();
        let v = if info {
            output::user_json(store, &accounts.nss, u)?
        } else {
            json!(u.display_name.clone().unwrap_or_else(|| u.uid.clone()))
        };
        m.insert(u.uid.clone(), v);
    }
    // Cleared before the output, which must not start on the bar's line.
    drop(progress);
    output::print(output, &Value::Object(m));
    Ok(())
}

fn lastseen(accounts: &Accounts, uid: Option<String>, all: bool) -> Result<()> {
    let store = &*accounts.store;
    let users = match (uid, all) {
        (Some(uid), false) => vec![store.user(&uid)?],
        (None, true) => store.users(&UserQuery {
            limit: usize::MAX >> 1,
            ..UserQuery::default()
        })?,
        _ => bail!("give either a user id or --all"),
    };
    for u in users {
        match u.last_seen {
            Some(ts) => println!("{}'s last login: {}", u.uid, output::minutes(ts)),
            None => println!("{} has never logged in.", u.uid),
        }
    }
    Ok(())
}

fn report(accounts: &Accounts) -> Result<()> {
    let r = accounts.store.report()?;
    let mut rows: Vec<(String, String)> = vec![("User Report".into(), String::new())];
    rows.extend(
        r.per_backend
            .iter()
            .map(|(b, n)| (b.clone(), n.to_string())),
    );
    rows.push((String::new(), String::new()));
    rows.push(("total users".into(), r.total.to_string()));
    rows.push((String::new(), String::new()));
    rows.push(("active users".into(), r.active.to_string()));
    rows.push(("disabled users".into(), r.disabled.to_string()));
    print!("{}", output::table(&rows));
    Ok(())
}
