//! State the daemon keeps across restarts: login failures for the brute-force
//! throttle, and password verifiers for the cache and offline logins.

use crate::Result;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailure {
    pub login: String,
    pub source: String,
    pub failures: u32,
    pub last_failure: i64,
}

/// An argon2id verifier of a password an external backend accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    pub login: String,
    pub uid: String,
    /// argon2id PHC string.
    pub verifier: String,
    /// Unix seconds of the last time a backend confirmed the password.
    pub verified_online: i64,
    pub offline_failures: u32,
    pub last_offline_failure: Option<i64>,
}

pub trait SecurityStore {
    /// Every failure recorded since `since` (older ones are deleted).
    fn login_failures(&self, since: i64) -> Result<Vec<LoginFailure>>;
    fn set_login_failure(&self, failure: &LoginFailure) -> Result<()>;
    /// One more failure of (login, source) at `now`, counted in the store in
    /// one statement, so that failures on several hosts add up; a count whose
    /// last failure is older than `window_start` starts again at one. Returns
    /// the pair as stored.
    fn add_login_failure(
        &self,
        login: &str,
        source: &str,
        now: i64,
        window_start: i64,
    ) -> Result<LoginFailure>;
    /// Failures recorded after `after` (read only): what other hosts counted
    /// since a daemon last looked.
    fn login_failures_after(&self, after: i64) -> Result<Vec<LoginFailure>>;
    fn clear_login_failures(&self, login: &str, source: &str) -> Result<()>;
    /// Forgets failures older than `before`; returns how many pairs went.
    fn prune_login_failures(&self, before: i64) -> Result<usize>;

    fn verifier(&self, login: &str) -> Result<Option<Verifier>>;
    /// Stores a fresh verifier for `login` (owned by `uid`), offline failures reset.
    fn set_verifier(&self, login: &str, uid: &str, verifier: &str, now: i64) -> Result<()>;
    /// Marks the stored verifier as confirmed online at `now`, offline failures reset.
    fn confirm_verifier(&self, login: &str, now: i64) -> Result<()>;
    fn record_offline_failure(&self, login: &str, now: i64) -> Result<()>;
    fn drop_verifiers(&self, uid: &str) -> Result<()>;
}
