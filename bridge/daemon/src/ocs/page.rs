//! The page a mailed link opens: a form to set a password under the policy. The
//! token is checked when the form is shown and used up only when a password that
//! passes the policy is set.

use crate::clock::now;
use authbridge_core::SecretString;
use authbridge_store::LOCAL_BACKEND;
use axum::Form as AxumForm;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use std::sync::Arc;
use zeroize::Zeroizing;

use super::Ocs;
use crate::mail::token_hash;

#[derive(Deserialize)]
pub struct TokenQuery {
    /// A single-use secret: wiped when dropped.
    #[serde(default)]
    token: Zeroizing<String>,
}

#[derive(Deserialize)]
pub struct SetForm {
    /// The token and the passwords are wiped when the form is dropped.
    #[serde(default)]
    token: Zeroizing<String>,
    #[serde(default)]
    password: Zeroizing<String>,
    #[serde(default)]
    password2: Zeroizing<String>,
}

pub(super) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn page(status: StatusCode, body: &str) -> Response {
    titled_page(status, "set your password", body)
}

/// One of authbridge's own pages: never cached (they show secrets), never
/// framed, nothing loaded from anywhere.
pub(super) fn titled_page(status: StatusCode, title: &str, body: &str) -> Response {
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>authbridge: {title}</title>\
         <meta name=\"referrer\" content=\"no-referrer\"></head><body>{body}</body></html>\n",
        title = escape(title)
    );
    (
        status,
        [
            ("Cache-Control", "no-store"),
            ("X-Frame-Options", "DENY"),
            (
                "Content-Security-Policy",
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
            ),
        ],
        Html(html),
    )
        .into_response()
}

fn expired() -> Response {
    page(
        StatusCode::NOT_FOUND,
        "<p>This link has expired or was used already. Ask your administrator for a new one.</p>",
    )
}

fn form(token: &str, uid: &str, problem: Option<&str>) -> String {
    let problem = problem
        .map(|p| format!("<p role=\"alert\">{}</p>", escape(p)))
        .unwrap_or_default();
    format!(
        "<h1>Set the password of {uid}</h1>{problem}<form method=\"post\" action=\"/password/set\">\
         <input type=\"hidden\" name=\"token\" value=\"{token}\">\
         <label>New password <input type=\"password\" name=\"password\" autocomplete=\"new-password\" required></label>\
         <label>Again <input type=\"password\" name=\"password2\" autocomplete=\"new-password\" required></label>\
         <button type=\"submit\">Set password</button></form>",
        uid = escape(uid),
        token = escape(token),
    )
}

/// `GET /password/set?token=...`
pub async fn show(State(ocs): State<Arc<Ocs>>, Query(q): Query<TokenQuery>) -> Response {
    match ocs
        .service
        .store()
        .peek_password_token(&token_hash(&q.token), now())
    {
        Ok(Some(uid)) => page(StatusCode::OK, &form(&q.token, &uid, None)),
        _ => expired(),
    }
}

/// `POST /password/set` with token, password, password2.
pub async fn set(State(ocs): State<Arc<Ocs>>, AxumForm(f): AxumForm<SetForm>) -> Response {
    let store = ocs.service.store();
    let hash = token_hash(&f.token);
    let Ok(Some(uid)) = store.peek_password_token(&hash, now()) else {
        return expired();
    };
    let retry = |problem: &str| {
        page(
            StatusCode::BAD_REQUEST,
            &form(&f.token, &uid, Some(problem)),
        )
    };
    if f.password != f.password2 {
        return retry("The two passwords differ.");
    }
    match store.user(&uid) {
        Ok(u) if u.backend == LOCAL_BACKEND => {}
        _ => return retry("This account's password is not kept by authbridge."),
    }
    if ocs
        .service
        .switches()
        .enabled(crate::modules::ModuleId::PasswordPolicy)
        && let Some(v) = ocs.service.engine().policy.violations(&f.password).first()
    {
        return retry(&v.to_string());
    }
    if let Err(e) = authbridge_core::usable_password(&f.password) {
        return retry(&format!("This password cannot be used: {e}."));
    }
    let Ok(phc) =
        authbridge_local::hash_password_bounded(SecretString::from(f.password.to_string())).await
    else {
        return page(
            StatusCode::SERVICE_UNAVAILABLE,
            "<p>Too many password changes at once; please try again in a moment.</p>",
        );
    };
    // Used up here, atomically: a second submission of the same link fails.
    match store.take_password_token(&hash, now()) {
        Ok(Some(owner)) if owner == uid => {}
        _ => return expired(),
    }
    match ocs.service.reset_password(&uid, &phc) {
        Ok(()) => {
            tracing::info!(?uid, "password set through a mailed link");
            page(
                StatusCode::OK,
                "<p>Your password is set. You can log in now.</p>",
            )
        }
        Err(_) => page(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<p>The password could not be stored.</p>",
        ),
    }
}
