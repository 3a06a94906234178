//! Local accounts (`Database` backend): argon2id password hashes, the password
//! policy, and the [`LocalPasswords`] authenticator.

mod app_passwords;
mod gate;
mod hash;
mod policy;

use async_trait::async_trait;
use authbridge_core::{
    Accepted, Authenticator, BackendKind, Credentials, ExposeSecret, RejectReason, UnavailableKind,
    Verdict,
};
use authbridge_store::{LOCAL_BACKEND, SqliteStore, Store, StoreError};
use std::sync::Arc;

pub use app_passwords::{AppPasswords, SecretKey, generate_app_password};
pub use gate::Gate;
pub use hash::{HASH_PARAMS, hash_password, verify_password};
pub use policy::{PasswordPolicy, PolicyError};

/// Checks local users' passwords against the store.
pub struct LocalPasswords {
    store: Arc<SqliteStore>,
}

impl LocalPasswords {
    pub fn new(store: Arc<SqliteStore>) -> Self {
        LocalPasswords { store }
    }
}

#[async_trait]
impl Authenticator for LocalPasswords {
    fn name(&self) -> &str {
        "local"
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Database
    }

    async fn authenticate(&self, credentials: &Credentials) -> Verdict {
        let store = Arc::clone(&self.store);
        let login = credentials.login().to_owned();
        let password = credentials.password().clone();
        // argon2id takes tens of milliseconds on purpose: keep it off the async threads.
        let task = tokio::task::spawn_blocking(move || {
            let user = match store.user(&login) {
                Ok(u) => u,
                // Unknown here: the next backend may know the user.
                Err(StoreError::NoSuchUser(_)) => {
                    return Verdict::Rejected(RejectReason::BadCredentials);
                }
                Err(e) => {
                    return Verdict::unavailable(UnavailableKind::Protocol, format!("store: {e}"));
                }
            };
            if user.backend != LOCAL_BACKEND {
                return Verdict::Rejected(RejectReason::BadCredentials);
            }
            if !user.enabled {
                return Verdict::Rejected(RejectReason::AccountDisabled);
            }
            let hash = match store.password_hash(&user.uid) {
                Ok(Some(h)) => h,
                Ok(None) => return Verdict::Rejected(RejectReason::BadCredentials),
                Err(e) => {
                    return Verdict::unavailable(UnavailableKind::Protocol, format!("store: {e}"));
                }
            };
            if verify_password(password.expose_secret(), &hash) {
                Verdict::Accepted(Accepted {
                    uid: user.uid,
                    groups: vec![],
                })
            } else {
                Verdict::Rejected(RejectReason::BadCredentials)
            }
        });
        task.await.unwrap_or_else(|e| {
            Verdict::unavailable(
                UnavailableKind::Protocol,
                format!("local check aborted: {e}"),
            )
        })
    }
}
