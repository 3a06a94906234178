//! The apps instruction set, over authbridge's own optional modules (`modules`).

use serde_json::json;
use std::collections::HashMap;

use super::Ctx;
use super::envelope::Reply;
use crate::modules::{MODULES, Module, ModuleId};

fn module(id: &str) -> Option<&'static Module> {
    ModuleId::from_app_id(id).map(ModuleId::module)
}

fn appid(path: &HashMap<String, String>) -> String {
    path.get("appid").cloned().unwrap_or_default()
}

/// `GET /cloud/apps?filter=enabled|disabled`: 101 for another filter.
pub async fn list(ctx: Ctx) -> Result<Reply, Reply> {
    if !ctx.caller.admin {
        return Err(Reply::forbidden());
    }
    let filter = ctx.params.get("filter").filter(|f| !f.is_empty());
    let want = match filter {
        None => None,
        Some("enabled") => Some(true),
        Some("disabled") => Some(false),
        Some(other) => return Err(Reply::fail(101, format!("unknown filter {other:?}"))),
    };
    let apps: Vec<&str> = MODULES
        .iter()
        .filter(|m| want.is_none_or(|w| ctx.switches().enabled(m.id) == w))
        .map(|m| m.id.app_id())
        .collect();
    Ok(Reply::ok(json!({ "apps": apps })))
}

/// `GET /cloud/apps/{appid}`: 998 for a module authbridge does not have.
pub async fn info(ctx: Ctx) -> Result<Reply, Reply> {
    if !ctx.caller.admin {
        return Err(Reply::forbidden());
    }
    let Some(m) = module(&appid(&ctx.path)) else {
        return Err(Reply::not_found("App"));
    };
    Ok(Reply::ok(json!({
        "id": m.id.app_id(),
        "name": m.name,
        "description": m.description,
        "licence": "MIT OR Apache-2.0",
        "author": "authbridge",
        "version": env!("CARGO_PKG_VERSION"),
        "shipped": true,
        "enabled": ctx.switches().enabled(m.id),
        "types": [if m.kind.is_some() { "authentication" } else { "prevent_group_restriction" }],
    })))
}

async fn switch(ctx: Ctx, on: bool) -> Result<Reply, Reply> {
    if !ctx.caller.admin {
        return Err(Reply::forbidden());
    }
    let Some(m) = module(&appid(&ctx.path)) else {
        return Err(Reply::not_found("App"));
    };
    if m.required && !on {
        return Err(Reply::fail(
            101,
            format!("{} cannot be disabled through itself", m.id.app_id()),
        ));
    }
    ctx.switches()
        .set(ctx.store(), m.id, on)
        .map_err(|e| Reply::store_failure(&e))?;
    Ok(Reply::empty())
}

/// `POST /cloud/apps/{appid}`
pub async fn enable(ctx: Ctx) -> Result<Reply, Reply> {
    switch(ctx, true).await
}

/// `DELETE /cloud/apps/{appid}`
pub async fn disable(ctx: Ctx) -> Result<Reply, Reply> {
    switch(ctx, false).await
}
