//! Nextcloud's avatar routes (`core/Controller/AvatarController.php`):
//!
//! - `GET /index.php/avatar/{userid}/{size}` and `…/{size}/dark`: the user's
//!   uploaded image scaled to the size, else a generated one (initials on a
//!   colour from the display name); sizes as Nextcloud allows, 64 or 512.
//! - `GET /index.php/avatar/guest/{name}/{size}` and `…/dark`: a guest's
//!   generated avatar (a name that is no account).
//! - `DELETE /index.php/avatar/`: removes the caller's uploaded image.
//!
//! Deliberately unlike Nextcloud (see `OCS-DIFFERENCES.md`): the caller must
//! log in with Basic auth (any valid account), through the same chain and
//! throttle as the OCS API, or anyone could tell which accounts exist; images
//! are uploaded with `authbridge user avatar set`, not by `POST`.
//!
//! Drawing and scaling cost CPU: they run on the blocking pool, at most
//! [`MAX_RENDERS`] at once, and what they made is kept in a bounded memory
//! cache ([`CACHE_ENTRIES`], [`CACHE_BYTES`]) keyed by what it was made from
//! (display name, or a digest of the stored image), so a rename or a new
//! upload is drawn anew and nothing stale is served.

use ab_glyph::FontVec;
use authbridge_store::StoreError;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::Semaphore;

use super::{Login, Ocs, login};
use crate::avatar::{self, AvatarCache, CacheKey, ImageKind};

/// Images drawn or scaled at once; more requests wait for a place.
pub const MAX_RENDERS: usize = 2;
/// Rendered images kept in memory, at most this many and about this many bytes.
pub const CACHE_ENTRIES: usize = 2048;
pub const CACHE_BYTES: usize = 32 * 1024 * 1024;

static RENDERS: Semaphore = Semaphore::const_new(MAX_RENDERS);
static AVATARS: OnceLock<Avatars> = OnceLock::new();

/// The font (read once) and the cache, for the daemon's lifetime.
struct Avatars {
    font: Option<FontVec>,
    cache: Mutex<AvatarCache>,
}

impl Avatars {
    /// The font from `AUTHBRIDGE_AVATAR_FONT`, else DejaVu Sans. Without it,
    /// generated avatars are the background alone: said once, here.
    fn load() -> Avatars {
        let path = std::env::var_os(avatar::FONT_ENV)
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| avatar::DEFAULT_FONT.into());
        let font = match avatar::load_font(&path) {
            Ok(font) => Some(font),
            Err(e) => {
                tracing::warn!(
                    font = %path.display(),
                    "generated avatars will have no initials: the font cannot be used ({e}); install fonts-dejavu-core or set {}",
                    avatar::FONT_ENV
                );
                None
            }
        };
        Avatars {
            font,
            cache: Mutex::new(AvatarCache::new(CACHE_ENTRIES, CACHE_BYTES)),
        }
    }

    fn cached(&self, key: &CacheKey) -> Option<Option<Bytes>> {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
    }

    fn keep(&self, key: CacheKey, value: Option<Bytes>) {
        self.cache
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, value);
    }
}

/// Runs `work` on the blocking pool once one of [`MAX_RENDERS`] places is free;
/// the avatars' state is loaded there on first use.
async fn render<T: Send + 'static>(
    work: impl FnOnce(&'static Avatars) -> T + Send + 'static,
) -> Option<T> {
    let _place = RENDERS.acquire().await.ok()?;
    tokio::task::spawn_blocking(move || work(AVATARS.get_or_init(Avatars::load)))
        .await
        .ok()
}

/// An image to answer with.
struct Image {
    bytes: Bytes,
    kind: ImageKind,
    custom: bool,
    dark: bool,
    size: u32,
}

/// The generated avatar of `name`, drawn or from the cache.
async fn generated(name: String, size: u32, dark: bool) -> Option<Image> {
    let key = CacheKey::Generated { name, size, dark };
    if let Some(Some(bytes)) = AVATARS.get().and_then(|a| a.cached(&key)) {
        return Some(Image::generated(bytes, size, dark));
    }
    let bytes = render(move |avatars| {
        // Drawn meanwhile by a request that held the place before this one?
        if let Some(Some(bytes)) = avatars.cached(&key) {
            return Some(bytes);
        }
        let CacheKey::Generated { name, .. } = &key else {
            return None;
        };
        match avatar::draw(name, size, dark, avatars.font.as_ref()) {
            Ok(png) => {
                let bytes = Bytes::from(png);
                avatars.keep(key, Some(bytes.clone()));
                Some(bytes)
            }
            Err(e) => {
                tracing::error!("{e}");
                None
            }
        }
    })
    .await??;
    Some(Image::generated(bytes, size, dark))
}

/// The uploaded avatar at `size`, scaled or from the cache; `None` when the
/// stored image cannot be used (then the generated one is served).
async fn uploaded(uid: &str, stored: authbridge_store::Avatar, size: u32) -> Option<Image> {
    let Some(kind) = ImageKind::of_mime(&stored.mime) else {
        tracing::warn!(%uid, mime = %stored.mime, "the stored avatar has a type that is not served; the generated one is");
        return None;
    };
    let key = CacheKey::Uploaded {
        digest: Sha256::digest(&stored.image).into(),
        size,
    };
    let image = |bytes| Image {
        bytes,
        kind,
        custom: true,
        dark: false,
        size,
    };
    if let Some(found) = AVATARS.get().and_then(|a| a.cached(&key)) {
        return found.map(image);
    }
    let uid = uid.to_owned();
    let bytes = render(move |avatars| {
        if let Some(found) = avatars.cached(&key) {
            return found;
        }
        let scaled = match avatar::scale_stored(&stored.image, kind, size) {
            Ok(scaled) => Some(Bytes::from(scaled)),
            Err(e) => {
                // Remembered as unusable, so said once while it is cached.
                tracing::warn!(%uid, "the stored avatar cannot be served, the generated one is: {e}");
                None
            }
        };
        avatars.keep(key, scaled.clone());
        scaled
    })
    .await??;
    Some(image(bytes))
}

impl Image {
    fn generated(bytes: Bytes, size: u32, dark: bool) -> Image {
        Image {
            bytes,
            kind: ImageKind::Png,
            custom: false,
            dark,
            size,
        }
    }

    /// As Nextcloud's `FileDisplayResponse` for the avatar file.
    fn into_response(self) -> Response {
        let name = match (self.custom, self.dark) {
            (false, true) => "avatar-dark",
            _ => "avatar",
        };
        let disposition = format!(
            "inline; filename=\"{name}.{}.{}\"",
            self.size,
            self.kind.extension()
        );
        (
            StatusCode::OK,
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(self.kind.mime()),
                ),
                (
                    header::HeaderName::from_static("x-nc-iscustomavatar"),
                    HeaderValue::from_static(if self.custom { "1" } else { "0" }),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&disposition).expect("an ASCII file name"),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("private, max-age=86400"),
                ),
            ],
            self.bytes,
        )
            .into_response()
    }
}

/// `[]` as JSON, with `status`: Nextcloud's answer for an unknown user (404)
/// and for a removed avatar (200).
fn empty_json(status: StatusCode) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        "[]",
    )
        .into_response()
}

fn server_error() -> Response {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
        r#"{"data":{"message":"An error occurred. Please contact your admin."}}"#,
    )
        .into_response()
}

/// Basic authentication, as `/auth/check` answers a refusal.
async fn caller(ocs: &Ocs, headers: &HeaderMap, client: SocketAddr) -> Result<String, Response> {
    match login(ocs, headers, client, "avatar").await {
        Login::Accepted(caller) => Ok(caller.uid),
        Login::Refused | Login::SecondFactor(_) => Err((
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, super::BASIC_CHALLENGE)],
        )
            .into_response()),
        Login::Throttled(..) => Err(StatusCode::TOO_MANY_REQUESTS.into_response()),
        Login::Unavailable | Login::StoreFailed => {
            Err(StatusCode::SERVICE_UNAVAILABLE.into_response())
        }
    }
}

/// `GET /index.php/avatar/{userid}/{size}` and `…/dark` (the path says which).
pub(super) async fn user(
    State(ocs): State<Arc<Ocs>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Response {
    let dark = uri.path().ends_with("/dark");
    show(&ocs, &headers, client, path, dark).await
}

async fn show(
    ocs: &Ocs,
    headers: &HeaderMap,
    client: SocketAddr,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    dark: bool,
) -> Response {
    if let Err(refused) = caller(ocs, headers, client).await {
        return refused;
    }
    // An id that is not UTF-8 names nobody.
    let Ok(Path((uid, size))) = path else {
        return empty_json(StatusCode::NOT_FOUND);
    };
    let size = avatar::served_size(&size);
    let store = ocs.service.store();
    let user = match store.user(&uid) {
        Ok(user) => user,
        Err(StoreError::NoSuchUser(_) | StoreError::InvalidUid(_)) => {
            return empty_json(StatusCode::NOT_FOUND);
        }
        Err(e) => {
            tracing::error!(%uid, "the store failed while reading the user: {e}");
            return server_error();
        }
    };
    // A disabled account gets a guest avatar: drawn from its id, never its image.
    let image = if user.enabled {
        let stored = match store.avatar(&user.uid) {
            Ok(stored) => stored,
            Err(e) => {
                tracing::error!(uid = %user.uid, "the store failed while reading the avatar: {e}");
                return server_error();
            }
        };
        let uploaded = match stored {
            Some(stored) => uploaded(&user.uid, stored, size).await,
            None => None,
        };
        match uploaded {
            Some(image) => Some(image),
            None => {
                // Nextcloud shows the id when there is no display name.
                let name = user
                    .display_name
                    .filter(|n| !n.is_empty())
                    .unwrap_or(user.uid);
                generated(name, size, dark).await
            }
        }
    } else {
        generated(user.uid, size, dark).await
    };
    match image {
        Some(image) => image.into_response(),
        None => server_error(),
    }
}

/// `GET /index.php/avatar/guest/{name}/{size}` (and `…/dark`): the generated
/// avatar of a name that is no account (Nextcloud's `GuestAvatar`, for guests
/// and federated users), to a caller who logged in.
pub(super) async fn guest(
    State(ocs): State<Arc<Ocs>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
) -> Response {
    let dark = uri.path().ends_with("/dark");
    guest_avatar(&ocs, &headers, client, path, dark).await
}

/// Longest guest name drawn: a name is a cache key.
const MAX_GUEST_NAME: usize = 256;

async fn guest_avatar(
    ocs: &Ocs,
    headers: &HeaderMap,
    client: SocketAddr,
    path: Result<Path<(String, String)>, axum::extract::rejection::PathRejection>,
    dark: bool,
) -> Response {
    if let Err(refused) = caller(ocs, headers, client).await {
        return refused;
    }
    let Ok(Path((name, size))) = path else {
        return empty_json(StatusCode::NOT_FOUND);
    };
    if name.len() > MAX_GUEST_NAME || name.chars().any(char::is_control) {
        return empty_json(StatusCode::NOT_FOUND);
    }
    match generated(name, avatar::served_size(&size), dark).await {
        Some(image) => image.into_response(),
        None => server_error(),
    }
}

/// `DELETE /index.php/avatar/`: the caller's uploaded image goes. As for
/// every write here, `OCS-APIRequest: true` must come with it: a page in a
/// browser that holds Basic credentials cannot send that header cross-site
/// (Nextcloud's CSRF check accepts the header or a request token).
pub(super) async fn delete(
    State(ocs): State<Arc<Ocs>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let api_request = headers
        .get("OCS-APIRequest")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    if !api_request {
        return (
            StatusCode::PRECONDITION_FAILED,
            [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
            r#"{"message":"CSRF check failed"}"#,
        )
            .into_response();
    }
    let uid = match caller(&ocs, &headers, client).await {
        Ok(uid) => uid,
        Err(refused) => return refused,
    };
    // The avatar is kept under the store's spelling of the id.
    let store = ocs.service.store();
    let deleted = store
        .user(&uid)
        .and_then(|user| store.delete_avatar(&user.uid));
    match deleted {
        Ok(_) | Err(StoreError::NoSuchUser(_)) => empty_json(StatusCode::OK),
        Err(e) => {
            tracing::error!(%uid, "the store failed while deleting the avatar: {e}");
            // Nextcloud's answer when removing fails.
            (
                StatusCode::BAD_REQUEST,
                [(header::CONTENT_TYPE, "application/json; charset=utf-8")],
                r#"{"data":{"message":"An error occurred. Please contact your admin."}}"#,
            )
                .into_response()
        }
    }
}
