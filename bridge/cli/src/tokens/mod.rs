//! `authbridge user auth-tokens ...`: app passwords, as occ's `user:auth-tokens`.

mod defs;

pub use defs::{TokenAdd, TokenCommand};

use anyhow::{Context, Result, bail};
use authbridge_core::clock;
use serde_json::{Value, json};

use crate::accounts::Accounts;
use crate::output::{self, Format};

pub fn run(accounts: &Accounts, command: TokenCommand) -> Result<()> {
    match command {
        TokenCommand::Add(t) => add(accounts, &t),
        TokenCommand::List { uid, output } => list(accounts, &uid, output),
        TokenCommand::Delete {
            uid,
            id,
            last_used_before,
        } => delete(accounts, &uid, id, last_used_before),
    }
}

/// Creates an app password and prints it once.
pub fn add(accounts: &Accounts, t: &TokenAdd) -> Result<()> {
    let user = accounts.store.user(&t.uid)?;
    if t.password_from_env {
        let password = authbridge_core::SecretString::from(
            std::env::var("NC_PASS").context("--password-from-env given but NC_PASS is not set")?,
        );
        let credentials = authbridge_core::Credentials::new(&user.uid, password)?;
        let external = crate::chains::external_chain(&accounts.config_path, None)?;
        let chain = crate::chains::full_chain(accounts, &external, false);
        let decision = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(chain.authenticate(&credentials));
        match decision.outcome {
            authbridge_core::Outcome::Accepted { uid, .. }
                if uid.eq_ignore_ascii_case(&user.uid) => {}
            authbridge_core::Outcome::Unavailable => {
                bail!(
                    "could not check {}'s password: a backend was unavailable",
                    user.uid
                )
            }
            _ => bail!("the password given in NC_PASS is not {}'s", user.uid),
        }
    }
    let token = zeroize::Zeroizing::new(authbridge_local::generate_app_password());
    accounts.store.add_app_password(
        &user.uid,
        &t.name,
        &accounts.key.hash(&token),
        clock::now(),
    )?;
    println!("app password: {}", token.as_str());
    Ok(())
}

fn list(accounts: &Accounts, uid: &str, format: Format) -> Result<()> {
    let tokens = accounts.store.app_passwords(uid)?;
    if format == Format::Plain {
        let mut rows = vec![["id", "name", "lastActivity", "type", "scope"].map(String::from)];
        for t in &tokens {
            rows.push([
                t.id.to_string(),
                t.name.clone(),
                output::iso8601(t.last_activity),
                "permanent".into(),
                "filesystem".into(),
            ]);
        }
        print!("{}", output::grid(&rows));
    } else {
        let list: Vec<Value> = tokens
            .iter()
            .map(|t| {
                json!({"id": t.id, "name": t.name, "lastActivity": output::iso8601(t.last_activity),
                       "type": "permanent", "scope": "filesystem"})
            })
            .collect();
        output::print(format, &Value::Array(list));
    }
    Ok(())
}

fn delete(
    accounts: &Accounts,
    uid: &str,
    id: Option<i64>,
    last_used_before: Option<String>,
) -> Result<()> {
    let store = &accounts.store;
    match (id, last_used_before) {
        (Some(id), None) => {
            if !store.delete_app_password(uid, id)? {
                bail!("{uid} has no app password with id {id}");
            }
        }
        (None, Some(date)) => {
            let before = parse_date(&date)?;
            let n = store.delete_app_passwords_before(uid, before)?;
            println!("Deleted {n} app password(s) last used before {date}");
        }
        _ => bail!("give either an id or --last-used-before"),
    }
    Ok(())
}

/// "YYYY-MM-DD" as the Unix time of that day's midnight, UTC.
fn parse_date(text: &str) -> Result<i64> {
    let date = time::Date::parse(
        text,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| anyhow::anyhow!("{text:?} is not a date like 2024-01-31"))?;
    Ok(date.midnight().assume_utc().unix_timestamp())
}
