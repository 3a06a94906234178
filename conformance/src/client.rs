//! Sends one OCS request as Nextcloud's clients do: Basic auth, `OCS-APIRequest:
//! true`, form bodies (lists as `key[]`) or JSON bodies, the answer format by
//! `format=` and `Accept`, and a header naming the fixture so a server log can be
//! matched to the report. Redirects are not followed: an OCS answer is never a
//! redirect.

use crate::answer::Answer;
use std::time::{Duration, Instant};

/// The header every request carries, naming the fixture (and its variant).
pub const FIXTURE_HEADER: &str = "X-OCS-Conformance-Fixture";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    V1,
    V2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Xml,
    Json,
}

/// One way of asking: API version and answer format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Variant {
    pub api: Api,
    pub format: Format,
}

impl Variant {
    /// Every combination of the given versions and formats, versions first.
    pub fn matrix(apis: &[Api], formats: &[Format]) -> Vec<Variant> {
        apis.iter()
            .flat_map(|&api| formats.iter().map(move |&format| Variant { api, format }))
            .collect()
    }

    /// v1 and v2, XML and JSON.
    pub fn all() -> Vec<Variant> {
        Self::matrix(&[Api::V1, Api::V2], &[Format::Xml, Format::Json])
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let api = match self.api {
            Api::V1 => "v1",
            Api::V2 => "v2",
        };
        let format = match self.format {
            Format::Xml => "xml",
            Format::Json => "json",
        };
        write!(f, "{api} {format}")
    }
}

/// A request with every placeholder already filled in.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: reqwest::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub form: Vec<(String, String)>,
    /// A JSON body, sent instead of the form (`Content-Type: application/json`).
    pub json: Option<serde_json::Value>,
    pub credentials: Option<(String, String)>,
}

impl Outgoing {
    pub fn new(method: reqwest::Method, path: impl Into<String>) -> Outgoing {
        Outgoing {
            method,
            path: path.into(),
            query: Vec::new(),
            form: Vec::new(),
            json: None,
            credentials: None,
        }
    }

    pub fn get(path: impl Into<String>) -> Outgoing {
        Outgoing::new(reqwest::Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> Outgoing {
        Outgoing::new(reqwest::Method::POST, path)
    }

    pub fn put(path: impl Into<String>) -> Outgoing {
        Outgoing::new(reqwest::Method::PUT, path)
    }

    pub fn delete(path: impl Into<String>) -> Outgoing {
        Outgoing::new(reqwest::Method::DELETE, path)
    }

    pub fn form(mut self, key: &str, value: &str) -> Outgoing {
        self.form.push((key.to_owned(), value.to_owned()));
        self
    }

    pub fn query(mut self, key: &str, value: &str) -> Outgoing {
        self.query.push((key.to_owned(), value.to_owned()));
        self
    }

    // The name says who sends it, not a conversion.
    #[allow(clippy::wrong_self_convention)]
    pub fn as_user(mut self, (user, password): (&str, &str)) -> Outgoing {
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// `METHOD /ocs/vN.php/PATH?QUERY`, for reports.
    pub fn line(&self, variant: Variant) -> String {
        let api = match variant.api {
            Api::V1 => "v1",
            Api::V2 => "v2",
        };
        let mut line = format!("{} /ocs/{api}.php{}", self.method, self.path);
        if !self.query.is_empty() {
            let q: Vec<String> = self.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            line.push('?');
            line.push_str(&q.join("&"));
        }
        line
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot connect to {url}: {detail}")]
    Connect { url: String, detail: String },
    #[error("{0}")]
    Other(String),
}

#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
}

/// The HTTP client could not be set up (no TLS backend, for instance).
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub struct ClientSetupError(#[source] reqwest::Error);

impl Client {
    pub fn new(base_url: &str, timeout: Duration) -> Result<Client, ClientSetupError> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .pool_max_idle_per_host(64)
            .build()
            .map_err(ClientSetupError)?;
        Ok(Client {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            timeout,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Sends `request`; returns the answer and how long the server took (from the
    /// request's start to the body's end).
    pub async fn send(
        &self,
        request: &Outgoing,
        variant: Variant,
        fixture: &str,
    ) -> Result<(Answer, Duration), SendError> {
        let api = match variant.api {
            Api::V1 => "v1",
            Api::V2 => "v2",
        };
        let (format, accept) = match variant.format {
            Format::Xml => ("xml", "application/xml"),
            Format::Json => ("json", "application/json"),
        };
        let url = format!("{}/ocs/{api}.php{}", self.base, request.path);
        let mut query = request.query.clone();
        query.push(("format".into(), format.into()));
        let mut builder = self
            .http
            .request(request.method.clone(), &url)
            .query(&query)
            .header("OCS-APIRequest", "true")
            .header(reqwest::header::ACCEPT, accept)
            .header(FIXTURE_HEADER, fixture);
        if let Some((user, password)) = &request.credentials {
            builder = builder.basic_auth(user, Some(password));
        }
        if let Some(json) = &request.json {
            builder = builder
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(json.to_string());
        } else if request.method != reqwest::Method::GET {
            builder = builder.form(&request.form);
        }
        let started = Instant::now();
        let response = builder.send().await.map_err(|e| self.error(e, &url))?;
        let http = response.status().as_u16();
        let header = |name: reqwest::header::HeaderName| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let content_type = header(reqwest::header::CONTENT_TYPE).unwrap_or_default();
        let location = header(reqwest::header::LOCATION);
        let body = response.bytes().await.map_err(|e| self.error(e, &url))?;
        let took = started.elapsed();
        Ok((Answer::parse(http, &content_type, location, &body), took))
    }

    fn error(&self, e: reqwest::Error, url: &str) -> SendError {
        if e.is_timeout() {
            SendError::Timeout(self.timeout)
        } else if e.is_connect() {
            let mut detail = e.to_string();
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                detail = s.to_string();
                source = s.source();
            }
            SendError::Connect {
                url: url.to_owned(),
                detail,
            }
        } else {
            SendError::Other(format!("{url}: {e}"))
        }
    }
}

/// Percent-encodes a path segment.
pub(crate) fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
