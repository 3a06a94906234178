//! A user as the OCS API shows one: Nextcloud's `getUserData` (every field
//! nc_py_api's `UserInfo` reads), serialised from one struct.

use authbridge_store::{LOCAL_BACKEND, User};
use authbridge_twofactor::Requirement;
use serde::Serialize;
use std::collections::HashMap;

use super::envelope::Reply;
use super::{Ctx, fields};

/// The free-text profile properties, in Nextcloud's order, each with a scope.
pub const PROFILE_TEXT: [&str; 9] = [
    "phone",
    "address",
    "website",
    "twitter",
    "fediverse",
    "organisation",
    "role",
    "headline",
    "biography",
];

/// Properties whose scope may be set, and each one's default (Nextcloud's
/// `AccountManager::DEFAULT_SCOPES`: name, e-mail, avatar and pronouns are
/// federated, the rest stay on this server).
pub fn default_scope(property: &str) -> &'static str {
    match property {
        "displayname" | "email" | "avatar" | "pronouns" => "v2-federated",
        _ => "v2-local",
    }
}

/// Where a property's scope is kept in the profile table.
pub fn scope_key(property: &str) -> String {
    format!("{property}Scope")
}

/// The additional addresses are one profile entry holding a JSON list.
pub const ADDITIONAL_MAIL: &str = "additional_mail";

#[derive(Debug, Serialize)]
pub struct Quota {
    pub free: i64,
    pub used: i64,
    pub total: i64,
    pub relative: f64,
    pub quota: i64,
}

impl Quota {
    /// authbridge keeps no files: nothing is used, all of the quota is free.
    fn of(stored: Option<&str>) -> Quota {
        let quota = fields::quota_bytes(stored);
        Quota {
            free: quota,
            used: 0,
            total: quota,
            relative: 0.0,
            quota,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct BackendCapabilities {
    #[serde(rename = "setDisplayName")]
    pub set_display_name: bool,
    #[serde(rename = "setPassword")]
    pub set_password: bool,
}

#[derive(Debug, Serialize)]
pub struct UserData {
    /// Only to those who manage the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// Only to admins: the home directory the NSS module gives the account.
    #[serde(rename = "storageLocation", skip_serializing_if = "Option::is_none")]
    pub storage_location: Option<String>,
    pub id: String,
    /// Unix seconds of the first and the latest login, 0 for never.
    #[serde(rename = "firstLoginTimestamp")]
    pub first_login_timestamp: i64,
    #[serde(rename = "lastLoginTimestamp")]
    pub last_login_timestamp: i64,
    /// Milliseconds, 0 for never.
    #[serde(rename = "lastLogin")]
    pub last_login: i64,
    pub backend: String,
    pub subadmin: Vec<String>,
    pub quota: Quota,
    pub manager: String,
    #[serde(rename = "avatarScope", skip_serializing_if = "Option::is_none")]
    pub avatar_scope: Option<String>,
    pub email: Option<String>,
    #[serde(rename = "emailScope", skip_serializing_if = "Option::is_none")]
    pub email_scope: Option<String>,
    pub additional_mail: Vec<String>,
    #[serde(
        rename = "additional_mailScope",
        skip_serializing_if = "Option::is_none"
    )]
    pub additional_mail_scope: Option<Vec<String>>,
    pub displayname: String,
    #[serde(rename = "display-name")]
    pub display_name_legacy: String,
    #[serde(rename = "displaynameScope", skip_serializing_if = "Option::is_none")]
    pub displayname_scope: Option<String>,
    /// phone ... biography, each followed by its `…Scope` (see `flatten_profile`).
    #[serde(flatten)]
    pub profile: serde_json::Map<String, serde_json::Value>,
    /// `1` or `0`, a string as Nextcloud has it.
    pub profile_enabled: String,
    #[serde(
        rename = "profile_enabledScope",
        skip_serializing_if = "Option::is_none"
    )]
    pub profile_enabled_scope: Option<String>,
    pub pronouns: String,
    #[serde(rename = "pronounsScope", skip_serializing_if = "Option::is_none")]
    pub pronouns_scope: Option<String>,
    pub birthdate: String,
    pub groups: Vec<String>,
    pub language: String,
    pub locale: String,
    pub notify_email: Option<String>,
    #[serde(rename = "backendCapabilities")]
    pub backend_capabilities: BackendCapabilities,
    /// authbridge's own: a login with the password asks for a second factor
    /// (Nextcloud has no such key). To the user and whoever manages them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub two_factor_auth_enabled: Option<bool>,
}

/// The additional addresses stored for a user, and their scopes (same order).
pub fn additional_mail(profile: &HashMap<String, String>) -> (Vec<String>, Vec<String>) {
    let list = |key: &str| -> Vec<String> {
        profile
            .get(key)
            .and_then(|v| serde_json::from_str(v).ok())
            .unwrap_or_default()
    };
    let addresses = list(ADDITIONAL_MAIL);
    let mut scopes = list(&scope_key(ADDITIONAL_MAIL));
    scopes.resize(addresses.len(), default_scope(ADDITIONAL_MAIL).to_owned());
    (addresses, scopes)
}

/// What `GET /cloud/users/{id}` and `GET /cloud/user` answer. Scopes are shown
/// to the user themself only; `enabled` to whoever manages them; whether a
/// second factor is on to both; the storage location to admins.
pub fn user_data(ctx: &Ctx, user: &User) -> Result<UserData, Reply> {
    let store = ctx.store();
    let profile: HashMap<String, String> = store.profile(&user.uid)?.into_iter().collect();
    let own = user.uid.eq_ignore_ascii_case(&ctx.caller.uid);
    let manages = ctx.manages(&user.uid)?;
    let field = |name: &str| profile.get(name).cloned().unwrap_or_default();
    let scope = |name: &str| {
        own.then(|| {
            profile
                .get(&scope_key(name))
                .cloned()
                .unwrap_or_else(|| default_scope(name).to_owned())
        })
    };
    let mut texts = serde_json::Map::new();
    for name in PROFILE_TEXT {
        texts.insert(name.into(), field(name).into());
        if let Some(s) = scope(name) {
            texts.insert(scope_key(name), s.into());
        }
    }
    let (additional, additional_scopes) = additional_mail(&profile);
    let display = user
        .display_name
        .clone()
        .unwrap_or_else(|| user.uid.clone());
    let last_seen = user.last_seen.unwrap_or(0);
    let engine = ctx.ocs.service.engine();
    Ok(UserData {
        enabled: manages.then_some(user.enabled),
        storage_location: ctx.caller.admin.then(|| engine.nss.home_of(&user.uid)),
        id: user.uid.clone(),
        first_login_timestamp: user.first_seen.unwrap_or(0),
        last_login_timestamp: last_seen,
        last_login: last_seen * 1000,
        backend: user.backend.clone(),
        subadmin: store.subadmin_groups(&user.uid)?,
        quota: Quota::of(user.quota.as_deref()),
        manager: field("manager"),
        avatar_scope: scope("avatar"),
        email: user.email.clone().filter(|e| !e.is_empty()),
        email_scope: scope("email"),
        additional_mail: additional,
        additional_mail_scope: own.then_some(additional_scopes),
        displayname: display.clone(),
        display_name_legacy: display,
        displayname_scope: scope("displayname"),
        profile: texts,
        profile_enabled: profile
            .get("profile_enabled")
            .cloned()
            .unwrap_or_else(|| "1".into()),
        profile_enabled_scope: scope("profile_enabled"),
        pronouns: field("pronouns"),
        pronouns_scope: scope("pronouns"),
        birthdate: field("birthdate"),
        groups: store.user_groups(&user.uid)?,
        language: user.language.clone().unwrap_or_else(|| "en".into()),
        locale: field("locale"),
        notify_email: profile
            .get("notify_email")
            .cloned()
            .or_else(|| user.email.clone())
            .filter(|e| !e.is_empty()),
        backend_capabilities: BackendCapabilities {
            set_display_name: true,
            set_password: user.backend == LOCAL_BACKEND,
        },
        two_factor_auth_enabled: match own || manages {
            true => Some(engine.twofactor.requirement(&user.uid)? == Requirement::Code),
            false => None,
        },
    })
}

/// `GET /cloud/user/fields`: the keys `PUT /cloud/users/{id}` takes for the
/// profile, as Nextcloud lists them (the same list for oneself and others).
pub const EDITABLE_FIELDS: [&str; 13] = [
    "displayname",
    "email",
    "additional_mail",
    "phone",
    "address",
    "website",
    "twitter",
    "fediverse",
    "organisation",
    "role",
    "headline",
    "biography",
    "profile_enabled",
];

pub fn to_value(data: &UserData) -> serde_json::Value {
    serde_json::to_value(data).unwrap_or_else(|e| {
        tracing::error!("a user's data did not serialise: {e}");
        serde_json::Value::Null
    })
}
