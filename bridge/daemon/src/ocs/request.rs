//! What every OCS endpoint starts from, as one axum extractor: the API version
//! and answer format (set by [`render_replies`]), the `OCS-APIRequest` header,
//! the caller (Basic authentication through the same chain and throttle as
//! PAM), the path ids and the merged parameters. An endpoint that takes a
//! [`Ctx`] runs only once all of that has passed; whatever failed before it is
//! answered here, in the request's own envelope.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Request};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use super::envelope::{self, BAD_INPUT, Format, Reply, Version};
use super::form::Form;
use super::{Caller, Login, MAX_BODY, Ocs, login};

/// How the request wants its answer: known before any endpoint runs.
#[derive(Debug, Clone, Copy)]
pub struct Rendering {
    pub version: Version,
    pub format: Format,
    pub profile: &'static super::compat::Profile,
}

/// The version from `/ocs/{v1.php|v2.php}/…`.
fn version_of(path: &str) -> Option<Version> {
    match path.strip_prefix("/ocs/")?.split('/').next()? {
        "v1.php" => Some(Version::V1),
        "v2.php" => Some(Version::V2),
        _ => None,
    }
}

/// The `format` query parameter, if the query decodes at all.
fn query_format(query: Option<&str>) -> Option<String> {
    Form::parse(query?.as_bytes())
        .ok()?
        .get("format")
        .map(str::to_owned)
}

/// Around every `/ocs/` route: an unknown API version is 404; everything else
/// is answered in the request's envelope. Endpoints (and [`Ctx`] when it
/// refuses) return a [`Reply`], which travels in the response's extensions to
/// be rendered here, where version and format are known.
pub async fn render_replies(
    axum::extract::State(ocs): axum::extract::State<Arc<Ocs>>,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(version) = version_of(req.uri().path()) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let format = envelope::format_of(query_format(req.uri().query()).as_deref(), req.headers());
    let rendering = Rendering {
        version,
        format,
        profile: ocs.profile(),
    };
    req.extensions_mut().insert(rendering);
    let mut response = next.run(req).await;
    match response.extensions_mut().remove::<Reply>() {
        Some(reply) => envelope::render(reply, rendering),
        None => response,
    }
}

/// What an endpoint gets.
pub struct Ctx {
    pub ocs: Arc<Ocs>,
    pub caller: Caller,
    /// The query string (but `format`), then the body (a form, or JSON), merged
    /// as Nextcloud merges them: a key in the body wins over the same key in
    /// the query.
    pub params: Form,
    /// The path's ids, percent-decoded (the API version is not among them).
    pub path: HashMap<String, String>,
    pub rendering: Rendering,
}

impl Ctx {
    /// A path id by name (every route names the ids it has).
    pub fn path_id(&self, name: &str) -> &str {
        self.path.get(name).map_or("", String::as_str)
    }

    /// The codes of the configured compatibility profile (`[ocs] compat`).
    pub fn profile(&self) -> &'static super::compat::Profile {
        self.rendering.profile
    }

    /// A user the caller may not administer (to anyone but an admin, also one
    /// that does not exist): the same answer either way.
    pub fn no_rights(&self) -> Reply {
        match self.profile().no_rights_over_user {
            envelope::FORBIDDEN => Reply::forbidden(),
            // Nextcloud's UsersController says nothing more.
            code => Reply::fail(code, ""),
        }
    }
}

/// `Content-Type: application/json` (Nextcloud looks for it anywhere in the header).
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().contains("application/json"))
}

/// The merged parameters: the query but `format`, then the body.
fn parameters(query: Option<&str>, headers: &HeaderMap, body: &[u8]) -> Result<Form, Reply> {
    let invalid = |e: super::form::BadForm| Reply::fail(BAD_INPUT, e.0);
    let mut params = Form::parse(query.unwrap_or("").as_bytes()).map_err(invalid)?;
    params.remove("format");
    let body = match is_json(headers) && !body.is_empty() {
        true => Form::from_json(body).map_err(invalid)?,
        false => Form::parse(body).map_err(invalid)?,
    };
    params.append(body);
    Ok(params)
}

impl FromRequest<Arc<Ocs>> for Ctx {
    type Rejection = Response;

    async fn from_request(req: Request, ocs: &Arc<Ocs>) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Some(rendering) = parts.extensions.get::<Rendering>().copied() else {
            // A route outside `render_replies`: a wiring mistake, not the client's.
            tracing::error!("an OCS endpoint was routed without render_replies");
            return Err(StatusCode::INTERNAL_SERVER_ERROR.into_response());
        };
        let api_request = parts
            .headers
            .get("OCS-APIRequest")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        if !api_request {
            // Nextcloud's SecurityMiddleware answer to a request without the header.
            return Err((
                StatusCode::PRECONDITION_FAILED,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                r#"{"message":"CSRF check failed"}"#,
            )
                .into_response());
        }
        let client = ConnectInfo::<SocketAddr>::from_request_parts(&mut parts, ocs)
            .await
            .map(|ConnectInfo(client)| client)
            .map_err(IntoResponse::into_response)?;
        let caller = match login(ocs, &parts.headers, client, "ocs").await {
            Login::Accepted(caller) => caller,
            Login::Refused => return Err(Reply::unauthorised().into_response()),
            Login::SecondFactor(message) => {
                return Err(Reply::fail(envelope::UNAUTHORISED, message).into_response());
            }
            Login::Unavailable => {
                return Err(Reply::fail(
                    envelope::SERVER_ERROR,
                    "The account's server cannot be reached; try again later",
                )
                .into_response());
            }
            Login::StoreFailed => {
                return Err(Reply::fail(
                    envelope::SERVER_ERROR,
                    "The account store failed; the daemon's log has the details",
                )
                .into_response());
            }
            Login::Throttled(_) => return Err(Reply::throttled().into_response()),
        };
        // Malformed input is refused before any endpoint runs, so nothing is written.
        let path = match Path::<HashMap<String, String>>::from_request_parts(&mut parts, ocs).await
        {
            Ok(Path(mut path)) => {
                path.remove("api");
                path
            }
            Err(_) => {
                let reply = Reply::fail(BAD_INPUT, "the id in the path is not valid UTF-8");
                return Err(reply.into_response());
            }
        };
        let query = parts.uri.query().map(str::to_owned);
        let headers = parts.headers.clone();
        let Ok(body) = Bytes::from_request(Request::from_parts(parts, body), ocs).await else {
            let reply = Reply::fail(
                BAD_INPUT,
                format!("the body exceeds {MAX_BODY} bytes or could not be read"),
            );
            return Err(reply.into_response());
        };
        let params = parameters(query.as_deref(), &headers, &body);
        // The body may hold a password: wiped once parsed, when this is its only
        // owner (a body hyper could not hand over whole stays as it is).
        if let Ok(mut owned) = body.try_into_mut() {
            zeroize::Zeroize::zeroize(&mut owned[..]);
        }
        let params = params.map_err(IntoResponse::into_response)?;
        Ok(Ctx {
            ocs: Arc::clone(ocs),
            caller,
            params,
            path,
            rendering,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json_headers() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        headers
    }

    #[test]
    fn the_body_wins_over_the_query_and_format_is_not_a_parameter() {
        let p = parameters(
            Some("format=json&key=email&value=q%40x"),
            &HeaderMap::new(),
            b"value=b%40x",
        )
        .unwrap();
        assert_eq!(p.get("format"), None);
        assert_eq!(p.get("key"), Some("email"));
        assert_eq!(p.get("value"), Some("b@x"));
    }

    #[test]
    fn a_json_body_is_read_only_when_it_says_so() {
        let body = br#"{"userid":"ann","groups":["a","b"]}"#;
        let p = parameters(None, &json_headers(), body).unwrap();
        assert_eq!(p.get("userid"), Some("ann"));
        assert_eq!(p.list("groups"), ["a", "b"]);
        // The same bytes as a form are one odd key, not a user.
        let p = parameters(None, &HeaderMap::new(), body).unwrap();
        assert_eq!(p.get("userid"), None);
        // JSON that is not an object is refused before any endpoint runs.
        let bad = parameters(None, &json_headers(), b"[1,2]").unwrap_err();
        assert_eq!(bad.code, BAD_INPUT);
    }

    #[test]
    fn the_version_comes_from_the_path() {
        assert_eq!(version_of("/ocs/v1.php/cloud/users"), Some(Version::V1));
        assert_eq!(version_of("/ocs/v2.php/config"), Some(Version::V2));
        assert_eq!(version_of("/ocs/v3.php/cloud/users"), None);
        assert_eq!(version_of("/index.php/avatar/a/64"), None);
        assert_eq!(
            query_format(Some("a=1&format=json")).as_deref(),
            Some("json")
        );
        assert_eq!(query_format(Some("format=%FF")), None);
    }
}
