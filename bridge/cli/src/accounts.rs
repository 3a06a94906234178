//! occ's user and group commands, on authbridge's store.

use anyhow::{Context, Result, bail};
use authbridge_local::{PasswordPolicy, hash_password};
use authbridge_store::{
    AppPasswordStore, LOCAL_BACKEND, NewUser, SqliteStore, Store, StoreError, User, UserDataStore,
    UserQuery,
};
use clap::{Args, Subcommand};
use serde_json::{Map, Value, json};
use std::io::IsTerminal;

use crate::output::{self, Format};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a local user (the `Database` backend)
    Add(UserAdd),
    /// Delete a user, with their memberships, subadmin rights and app passwords
    Delete { uid: String },
    /// Disable a user: every way in fails from the next check on
    Disable { uid: String },
    /// Enable a disabled user
    Enable { uid: String },
    /// Show a user's details
    Info {
        uid: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// List users (SEARCH matches the id, display name or e-mail)
    List {
        #[command(flatten)]
        listing: Listing,
        /// Only disabled users
        #[arg(long)]
        disabled: bool,
    },
    /// Show when a user last logged in
    Lastseen {
        uid: Option<String>,
        /// All users
        #[arg(long)]
        all: bool,
    },
    /// Count users per backend, active and disabled
    Report,
    /// Read and change a user's settings (per app)
    Setting {
        uid: String,
        app: Option<String>,
        key: Option<String>,
        value: Option<String>,
        /// Delete the setting APP KEY
        #[arg(long, conflicts_with = "value")]
        delete: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Read and change a user's profile fields
    Profile {
        uid: String,
        field: Option<String>,
        value: Option<String>,
        /// Delete FIELD
        #[arg(long, conflicts_with = "value")]
        delete: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Manage a user's app passwords
    #[command(name = "auth-tokens", subcommand)]
    AuthTokens(TokenCommand),
    /// (deprecated) alias for `user auth-tokens add`
    #[command(name = "add-app-password")]
    AddAppPassword(TokenAdd),
    /// Mail the user a single-use link to set their password (the welcome mail).
    ///
    /// With --reset-password the current password stops working at once (app
    /// passwords stay): the link is the way back in. Needs [mail] in the config.
    #[command(verbatim_doc_comment)]
    Welcome {
        uid: String,
        #[arg(long)]
        reset_password: bool,
    },
    /// Set or clear a local user's password
    Resetpassword {
        uid: String,
        /// Read the password from OC_PASS
        #[arg(long)]
        password_from_env: bool,
        /// Clear the password (asks for confirmation on standard input)
        #[arg(long, conflicts_with = "password_from_env")]
        no_password: bool,
    },
}

#[derive(Args)]
pub struct UserAdd {
    uid: String,
    /// Read the password from OC_PASS
    #[arg(long)]
    password_from_env: bool,
    /// Set a random password that is never shown (with --email, a welcome mail is owed)
    #[arg(long, conflicts_with = "password_from_env")]
    generate_password: bool,
    #[arg(long)]
    display_name: Option<String>,
    /// Groups to join, created when missing (repeatable)
    #[arg(short, long = "group")]
    group: Vec<String>,
    #[arg(long)]
    email: Option<String>,
    /// An account of an external backend, known before its first login (sshd looks
    /// users up before it authenticates them); its password stays on that server
    #[arg(long, value_enum, conflicts_with_all = ["password_from_env", "generate_password"])]
    backend: Option<External>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum External {
    Imap,
    Smb,
    Ftp,
}

impl External {
    fn name(self) -> &'static str {
        use authbridge_core::BackendKind;
        match self {
            External::Imap => BackendKind::Imap.as_str(),
            External::Smb => BackendKind::Smb.as_str(),
            External::Ftp => BackendKind::Ftp.as_str(),
        }
    }
}

/// occ's list options, shared by `user list` and `group list`.
#[derive(Args)]
pub struct Listing {
    /// Only entries containing this
    search: Option<String>,
    #[arg(short, long, default_value_t = 500)]
    limit: usize,
    #[arg(short, long, default_value_t = 0)]
    offset: usize,
    /// Show each entry's details
    #[arg(short, long)]
    info: bool,
    #[arg(long, value_enum, default_value_t)]
    output: Format,
}

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an app password and print it once
    Add(TokenAdd),
    /// List a user's app passwords
    List {
        uid: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Delete one app password by id, or all last used before a date
    Delete {
        uid: String,
        /// The id shown by `user auth-tokens list`
        #[arg(
            required_unless_present = "last_used_before",
            conflicts_with = "last_used_before"
        )]
        id: Option<i64>,
        /// YYYY-MM-DD (UTC midnight)
        #[arg(long)]
        last_used_before: Option<String>,
    },
}

#[derive(Args)]
pub struct TokenAdd {
    uid: String,
    /// A name to recognise it by (e.g. the device)
    #[arg(long, default_value = "cli")]
    name: String,
    /// Prove the user's login password first, read from NC_PASS (checked by the
    /// local store or the configured backends, never by another app password)
    #[arg(long)]
    password_from_env: bool,
}

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Add a group
    Add { gid: String },
    /// Add a user to a group
    Adduser { gid: String, uid: String },
    /// Remove a user from a group
    Removeuser { gid: String, uid: String },
    /// Delete a group (not the admin group); its users stay
    Delete { gid: String },
    /// Show a group
    Info {
        gid: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// List groups and their members
    List {
        #[command(flatten)]
        listing: Listing,
    },
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

fn user_json(store: &SqliteStore, u: &User) -> Result<Value> {
    let groups = store.user_groups(&u.uid)?;
    let mut m = Map::new();
    m.insert("user_id".into(), json!(u.uid));
    m.insert(
        "display_name".into(),
        json!(u.display_name.clone().unwrap_or_else(|| u.uid.clone())),
    );
    m.insert("email".into(), json!(u.email.clone().unwrap_or_default()));
    m.insert("enabled".into(), json!(u.enabled));
    m.insert("groups".into(), json!(groups));
    m.insert(
        "quota".into(),
        json!(u.quota.clone().unwrap_or_else(|| "none".into())),
    );
    m.insert(
        "first_seen".into(),
        json!(
            u.first_seen
                .map(output::iso8601)
                .unwrap_or_else(|| "never".into())
        ),
    );
    m.insert(
        "last_seen".into(),
        json!(
            u.last_seen
                .map(output::iso8601)
                .unwrap_or_else(|| "never".into())
        ),
    );
    m.insert("backend".into(), json!(u.backend));
    Ok(Value::Object(m))
}

/// A new password from OC_PASS, or the terminal (asked twice), checked against the policy.
fn new_password(from_env: bool, policy: &PasswordPolicy) -> Result<String> {
    let password = if from_env {
        std::env::var("OC_PASS").context("--password-from-env given but OC_PASS is not set")?
    } else {
        if !std::io::stdin().is_terminal() {
            bail!("no terminal to ask for the password on; use --password-from-env (OC_PASS)");
        }
        let first = rpassword::prompt_password("Enter password: ")?;
        let second = rpassword::prompt_password("Confirm password: ")?;
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
fn generated_password() -> String {
    use rand::Rng;
    use rand::distributions::Alphanumeric;
    rand::rngs::OsRng
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

pub fn run_user(accounts: &crate::Accounts, command: UserCommand) -> Result<()> {
    let store: &SqliteStore = &accounts.store;
    let policy = &accounts.policy;
    match command {
        UserCommand::Add(a) => {
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
                    (LOCAL_BACKEND, Some(hash_password(&generated_password())))
                }
                None => (
                    LOCAL_BACKEND,
                    Some(hash_password(&new_password(a.password_from_env, policy)?)),
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
                now(),
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
            if user.welcome_pending {
                println!(
                    "Welcome email to {} is pending: send it with `authbridge user welcome {}`",
                    a.email.as_deref().unwrap_or_default(),
                    user.uid
                );
            }
        }
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
            output::print(output, &user_json(store, &user)?);
        }
        UserCommand::List {
            listing:
                Listing {
                    search,
                    limit,
                    offset,
                    info,
                    output,
                },
            disabled,
        } => {
            let users = store.users(&UserQuery {
                search,
                limit,
                offset,
                disabled_only: disabled,
            })?;
            let mut m = Map::new();
            for u in &users {
                let v = if info {
                    user_json(store, u)?
                } else {
                    json!(u.display_name.clone().unwrap_or_else(|| u.uid.clone()))
                };
                m.insert(u.uid.clone(), v);
            }
            output::print(output, &Value::Object(m));
        }
        UserCommand::Lastseen { uid, all } => {
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
        }
        UserCommand::Report => {
            let r = store.report()?;
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
            print!("{}", table(&rows));
        }
        UserCommand::Setting {
            uid,
            app,
            key,
            value,
            delete,
            output,
        } => setting(store, &uid, app, key, value, delete, output)?,
        UserCommand::Profile {
            uid,
            field,
            value,
            delete,
            output,
        } => profile(store, &uid, field, value, delete, output)?,
        UserCommand::AuthTokens(TokenCommand::Add(t)) => add_token(accounts, &t)?,
        UserCommand::AddAppPassword(t) => {
            eprintln!("user add-app-password is deprecated; use user auth-tokens add");
            add_token(accounts, &t)?;
        }
        UserCommand::AuthTokens(TokenCommand::List { uid, output }) => {
            let tokens = store.app_passwords(&uid)?;
            if output == Format::Plain {
                let mut rows =
                    vec![["id", "name", "lastActivity", "type", "scope"].map(String::from)];
                for t in &tokens {
                    rows.push([
                        t.id.to_string(),
                        t.name.clone(),
                        output::iso8601(t.last_activity),
                        "permanent".into(),
                        "filesystem".into(),
                    ]);
                }
                print!("{}", grid(&rows));
            } else {
                let list: Vec<Value> = tokens
                    .iter()
                    .map(|t| {
                        json!({"id": t.id, "name": t.name, "lastActivity": output::iso8601(t.last_activity),
                               "type": "permanent", "scope": "filesystem"})
                    })
                    .collect();
                output::print(output, &Value::Array(list));
            }
        }
        UserCommand::AuthTokens(TokenCommand::Delete {
            uid,
            id,
            last_used_before,
        }) => match (id, last_used_before) {
            (Some(id), None) => {
                if !store.delete_app_password(&uid, id)? {
                    bail!("{uid} has no app password with id {id}");
                }
            }
            (None, Some(date)) => {
                let before = parse_date(&date)?;
                let n = store.delete_app_passwords_before(&uid, before)?;
                println!("Deleted {n} app password(s) last used before {date}");
            }
            _ => bail!("give either an id or --last-used-before"),
        },
        UserCommand::Welcome {
            uid,
            reset_password,
        } => {
            let user = local_user(store, &uid)?;
            if reset_password {
                // A password nobody knows: only the link opens the account again.
                store.set_password_hash(&uid, Some(&hash_password(&generated_password())))?;
                revoke_if_configured(accounts, &uid)?;
            }
            let base_url = format!("http://{}", accounts.http_listen);
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(authbridge_daemon::mail::send_password_link(
                accounts.mail.as_ref(),
                store,
                &user.uid,
                &base_url,
            ))?;
            println!(
                "A link to set the password was mailed to {}",
                user.email.as_deref().unwrap_or_default()
            );
        }
        UserCommand::Resetpassword {
            uid,
            password_from_env,
            no_password,
        } => {
            local_user(store, &uid)?;
            if no_password {
                eprint!("Are you sure you want to clear the password for {uid}? [y/N] ");
                let mut answer = String::new();
                std::io::stdin().read_line(&mut answer)?;
                if !matches!(answer.trim(), "y" | "Y" | "yes") {
                    bail!("the password was not changed");
                }
                store.set_password_hash(&uid, None)?;
            } else {
                let password = new_password(password_from_env, policy)?;
                store.set_password_hash(&uid, Some(&hash_password(&password)))?;
            }
            println!("Successfully reset password for {uid}");
            revoke_if_configured(accounts, &uid)?;
        }
    }
    Ok(())
}

/// `revoke_app_passwords_on_reset`: a reset takes the user's app passwords along.
fn revoke_if_configured(accounts: &crate::Accounts, uid: &str) -> Result<()> {
    if accounts.revoke_on_reset {
        let n = accounts.store.delete_app_passwords_before(uid, i64::MAX)?;
        println!("Revoked {n} app password(s) of {uid}");
    }
    Ok(())
}

/// A user whose password authbridge keeps (not an IMAP, SMB or FTP account).
fn local_user(store: &SqliteStore, uid: &str) -> Result<authbridge_store::User> {
    let user = store.user(uid)?;
    if user.backend != LOCAL_BACKEND {
        bail!(
            "{uid} is a {} user: the password lives on that server; change it there, not here",
            user.backend
        );
    }
    Ok(user)
}

fn setting(
    store: &SqliteStore,
    uid: &str,
    app: Option<String>,
    key: Option<String>,
    value: Option<String>,
    delete: bool,
    output: Format,
) -> Result<()> {
    match (app, key, value) {
        (Some(app), Some(key), Some(value)) => store.set_setting(uid, &app, &key, &value)?,
        (Some(app), Some(key), None) if delete => {
            if !store.delete_setting(uid, &app, &key)? {
                bail!("the setting {app} {key} does not exist for {uid}");
            }
        }
        (Some(app), Some(key), None) => {
            let all = store.settings(uid, Some(&app))?;
            match all.iter().find(|(_, k, _)| *k == key) {
                Some((_, _, v)) => println!("{v}"),
                None => bail!("the setting {app} {key} does not exist for {uid}"),
            }
        }
        (app, None, None) if !delete => {
            let mut apps = Map::new();
            for (a, k, v) in store.settings(uid, app.as_deref())? {
                let entry = apps.entry(a).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = entry {
                    m.insert(k, json!(v));
                }
            }
            output::print(output, &Value::Object(apps));
        }
        _ => bail!("--delete needs an app and a key"),
    }
    Ok(())
}

fn profile(
    store: &SqliteStore,
    uid: &str,
    field: Option<String>,
    value: Option<String>,
    delete: bool,
    output: Format,
) -> Result<()> {
    let user = store.user(uid)?;
    // displayname and email live on the account itself; the rest in the profile table.
    let mut fields = Map::new();
    fields.insert(
        "displayname".into(),
        json!(
            user.display_name
                .clone()
                .unwrap_or_else(|| user.uid.clone())
        ),
    );
    fields.insert(
        "email".into(),
        json!(user.email.clone().unwrap_or_default()),
    );
    for (f, v) in store.profile(uid)? {
        fields.insert(f, json!(v));
    }
    match (field, value) {
        (Some(field), Some(value)) => match field.as_str() {
            "displayname" => store.set_display_name(uid, Some(&value))?,
            "email" => store.set_email(uid, Some(&value))?,
            _ => store.set_profile(uid, &field, &value)?,
        },
        (Some(field), None) if delete => {
            let existed = match field.as_str() {
                "displayname" => {
                    store.set_display_name(uid, None)?;
                    true
                }
                "email" => {
                    store.set_email(uid, None)?;
                    true
                }
                _ => store.delete_profile(uid, &field)?,
            };
            if !existed {
                bail!("the profile field {field} does not exist for {uid}");
            }
        }
        (Some(field), None) => match fields.get(&field) {
            Some(v) => println!("{}", v.as_str().unwrap_or_default()),
            None => bail!("the profile field {field} does not exist for {uid}"),
        },
        (None, None) if !delete => output::print(output, &Value::Object(fields)),
        _ => bail!("--delete needs a field"),
    }
    Ok(())
}

fn add_token(accounts: &crate::Accounts, t: &TokenAdd) -> Result<()> {
    let user = accounts.store.user(&t.uid)?;
    if t.password_from_env {
        let password =
            std::env::var("NC_PASS").context("--password-from-env given but NC_PASS is not set")?;
        let credentials = authbridge_core::Credentials::new(&user.uid, password.into())?;
        let external = crate::check::external_chain(&accounts.config_path, None)
            .map_err(|m| anyhow::anyhow!(m))?;
        let chain = crate::check::full_chain(accounts, &external, false);
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
    let token = authbridge_local::generate_app_password();
    accounts
        .store
        .add_app_password(&user.uid, &t.name, &accounts.key.hash(&token), now())?;
    println!("app password: {token}");
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

/// occ's table with a header row (`user:auth-tokens:list`).
fn grid<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let line = format!(
        "+{}+\n",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let mut out = line.clone();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c:<w$} "))
            .collect();
        out.push_str(&format!("|{}|\n", cells.join("|")));
        if i == 0 {
            out.push_str(&line);
        }
    }
    out.push_str(&line);
    out
}

/// occ's two-column table (`user:report`).
fn table(rows: &[(String, String)]) -> String {
    let w1 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let line = format!("+-{}-+-{}-+\n", "-".repeat(w1), "-".repeat(w2));
    let mut out = line.clone();
    for (i, (a, b)) in rows.iter().enumerate() {
        out.push_str(&format!("| {a:<w1$} | {b:<w2$} |\n"));
        if i == 0 {
            out.push_str(&line);
        }
    }
    out.push_str(&line);
    out
}

pub fn run_group(accounts: &crate::Accounts, command: GroupCommand) -> Result<()> {
    let store: &SqliteStore = &accounts.store;
    match command {
        GroupCommand::Add { gid } => {
            store.create_group(&gid, now())?;
            println!("Created group \"{gid}\"");
            if let Err(hidden) = accounts.names.check_export(&gid) {
                println!("Note: {hidden}");
            }
        }
        GroupCommand::Adduser { gid, uid } => {
            if !store.add_member(&gid, &uid)? {
                println!("{uid} is already a member of {gid}");
            }
        }
        GroupCommand::Removeuser { gid, uid } => {
            if !store.remove_member(&gid, &uid)? {
                bail!("{uid} is not a member of {gid}");
            }
        }
        GroupCommand::Delete { gid } => {
            store.delete_group(&gid)?;
            println!("Group \"{gid}\" was removed");
        }
        GroupCommand::Info { gid, output } => {
            let members = store.members(&gid)?;
            let v = json!({"groupID": gid, "displayName": gid, "backends": ["Database"], "members": members});
            output::print(output, &v);
        }
        GroupCommand::List {
            listing:
                Listing {
                    search,
                    limit,
                    offset,
                    info,
                    output,
                },
        } => {
            let mut m = Map::new();
            for gid in store.groups(search.as_deref(), limit, offset)? {
                let members = store.members(&gid)?;
                let v = if info {
                    json!({"displayName": gid, "backends": ["Database"], "users": members})
                } else {
                    json!(members)
                };
                m.insert(gid, v);
            }
            output::print(output, &Value::Object(m));
        }
    }
    Ok(())
}

/// Unknown users and groups are errors that name them (exit 1).
pub fn describe(e: &anyhow::Error) -> String {
    match e.downcast_ref::<StoreError>() {
        Some(StoreError::NoSuchUser(u)) => format!("user {u:?} does not exist"),
        Some(StoreError::NoSuchGroup(g)) => format!("group {g:?} does not exist"),
        _ => format!("{e:#}"),
    }
}
