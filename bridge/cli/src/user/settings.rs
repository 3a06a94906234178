//! A user's settings (per app) and profile fields, as occ's `user:setting` and
//! `user:profile`.

use anyhow::{Result, bail};
use authbridge_store::{SqliteStore, Store, UserDataStore};
use serde_json::{Map, Value, json};

use crate::output::{self, Format};

pub(super) fn setting(
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

pub(super) fn profile(
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
