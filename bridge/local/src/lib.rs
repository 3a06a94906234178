//! Local accounts (`Database` backend): argon2id password hashes, the password
//! policy, and the [`LocalPasswords`] authenticator.

mod app_passwords;
mod file_watch;
mod gate;
mod hash;
mod names;
mod policy;

use async_trait::async_trait;
use authbridge_core::{
    Accepted, Authenticator, BackendKind, Credentials, RejectReason, UnavailableKind, Verdict,
};
use authbridge_store::{LOCAL_BACKEND, SharedStore, StoreError};

pub use app_passwords::{AppPasswords, SecretKey, generate_app_password, random_alphanumeric};
pub use gate::{Gate, a_backend_said_no, store_failed};
pub use hash::{
    Busy, HASH_PARAMS, HashBudget, hash_password, hash_password_bounded, verify_password,
    verify_password_bounded,
};
pub use names::{
    ADMIN_GROUP, GroupHidden, NameRefusal, NameSettings, Names, NamesError, names_over,
};
pub use policy::{PasswordPolicy, PolicyError};

/// Checks local users' passwords against the store.
pub struct LocalPasswords {
    store: SharedStore,
}

impl LocalPasswords {
    pub fn new(store: SharedStore) -> Self {
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
        // Who the login is and the hash to check against; `None` when there is no
        // local password to check, which is then verified against a dummy hash so
        // that an unknown user takes as long as a wrong password.
        let phc = match self.store.user(credentials.login()) {
            Ok(user) if user.backend == LOCAL_BACKEND && !user.enabled => {
                return Verdict::Rejected(RejectReason::AccountDisabled);
            }
            Ok(user) if user.backend == LOCAL_BACKEND => {
                match self.store.password_hash(&user.uid) {
                    Ok(hash) => hash.map(|h| (user.uid, h)),
                    Err(e) => {
                        return Verdict::unavailable(
                            UnavailableKind::Protocol,
                            format!("store: {e}"),
                        );
                    }
                }
            }
            // Unknown here, or another backend's: the next backend may know the user.
            Ok(_) | Err(StoreError::NoSuchUser(_)) => None,
            Err(e) => {
                return Verdict::unavailable(UnavailableKind::Protocol, format!("store: {e}"));
            }
        };
        let (uid, hash) = match phc {
            Some((uid, hash)) => (Some(uid), Some(hash)),
            None => (None, None),
        };
        match verify_password_bounded(credentials.password().clone(), hash).await {
            Ok(true) => Verdict::Accepted(Accepted {
                uid: uid.unwrap_or_default(),
                groups: vec![],
            }),
            Ok(false) => Verdict::Rejected(RejectReason::BadCredentials),
            Err(busy) => Verdict::unavailable(UnavailableKind::Overloaded, busy.to_string()),
        }
    }
}
