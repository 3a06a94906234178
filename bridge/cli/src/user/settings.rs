//! A user's settings (per app) and profile fields, as occ's `user:setting` and
//! `user:profile`.

use anyhow::{Result, bail};
use authbridge_store::AccountStore;
use serde_json::{Map, Value, json};

use crate::output::{self, Format};

/// The settings Nextcloud keeps as preferences and authbridge on the account
/// itself, as occ's `user:setting` shows them.
const ACCOUNT_SETTINGS: [(&str, &str); 5] = [
    ("core", "enabled"),
    ("core", "lang"),
    ("files", "quota"),
    ("login", "lastLogin"),
    ("settings", "email"),
];

/// The account-held settings of `uid`, as (app, key, value).
fn account_settings(store: &dyn AccountStore, uid: &str) -> Result<Vec<(String, String, String)>> {
    let user = store.user(uid)?;
    let values = [
        Some(user.enabled.to_string()),
        user.language,
        user.quota,
        user.last_seen.map(|s| s.to_string()),
        user.email.filter(|e| !e.is_empty()),
    ];
    Ok(ACCOUNT_SETTINGS
        .iter()
        .zip(values)
        .filter_map(|((app, key), value)| Some((app.to_string(), key.to_string(), value?)))
        .collect())
}

/// Sets (or with `None` clears) an account-held setting on the account itself.
fn set_account_setting(
    store: &dyn AccountStore,
    uid: &str,
    app: &str,
    key: &str,
    value: Option<&str>,
) -> Result<()> {
    use authbridge_daemon::ocs::{language_is_valid, quota_spelling};
    match (app, key, value) {
        ("core", "lang", Some(lang)) if !language_is_valid(lang) => {
            bail!("{lang:?} is not a language code (de, pt_BR)")
        }
        ("core", "lang", lang) => store.set_language(uid, lang)?,
        ("files", "quota", Some(q)) => match quota_spelling(q) {
            Some(q) => store.set_quota(uid, Some(&q))?,
            None => bail!("{q:?} is not a quota (none, default, 5 GB)"),
        },
        ("files", "quota", None) => store.set_quota(uid, None)?,
        ("core", "enabled", Some("true")) => store.set_enabled(uid, true)?,
        ("core", "enabled", Some("false")) => store.set_enabled(uid, false)?,
        ("core", "enabled", _) => bail!("core enabled is true or false (user enable|disable)"),
        ("settings", "email", _) => {
            bail!("settings email is the account's address: user profile UID email ADDRESS")
        }
        _ => bail!("{app} {key} is kept on the account and moves by itself"),
    }
    Ok(())
}

pub(super) fn setting(
    store: &dyn AccountStore,
    uid: &str,
    app: Option<String>,
    key: Option<String>,
    value: Option<String>,
    delete: bool,
    output: Format,
) -> Result<()> {
    if let (Some(app), Some(key)) = (&app, &key)
        && (value.is_some() || delete)
        && ACCOUNT_SETTINGS.iter().any(|(a, k)| a == app && k == key)
    {
        return set_account_setting(store, uid, app, key, value.as_deref());
    }
    let all = |app: Option<&str>| -> Result<Vec<(String, String, String)>> {
        let mut all: Vec<_> = account_settings(store, uid)?
            .into_iter()
            .filter(|(a, _, _)| app.is_none_or(|app| a == app))
            .collect();
        all.extend(store.settings(uid, app)?);
        Ok(all)
    };
    match (app, key, value) {
        (Some(app), Some(key), Some(value)) => store.set_setting(uid, &app, &key, &value)?,
        (Some(app), Some(key), None) if delete => {
            if !store.delete_setting(uid, &app, &key)? {
                bail!("the setting {app} {key} does not exist for {uid}");
            }
        }
        (Some(app), Some(key), None) => {
            let all = all(Some(&app))?;
            match all.iter().find(|(_, k, _)| *k == key) {
                Some((_, _, v)) => println!("{v}"),
                None => bail!("the setting {app} {key} does not exist for {uid}"),
            }
        }
        (app, None, None) if !delete => {
            let mut apps = Map::new();
            for (a, k, v) in all(app.as_deref())? {
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

pub(super) fn profile(
    store: &dyn AccountStore,
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
