//! The OCS Provisioning API (users, groups, apps) under `/ocs/v1.php/cloud/` and
//! `/ocs/v2.php/cloud/`, and `GET /auth/check` for other services (nginx
//! `auth_request`, Nextcloud's BasicAuth user backend).
//!
//! Every request passes here in order: the API version from the path, the answer
//! format, the `OCS-APIRequest` header (as Nextcloud: without it, 412 "CSRF check
//! failed"), the body (at most 1 MiB, form-encoded), Basic authentication through
//! the same chain and throttle as PAM, then the endpoint. Endpoints return a
//! [`Reply`]; nothing below renders HTTP itself.

mod apps;
mod avatars;
mod compat;
mod envelope;
mod fields;
mod form;
mod groups;
mod mail;
mod page;
mod request;
mod server_info;
mod twofactor_page;
mod user_data;
mod user_edit;
mod users;

use authbridge_core::SecretString;
use authbridge_proto::AuthStatus;
use authbridge_store::{AccountStore, StoreError};
use axum::Router;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use std::net::SocketAddr;
use std::sync::Arc;

pub use envelope::{Format, Reply, Version};
pub use fields::{language as language_is_valid, quota as quota_spelling, quota_bytes};
pub use form::Form;
pub use request::Ctx;

use crate::service::{Next, Service, app_password_message, enrol_message};

/// Bodies larger than this are refused as invalid input, before parsing.
pub const MAX_BODY: usize = 1024 * 1024;

pub struct Ocs {
    pub service: Arc<Service>,
    /// How users reach this server (for links in mails), e.g. `http://127.0.0.1:8080`.
    pub base_url: String,
    /// Proxies whose `X-Forwarded-For` is believed (`[http] trusted_proxies`).
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Whose status codes where Nextcloud and its documents differ (`[ocs] compat`).
    pub compat: crate::Compat,
}

impl Ocs {
    pub fn profile(&self) -> &'static compat::Profile {
        compat::profile(self.compat)
    }
}

/// The throttle's source for a client address: an IPv4 address itself; an IPv6
/// address by its /64, as Nextcloud counts them (one host holds a whole /64, and
/// would otherwise have 2^64 fresh sources to guess from).
pub fn throttle_source(address: std::net::IpAddr) -> String {
    match address {
        std::net::IpAddr::V4(v4) => v4.to_string(),
        std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                format!("{}/64", std::net::Ipv6Addr::from(prefix))
            }
        },
    }
}

/// The address the throttle counts against: the peer, or, when the peer is a
/// trusted proxy, the last address in `X-Forwarded-For` that is not one (the
/// leftmost entries are whatever the client chose to send).
pub fn client_address(
    peer: std::net::IpAddr,
    headers: &HeaderMap,
    trusted: &[std::net::IpAddr],
) -> std::net::IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded: Vec<std::net::IpAddr> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_addresses_count_only_behind_a_trusted_proxy() {
        let proxy: std::net::IpAddr = "127.0.0.1".parse().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            "203.0.113.66, 192.0.2.7".parse().unwrap(),
        );
        // Not trusted: the header is the client's own word.
        assert_eq!(client_address(proxy, &headers, &[]), proxy);
        // Trusted: the last hop before the proxy, not the spoofable leftmost entry.
        assert_eq!(
            client_address(proxy, &headers, &[proxy]),
            "192.0.2.7".parse::<std::net::IpAddr>().unwrap()
        );
        headers.insert("x-forwarded-for", "garbage".parse().unwrap());
        assert_eq!(client_address(proxy, &headers, &[proxy]), proxy);
    }

    #[test]
    fn ipv6_sources_count_per_64_and_ipv4_per_address() {
        let source = |a: &str| throttle_source(a.parse().unwrap());
        assert_eq!(source("2001:db8:1:2::1"), "2001:db8:1:2::/64");
        assert_eq!(
            source("2001:db8:1:2:ffff:ffff:ffff:ffff"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(source("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(source("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(source("192.0.2.7"), "192.0.2.7");
    }
}

/// The authenticated caller and what they may do.
#[derive(Debug, Clone)]
pub struct Caller {
    pub uid: String,
    /// Logged in with an app password (a device credential): it may not take the
    /// account over by changing the login password.
    pub by_app_password: bool,
    pub admin: bool,
    /// Groups this caller administers as a subadmin.
    pub subadmin_of: Vec<String>,
}

impl Ctx {
    pub fn store(&self) -> &dyn authbridge_store::AccountStore {
        &**self.ocs.service.store()
    }

    pub fn switches(&self) -> &crate::modules::Switches {
        self.ocs.service.switches()
    }

    /// Admins manage everyone; a subadmin manages the non-admin members of the
    /// groups they administer.
    pub fn manages(&self, uid: &str) -> Result<bool, Reply> {
        if self.caller.admin {
            return Ok(true);
        }
        if self.caller.subadmin_of.is_empty() {
            return Ok(false);
        }
        let groups = self.store().user_groups(uid)?;
        Ok(!groups.iter().any(|g| g.eq_ignore_ascii_case("admin"))
            && groups.iter().any(|g| {
                self.caller
                    .subadmin_of
                    .iter()
                    .any(|s| s.eq_ignore_ascii_case(g))
            }))
    }

    pub fn administers(&self, gid: &str) -> bool {
        self.caller.admin
            || self
                .caller
                .subadmin_of
                .iter()
                .any(|g| g.eq_ignore_ascii_case(gid))
    }
}

pub fn router(ocs: Arc<Ocs>) -> Router {
    let cloud = Router::new()
        .route("/users", get(users::list).post(users::add))
        .route(
            "/users/{userid}",
            get(users::get).put(users::edit).delete(users::delete),
        )
        .route("/users/{userid}/enable", axum::routing::put(users::enable))
        .route(
            "/users/{userid}/disable",
            axum::routing::put(users::disable),
        )
        .route(
            "/users/{userid}/groups",
            get(users::groups)
                .post(users::add_to_group)
                .delete(users::remove_from_group),
        )
        .route(
            "/users/{userid}/subadmins",
            get(users::subadmin_groups)
                .post(users::promote)
                .delete(users::demote),
        )
        .route(
            "/users/{userid}/welcome",
            axum::routing::post(users::welcome),
        )
        .route("/users/{userid}/wipe", axum::routing::post(users::wipe))
        .route(
            "/users/{userid}/{collection}",
            axum::routing::put(users::edit_collection),
        )
        .route("/users/details", get(users::details))
        .route("/user", get(users::current))
        .route("/user/fields", get(users::editable_fields))
        .route("/user/fields/{userid}", get(users::editable_fields))
        .route("/groups", get(groups::list).post(groups::create))
        .route("/groups/details", get(groups::details))
        .route(
            "/groups/{groupid}",
            get(groups::members)
                .put(groups::update)
                .delete(groups::delete),
        )
        .route("/groups/{groupid}/users", get(groups::members))
        .route(
            "/groups/{groupid}/users/details",
            get(groups::members_details),
        )
        .route("/groups/{groupid}/subadmins", get(groups::subadmins))
        .route("/capabilities", get(server_info::capabilities))
        .route("/apps", get(apps::list))
        .route(
            "/apps/{appid}",
            get(apps::info).post(apps::enable).delete(apps::disable),
        );
    let ocs_api = Router::new()
        .nest("/ocs/{api}/cloud", cloud)
        .route("/ocs/{api}/config", get(server_info::config))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&ocs),
            request::render_replies,
        ));
    Router::new()
        .merge(ocs_api)
        .route("/auth/check", get(auth_check))
        .route("/status.php", get(server_info::status))
        .route("/password/set", get(page::show).post(page::set))
        .route(
            "/twofactor/setup",
            get(twofactor_page::show).post(twofactor_page::confirm),
        )
        .route("/index.php/avatar/{userid}/{size}", get(avatars::user))
        .route("/index.php/avatar/{userid}/{size}/dark", get(avatars::user))
        .route("/index.php/avatar/guest/{name}/{size}", get(avatars::guest))
        .route(
            "/index.php/avatar/guest/{name}/{size}/dark",
            get(avatars::guest),
        )
        .route("/index.php/avatar/", axum::routing::delete(avatars::delete))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(ocs)
}

/// What a refused Basic login is asked to send (`/auth/check`, avatars).
pub(crate) const BASIC_CHALLENGE: &str = "Basic realm=\"authbridge\", charset=\"UTF-8\"";

/// Decodes `Authorization: Basic ...` into login and password.
fn basic_credentials(headers: &HeaderMap) -> Option<(String, SecretString)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    // The decoded bytes hold the password: wiped once split.
    let decoded = zeroize::Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()?,
    );
    let text = std::str::from_utf8(&decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), SecretString::from(password.to_owned())))
}

/// The caller's admin flag and subadmin groups. A store that fails leaves them
/// unknown (an error, not "no rights"); an account the store does not hold (a
/// backend accepted it but its first login could not be recorded) has none. An
/// admin's subadmin groups add nothing and are not read.
fn rights_of(store: &dyn AccountStore, uid: &str) -> Result<(bool, Vec<String>), StoreError> {
    let groups = match store.user_groups(uid) {
        Ok(groups) => groups,
        Err(StoreError::NoSuchUser(_)) => return Ok((false, Vec::new())),
        Err(e) => return Err(e),
    };
    let admin = groups
        .iter()
        .any(|g| g.eq_ignore_ascii_case(authbridge_local::ADMIN_GROUP));
    let subadmin_of = match admin {
        true => Vec::new(),
        false => store.subadmin_groups(uid)?,
    };
    Ok((admin, subadmin_of))
}

enum Login {
    Accepted(Caller),
    Refused,
    /// A right login password of a user who needs a second factor, which HTTP
    /// cannot ask for; the words say what to do (an app password, enrolling).
    SecondFactor(String),
    /// With how long the throttle's delay has left, when a delay holds it back.
    Throttled(Option<std::time::Duration>),
    Unavailable,
    /// Accepted, but the store could not say what the caller may do.
    StoreFailed,
}

async fn login(ocs: &Ocs, headers: &HeaderMap, client: SocketAddr, service: &str) -> Login {
    let Some((user, password)) = basic_credentials(headers) else {
        return Login::Refused;
    };
    let source = throttle_source(client_address(client.ip(), headers, &ocs.trusted_proxies));
    let checked = ocs
        .service
        .check_password(&user, password, service, &source, None)
        .await;
    match (checked.answer.status, checked.answer.uid) {
        (AuthStatus::Accepted, Some(uid)) => {
            let engine = ocs.service.engine();
            let mode = Some(authbridge_proto::TwoFactorMode::Off);
            match ocs
                .service
                .after_password(&engine, &uid, mode, checked.kind)
            {
                Ok(Next::Accept) => ocs.service.note_login(&uid),
                Ok(Next::Enrol) => return Login::SecondFactor(enrol_message(&engine, &uid)),
                Ok(_) => return Login::SecondFactor(app_password_message(&uid)),
                Err(()) => return Login::StoreFailed,
            }
            let (admin, subadmin_of) = match rights_of(&**ocs.service.store(), &uid) {
                Ok(rights) => rights,
                Err(e) => {
                    tracing::error!(%uid, "the store failed while reading the caller's groups: {e}");
                    return Login::StoreFailed;
                }
            };
            Login::Accepted(Caller {
                admin,
                subadmin_of,
                by_app_password: checked.kind == Some(authbridge_core::BackendKind::AppPassword),
                uid,
            })
        }
        (AuthStatus::Throttled, _) => Login::Throttled(checked.retry_after),
        (AuthStatus::Unavailable, _) => Login::Unavailable,
        _ => Login::Refused,
    }
}

/// Who asks `/auth/check`, from its `for` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CheckFor {
    /// Anyone (curl, Nextcloud's BasicAuth backend): each verdict its own status.
    Anyone,
    /// nginx's `auth_request` (`?for=nginx`), which understands only 2xx, 401
    /// and 403 and turns anything else into a 500 for its client.
    Nginx,
}

impl CheckFor {
    fn of(query: Option<&str>) -> Result<CheckFor, String> {
        let form = Form::parse(query.unwrap_or_default().as_bytes()).map_err(|e| e.0)?;
        match form.get("for") {
            None => Ok(CheckFor::Anyone),
            Some("nginx") => Ok(CheckFor::Nginx),
            Some(_) => Err("unknown `for`; the only one is for=nginx".to_owned()),
        }
    }

    /// A throttled or unavailable verdict's status: its own, or 403 for nginx
    /// (`X-Authbridge-Verdict` tells which it was).
    fn refusal(self, own: StatusCode) -> StatusCode {
        match self {
            CheckFor::Anyone => own,
            CheckFor::Nginx => StatusCode::FORBIDDEN,
        }
    }
}

/// Names the verdict on every `/auth/check` answer.
const VERDICT: &str = "X-Authbridge-Verdict";

/// `GET /auth/check` with Basic auth: 204 accepted (with `X-Authbridge-User`),
/// 401 refused (with `WWW-Authenticate`; `second-factor-required` with words in
/// the body for a login password of a user who needs a second factor: only app
/// passwords pass here), 429 throttled (with `Retry-After` when
/// a delay holds it back), 503 unavailable; `X-Authbridge-Verdict` on each
/// (`accepted`, `refused`, `throttled`, `unavailable`). With `?for=nginx`,
/// throttled and unavailable answer 403, which nginx's `auth_request` passes on
/// (the README's recipe turns it back into 429 or 503); any other `for` is 400.
async fn auth_check(
    State(ocs): State<Arc<Ocs>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let asker = match CheckFor::of(query.as_deref()) {
        Ok(asker) => asker,
        Err(problem) => return (StatusCode::BAD_REQUEST, problem).into_response(),
    };
    match login(&ocs, &headers, client, "auth-check").await {
        Login::Accepted(caller) => (
            StatusCode::NO_CONTENT,
            [
                (VERDICT, "accepted".to_owned()),
                ("X-Authbridge-User", caller.uid),
            ],
        )
            .into_response(),
        Login::Refused => (
            StatusCode::UNAUTHORIZED,
            [
                (VERDICT, "refused"),
                (header::WWW_AUTHENTICATE.as_str(), BASIC_CHALLENGE),
            ],
        )
            .into_response(),
        Login::SecondFactor(message) => (
            StatusCode::UNAUTHORIZED,
            [
                (VERDICT, "second-factor-required"),
                (header::WWW_AUTHENTICATE.as_str(), BASIC_CHALLENGE),
            ],
            message,
        )
            .into_response(),
        Login::Throttled(left) => {
            let status = asker.refusal(StatusCode::TOO_MANY_REQUESTS);
            let mut answer = (status, [(VERDICT, "throttled")]).into_response();
            if let Some(left) = left.filter(|left| !left.is_zero()) {
                // Whole seconds, rounded up: a client that waits that long is let in.
                let seconds = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                answer
                    .headers_mut()
                    .insert(header::RETRY_AFTER, seconds.into());
            }
            answer
        }
        Login::Unavailable | Login::StoreFailed => (
            asker.refusal(StatusCode::SERVICE_UNAVAILABLE),
            [(VERDICT, "unavailable")],
        )
            .into_response(),
    }
}

#[cfg(test)]
mod rights_tests {
    use super::*;
    use authbridge_store::NewUser;
    use authbridge_store::prelude::*;

    #[test]
    fn rights_come_from_the_store_and_an_unrecorded_account_has_none() {
        let dir = tempfile::tempdir().unwrap();
        let store = authbridge_store::SqliteStore::open(&dir.path().join("s.sqlite")).unwrap();
        let user = |uid: &str, groups: &[&str]| NewUser {
            uid: uid.into(),
            backend: "Database".into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            ..NewUser::default()
        };
        store.create_user(&user("boss", &["admin"]), 1).unwrap();
        store.create_user(&user("sub", &["team"]), 1).unwrap();
        store.add_subadmin("team", "sub").unwrap();
        assert_eq!(rights_of(&store, "boss").unwrap(), (true, vec![]));
        assert_eq!(
            rights_of(&store, "sub").unwrap(),
            (false, vec!["team".to_owned()])
        );
        // Accepted by a backend, never recorded: no rights, and no failure.
        assert_eq!(rights_of(&store, "ghost").unwrap(), (false, vec![]));
    }
}
