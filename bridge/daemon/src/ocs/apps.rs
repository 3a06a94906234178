//! The apps instruction set, over authbridge's own optional modules. Switching one
//! off persists in the store and takes effect on the next request: a disabled
//! backend module is not asked, disabled app passwords are not accepted, a
//! disabled welcome mail makes password-less creation fail with 109.

use authbridge_core::BackendKind;
use authbridge_store::{ProvisioningStore, SqliteStore};
use serde_json::json;
use std::collections::HashMap;

use super::Ctx;
use super::envelope::Reply;

pub struct Module {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    /// The backend kind this module stands for, if any.
    pub kind: Option<BackendKind>,
    /// Modules the API itself needs cannot be switched off through it.
    pub required: bool,
}

pub const MODULES: &[Module] = &[
    Module {
        id: "provisioning_api",
        name: "Provisioning API",
        description: "This OCS API: users, groups and apps",
        kind: None,
        required: true,
    },
    Module {
        id: "user_imap",
        name: "IMAP backend",
        description: "Checks passwords against IMAP servers",
        kind: Some(BackendKind::Imap),
        required: false,
    },
    Module {
        id: "user_smb",
        name: "SMB backend",
        description: "Checks passwords against SMB servers",
        kind: Some(BackendKind::Smb),
        required: false,
    },
    Module {
        id: "user_ftp",
        name: "FTP backend",
        description: "Checks passwords against FTP servers",
        kind: Some(BackendKind::Ftp),
        required: false,
    },
    Module {
        id: "app_passwords",
        name: "App passwords",
        description: "Per-device passwords, stored as keyed hashes",
        kind: Some(BackendKind::AppPassword),
        required: false,
    },
    Module {
        id: "password_policy",
        name: "Password policy",
        description: "Length and common-password rules for local passwords",
        kind: None,
        required: false,
    },
    Module {
        id: "welcome_mail",
        name: "Welcome mail",
        description: "Mails a single-use link to set a password",
        kind: None,
        required: false,
    },
];

fn module(id: &str) -> Option<&'static Module> {
    MODULES.iter().find(|m| m.id == id)
}

/// The modules' on/off state, read from the store at start and written through:
/// every password check asks it, so it must cost no query. Only this process
/// switches modules (the OCS API), so the copy cannot go stale.
pub struct Switches {
    off: std::sync::RwLock<std::collections::HashSet<&'static str>>,
}

impl Switches {
    pub fn load(store: &SqliteStore) -> authbridge_store::Result<Switches> {
        let mut off = std::collections::HashSet::new();
        for m in MODULES {
            if store.app_enabled(m.id)? == Some(false) {
                off.insert(m.id);
            }
        }
        Ok(Switches {
            off: std::sync::RwLock::new(off),
        })
    }

    /// Whether a module is on (every module is on until switched off).
    pub fn enabled(&self, id: &str) -> bool {
        !self
            .off
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    /// Whether the backends of `kind` may be asked now.
    pub fn kind_enabled(&self, kind: BackendKind) -> bool {
        MODULES
            .iter()
            .find(|m| m.kind == Some(kind))
            .is_none_or(|m| self.enabled(m.id))
    }

    fn set(
        &self,
        store: &SqliteStore,
        m: &'static Module,
        on: bool,
    ) -> authbridge_store::Result<()> {
        store.set_app_enabled(m.id, on)?;
        let mut off = self.off.write().unwrap_or_else(|p| p.into_inner());
        if on {
            off.remove(m.id);
        } else {
            off.insert(m.id);
        }
        Ok(())
    }
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
        .map(|m| m.id)
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
        "id": m.id,
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
            format!("{} cannot be disabled through itself", m.id),
        ));
    }
    ctx.switches()
        .set(ctx.store(), m, on)
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
