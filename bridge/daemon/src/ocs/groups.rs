//! The groups instruction set: list, create, members, subadmins, delete.

use crate::clock::now;
use authbridge_store::{StoreError, validate_gid};
use serde_json::json;
use std::collections::HashMap;

use super::envelope::Reply;
use super::user_data::{to_value, user_data};
use super::{Ctx, fields};

fn gid(path: &HashMap<String, String>) -> String {
    path.get("groupid").cloned().unwrap_or_default()
}

fn exists(ctx: &Ctx, gid: &str) -> Result<bool, Reply> {
    Ok(validate_gid(gid).is_ok() && ctx.store().group_exists(gid)?)
}

/// The group in the path, for an admin-only endpoint: 403 for anyone else, 101
/// when it does not exist.
fn admins_group(ctx: &Ctx, path: &HashMap<String, String>) -> Result<String, Reply> {
    if !ctx.caller.admin {
        return Err(Reply::forbidden());
    }
    let gid = gid(path);
    if !exists(ctx, &gid)? {
        return Err(Reply::fail(101, "Group does not exist"));
    }
    Ok(gid)
}

/// `GET /cloud/groups?search=&limit=&offset=`: all groups for admins, the
/// administered ones for subadmins.
pub async fn list(ctx: Ctx) -> Result<Reply, Reply> {
    let (limit, offset) = fields::paging(&ctx.params)?;
    let search = ctx.params.get("search").unwrap_or("");
    if !ctx.caller.admin && ctx.caller.subadmin_of.is_empty() {
        return Err(Reply::forbidden());
    }
    let groups: Vec<String> = if ctx.caller.admin {
        ctx.store()
            .groups(Some(search), limit.unwrap_or(usize::MAX >> 1), offset)?
    } else {
        let mut mine: Vec<String> = ctx
            .caller
            .subadmin_of
            .iter()
            .filter(|g| g.to_lowercase().contains(&search.to_lowercase()))
            .cloned()
            .collect();
        mine.sort();
        mine.into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect()
    };
    Ok(Reply::ok(json!({ "groups": groups })))
}

/// `POST /cloud/groups` with groupid (admins only): 101 invalid input, 102 exists,
/// 103 failed.
pub async fn create(ctx: Ctx) -> Result<Reply, Reply> {
    if !ctx.caller.admin {
        return Err(Reply::forbidden());
    }
    if ctx.profile().refuses_unknown_parameters
        && let Some(key) = ctx.params.unknown_keys(&["groupid", "displayname"]).first()
    {
        return Err(Reply::fail(101, format!("unknown parameter {key:?}")));
    }
    let displayname = ctx.params.get("displayname").filter(|d| !d.is_empty());
    if let Some(d) = displayname {
        fields::text(d, 101)?;
    }
    let gid = ctx.params.get("groupid").unwrap_or("");
    if let Err(e) = validate_gid(gid) {
        return Err(Reply::fail(101, format!("Invalid group name: {e}")));
    }
    ctx.store().create_group(gid, now()).map_err(|e| match e {
        StoreError::GroupExists(_) => Reply::fail(102, "group exists"),
        e => Reply::store_refusal(103, &e),
    })?;
    if let Some(name) = displayname.filter(|d| *d != gid)
        && let Err(e) = ctx.store().set_group_display_name(gid, Some(name))
    {
        // Nothing half-made stays behind.
        let _ = ctx.store().delete_group(gid);
        return Err(Reply::store_refusal(103, &e));
    }
    // Created, and said so when the group stays out of NSS.
    Ok(match ctx.ocs.service.engine().names.check_export(gid) {
        Ok(()) => Reply::empty(),
        Err(hidden) => Reply {
            message: hidden.to_string(),
            ..Reply::empty()
        },
    })
}

/// `GET /cloud/groups/details?search=&limit=&offset=` (admins only, as in
/// Nextcloud): each group with its display name and member counts.
pub async fn details(ctx: Ctx) -> Result<Reply, Reply> {
    if !ctx.caller.admin {
        return Err(Reply::forbidden());
    }
    let (limit, offset) = fields::paging(&ctx.params)?;
    let search = ctx.params.get("search").unwrap_or("");
    let store = ctx.store();
    let mut groups = Vec::new();
    for gid in store.groups(Some(search), limit.unwrap_or(usize::MAX >> 1), offset)? {
        let (usercount, disabled) = store.group_counts(&gid)?;
        let displayname = store
            .group_display_name(&gid)?
            .unwrap_or_else(|| gid.clone());
        groups.push(json!({
            "id": gid,
            "displayname": displayname,
            "usercount": usercount,
            "disabled": disabled,
            "canAdd": true,
            "canRemove": true,
        }));
    }
    Ok(Reply::ok(json!({ "groups": groups })))
}

/// `GET /cloud/groups/{groupid}/users/details`: the members with their data,
/// keyed by id; 998 for a group that does not exist or is not the caller's.
pub async fn members_details(ctx: Ctx) -> Result<Reply, Reply> {
    let gid = gid(&ctx.path);
    if !exists(&ctx, &gid)? || !ctx.administers(&gid) {
        return Err(Reply::fail(998, "The requested group could not be found"));
    }
    let (limit, offset) = fields::paging(&ctx.params)?;
    let search = ctx.params.get("search").unwrap_or("").to_lowercase();
    let mut users = serde_json::Map::new();
    let members = ctx.store().members(&gid)?;
    let matching = members
        .into_iter()
        .filter(|uid| uid.to_lowercase().contains(&search))
        .skip(offset)
        .take(limit.unwrap_or(usize::MAX));
    for uid in matching {
        let data = match ctx.store().user(&uid) {
            Ok(user) if ctx.manages(&user.uid)? => to_value(&user_data(&ctx, &user)?),
            // A member the caller may not administer (an admin, for a subadmin).
            Ok(_) | Err(StoreError::NoSuchUser(_)) => json!({ "id": uid }),
            Err(e) => return Err(e.into()),
        };
        users.insert(uid, data);
    }
    Ok(Reply::ok(json!({ "users": users })))
}

/// `PUT /cloud/groups/{groupid}` with key=displayname and value (admins only):
/// 998 no such group, 999 any other key, as Nextcloud.
pub async fn update(ctx: Ctx) -> Result<Reply, Reply> {
    if !ctx.caller.admin {
        return Err(Reply::forbidden());
    }
    let gid = gid(&ctx.path);
    if !exists(&ctx, &gid)? {
        return Err(Reply::fail(998, "Group does not exist"));
    }
    if ctx.params.get("key") != Some("displayname") {
        return Err(Reply::fail(999, "Only displayname can be changed"));
    }
    let value = ctx.params.get("value").unwrap_or("");
    fields::text(value, 101)?;
    let name = Some(value).filter(|v| !v.is_empty() && *v != gid);
    ctx.store()
        .set_group_display_name(&gid, name)
        .map_err(|e| Reply::store_refusal(101, &e))?;
    Ok(Reply::empty())
}

/// `GET /cloud/groups/{groupid}` and `…/users`: the members (admins, and the
/// group's subadmins).
pub async fn members(ctx: Ctx) -> Result<Reply, Reply> {
    let gid = gid(&ctx.path);
    if !exists(&ctx, &gid)? {
        let code = ctx.profile().members_of_missing_group;
        return Err(Reply::fail(code, "The requested group could not be found"));
    }
    if !ctx.administers(&gid) {
        return Err(Reply::forbidden());
    }
    let users = ctx.store().members(&gid)?;
    Ok(Reply::ok(json!({ "users": users })))
}

/// `GET /cloud/groups/{groupid}/subadmins` (admins only): 101 no such group, 102
/// unknown failure.
pub async fn subadmins(ctx: Ctx) -> Result<Reply, Reply> {
    let gid = admins_group(&ctx, &ctx.path)?;
    Ok(match ctx.store().group_subadmins(&gid) {
        Ok(users) => Reply::ok(json!(users)),
        Err(e) => Reply::store_refusal(102, &e),
    })
}

/// `DELETE /cloud/groups/{groupid}` (admins only): 101 no such group, 102 failed
/// (the admin group cannot be deleted).
pub async fn delete(ctx: Ctx) -> Result<Reply, Reply> {
    let gid = admins_group(&ctx, &ctx.path)?;
    Ok(match ctx.store().delete_group(&gid) {
        Ok(()) => Reply::empty(),
        Err(e) => Reply::store_refusal(102, &e),
    })
}
