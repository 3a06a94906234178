//! The groups instruction set: list, create, members, subadmins, delete.

use crate::clock::now;
use authbridge_store::{ProvisioningStore, Store, StoreError, validate_uid};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;

use super::envelope::Reply;
use super::{Ctx, Parts, fields, run};

type Body = Result<Bytes, BytesRejection>;

fn gid(path: &HashMap<String, String>) -> String {
    path.get("groupid").cloned().unwrap_or_default()
}

fn exists(ctx: &Ctx, gid: &str) -> Result<bool, Reply> {
    Ok(validate_uid(gid).is_ok() && ctx.store().group_exists(gid)?)
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
pub async fn list(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, _| async move {
        let (limit, offset) = fields::paging(&ctx.query)?;
        let search = ctx.query.get("search").unwrap_or("");
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
    })
    .await
}

/// `POST /cloud/groups` with groupid (admins only): 101 invalid input, 102 exists,
/// 103 failed.
pub async fn create(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, _| async move {
        if !ctx.caller.admin {
            return Reply::forbidden();
        }
        if let Some(key) = ctx.body.unknown_keys(&["groupid", "displayname"]).first() {
            return Reply::fail(101, format!("unknown parameter {key:?}"));
        }
        let gid = ctx.body.get("groupid").unwrap_or("");
        if let Err(e) = validate_uid(gid) {
            return Reply::fail(101, format!("Invalid group name: {e}"));
        }
        match ctx.store().create_group(gid, now()) {
            // Created, and said so when the group stays out of NSS.
            Ok(()) => match ctx.ocs.service.engine().names.check_export(gid) {
                Ok(()) => Reply::empty(),
                Err(hidden) => Reply {
                    message: hidden.to_string(),
                    ..Reply::empty()
                },
            },
            Err(StoreError::GroupExists(_)) => Reply::fail(102, "group exists"),
            Err(e) => Reply::store_refusal(103, &e),
        }
    })
    .await
}

/// `GET /cloud/groups/{groupid}`: the members (admins, and the group's subadmins).
pub async fn members(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let gid = gid(&path);
        if !exists(&ctx, &gid)? {
            return Err(Reply::not_found("The requested group"));
        }
        if !ctx.administers(&gid) {
            return Err(Reply::forbidden());
        }
        let users = ctx.store().members(&gid)?;
        Ok(Reply::ok(json!({ "users": users })))
    })
    .await
}

/// `GET /cloud/groups/{groupid}/subadmins` (admins only): 101 no such group, 102
/// unknown failure.
pub async fn subadmins(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let gid = admins_group(&ctx, &path)?;
        Ok(match ctx.store().group_subadmins(&gid) {
            Ok(users) => Reply::ok(json!(users)),
            Err(e) => Reply::store_refusal(102, &e),
        })
    })
    .await
}

/// `DELETE /cloud/groups/{groupid}` (admins only): 101 no such group, 102 failed
/// (the admin group cannot be deleted).
pub async fn delete(parts: Parts, body: Body) -> Response {
    run(parts, body, |ctx, path| async move {
        let gid = admins_group(&ctx, &path)?;
        Ok(match ctx.store().delete_group(&gid) {
            Ok(()) => Reply::empty(),
            Err(e) => Reply::store_refusal(102, &e),
        })
    })
    .await
}
