//! A deliberately wrong OCS server: a proxy in front of a real authbridge that
//! answers a few routes wrongly, each in its own way, and passes everything else
//! through (so setups and the clean-up still work).
//!
//! | route | what it does wrong |
//! |---|---|
//! | `PUT /cloud/users/{id}/enable` | statuscode 101 for every user (wrong code) |
//! | `GET /cloud/users/{id}/groups` | the groups as a bare list, no `groups` key (wrong shape) |
//! | `GET /cloud/apps` | an HTML login page with HTTP 200 |
//! | `GET /cloud/apps/{app}` | HTTP 500 with a plain-text body |
//! | `GET /cloud/groups/{id}/subadmins` | answers after [`SLOW`] (a timeout) |
//! | `GET /cloud/users/{id}/subadmins` | a 302 redirect to a login page |
//! | `POST /cloud/users/{id}/welcome` | no such route: 404 with an HTML body |
//! | `GET /cloud/groups/{id}` | JSON, whatever format was asked for |
//! | `POST /cloud/users` | right codes, but "already exists" reworded (a message only) |

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long the "timeout" route takes: longer than the runner's timeout in the
/// tests that use this server.
pub const SLOW: Duration = Duration::from_secs(4);

/// Requests seen: `METHOD /path` and the fixture header, if any.
pub type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

pub struct WrongServer {
    pub addr: SocketAddr,
    /// Every request seen: `METHOD /path` and its fixture header, if any.
    pub seen: Seen,
    runtime: Option<tokio::runtime::Runtime>,
}

impl WrongServer {
    /// Proxies to `upstream` (e.g. `http://127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> WrongServer {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::default();
        let state = Upstream {
            seen: Arc::clone(&seen),
            base: upstream.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
        };
        let app = axum::Router::new().fallback(route).with_state(state);
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        WrongServer {
            addr,
            seen,
            runtime: Some(runtime),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for WrongServer {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

#[derive(Clone)]
struct Upstream {
    seen: Seen,
    base: String,
    http: reqwest::Client,
}

const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Login</title></head><body><form>Log in</form></body></html>\n";

async fn route(State(up): State<Upstream>, request: Request) -> Response {
    let method = request.method().as_str().to_owned();
    let path = request.uri().path().to_owned();
    let fixture = request
        .headers()
        .get(ocs_conformance::client::FIXTURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    up.seen
        .lock()
        .unwrap()
        .push((format!("{method} {path}"), fixture));
    // `/ocs/v1.php/cloud/users/x/enable` → ["users", "x", "enable"]
    let parts: Vec<&str> = path
        .split_once("/cloud/")
        .map(|(_, rest)| rest.split('/').collect())
        .unwrap_or_default();
    match (method.as_str(), parts.as_slice()) {
        ("GET", ["apps"]) => html(StatusCode::OK),
        ("GET", ["apps", _]) => {
            (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response()
        }
        ("GET", ["groups", _, "subadmins"]) => {
            tokio::time::sleep(SLOW).await;
            forward(&up, request).await
        }
        ("GET", ["users", _, "subadmins"]) => (
            StatusCode::FOUND,
            [(header::LOCATION, "/login?redirect_url=/ocs")],
        )
            .into_response(),
        ("POST", ["users", _, "welcome"]) => html(StatusCode::NOT_FOUND),
        ("PUT", ["users", _, "enable"]) => {
            let json = request
                .uri()
                .query()
                .is_some_and(|q| q.contains("format=json"));
            let v2 = path.contains("/v2.php/");
            ocs_failure(json, v2, 101, "failure")
        }
        // `GET /cloud/groups/details` is a route of its own, not a group.
        ("GET", ["groups", id]) if *id != "details" => {
            let (mut parts, body) = request.into_parts();
            let json = parts.uri.to_string().replace("format=xml", "format=json");
            parts.uri = json.parse().unwrap();
            forward(&up, Request::from_parts(parts, body)).await
        }
        ("GET", ["users", _, "groups"]) => {
            let answer = forward(&up, request).await;
            reshape_groups(answer).await
        }
        ("POST", ["users"]) => {
            let answer = forward(&up, request).await;
            reword(answer, "already exists", "is taken").await
        }
        _ => forward(&up, request).await,
    }
}

fn html(status: StatusCode) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=UTF-8")],
        LOGIN_PAGE,
    )
        .into_response()
}

fn ocs_failure(json: bool, v2: bool, code: u32, message: &str) -> Response {
    let status = if v2 {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    if json {
        let body = serde_json::json!({"ocs": {"meta": {"status": "failure", "statuscode": code, "message": message}, "data": []}});
        (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_string(),
        )
            .into_response()
    } else {
        let body = format!(
            "<?xml version=\"1.0\"?>\n<ocs><meta><status>failure</status><statuscode>{code}</statuscode><message>{message}</message></meta><data/></ocs>\n"
        );
        (
            status,
            [(header::CONTENT_TYPE, "text/xml; charset=UTF-8")],
            body,
        )
            .into_response()
    }
}

async fn forward(up: &Upstream, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 1 << 20)
        .await
        .unwrap_or_default();
    let url = format!(
        "{}{}",
        up.base,
        parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/")
    );
    let mut outgoing = up.http.request(parts.method.clone(), url).body(body);
    for (name, value) in parts.headers.iter() {
        if name != header::HOST && name != header::CONTENT_LENGTH {
            outgoing = outgoing.header(name, value);
        }
    }
    match outgoing.send().await {
        Ok(answer) => {
            let status = answer.status();
            let headers: HeaderMap = answer.headers().clone();
            let bytes = answer.bytes().await.unwrap_or_default();
            let mut response = Response::new(Body::from(bytes));
            *response.status_mut() = status;
            if let Some(ct) = headers.get(header::CONTENT_TYPE) {
                response
                    .headers_mut()
                    .insert(header::CONTENT_TYPE, ct.clone());
            }
            response
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

async fn body_of(response: Response) -> (StatusCode, Option<HeaderValue>, String) {
    let status = response.status();
    let ct = response.headers().get(header::CONTENT_TYPE).cloned();
    let bytes: Bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap_or_default();
    (status, ct, String::from_utf8_lossy(&bytes).into_owned())
}

fn rebuild(status: StatusCode, ct: Option<HeaderValue>, body: String) -> Response {
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    if let Some(ct) = ct {
        response.headers_mut().insert(header::CONTENT_TYPE, ct);
    }
    response
}

async fn reword(response: Response, from: &str, to: &str) -> Response {
    let (status, ct, body) = body_of(response).await;
    rebuild(status, ct, body.replace(from, to))
}

/// `{"groups": [...]}` → `[...]`, in either format.
async fn reshape_groups(response: Response) -> Response {
    let (status, ct, body) = body_of(response).await;
    let body = if body.trim_start().starts_with('{') {
        let mut doc: serde_json::Value = serde_json::from_str(&body).unwrap();
        let groups = doc["ocs"]["data"]["groups"].take();
        doc["ocs"]["data"] = groups;
        doc.to_string()
    } else {
        body.replace("<groups>", "")
            .replace("</groups>", "")
            .replace("<groups/>", "")
    };
    rebuild(status, ct, body)
}
