//! The groups instruction set: list, create, members, subadmins, delete.

use crate::clock::now;
use authbridge_store::{ProvisioningStore, Store, StoreError, validate_gid};
use serde_json::json;
use std::collections::HashMap;

use super::envelope::Reply;
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
    if let Some(key) = ctx.params.unknown_keys(&["groupid", "displayname"]).first() {
        return Err(Reply::fail(101, format!("unknown parameter {key:?}")));
    }
    let gid = ctx.params.get("groupid").unwrap_or("");
    if let Err(e) = validate_gid(gid) {
        return Err(Reply::fail(101, format!("Invalid group name: {e}")));
    }
    ctx.store().create_group(gid, now()).map_err(|e| match e {
        StoreError::GroupExists(_) => Reply::fail(102, "group exists"),
        e => Reply::store_refusal(103, &e),
    })?;
    // Created, and said so when the group stays out of NSS.
    Ok(match ctx.ocs.service.engine().names.check_export(gid) {
        Ok(()) => Reply::empty(),
        Err(hidden) => Reply {
            message: hidden.to_string(),
            ..Reply::empty()
        },
    })
}

/// `GET /cloud/groups/{groupid}`: the members (admins, and the group's subadmins).
pub async fn members(ctx: Ctx) -> Result<Reply, Reply> {
    let gid = gid(&ctx.path);
    if !exists(&ctx, &gid)? {
        return Err(Reply::not_found("The requested group"));
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
