//! What clients ask before they log in: `/status.php`, the capabilities and the
//! OCS core config. pyocclient's `login()` reads the capabilities' version;
//! nc_py_api reads `version.{major,minor,micro,string,extendedSupport}`.

use axum::extract::State;
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::sync::Arc;

use super::Ocs;
use super::envelope::Reply;

/// The Nextcloud release whose Provisioning API authbridge answers as (the
/// `nextcloud` profile's codes are those of Nextcloud 30, after
/// nextcloud/server#47846). Clients choose features by this number.
const API_MAJOR: u32 = 30;
const API_MINOR: u32 = 0;
const API_MICRO: u32 = 0;

fn version_string() -> String {
    format!("{API_MAJOR}.{API_MINOR}.{API_MICRO}")
}

/// `GET /status.php`, public, as Nextcloud's: installed, not in maintenance.
pub async fn status() -> Response {
    let body = json!({
        "installed": true,
        "maintenance": false,
        "needsDbUpgrade": false,
        "version": format!("{}.0", version_string()),
        "versionstring": version_string(),
        "edition": "",
        "productname": "authbridge",
        "extendedSupport": false,
    });
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        body.to_string(),
    )
        .into_response()
}

/// `GET /ocs/v{1,2}.php/cloud/capabilities`, public as in Nextcloud: the
/// version and what the Provisioning API offers (no federation, no lookup
/// server: scopes beyond this server are not published anywhere).
pub async fn capabilities() -> Reply {
    Reply::ok(json!({
        "version": {
            "major": API_MAJOR,
            "minor": API_MINOR,
            "micro": API_MICRO,
            "string": version_string(),
            "edition": "",
            "extendedSupport": false,
        },
        "capabilities": {
            "core": {
                "pollinterval": 60,
            },
            "provisioning_api": {
                "version": env!("CARGO_PKG_VERSION"),
                "AccountPropertyScopesVersion": 2,
                "AccountPropertyScopesFederatedEnabled": false,
                "AccountPropertyScopesPublishedEnabled": false,
            },
        },
    }))
}

/// `GET /ocs/v{1,2}.php/config`, public: the OCS core config. The host is the
/// one the client asked for (its `Host` header, escaped by the renderer).
pub async fn config(State(ocs): State<Arc<Ocs>>, headers: HeaderMap) -> Reply {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    Reply::ok(json!({
        "version": "1.7",
        "website": "authbridge",
        "host": host,
        "contact": "",
        "ssl": if ocs.base_url.starts_with("https://") { "true" } else { "false" },
    }))
}
