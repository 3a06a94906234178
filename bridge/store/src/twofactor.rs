//! Second factors as stored: a user's TOTP secret (sealed by the caller, never
//! readable here), backup codes (keyed hashes, single use) and the enforcement
//! state of `twofactorauth:enforce`. Every "use once" is one conditional UPDATE,
//! so two processes (or two nodes) cannot both accept the same code.

use crate::Result;

/// How many backup codes a user is given at once (Nextcloud's number).
pub const BACKUP_CODES: usize = 10;

/// A TOTP secret as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpSecret {
    /// The user's id as stored (the seal is bound to it).
    pub uid: String,
    /// The secret sealed by the caller (nonce and ciphertext).
    pub sealed: Vec<u8>,
    /// Confirmed by a first code (or set up by an administrator): it counts.
    pub confirmed: bool,
    /// The newest time step a code was accepted for; -1 when none was.
    pub last_step: i64,
    /// Unix seconds it was made (a waiting secret goes stale).
    pub created: i64,
}

/// `twofactorauth:enforce`: off, on for everybody but the excluded groups, or on
/// for the named groups only (then the excluded ones do not matter).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Enforcement {
    pub enforced: bool,
    pub groups: Vec<String>,
    pub excluded: Vec<String>,
}

/// What one user has, read in one go at every login.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SecondFactors {
    /// A confirmed TOTP secret.
    pub totp: bool,
    /// Backup codes not used yet, and all the user was given.
    pub backup_codes_left: u32,
    pub backup_codes: u32,
    /// `twofactorauth:enforce --on` holds (for someone; the groups decide whom).
    pub enforcement_on: bool,
}

pub trait TwoFactorStore {
    /// The user's providers and whether enforcement is on, in one read.
    fn second_factors(&self, uid: &str) -> Result<SecondFactors>;
    fn totp_secret(&self, uid: &str) -> Result<Option<TotpSecret>>;
    /// Stores a new sealed secret, no step used with it yet. A confirmed one (an
    /// administrator's) replaces whatever the user had; a waiting one replaces
    /// only a waiting one: false, and nothing written, when the user's secret is
    /// confirmed (checked in the same statement, so no race turns 2FA off).
    fn set_totp_secret(&self, uid: &str, sealed: &[u8], confirmed: bool, now: i64) -> Result<bool>;
    /// Confirms the waiting secret `sealed` with the step its first code was for;
    /// false when the user's secret is no longer that one.
    fn confirm_totp(&self, uid: &str, sealed: &[u8], step: i64) -> Result<bool>;
    /// Records a code of `step` as used; false when a code of this step or a
    /// later one was already accepted (a replay), or there is no confirmed secret.
    fn use_totp_step(&self, uid: &str, step: i64) -> Result<bool>;
    /// False when the user had no TOTP secret.
    fn delete_totp(&self, uid: &str) -> Result<bool>;
    /// Replaces the user's backup codes by these (keyed hashes).
    fn set_backup_codes(&self, uid: &str, hashes: &[[u8; 32]]) -> Result<()>;
    /// Marks the unused code with this hash used; false when there is none.
    fn use_backup_code(&self, uid: &str, hash: &[u8; 32]) -> Result<bool>;
    /// False when the user had no backup codes.
    fn delete_backup_codes(&self, uid: &str) -> Result<bool>;
    /// Before a code is looked at: when `wait(failures, last_failure)` says
    /// the user must still wait, `Err(seconds left)`; else the attempt is
    /// counted as a failure at once, in the same transaction (so attempts at
    /// the same moment each see the others), and `Ok(failures before it)`.
    /// An accepted code then clears the count.
    fn start_code_attempt(
        &self,
        uid: &str,
        now: i64,
        wait: &dyn Fn(u32, i64) -> i64,
    ) -> Result<std::result::Result<u32, i64>>;
    /// The user's wrong codes since the last accepted one, and the latest's time.
    fn code_failures(&self, uid: &str) -> Result<(u32, i64)>;
    /// An accepted code, or an administrator's new factor: the count starts over.
    fn clear_code_failures(&self, uid: &str) -> Result<()>;
    /// Deletes every user's data of `provider`; how many users had some.
    /// An unknown provider has none.
    fn cleanup_provider(&self, provider: &str) -> Result<usize>;
    fn enforcement(&self) -> Result<Enforcement>;
    fn set_enforcement(&self, enforcement: &Enforcement) -> Result<()>;
}
