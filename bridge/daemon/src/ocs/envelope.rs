//! The OCS envelope: `<ocs><meta/><data/></ocs>` in XML (the default) or JSON
//! (`format=json` or `Accept: application/json`), and the HTTP status per API
//! version: v1 answers 200 with the OCS code in meta (401 for an unknown caller);
//! v2 puts 200 in meta for success and maps failures to HTTP statuses as Nextcloud
//! does (401, 403, 404, 500; any other code below 200 is 400).

use authbridge_store::StoreError;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

pub const OK: u32 = 100;
/// "invalid input data" in most endpoints' own lists.
pub const BAD_INPUT: u32 = 101;
/// Not logged in (Nextcloud's OCSController::RESPOND_UNAUTHORISED).
pub const UNAUTHORISED: u32 = 997;
/// Nextcloud's OCSController::RESPOND_NOT_FOUND.
pub const NOT_FOUND: u32 = 998;
/// Logged in, not allowed (Nextcloud's OCSForbiddenException).
pub const FORBIDDEN: u32 = 403;
/// What Nextcloud answers when a controller fails (v2: HTTP 500).
pub const SERVER_ERROR: u32 = 996;
/// The brute-force throttle said no (HTTP 429 in v1 too).
pub const THROTTLED: u32 = 429;
/// The account store cannot be reached just now (HTTP 503 in v1 too): the
/// request may be sent again; nothing is known of the account.
pub const UNAVAILABLE: u32 = 503;

/// An answer before it is rendered: the OCS code, a message and the data.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub code: u32,
    pub message: String,
    pub data: Value,
}

impl Reply {
    pub fn ok(data: Value) -> Reply {
        Reply {
            code: OK,
            message: "OK".into(),
            data,
        }
    }

    pub fn empty() -> Reply {
        Reply::ok(Value::Array(vec![]))
    }

    pub fn fail(code: u32, message: impl Into<String>) -> Reply {
        Reply {
            code,
            message: message.into(),
            data: Value::Array(vec![]),
        }
    }

    pub fn forbidden() -> Reply {
        Reply::fail(
            FORBIDDEN,
            "Logged in account must be an admin or a sub admin of the group",
        )
    }

    /// Too many failed logins from this source: HTTP 429 in both versions.
    pub fn throttled() -> Reply {
        Reply::fail(
            THROTTLED,
            "Too many failed logins from this address; try again later",
        )
    }

    pub fn unauthorised() -> Reply {
        Reply::fail(UNAUTHORISED, "Current user is not logged in")
    }

    pub fn not_found(what: &str) -> Reply {
        Reply::fail(NOT_FOUND, format!("{what} not found"))
    }

    /// The store failed: logged here with its detail and answered as a server
    /// error, never as a wrong answer ("no such group", an empty list).
    pub fn store_failure(e: &StoreError) -> Reply {
        if let StoreError::Unavailable(detail) = e {
            tracing::warn!("the store is unavailable: {detail}");
            return Reply::fail(
                UNAVAILABLE,
                "The account store is unavailable; try again shortly",
            );
        }
        tracing::error!("the store failed while answering an OCS request: {e}");
        Reply::fail(
            SERVER_ERROR,
            "The account store failed; the daemon's log has the details",
        )
    }
}

impl Reply {
    /// A documented failure code for a store error: its own words when they are
    /// about the request (no such user, already exists, the admin group), fixed
    /// words when the store itself failed (its detail goes to the log only).
    pub fn store_refusal(code: u32, e: &StoreError) -> Reply {
        match e {
            StoreError::NoSuchUser(_)
            | StoreError::NoSuchGroup(_)
            | StoreError::UserExists(_)
            | StoreError::GroupExists(_)
            | StoreError::AdminGroup
            | StoreError::InvalidUid(_)
            | StoreError::IdRangeExhausted
            | StoreError::InvalidIdRange(..) => Reply::fail(code, e.to_string()),
            StoreError::Unavailable(_) => Reply::store_failure(e),
            StoreError::NotAStore { .. }
            | StoreError::NewerSchema { .. }
            | StoreError::Sqlite(_)
            | StoreError::Postgres(_)
            | StoreError::Retry(_)
            | StoreError::Settings(_)
            | StoreError::Unexpected(_)
            | StoreError::TargetNotEmpty
            | StoreError::CopyMismatch { .. }
            | StoreError::Io { .. } => Reply {
                code,
                ..Reply::store_failure(e)
            },
        }
    }
}

/// `?` on a store call in a handler that returns `Result<Reply, Reply>`.
impl From<StoreError> for Reply {
    fn from(e: StoreError) -> Reply {
        Reply::store_failure(&e)
    }
}

/// A handler returns a reply, or `Result<Reply, Reply>` where `?` ends it early
/// with the error's reply. The reply travels in the response's extensions to
/// `request::render_replies`, which knows the version and format to render it in.
impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = StatusCode::OK.into_response();
        response.extensions_mut().insert(self);
        response
    }
}

/// How the request wants its answer.
pub fn format_of(query_format: Option<&str>, headers: &HeaderMap) -> Format {
    match query_format {
        Some(f) if f.eq_ignore_ascii_case("json") => return Format::Json,
        Some(f) if f.eq_ignore_ascii_case("xml") => return Format::Xml,
        _ => {}
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if accept.contains("application/json") {
        Format::Json
    } else {
        Format::Xml
    }
}

fn http_status(version: Version, code: u32) -> StatusCode {
    let status = match (version, code) {
        (_, UNAUTHORISED) => 401,
        (_, THROTTLED) => 429,
        (_, UNAVAILABLE) => 503,
        (Version::V1, _) => 200,
        (Version::V2, OK) => 200,
        (Version::V2, NOT_FOUND) => 404,
        // RESPOND_SERVER_ERROR and RESPOND_UNKNOWN_ERROR, as V2Response maps them.
        (Version::V2, 996 | 999) => 500,
        (Version::V2, c) if !(200..=600).contains(&c) => 400,
        (Version::V2, c) => c as u16,
    };
    StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST)
}

pub fn render(reply: Reply, how: super::request::Rendering) -> Response {
    let (version, format) = (how.version, how.format);
    let status = http_status(version, reply.code);
    let meta_code = match (version, reply.code) {
        (Version::V2, OK) => 200,
        // v1 has no HTTP status to say "forbidden" with: the profile's code says it.
        (Version::V1, FORBIDDEN) => how.profile.v1_forbidden,
        (_, c) => c,
    };
    let mut meta = Map::new();
    meta.insert(
        "status".into(),
        if reply.code == OK { "ok" } else { "failure" }.into(),
    );
    meta.insert("statuscode".into(), meta_code.into());
    meta.insert("message".into(), reply.message.into());
    meta.insert("totalitems".into(), "".into());
    meta.insert("itemsperpage".into(), "".into());
    let (body, content_type) = match format {
        Format::Json => {
            let doc = serde_json::json!({ "ocs": { "meta": meta, "data": reply.data } });
            (doc.to_string(), "application/json; charset=utf-8")
        }
        Format::Xml => {
            let mut out = String::from("<?xml version=\"1.0\"?>\n<ocs>\n");
            write_element(&mut out, "meta", &Value::Object(meta), 1);
            write_element(&mut out, "data", &reply.data, 1);
            out.push_str("</ocs>\n");
            (out, how.profile.xml_content_type)
        }
    };
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn escape(text: &str, out: &mut String) {
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // Characters XML 1.0 cannot carry at all (found by review: one
            // U+FFFE in a display name made every XML listing unreadable).
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
}

/// Keys that are not XML names (numeric keys, as PHP arrays have) become `element`.
fn element_name(key: &str) -> &str {
    let mut chars = key.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid { key } else { "element" }
}

fn write_element(out: &mut String, name: &str, value: &Value, depth: usize) {
    let indent = " ".repeat(depth);
    let name = element_name(name);
    match value {
        Value::Null => out.push_str(&format!("{indent}<{name}/>\n")),
        Value::Array(items) if items.is_empty() => out.push_str(&format!("{indent}<{name}/>\n")),
        Value::Object(map) if map.is_empty() => out.push_str(&format!("{indent}<{name}/>\n")),
        Value::Array(items) => {
            out.push_str(&format!("{indent}<{name}>\n"));
            for item in items {
                write_element(out, "element", item, depth + 1);
            }
            out.push_str(&format!("{indent}</{name}>\n"));
        }
        Value::Object(map) => {
            out.push_str(&format!("{indent}<{name}>\n"));
            for (k, v) in map {
                write_element(out, k, v, depth + 1);
            }
            out.push_str(&format!("{indent}</{name}>\n"));
        }
        // As PHP's XMLWriter writes a bool: `1`, or nothing at all.
        Value::String(s) if s.is_empty() => out.push_str(&format!("{indent}<{name}></{name}>\n")),
        Value::Bool(false) => out.push_str(&format!("{indent}<{name}></{name}>\n")),
        scalar => {
            let text = match scalar {
                Value::String(s) => s.clone(),
                Value::Bool(_) => "1".to_owned(),
                other => other.to_string(),
            };
            out.push_str(&format!("{indent}<{name}>"));
            escape(&text, out);
            out.push_str(&format!("</{name}>\n"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_maps_codes_to_http_statuses_and_v1_does_not() {
        assert_eq!(http_status(Version::V1, 102), StatusCode::OK);
        assert_eq!(
            http_status(Version::V1, UNAUTHORISED),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(http_status(Version::V2, OK), StatusCode::OK);
        assert_eq!(http_status(Version::V2, 102), StatusCode::BAD_REQUEST);
        assert_eq!(http_status(Version::V2, NOT_FOUND), StatusCode::NOT_FOUND);
        assert_eq!(
            http_status(Version::V2, 999),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(http_status(Version::V2, FORBIDDEN), StatusCode::FORBIDDEN);
        assert_eq!(
            http_status(Version::V2, UNAUTHORISED),
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn xml_lists_are_elements_and_text_is_escaped() {
        let mut out = String::new();
        write_element(
            &mut out,
            "data",
            &serde_json::json!({"users": ["a<b", "c\u{FFFE}"], "0": true, "off": false, "none": null}),
            0,
        );
        // Booleans as PHP writes them (pyocclient reads `enabled` as text: an
        // empty element is false to it, "false" would be true).
        assert_eq!(
            out,
            "<data>\n <users>\n  <element>a&lt;b</element>\n  <element>c</element>\n </users>\n <element>1</element>\n <off></off>\n <none/>\n</data>\n"
        );
    }
}
