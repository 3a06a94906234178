//! The users instruction set: list, add, get, edit, enable, disable, delete,
//! groups, subadmins and the welcome mail, with the status codes the
//! documentation gives for each.

use crate::clock::now;
use authbridge_core::SecretString;
use authbridge_store::{LOCAL_BACKEND, NewUser, StoreError, UserQuery, validate_gid, validate_uid};
use serde_json::json;
use std::collections::HashMap;

use super::Ctx;
use super::envelope::{self, BAD_INPUT, FORBIDDEN, Reply};
use super::user_data::{EDITABLE_FIELDS, to_value, user_data};
use super::user_edit::{self, Editor};
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
/// answer for a missing user as for one outside their reach (`Ctx::no_rights`),
/// so that no one can tell who exists by asking.
fn visible(ctx: &Ctx, uid: &str, missing: Reply) -> Result<authbridge_store::User, Reply> {
    match existing(ctx, uid)? {
        Some(user)
            if ctx.caller.admin || user.uid == ctx.caller.uid || ctx.manages(&user.uid)? =>
        {
            Ok(user)
        }
        None if ctx.caller.admin => Err(missing),
        _ => Err(ctx.no_rights()),
    }
}

/// A password that a login could never use, refused before the policy is asked.
fn unusable(password: &str) -> Option<Reply> {
    authbridge_core::usable_password(password)
        .err()
        .map(|e| Reply::fail(107, e.to_string()))
}

/// The password policy's first objection, unless the module is switched off.
pub(super) fn policy_hint(ctx: &Ctx, password: &str) -> Option<String> {
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
    Ok(Reply::ok(json!({ "users": listed(&ctx)? })))
}

/// The ids `GET /cloud/users` lists to this caller: everyone to an admin, the
/// members of their groups to a subadmin.
fn listed(ctx: &Ctx) -> Result<Vec<String>, Reply> {
    if !ctx.caller.admin && ctx.caller.subadmin_of.is_empty() {
        return Err(Reply::forbidden());
    }
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
    Ok(users)
}

/// Groups one request may name in a list parameter: every one costs store reads.
const MAX_LISTED_GROUPS: usize = 100;

/// A `key[]` list without repeats, at most [`MAX_LISTED_GROUPS`] long (101
/// beyond: a 1 MiB body could name a hundred thousand).
fn bounded_list(ctx: &Ctx, key: &str) -> Result<Vec<String>, Reply> {
    let mut list = ctx.params.list(key);
    let mut seen = std::collections::HashSet::new();
    list.retain(|g| seen.insert(g.to_lowercase()));
    if list.len() > MAX_LISTED_GROUPS {
        return Err(Reply::fail(
            BAD_INPUT,
            format!("at most {MAX_LISTED_GROUPS} groups in {key}[]"),
        ));
    }
    Ok(list)
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
    if ctx.profile().refuses_unknown_parameters
        && let Some(key) = ctx.params.unknown_keys(&known).first()
    {
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
    let groups = bounded_list(&ctx, "groups")?;
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
    let subadmin_of = bounded_list(&ctx, "subadmin")?;
    for gid in &subadmin_of {
        if !ctx.caller.admin {
            let code = ctx.profile().add_user_subadmin_not_allowed;
            return Err(Reply::fail(code, "only admins appoint subadmins"));
        }
        if gid.eq_ignore_ascii_case("admin") {
            return Err(Reply::fail(103, "Cannot create subadmins for admin group"));
        }
        if !ctx.store().group_exists(gid)? {
            return Err(Reply::fail(
                ctx.profile().add_user_subadmin_group_missing,
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
        if ctx.profile().add_user_fails_with_its_mail {
            // Nothing may stay behind from a failed create.
            let _ = ctx.store().delete_user(&created.uid);
            let message = format!("the invitation mail could not be sent: {e}");
            return Err(Reply::fail(109, message));
        }
        // As Nextcloud: the account stands; `user welcome` can send the link again.
        tracing::warn!(uid = %created.uid, "created, but the invitation mail could not be sent: {e}");
    }
    Ok(Reply::ok(json!({ "id": created.uid })))
}

/// `GET /cloud/users/{userid}`: the caller themself, a subadmin of one of the
/// user's groups, or an admin.
pub async fn get(ctx: Ctx) -> Result<Reply, Reply> {
    let missing = Reply::fail(ctx.profile().get_missing_user, "User does not exist");
    let user = visible(&ctx, &id(&ctx.path), missing)?;
    Ok(Reply::ok(to_value(&user_data(&ctx, &user)?)))
}

/// The user a `PUT` names, and who edits them: the user themself, or a manager
/// (`visible` lets no one else through).
fn edited(ctx: &Ctx) -> Result<(authbridge_store::User, Editor), Reply> {
    let missing = Reply::fail(ctx.profile().edit_missing_user, "User does not exist");
    let user = visible(ctx, &id(&ctx.path), missing)?;
    let editor = Editor {
        own: user.uid == ctx.caller.uid,
        admin: ctx.caller.admin,
    };
    Ok((user, editor))
}

/// `PUT /cloud/users/{userid}` with key and value: the user themself or their
/// manager; a key this caller may not set is refused (102, Nextcloud: 113), a
/// value that does not pass too (102, Nextcloud: 101); 107 a password the
/// policy refuses (with the hint). `user_edit` has the rules.
pub async fn edit(ctx: Ctx) -> Result<Reply, Reply> {
    let (user, editor) = edited(&ctx)?;
    let bad = ctx.profile().edit_bad_value;
    if ctx.profile().refuses_unknown_parameters
        && let Some(key) = ctx.params.unknown_keys(&["key", "value"]).first()
    {
        return Err(Reply::fail(bad, format!("unknown parameter {key:?}")));
    }
    let (Some(key), Some(value)) = (ctx.params.get("key"), ctx.params.get("value")) else {
        return Err(Reply::fail(bad, "key and value are required"));
    };
    if !user_edit::permitted(key, editor) {
        if matches!(key, "quota" | "manager") && ctx.profile().edit_own_quota == FORBIDDEN {
            return Err(Reply::forbidden());
        }
        let code = match key {
            "quota" | "manager" => ctx.profile().edit_own_quota,
            _ => ctx.profile().edit_key_not_allowed,
        };
        return Err(Reply::fail(code, format!("{key:?} cannot be edited here")));
    }
    if let Some(refusal) = user_edit::needs_login_password(&ctx, editor, key) {
        return Err(refusal);
    }
    user_edit::apply(&ctx, &user, key, value).await?;
    Ok(Reply::empty())
}

/// `PUT /cloud/users/{userid}/{collection}`: the additional e-mail addresses
/// (`additional_mail`, `additional_mailScope`) with key and value.
pub async fn edit_collection(ctx: Ctx) -> Result<Reply, Reply> {
    let (user, editor) = edited(&ctx)?;
    let key = ctx.params.get("key").unwrap_or("");
    let value = ctx.params.get("value").unwrap_or("");
    user_edit::edit_collection(&ctx, &user, editor, ctx.path_id("collection"), key, value)?;
    Ok(Reply::empty())
}

/// `GET /cloud/user`: the caller's own data, scopes included.
pub async fn current(ctx: Ctx) -> Result<Reply, Reply> {
    let Some(user) = existing(&ctx, &ctx.caller.uid)? else {
        // Accepted by a backend, but its first login could not be recorded.
        return Err(Reply::fail(
            ctx.profile().get_missing_user,
            "User does not exist",
        ));
    };
    Ok(Reply::ok(to_value(&user_data(&ctx, &user)?)))
}

/// `GET /cloud/user/fields` and `GET /cloud/user/fields/{userid}`: the profile
/// keys `PUT /cloud/users/{userid}` takes.
pub async fn editable_fields(ctx: Ctx) -> Result<Reply, Reply> {
    if let Some(uid) = ctx.path.get("userid") {
        visible(&ctx, uid, ctx.no_rights())?;
    }
    Ok(Reply::ok(json!(EDITABLE_FIELDS)))
}

/// `GET /cloud/users/details?search=&limit=&offset=`: the users `GET /cloud/users`
/// lists, each with its data, keyed by id.
pub async fn details(ctx: Ctx) -> Result<Reply, Reply> {
    let mut users = serde_json::Map::new();
    for uid in listed(&ctx)? {
        // A subadmin lists the members of their groups, admins among them,
        // but sees in full only those they manage (as Nextcloud's
        // isUserAccessible); found by review: admins' data was shown in full.
        let data = match existing(&ctx, &uid)? {
            Some(user) if ctx.manages(&user.uid)? => to_value(&user_data(&ctx, &user)?),
            _ => json!({ "id": uid }),
        };
        users.insert(uid, data);
    }
    Ok(Reply::ok(json!({ "users": users })))
}

/// `POST /cloud/users/{userid}/wipe`: Nextcloud marks the user's devices for a
/// remote wipe. authbridge has no device sessions to wipe: it revokes every app
/// password of the user (each device's credential) and says how many went.
pub async fn wipe(ctx: Ctx) -> Result<Reply, Reply> {
    let user = visible(&ctx, &id(&ctx.path), ctx.no_rights())?;
    if !ctx.manages(&user.uid)? {
        return Err(ctx.no_rights());
    }
    if user.uid == ctx.caller.uid {
        return Err(Reply::fail(101, "You cannot wipe your own devices"));
    }
    let revoked = ctx
        .ocs
        .service
        .revoke_app_passwords(&user.uid)
        .map_err(|e| Reply::store_refusal(101, &e))?;
    tracing::info!(uid = %user.uid, by = %ctx.caller.uid, revoked, "devices wiped: app passwords revoked");
    Ok(Reply {
        message: format!("{revoked} app passwords revoked"),
        ..Reply::empty()
    })
}

async fn set_enabled(ctx: Ctx, enabled: bool) -> Result<Reply, Reply> {
    let user = visible(
        &ctx,
        &id(&ctx.path),
        Reply::fail(101, "User does not exist"),
    )?;
    if !ctx.manages(&user.uid)? {
        return Err(ctx.no_rights());
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
    let missing = Reply::fail(ctx.profile().delete_missing_user, "User does not exist");
    let user = visible(&ctx, &id(&ctx.path), missing)?;
    if !ctx.manages(&user.uid)? {
        return Err(ctx.no_rights());
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
    let (gid, uid) = subadmin_target(&ctx, &ctx.path).map_err(|refusal| match refusal.code {
        102 => Reply::fail(ctx.profile().demote_in_missing_group, refusal.message),
        _ => refusal,
    })?;
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
    let missing = Reply::fail(
        ctx.profile().subadmins_of_missing_user,
        "User does not exist",
    );
    let user = visible(&ctx, &id(&ctx.path), missing)?;
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
    // 998 in both profiles (Nextcloud's resendWelcomeMessage too).
    let missing = Reply::fail(envelope::NOT_FOUND, "User does not exist");
    let user = visible(&ctx, &id(&ctx.path), missing)?;
    if !ctx.manages(&user.uid)? {
        return Err(ctx.no_rights());
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
