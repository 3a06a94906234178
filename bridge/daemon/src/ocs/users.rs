//! The users instruction set: list, add, get, edit, enable, disable, delete,
//! groups, subadmins and the welcome mail, with the status codes the
//! documentation gives for each.

use crate::clock::now;
use authbridge_core::SecretString;
use authbridge_store::{
    LOCAL_BACKEND, NewUser, ProvisioningStore, Store, StoreError, UserDataStore, UserQuery,
    validate_uid,
};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use serde_json::{Value, json};
use std::collections::HashMap;

use super::envelope::{BAD_INPUT, Reply};
use super::{Ctx, Parts, run};
use crate::ocs::fields;

type Body = Result<Bytes, BytesRejection>;

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
    if !ctx.switches().enabled("password_policy") {
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
pub async fn list(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, _| async move {
        let (limit, offset) = fields::paging(&ctx.query)?;
        let search = ctx.query.get("search").unwrap_or("").to_owned();
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
    })
    .await
}

/// `POST /cloud/users`: 101 invalid input, 102 exists, 103 unknown error, 104 no
/// such group, 105 not the caller's group, 106 no group (subadmins must give one),
/// 107 password policy (with the hint), 108 neither password nor e-mail, 109 the
/// invitation could not be sent.
pub async fn add(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, _| async move {
        if !ctx.caller.admin && ctx.caller.subadmin_of.is_empty() {
            return Reply::forbidden();
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
        if let Some(key) = ctx.body.unknown_keys(&known).first() {
            return Reply::fail(101, format!("unknown parameter {key:?}"));
        }
        let uid = ctx.body.get("userid").unwrap_or("").to_owned();
        if let Err(e) = validate_uid(&uid) {
            return Reply::fail(101, e.to_string());
        }
        let engine = ctx.ocs.service.engine();
        if let Err(refusal) = engine.names.check_user(&uid) {
            return Reply::fail(101, refusal.to_string());
        }
        // An id an external backend would serve is that server's person: only an
        // admin may provision it (a subadmin's local account would take the
        // identity over before its owner ever logged in).
        if !ctx.caller.admin
            && let Some(kind) = engine.gate.external_backend_for(&uid)
        {
            return Reply::fail(
                105,
                format!(
                    "{uid} can be an account of the {kind} server; only an admin can provision it"
                ),
            );
        }
        // Whether the id exists is told only once the caller's other input
        // passed: a subadmin must not learn who exists from a request that could
        // never succeed.
        let exists = match existing(&ctx, &uid) {
            Ok(found) => found.is_some(),
            Err(reply) => return reply,
        };
        if exists && ctx.caller.admin {
            return Reply::fail(102, "User already exists");
        }
        let groups = ctx.body.list("groups");
        if groups.is_empty() && !ctx.caller.admin {
            return Reply::fail(106, "No group specified (required for subadmins)");
        }
        for gid in &groups {
            match ctx.store().group_exists(gid) {
                Ok(true) => {}
                Ok(false) => return Reply::fail(104, format!("group {gid} does not exist")),
                Err(e) => return Reply::store_failure(&e),
            }
            if !ctx.administers(gid) {
                return Reply::fail(105, format!("insufficient privileges for group {gid}"));
            }
        }
        if exists {
            return Reply::fail(102, "User already exists");
        }
        let subadmin_of = ctx.body.list("subadmin");
        for gid in &subadmin_of {
            if !ctx.caller.admin {
                return Reply::fail(105, "only admins appoint subadmins");
            }
            if gid.eq_ignore_ascii_case("admin") {
                return Reply::fail(103, "Cannot create subadmins for admin group");
            }
            match ctx.store().group_exists(gid) {
                Ok(true) => {}
                Ok(false) => {
                    return Reply::fail(104, format!("subadmin group {gid} does not exist"));
                }
                Err(e) => return Reply::store_failure(&e),
            }
        }
        let password = ctx.body.get("password").unwrap_or("");
        let email = ctx
            .body
            .get("email")
            .filter(|e| !e.is_empty())
            .map(str::to_owned);
        if password.is_empty() && email.is_none() {
            return Reply::fail(
                108,
                "To send a password link to the user an email address is required.",
            );
        }
        if let Some(e) = &email
            && let Err(reply) = fields::email(e, 101)
        {
            return reply;
        }
        let quota = match ctx.body.get("quota").filter(|q| !q.is_empty()) {
            Some(q) => match fields::quota(q) {
                Some(q) => Some(q),
                None => return Reply::fail(101, format!("invalid quota {q:?}")),
            },
            None => None,
        };
        let language = match ctx.body.get("language").filter(|l| !l.is_empty()) {
            Some(l) if fields::language(l) => Some(l.to_owned()),
            Some(l) => return Reply::fail(101, format!("invalid language {l:?}")),
            None => None,
        };
        let display_name = ctx
            .body
            .get("displayName")
            .or(ctx.body.get("displayname"))
            .filter(|d| !d.is_empty())
            .map(str::to_owned);
        if let Some(d) = &display_name
            && let Err(reply) = fields::text(d, 101)
        {
            return reply;
        }
        let welcome = password.is_empty();
        let secret = if welcome {
            // A password nobody knows until the user sets their own from the mail.
            SecretString::from(authbridge_local::generate_app_password())
        } else {
            if let Some(refusal) = unusable(password) {
                return refusal;
            }
            if let Some(hint) = policy_hint(&ctx, password) {
                return Reply::fail(107, hint);
            }
            SecretString::from(password.to_owned())
        };
        let hash = match authbridge_local::hash_password_bounded(secret).await {
            Ok(h) => h,
            Err(busy) => return Reply::fail(103, busy.to_string()),
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
            Err(StoreError::UserExists(_)) => return Reply::fail(102, "User already exists"),
            Err(StoreError::NoSuchGroup(g)) => {
                return Reply::fail(104, format!("group {g} does not exist"));
            }
            Err(e) => return Reply::store_refusal(103, &e),
        };
        if welcome && let Err(e) = crate::ocs::mail::send_welcome(&ctx, &created.uid).await {
            // Nothing may stay behind from a failed create.
            let _ = ctx.store().delete_user(&created.uid);
            return Reply::fail(109, format!("the invitation mail could not be sent: {e}"));
        }
        Reply::ok(json!({ "id": created.uid }))
    })
    .await
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

/// `GET /cloud/users/{userid}`: the caller themself, a subadmin of one of the
/// user's groups, or an admin.
pub async fn get(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let user = visible(&ctx, &id(&path), Reply::not_found("User"))?;
        Ok(Reply::ok(user_data(&ctx, &user)?))
    })
    .await
}

/// `PUT /cloud/users/{userid}` with key and value: 101 no such user, 102 invalid
/// input (unknown key, bad value), 107 a password the policy refuses (with the hint).
pub async fn edit(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let user = match visible(&ctx, &id(&path), Reply::fail(101, "User does not exist")) {
            Ok(user) => user,
            Err(reply) => return reply,
        };
        let own = user.uid == ctx.caller.uid;
        let manager = match ctx.manages(&user.uid) {
            Ok(manager) => manager,
            Err(reply) => return reply,
        };
        if let Some(key) = ctx.body.unknown_keys(&["key", "value"]).first() {
            return Reply::fail(102, format!("unknown parameter {key:?}"));
        }
        let (Some(key), Some(value)) = (ctx.body.get("key"), ctx.body.get("value")) else {
            return Reply::fail(102, "key and value are required");
        };
        let store = ctx.store();
        // A device credential must not take the account over: neither the login
        // password nor the address its reset links go to.
        if own && ctx.caller.by_app_password && matches!(key, "password" | "email") {
            return Reply::fail(
                super::envelope::FORBIDDEN,
                format!("Changing your own {key} needs your login password, not an app password"),
            );
        }
        let result = match key {
            "email" => match fields::email(value, 102) {
                Ok(()) => store.set_email(&user.uid, Some(value).filter(|v| !v.is_empty())),
                Err(reply) => return reply,
            },
            "displayname" | "display" => match fields::text(value, 102) {
                Ok(()) => store.set_display_name(&user.uid, Some(value).filter(|v| !v.is_empty())),
                Err(reply) => return reply,
            },
            "phone" | "address" | "twitter" | "fediverse" | "organisation" | "role"
            | "headline" | "biography" => match fields::text(value, 102) {
                Ok(()) if value.is_empty() => store.delete_profile(&user.uid, key).map(|_| ()),
                Ok(()) => store.set_profile(&user.uid, key, value),
                Err(reply) => return reply,
            },
            "website" => match fields::website(value) {
                Ok(()) if value.is_empty() => store.delete_profile(&user.uid, key).map(|_| ()),
                Ok(()) => store.set_profile(&user.uid, key, value),
                Err(reply) => return reply,
            },
            "quota" => {
                // Users do not raise their own quota; their managers do.
                if !manager || (own && !ctx.caller.admin) {
                    return Reply::forbidden();
                }
                match fields::quota(value) {
                    Some(q) => store.set_quota(&user.uid, Some(&q)),
                    None => return Reply::fail(102, format!("Invalid quota value: {value}")),
                }
            }
            "language" => {
                if !fields::language(value) {
                    return Reply::fail(102, format!("Invalid language {value:?}"));
                }
                store.set_language(&user.uid, Some(value))
            }
            "password" => {
                if user.backend != LOCAL_BACKEND {
                    return Reply::fail(
                        102,
                        format!(
                            "the password of {} lives on the {} server; change it there",
                            user.uid, user.backend
                        ),
                    );
                }
                if let Some(refusal) = unusable(value) {
                    return refusal;
                }
                if let Some(hint) = policy_hint(&ctx, value) {
                    return Reply::fail(107, hint);
                }
                let hash = match authbridge_local::hash_password_bounded(SecretString::from(
                    value.to_owned(),
                ))
                .await
                {
                    Ok(h) => h,
                    Err(busy) => return Reply::fail(102, busy.to_string()),
                };
                ctx.ocs.service.reset_password(&user.uid, &hash)
            }
            other => return Reply::fail(102, format!("unknown key {other:?}")),
        };
        match result {
            Ok(()) => Reply::empty(),
            Err(StoreError::NoSuchUser(_)) => Reply::fail(101, "User does not exist"),
            Err(e) => Reply::store_refusal(102, &e),
        }
    })
    .await
}

async fn set_enabled(parts: Parts, body: Body, enabled: bool) -> Response {
    run(parts, body, move |ctx, path| async move {
        let user = match visible(&ctx, &id(&path), Reply::fail(101, "User does not exist")) {
            Ok(user) => user,
            Err(reply) => return reply,
        };
        match ctx.manages(&user.uid) {
            Ok(true) => {}
            Ok(false) => return Reply::forbidden(),
            Err(reply) => return reply,
        }
        // As Nextcloud: nobody disables (or enables) their own account here.
        if user.uid == ctx.caller.uid {
            return Reply::fail(101, "You cannot change the state of your own account");
        }
        match ctx.store().set_enabled(&user.uid, enabled) {
            Ok(()) => Reply::empty(),
            Err(e) => Reply::store_refusal(101, &e),
        }
    })
    .await
}

/// `PUT /cloud/users/{userid}/enable`: 101 failure.
pub async fn enable(parts: Parts, body: Body) -> Response {
    set_enabled(parts, body, true).await
}

/// `PUT /cloud/users/{userid}/disable`: 101 failure.
pub async fn disable(parts: Parts, body: Body) -> Response {
    set_enabled(parts, body, false).await
}

/// `DELETE /cloud/users/{userid}`: 101 failure.
pub async fn delete(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let user = match visible(&ctx, &id(&path), Reply::fail(101, "User does not exist")) {
            Ok(user) => user,
            Err(reply) => return reply,
        };
        match ctx.manages(&user.uid) {
            Ok(true) => {}
            Ok(false) => return Reply::forbidden(),
            Err(reply) => return reply,
        }
        if user.uid == ctx.caller.uid {
            return Reply::fail(101, "You cannot delete your own account");
        }
        match ctx.store().delete_user(&user.uid) {
            Ok(()) => Reply::empty(),
            Err(e) => Reply::store_refusal(101, &e),
        }
    })
    .await
}

/// `GET /cloud/users/{userid}/groups`: a subadmin sees only the groups they
/// administer.
pub async fn groups(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let user = match visible(&ctx, &id(&path), Reply::not_found("User")) {
            Ok(user) => user,
            Err(reply) => return reply,
        };
        let own = user.uid == ctx.caller.uid;
        let groups: Vec<String> = match ctx.store().user_groups(&user.uid) {
            Ok(groups) => groups,
            Err(e) => return Reply::store_failure(&e),
        };
        let shown: Vec<&String> = groups
            .iter()
            .filter(|g| own || ctx.administers(g))
            .collect();
        Reply::ok(json!({ "groups": shown }))
    })
    .await
}

/// The shared checks of adding to and removing from a group: 101 no group given,
/// 102 no such group, 103 no such user, 104 insufficient privileges.
fn membership_target(ctx: &Ctx, path: &HashMap<String, String>) -> Result<(String, String), Reply> {
    let gid = ctx.body.get("groupid").unwrap_or("").to_owned();
    if gid.is_empty() {
        return Err(Reply::fail(101, "no group specified"));
    }
    if validate_uid(&gid).is_err() || !ctx.store().group_exists(&gid)? {
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
pub async fn add_to_group(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let (gid, uid) = match membership_target(&ctx, &path) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        match ctx.store().add_member(&gid, &uid) {
            Ok(_) => Reply::empty(),
            Err(e) => Reply::store_refusal(105, &e),
        }
    })
    .await
}

/// `DELETE /cloud/users/{userid}/groups` with groupid; 105 also for leaving the
/// admin group oneself, or a subadmin leaving a group they administer.
pub async fn remove_from_group(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let (gid, uid) = match membership_target(&ctx, &path) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        if uid == ctx.caller.uid {
            if gid.eq_ignore_ascii_case("admin") {
                return Reply::fail(105, "Cannot remove yourself from the admin group");
            }
            if !ctx.caller.admin {
                return Reply::fail(
                    105,
                    "Cannot remove yourself from this group as you are a sub-admin",
                );
            }
        }
        match ctx.store().remove_member(&gid, &uid) {
            Ok(_) => Reply::empty(),
            Err(e) => Reply::store_refusal(105, &e),
        }
    })
    .await
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
    let gid = ctx.body.get("groupid").unwrap_or("");
    if validate_uid(gid).is_err() || !ctx.store().group_exists(gid)? {
        return Err(Reply::fail(102, "Group does not exist"));
    }
    Ok((gid.to_owned(), user.uid))
}

/// `POST /cloud/users/{userid}/subadmins` with groupid: 101 no such user, 102 no
/// such group, 103 unknown failure (and the admin group).
pub async fn promote(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let (gid, uid) = match subadmin_target(&ctx, &path) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        if gid.eq_ignore_ascii_case("admin") {
            return Reply::fail(103, "Cannot create subadmins for admin group");
        }
        match ctx.store().add_subadmin(&gid, &uid) {
            Ok(_) => Reply::empty(),
            Err(e) => Reply::store_refusal(103, &e),
        }
    })
    .await
}

/// `DELETE /cloud/users/{userid}/subadmins` with groupid: 101 no such user, 102
/// not a subadmin of the group or no such group, 103 unknown failure.
pub async fn demote(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let (gid, uid) = match subadmin_target(&ctx, &path) {
            Ok(t) => t,
            Err(reply) => return reply,
        };
        match ctx.store().remove_subadmin(&gid, &uid) {
            Ok(true) => Reply::empty(),
            Ok(false) => Reply::fail(102, "User is not a subadmin of this group"),
            Err(e) => Reply::store_refusal(103, &e),
        }
    })
    .await
}

/// `GET /cloud/users/{userid}/subadmins`: 101 no such user, 102 unknown failure.
pub async fn subadmin_groups(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let user = match visible(&ctx, &id(&path), Reply::fail(101, "User does not exist")) {
            Ok(user) => user,
            Err(reply) => return reply,
        };
        if user.uid != ctx.caller.uid && !ctx.caller.admin {
            return Reply::forbidden();
        }
        match ctx.store().subadmin_groups(&user.uid) {
            Ok(groups) => Reply::ok(json!(groups)),
            Err(e) => Reply::store_refusal(102, &e),
        }
    })
    .await
}

/// `POST /cloud/users/{userid}/welcome`: 101 no e-mail address, 102 sending failed.
/// Sends a fresh single-use link to set a password (also a reset, for anyone).
pub async fn welcome(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let user = match visible(&ctx, &id(&path), Reply::not_found("User")) {
            Ok(user) => user,
            Err(reply) => return reply,
        };
        match ctx.manages(&user.uid) {
            Ok(true) => {}
            Ok(false) => return Reply::forbidden(),
            Err(reply) => return reply,
        }
        // A reset link for oneself is a password change: not with an app password.
        if user.uid == ctx.caller.uid && ctx.caller.by_app_password {
            return Reply::fail(
                super::envelope::FORBIDDEN,
                "Sending yourself a password link needs your login password, not an app password",
            );
        }
        if user.email.as_deref().unwrap_or("").is_empty() {
            return Reply::fail(101, "Email address not available");
        }
        match crate::ocs::mail::send_welcome(&ctx, &user.uid).await {
            Ok(()) => Reply::empty(),
            Err(e) => Reply::fail(102, format!("Sending email failed: {e}")),
        }
    })
    .await
}
