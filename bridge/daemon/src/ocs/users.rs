//! The users instruction set: list, add, get, edit, enable, disable, delete,
//! groups, subadmins and the welcome mail, with the status codes the
//! documentation gives for each.

use crate::clock::now;
use authbridge_core::SecretString;
use authbridge_store::{
    LOCAL_BACKEND, NewUser, ProvisioningStore, Store, StoreError, UserDataStore, UserQuery,
    validate_gid, validate_uid,
};
use serde_json::{Value, json};
use std::collections::HashMap;

use super::Ctx;
use super::envelope::{BAD_INPUT, Reply};
use crate::ocs::fields;

fn id(path: &HashMap<String, String>) -> String {
    path.get("userid").cloned().unwrap_or_default()
}

/// A path id that names no valid user is simply not found; a store that fails
/// is a server error, not "no such user".
fn existing(ctx: &Ctx, uid: &str) -> Result<Option<authbridge_store::User>, Reply> {
    if validate_uid(uid).is_err() {
        return Ok(None);
    }
    match ctx.store().user(uid) {
        Ok(user) => Ok(Some(user)),
        Err(StoreError::NoSuchUser(_)) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The user a request names, as far as the caller may know of it: an admin
/// learns that a user does not exist (`missing`); anyone else gets the same
/// answer for a missing user as for one outside their reach (403), so that no
/// one can tell who exists by asking.
fn visible(ctx: &Ctx, uid: &str, missing: Reply) -> Result<authbridge_store::User, Reply> {
    match existing(ctx, uid)? {
        Some(user)
            if ctx.caller.admin || user.uid == ctx.caller.uid || ctx.manages(&user.uid)? =>
        {
            Ok(user)
        }
        None if ctx.caller.admin => Err(missing),
        _ => Err(Reply::forbidden()),
    }
}

/// A password that a login could never use, refused before the policy is asked.
fn unusable(password: &str) -> Option<Reply> {
    authbridge_core::usable_password(password)
        .err()
        .map(|e| Reply::fail(107, e.to_string()))
}

/// The password policy's first objection, unless the module is switched off.
fn policy_hint(ctx: &Ctx, password: &str) -> Option<String> {
    if !ctx
        .switches()
        .enabled(crate::modules::ModuleId::PasswordPolicy)
    {
        return None;
    }
    let engine = ctx.ocs.service.engine();
    engine
        .policy
        .violations(password)
        .first()
        .map(|v| v.to_string())
}

/// `GET /cloud/users?search=&limit=&offset=`
pub async fn list(ctx: Ctx) -> Result<Reply, Reply> {
    let (limit, offset) = fields::paging(&ctx.params)?;
    let search = ctx.params.get("search").unwrap_or("").to_owned();
    let users: Vec<String> = if ctx.caller.admin {
        let query = UserQuery {
            search: Some(search),
            limit: limit.unwrap_or(usize::MAX >> 1),
            offset,
            disabled_only: false,
        };
        match ctx.store().users(&query) {
            Ok(users) => users.into_iter().map(|u| u.uid).collect(),
            Err(e) => return Err(Reply::store_refusal(BAD_INPUT, &e)),
        }
    } else {
        // A subadmin sees the members of the groups they administer.
        let mut seen = std::collections::BTreeSet::new();
        for gid in &ctx.caller.subadmin_of {
            for uid in ctx.store().members(gid)? {
                if uid.to_lowercase().contains(&search.to_lowercase()) {
                    seen.insert(uid);
                }
            }
        }
        seen.into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    };
    Ok(Reply::ok(json!({ "users": users })))
}

/// `POST /cloud/users`: 101 invalid input, 102 exists, 103 unknown error, 104 no
/// such group, 105 not the caller's group, 106 no group (subadmins must give one),
/// 107 password policy (with the hint), 108 neither password nor e-mail, 109 the
/// invitation could not be sent.
pub async fn add(ctx: Ctx) -> Result<Reply, Reply> {
    if !ctx.caller.admin && ctx.caller.subadmin_of.is_empty() {
        return Err(Reply::forbidden());
    }
    let known = [
        "userid",
        "password",
        "displayName",
        "displayname",
        "email",
        "groups",
        "subadmin",
        "quota",
        "language",
        "manager",
    ];
    if let Some(key) = ctx.params.unknown_keys(&known).first() {
        return Err(Reply::fail(101, format!("unknown parameter {key:?}")));
    }
    let uid = ctx.params.get("userid").unwrap_or("").to_owned();
    if let Err(e) = validate_uid(&uid) {
        return Err(Reply::fail(101, e.to_string()));
    }
    let engine = ctx.ocs.service.engine();
    if let Err(refusal) = engine.names.check_user(&uid) {
        return Err(Reply::fail(101, refusal.to_string()));
    }
    // An id an external backend would serve is that server's person: only an
    // admin may provision it (a subadmin's local account would take the
    // identity over before its owner ever logged in).
    if !ctx.caller.admin
        && let Some(kind) = engine.gate.external_backend_for(&uid)
    {
        return Err(Reply::fail(
            105,
            format!("{uid} can be an account of the {kind} server; only an admin can provision it"),
        ));
    }
    // Whether the id exists is told only once the caller's other input
    // passed: a subadmin must not learn who exists from a request that could
    // never succeed.
    let exists = existing(&ctx, &uid)?.is_some();
    if exists && ctx.caller.admin {
        return Err(Reply::fail(102, "User already exists"));
    }
    let groups = ctx.params.list("groups");
    if groups.is_empty() && !ctx.caller.admin {
        return Err(Reply::fail(
            106,
            "No group specified (required for subadmins)",
        ));
    }
    for gid in &groups {
        if !ctx.store().group_exists(gid)? {
            return Err(Reply::fail(104, format!("group {gid} does not exist")));
        }
        if !ctx.administers(gid) {
            return Err(Reply::fail(
                105,
                format!("insufficient privileges for group {gid}"),
            ));
        }
    }
    if exists {
        return Err(Reply::fail(102, "User already exists"));
    }
    let subadmin_of = ctx.params.list("subadmin");
    for gid in &subadmin_of {
        if !ctx.caller.admin {
            return Err(Reply::fail(105, "only admins appoint subadmins"));
        }
        if gid.eq_ignore_ascii_case("admin") {
            return Err(Reply::fail(103, "Cannot create subadmins for admin group"));
        }
        if !ctx.store().group_exists(gid)? {
            return Err(Reply::fail(
                104,
                format!("subadmin group {gid} does not exist"),
            ));
        }
    }
    let password = ctx.params.get("password").unwrap_or("");
    let email = ctx
        .params
        .get("email")
        .filter(|e| !e.is_empty())
        .map(str::to_owned);
    if password.is_empty() && email.is_none() {
        return Err(Reply::fail(
            108,
            "To send a password link to the user an email address is required.",
        ));
    }
    if let Some(e) = &email {
        fields::email(e, 101)?;
    }
    let quota = match ctx.params.get("quota").filter(|q| !q.is_empty()) {
        Some(q) => match fields::quota(q) {
            Some(q) => Some(q),
            None => return Err(Reply::fail(101, format!("invalid quota {q:?}"))),
        },
        None => None,
    };
    let language = match ctx.params.get("language").filter(|l| !l.is_empty()) {
        Some(l) if fields::language(l) => Some(l.to_owned()),
        Some(l) => return Err(Reply::fail(101, format!("invalid language {l:?}"))),
        None => None,
    };
    let display_name = ctx
        .params
        .get("displayName")
        .or(ctx.params.get("displayname"))
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    if let Some(d) = &display_name {
        fields::text(d, 101)?;
    }
    let welcome = password.is_empty();
    let secret = if welcome {
        // A password nobody knows until the user sets their own from the mail.
        SecretString::from(authbridge_local::generate_app_password())
    } else {
        if let Some(refusal) = unusable(password) {
            return Err(refusal);
        }
        if let Some(hint) = policy_hint(&ctx, password) {
            return Err(Reply::fail(107, hint));
        }
        SecretString::from(password.to_owned())
    };
    let hash = match authbridge_local::hash_password_bounded(secret).await {
        Ok(h) => h,
        Err(busy) => return Err(Reply::fail(103, busy.to_string())),
    };
    let new = NewUser {
        uid: uid.clone(),
        display_name,
        email,
        backend: LOCAL_BACKEND.into(),
        password_hash: Some(hash),
        welcome_pending: welcome,
        groups,
        subadmin_of,
        quota,
        language,
    };
    let created = match ctx.store().create_user(&new, now()) {
        Ok(u) => u,
        Err(StoreError::UserExists(_)) => return Err(Reply::fail(102, "User already exists")),
        Err(StoreError::NoSuchGroup(g)) => {
            return Err(Reply::fail(104, format!("group {g} does not exist")));
        }
        Err(e) => return Err(Reply::store_refusal(103, &e)),
    };
    if welcome && let Err(e) = crate::ocs::mail::send_welcome(&ctx, &created.uid).await {
        // Nothing may stay behind from a failed create.
        let _ = ctx.store().delete_user(&created.uid);
        return Err(Reply::fail(
            109,
            format!("the invitation mail could not be sent: {e}"),
        ));
    }
    Ok(Reply::ok(json!({ "id": created.uid })))
}

/// The fields of `GET /cloud/users/{userid}` (and what nc_py_api's UserInfo reads,
/// where authbridge has the data).
pub fn user_data(ctx: &Ctx, user: &authbridge_store::User) -> Result<Value, Reply> {
    let store = ctx.store();
    let profile: HashMap<String, String> = store.profile(&user.uid)?.into_iter().collect();
    let subadmin = store.subadmin_groups(&user.uid)?;
    let groups = store.user_groups(&user.uid)?;
    let field = |name: &str| profile.get(name).cloned().unwrap_or_default();
    let display = user
        .display_name
        .clone()
        .unwrap_or_else(|| user.uid.clone());
    Ok(json!({
        "enabled": user.enabled,
        "storageLocation": "",
        "id": user.uid,
        "lastLogin": user.last_seen.map_or(0, |s| s * 1000),
        "backend": user.backend,
        "subadmin": subadmin,
        "quota": { "quota": user.quota.clone().unwrap_or_else(|| "none".into()) },
        "manager": "",
        "email": user.email.clone().unwrap_or_default(),
        "additional_mail": [],
        "displayname": display,
        "display-name": display,
        "phone": field("phone"),
        "address": field("address"),
        "website": field("website"),
        "twitter": field("twitter"),
        "fediverse": field("fediverse"),
        "organisation": field("organisation"),
        "role": field("role"),
        "headline": field("headline"),
        "biography": field("biography"),
        "groups": groups,
        "language": user.language.clone().unwrap_or_default(),
        "locale": "",
        "backendCapabilities": {
            "setDisplayName": true,
            "setPassword": user.backend == LOCAL_BACKEND,
        },
    }))
}

/// A profile field; an empty value removes it.
fn set_profile(
    store: &authbridge_store::SqliteStore,
    uid: &str,
    key: &str,
    value: &str,
) -> Result<(), StoreError> {
    match value.is_empty() {
        true => store.delete_profile(uid, key).map(|_| ()),
        false => store.set_profile(uid, key, value),
    }
}

/// `GET /cloud/users/{userid}`: the caller themself, a subadmin of one of the
/// user's groups, or an admin.
pub async fn get(ctx: Ctx) -> Result<Reply, Reply> {
    let user = visible(&ctx, &id(&ctx.path), Reply::not_found("User"))?;
    Ok(Reply::ok(user_data(&ctx, &user)?))
}

/// `PUT /cloud/users/{userid}` with key and value: 101 no such user, 102 invalid
/// input (unknown key, bad value), 107 a password the policy refuses (with the hint).
pub async fn edit(ctx: Ctx) -> Result<Reply, Reply> {
    let user = visible(
        &ctx,
        &id(&ctx.path),
        Reply::fail(101, "User does not exist"),
    )?;
    let own = user.uid == ctx.caller.uid;
    let manager = ctx.manages(&user.uid)?;
    if let Some(key) = ctx.params.unknown_keys(&["key", "value"]).first() {
        return Err(Reply::fail(102, format!("unknown parameter {key:?}")));
    }
    let (Some(key), Some(value)) = (ctx.params.get("key"), ctx.params.get("value")) else {
        return Err(Reply::fail(102, "key and value are required"));
    };
    let store = ctx.store();
    // A device credential must not take the account over: neither the login
    // password nor the address its reset links go to.
    if own && ctx.caller.by_app_password && matches!(key, "password" | "email") {
        return Err(Reply::fail(
            super::envelope::FORBIDDEN,
            format!("Changing your own {key} needs your login password, not an app password"),
        ));
    }
    let result = match key {
        "email" => {
            fields::email(value, 102)?;
            store.set_email(&user.uid, Some(value).filter(|v| !v.is_empty()))
        }
        "displayname" | "display" => {
            fields::text(value, 102)?;
            store.set_display_name(&user.uid, Some(value).filter(|v| !v.is_empty()))
        }
        "phone" | "address" | "twitter" | "fediverse" | "organisation" | "role" | "headline"
        | "biography" => {
            fields::text(value, 102)?;
            set_profile(store, &user.uid, key, value)
        }
        "website" => {
            fields::website(value)?;
            set_profile(store, &user.uid, key, value)
        }
        "quota" => {
            // Users do not raise their own quota; their managers do.
            if !manager || (own && !ctx.caller.admin) {
                return Err(Reply::forbidden());
            }
            match fields::quota(value) {
                Some(q) => store.set_quota(&user.uid, Some(&q)),
                None => return Err(Reply::fail(102, format!("Invalid quota value: {value}"))),
            }
        }
        "language" => {
            if !fields::language(value) {
                return Err(Reply::fail(102, format!("Invalid language {value:?}")));
            }
            store.set_language(&user.uid, Some(value))
        }
        "password" => {
            if user.backend != LOCAL_BACKEND {
                return Err(Reply::fail(
                    102,
                    format!(
                        "the password of {} lives on the {} server; change it there",
                        user.uid, user.backend
                    ),
                ));
            }
            if let Some(refusal) = unusable(value) {
                return Err(refusal);
            }
            if let Some(hint) = policy_hint(&ctx, value) {
                return Err(Reply::fail(107, hint));
            }
            let hash =
                match authbridge_local::hash_password_bounded(SecretString::from(value.to_owned()))
                    .await
                {
                    Ok(h) => h,
                    Err(busy) => return Err(Reply::fail(102, busy.to_string())),
                };
            ctx.ocs.service.reset_password(&user.uid, &hash)
        }
        other => return Err(Reply::fail(102, format!("unknown key {other:?}"))),
    };
    result.map_err(|e| match e {
        StoreError::NoSuchUser(_) => Reply::fail(101, "User does not exist"),
        e => Reply::store_refusal(102, &e),
    })?;
    Ok(Reply::empty())
}

async fn set_enabled(ctx: Ctx, enabled: bool) -> Result<Reply, Reply> {
    let user = visible(
        &ctx,
        &id(&ctx.path),
        Reply::fail(101, "User does not exist"),
    )?;
    if !ctx.manages(&user.uid)? {
        return Err(Reply::forbidden());
    }
    // As Nextcloud: nobody disables (or enables) their own account here.
    if user.uid == ctx.caller.uid {
        return Err(Reply::fail(
            101,
            "You cannot change the state of your own account",
        ));
    }
    ctx.store()
        .set_enabled(&user.uid, enabled)
        .map_err(|e| Reply::store_refusal(101, &e))?;
    Ok(Reply::empty())
}

/// `PUT /cloud/users/{userid}/enable`: 101 failure.
pub async fn enable(ctx: Ctx) -> Result<Reply, Reply> {
    set_enabled(ctx, true).await
}

/// `PUT /cloud/users/{userid}/disable`: 101 failure.
pub async fn disable(ctx: Ctx) -> Result<Reply, Reply> {
    set_enabled(ctx, false).await
}

/// `DELETE /cloud/users/{userid}`: 101 failure.
pub async fn delete(ctx: Ctx) -> Result<Reply, Reply> {
    let user = visible(
        &ctx,
        &id(&ctx.path),
        Reply::fail(101, "User does not exist"),
    )?;
    if !ctx.manages(&user.uid)? {
        return Err(Reply::forbidden());
    }
    if user.uid == ctx.caller.uid {
        return Err(Reply::fail(101, "You cannot delete your own account"));
    }
    ctx.store()
        .delete_user(&user.uid)
        .map_err(|e| Reply::store_refusal(101, &e))?;
    Ok(Reply::empty())
}

/// `GET /cloud/users/{userid}/groups`: a subadmin sees only the groups they
/// administer.
pub async fn groups(ctx: Ctx) -> Result<Reply, Reply> {
    let user = visible(&ctx, &id(&ctx.path), Reply::not_found("User"))?;
    let own = user.uid == ctx.caller.uid;
    let groups: Vec<String> = ctx.store().user_groups(&user.uid)?;
    let shown: Vec<&String> = groups
        .iter()
        .filter(|g| own || ctx.administers(g))
        .collect();
    Ok(Reply::ok(json!({ "groups": shown })))
}

/// The shared checks of adding to and removing from a group: 101 no group given,
/// 102 no such group, 103 no such user, 104 insufficient privileges.
fn membership_target(ctx: &Ctx, path: &HashMap<String, String>) -> Result<(String, String), Reply> {
    let gid = ctx.params.get("groupid").unwrap_or("").to_owned();
    if gid.is_empty() {
        return Err(Reply::fail(101, "no group specified"));
    }
    if validate_gid(&gid).is_err() || !ctx.store().group_exists(&gid)? {
        return Err(Reply::fail(102, "group does not exist"));
    }
    // Only an admin learns that a user does not exist.
    let Some(user) = existing(ctx, &id(path))? else {
        return Err(match ctx.caller.admin {
            true => Reply::fail(103, "user does not exist"),
            false => Reply::fail(104, "insufficient privileges"),
        });
    };
    if !ctx.administers(&gid)
        || !(ctx.caller.admin || ctx.manages(&user.uid)? || user.uid == ctx.caller.uid)
    {
        return Err(Reply::fail(104, "insufficient privileges"));
    }
    Ok((gid, user.uid))
}

/// `POST /cloud/users/{userid}/groups` with groupid.
pub async fn add_to_group(ctx: Ctx) -> Result<Reply, Reply> {
    let (gid, uid) = membership_target(&ctx, &ctx.path)?;
    ctx.store()
        .add_member(&gid, &uid)
        .map_err(|e| Reply::store_refusal(105, &e))?;
    Ok(Reply::empty())
}

/// `DELETE /cloud/users/{userid}/groups` with groupid; 105 also for leaving the
/// admin group oneself, or a subadmin leaving a group they administer.
pub async fn remove_from_group(ctx: Ctx) -> Result<Reply, Reply> {
    let (gid, uid) = membership_target(&ctx, &ctx.path)?;
    if uid == ctx.caller.uid {
        if gid.eq_ignore_ascii_case("admin") {
            return Err(Reply::fail(
                105,
                "Cannot remove yourself from the admin group",
            ));
        }
        if !ctx.caller.admin {
            return Err(Reply::fail(
                105,
                "Cannot remove yourself from this group as you are a sub-admin",
            ));
        }
    }
    ctx.store()
        .remove_member(&gid, &uid)
        .map_err(|e| Reply::store_refusal(105, &e))?;
    Ok(Reply::empty())
}

/// The shared checks of promote and demote (admins only): 101 no such user, 102
/// no such group.
fn subadmin_target(ctx: &Ctx, path: &HashMap<String, String>) -> Result<(String, String), Reply> {
    if !ctx.caller.admin {
        return Err(Reply::forbidden());
    }
    let Some(user) = existing(ctx, &id(path))? else {
        return Err(Reply::fail(101, "User does not exist"));
    };
    let gid = ctx.params.get("groupid").unwrap_or("");
    if validate_gid(gid).is_err() || !ctx.store().group_exists(gid)? {
        return Err(Reply::fail(102, "Group does not exist"));
    }
    Ok((gid.to_owned(), user.uid))
}

/// `POST /cloud/users/{userid}/subadmins` with groupid: 101 no such user, 102 no
/// such group, 103 unknown failure (and the admin group).
pub async fn promote(ctx: Ctx) -> Result<Reply, Reply> {
    let (gid, uid) = subadmin_target(&ctx, &ctx.path)?;
    if gid.eq_ignore_ascii_case("admin") {
        return Err(Reply::fail(103, "Cannot create subadmins for admin group"));
    }
    ctx.store()
        .add_subadmin(&gid, &uid)
        .map_err(|e| Reply::store_refusal(103, &e))?;
    Ok(Reply::empty())
}

/// `DELETE /cloud/users/{userid}/subadmins` with groupid: 101 no such user, 102
/// not a subadmin of the group or no such group, 103 unknown failure.
pub async fn demote(ctx: Ctx) -> Result<Reply, Reply> {
    let (gid, uid) = subadmin_target(&ctx, &ctx.path)?;
    let removed = ctx
        .store()
        .remove_subadmin(&gid, &uid)
        .map_err(|e| Reply::store_refusal(103, &e))?;
    match removed {
        true => Ok(Reply::empty()),
        false => Err(Reply::fail(102, "User is not a subadmin of this group")),
    }
}

/// `GET /cloud/users/{userid}/subadmins`: 101 no such user, 102 unknown failure.
pub async fn subadmin_groups(ctx: Ctx) -> Result<Reply, Reply> {
    let user = visible(
        &ctx,
        &id(&ctx.path),
        Reply::fail(101, "User does not exist"),
    )?;
    if user.uid != ctx.caller.uid && !ctx.caller.admin {
        return Err(Reply::forbidden());
    }
    let groups = ctx
        .store()
        .subadmin_groups(&user.uid)
        .map_err(|e| Reply::store_refusal(102, &e))?;
    Ok(Reply::ok(json!(groups)))
}

/// `POST /cloud/users/{userid}/welcome`: 101 no e-mail address, 102 sending failed.
/// Sends a fresh single-use link to set a password (also a reset, for anyone).
pub async fn welcome(ctx: Ctx) -> Result<Reply, Reply> {
    let user = visible(&ctx, &id(&ctx.path), Reply::not_found("User"))?;
    if !ctx.manages(&user.uid)? {
        return Err(Reply::forbidden());
    }
    // A reset link for oneself is a password change: not with an app password.
    if user.uid == ctx.caller.uid && ctx.caller.by_app_password {
        return Err(Reply::fail(
            super::envelope::FORBIDDEN,
            "Sending yourself a password link needs your login password, not an app password",
        ));
    }
    if user.email.as_deref().unwrap_or("").is_empty() {
        return Err(Reply::fail(101, "Email address not available"));
    }
    crate::ocs::mail::send_welcome(&ctx, &user.uid)
        .await
        .map_err(|e| Reply::fail(102, format!("Sending email failed: {e}")))?;
    Ok(Reply::empty())
}
