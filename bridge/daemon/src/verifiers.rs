//! Offline verifiers: after a backend accepts an external password, the daemon
//! keeps an argon2id verifier of it in the store. When every backend is
//! unavailable, a matching password is accepted offline for
//! `offline_credentials_expiration` after the last online success, with SSSD's
//! limit on wrong offline attempts. (Online, repeated logins are answered from
//! the in-memory credential cache, which never costs an argon2id hash.)

use authbridge_core::SecretString;
use authbridge_store::{SharedStore, Verifier};

use crate::settings::DaemonSettings;

#[derive(Clone)]
pub struct Verifiers {
    store: SharedStore,
}

/// What the verifier says about an offline attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Offline {
    /// No verifier, or its window is over: the answer stays "unavailable".
    NotApplicable,
    /// Too many wrong offline passwords lately.
    Delayed,
    Accepted {
        uid: String,
    },
    Mismatch,
}

impl Verifiers {
    pub fn new(store: SharedStore) -> Self {
        Verifiers { store }
    }

    pub fn enabled(settings: &DaemonSettings) -> bool {
        !settings.offline_credentials_expiration.is_zero()
    }

    fn load(&self, login: &str) -> Option<Verifier> {
        self.store.verifier(login).unwrap_or_else(|e| {
            tracing::warn!(?login, "verifier unreadable: {e}");
            None
        })
    }

    /// argon2id within the daemon-wide hashing budget. No place in time is
    /// neither a match nor a mismatch: nothing is counted against the user.
    async fn matches(
        verifier: &Verifier,
        password: &SecretString,
    ) -> Result<bool, authbridge_local::Busy> {
        authbridge_local::verify_password_bounded(password.clone(), Some(verifier.verifier.clone()))
            .await
    }

    /// Every backend was unavailable: decide from the verifier alone.
    pub async fn offline(
        &self,
        login: &str,
        password: &SecretString,
        settings: &DaemonSettings,
        now: i64,
    ) -> Offline {
        if settings.offline_credentials_expiration.is_zero() {
            return Offline::NotApplicable;
        }
        let Some(verifier) = self.load(login) else {
            return Offline::NotApplicable;
        };
        if now - verifier.verified_online
            >= settings.offline_credentials_expiration.as_secs() as i64
        {
            return Offline::NotApplicable;
        }
        let limit = settings.offline_failed_login_attempts;
        if limit > 0
            && verifier.offline_failures >= limit
            && verifier
                .last_offline_failure
                .is_some_and(|at| now - at < settings.offline_failed_login_delay.as_secs() as i64)
        {
            return Offline::Delayed;
        }
        let Ok(matched) = Self::matches(&verifier, password).await else {
            // Busy: the answer stays "unavailable", and no failure is recorded.
            return Offline::NotApplicable;
        };
        if matched {
            Offline::Accepted { uid: verifier.uid }
        } else {
            if let Err(e) = self.store.record_offline_failure(login, now) {
                tracing::warn!(?login, "offline failure not recorded: {e}");
            }
            Offline::Mismatch
        }
    }

    /// A backend accepted `password` for `login` (as `uid`): keep a verifier of it.
    /// When the stored verifier already matches, only its time moves.
    pub async fn remember(&self, login: &str, uid: &str, password: &SecretString, now: i64) {
        if let Some(existing) = self.load(login)
            && existing.uid == uid
            && Self::matches(&existing, password).await == Ok(true)
        {
            if let Err(e) = self.store.confirm_verifier(login, now) {
                tracing::warn!(?login, "verifier not refreshed: {e}");
            }
            return;
        }
        match authbridge_local::hash_password_bounded(password.clone()).await {
            Ok(phc) => {
                if let Err(e) = self.store.set_verifier(login, uid, &phc, now) {
                    tracing::warn!(?login, "verifier not stored: {e}");
                }
            }
            Err(e) => tracing::warn!(?login, "verifier not computed: {e}"),
        }
    }
}
