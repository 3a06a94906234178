//! `/twofactor/setup`: a user with no second factor sets up TOTP, logged in with
//! their login password (HTTP Basic; an app password may not change how the
//! account logs in). Every showing makes a fresh secret waiting for its first
//! code (15 minutes), as a QR code and as text; the first right code turns it on
//! and shows ten backup codes, once. A user who has any second factor (TOTP or
//! backup codes) is told to ask an administrator: a password alone never
//! replaces a factor, and nothing secret is shown again.
//!
//! A forged cross-site POST cannot turn anything on: it would need a code of a
//! secret only the page showed. A forged GET only replaces a waiting secret.

use authbridge_core::BackendKind;
use authbridge_proto::AuthStatus;
use authbridge_twofactor::{TwoFactor, TwoFactorError, qr};
use axum::Form as AxumForm;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;
use zeroize::Zeroizing;

use super::page::{escape, titled_page};
use super::{BASIC_CHALLENGE, Ocs, basic_credentials, client_address, throttle_source};
use crate::clock::now;

const TITLE: &str = "two-factor authentication";

#[derive(Deserialize)]
pub struct CodeForm {
    /// Wiped when dropped.
    #[serde(default)]
    code: Zeroizing<String>,
}

fn page(status: StatusCode, body: &str) -> Response {
    titled_page(status, TITLE, body)
}

/// The browser asks for the login, as for any Basic-protected page.
fn challenge() -> Response {
    let mut answer = page(
        StatusCode::UNAUTHORIZED,
        "<p>Log in with your user name and login password to set up two-factor authentication.</p>",
    );
    answer.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        header::HeaderValue::from_static(BASIC_CHALLENGE),
    );
    answer
}

fn failed(e: impl std::fmt::Display) -> Response {
    tracing::error!("the two-factor page failed: {e}");
    page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "<p>Something failed on the server; the daemon's log has the details.</p>",
    )
}

/// The user, logged in with a login password (throttled as every login).
async fn logged_in(ocs: &Ocs, headers: &HeaderMap, client: SocketAddr) -> Result<String, Response> {
    let Some((user, password)) = basic_credentials(headers) else {
        return Err(challenge());
    };
    let source = throttle_source(client_address(client.ip(), headers, &ocs.trusted_proxies));
    let checked = ocs
        .service
        .check_password(&user, password, "twofactor-setup", &source, None)
        .await;
    match (checked.answer.status, checked.answer.uid) {
        (AuthStatus::Accepted, Some(_)) if checked.kind == Some(BackendKind::AppPassword) => {
            Err(page(
                StatusCode::FORBIDDEN,
                "<p>Log in with your login password here, not with an app password.</p>",
            ))
        }
        (AuthStatus::Accepted, Some(uid)) => Ok(uid),
        (AuthStatus::Throttled, _) => Err(page(
            StatusCode::TOO_MANY_REQUESTS,
            "<p>Too many attempts; wait a while and try again.</p>",
        )),
        (AuthStatus::Unavailable, _) => Err(page(
            StatusCode::SERVICE_UNAVAILABLE,
            "<p>The account's server cannot be reached; try again later.</p>",
        )),
        _ => Err(challenge()),
    }
}

fn already_on(uid: &str) -> Response {
    page(
        StatusCode::OK,
        &format!(
            "<h1>A second factor is set up for {uid}</h1>\
             <p>Your authenticator app (or your backup codes) gives the codes. For a new secret \
             (a new or lost phone), ask an administrator to run \
             <code>authbridge twofactorauth disable {uid} totp</code> and \
             <code>authbridge twofactorauth disable {uid} backup_codes</code>, then come back here.</p>",
            uid = escape(uid)
        ),
    )
}

fn enrol_form(uid: &str, uri: &str, secret: &str, problem: Option<&str>) -> String {
    let problem = problem
        .map(|p| format!("<p role=\"alert\">{}</p>", escape(p)))
        .unwrap_or_default();
    format!(
        "<h1>Set up two-factor authentication for {uid}</h1>{problem}\
         <p>Scan this code with an authenticator app (FreeOTP, Aegis, Google Authenticator, …):</p>\
         {svg}\
         <p>Or type this secret into it: <code>{secret}</code> (time-based, 6 digits, 30 seconds).</p>\
         <form method=\"post\" action=\"/twofactor/setup\">\
         <label>The code the app shows now <input name=\"code\" inputmode=\"numeric\" \
         autocomplete=\"one-time-code\" pattern=\"[0-9 ]*\" maxlength=\"8\" required></label>\
         <button type=\"submit\">Turn on</button></form>\
         <p><a href=\"{uri}\">Open in an app on this device</a></p>",
        uid = escape(uid),
        svg = qr::svg(uri),
        secret = escape(secret),
        uri = escape(uri),
    )
}

/// Whether the user has any second factor already: then the page changes
/// nothing (a password alone must not replace a factor, backup codes included).
fn has_a_factor(twofactor: &TwoFactor, uid: &str) -> Result<bool, TwoFactorError> {
    Ok(!twofactor.enabled_providers(uid)?.is_empty())
}

/// A fresh waiting secret on every showing: one planted earlier by someone
/// with the password is gone once the user opens the page.
fn fresh_form(
    twofactor: &TwoFactor,
    uid: &str,
    status: StatusCode,
    problem: Option<&str>,
) -> Response {
    match twofactor.set_up_totp(uid, false, now()) {
        Ok(setup) => page(
            status,
            &enrol_form(uid, &setup.uri, &setup.secret_base32, problem),
        ),
        Err(TwoFactorError::AlreadySetUp) => already_on(uid),
        Err(e) => failed(e),
    }
}

/// The logged-in user and the second factors, for a user with none yet; the
/// answer to give instead otherwise.
async fn enrollee(
    ocs: &Ocs,
    headers: &HeaderMap,
    client: SocketAddr,
) -> Result<(String, Arc<TwoFactor>), Response> {
    let uid = logged_in(ocs, headers, client).await?;
    let twofactor = Arc::clone(&ocs.service.engine().twofactor);
    match has_a_factor(&twofactor, &uid) {
        Ok(false) => Ok((uid, twofactor)),
        Ok(true) => Err(already_on(&uid)),
        Err(e) => Err(failed(e)),
    }
}

/// `GET /twofactor/setup`
pub async fn show(
    State(ocs): State<Arc<Ocs>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    match enrollee(&ocs, &headers, client).await {
        Ok((uid, twofactor)) => fresh_form(&twofactor, &uid, StatusCode::OK, None),
        Err(answer) => answer,
    }
}

/// `POST /twofactor/setup` with `code`: the first code turns TOTP on.
pub async fn confirm(
    State(ocs): State<Arc<Ocs>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    AxumForm(form): AxumForm<CodeForm>,
) -> Response {
    let (uid, twofactor) = match enrollee(&ocs, &headers, client).await {
        Ok(enrollee) => enrollee,
        Err(answer) => return answer,
    };
    match twofactor.confirm_totp(&uid, &form.code, now()) {
        Ok(true) => {}
        Ok(false) => {
            return fresh_form(
                &twofactor,
                &uid,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(
                    "That code is not right, or the page is older than 15 minutes or was \
                     opened again elsewhere: scan this new code, and type the code the app shows now.",
                ),
            );
        }
        Err(e) => return failed(e),
    }
    tracing::info!(?uid, "TOTP set up by the user");
    let codes = match twofactor.generate_backup_codes(&uid) {
        Ok(codes) => codes,
        Err(e) => return failed(e),
    };
    let list: String = codes
        .iter()
        .map(|c| format!("<li><code>{}</code></li>", escape(c)))
        .collect();
    page(
        StatusCode::OK,
        &format!(
            "<h1>Two-factor authentication is on for {uid}</h1>\
             <p>From now on, logging in asks for a code from the app after the password. \
             Programs that cannot ask (mail and sync clients) need app passwords.</p>\
             <p>These backup codes each work once, for when the phone is not at hand. \
             Keep them safe: they are not shown again.</p><ul>{list}</ul>",
            uid = escape(&uid)
        ),
    )
}
