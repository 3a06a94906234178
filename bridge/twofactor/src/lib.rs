//! Second factors: who needs one, checking a code, and enrolling. The providers
//! are Nextcloud's `totp` and `backup_codes`; the rules are Nextcloud's too: a
//! user needs a second factor when TOTP is set up or when enforcement covers
//! them; backup codes alone do not turn it on, they stand in for TOTP.

pub mod backup_codes;
pub mod enforcement;
pub mod qr;
pub mod seal;
pub mod totp;

use authbridge_local::SecretKey;
use authbridge_store::{SharedStore, StoreError};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

use backup_codes::CodeHasher;
use seal::{Sealer, Unsealable};

/// The providers, in the order occ lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    BackupCodes,
    Totp,
}

impl Provider {
    pub const ALL: [Provider; 2] = [Provider::BackupCodes, Provider::Totp];

    /// Nextcloud's provider id.
    pub fn id(self) -> &'static str {
        match self {
            Provider::BackupCodes => "backup_codes",
            Provider::Totp => "totp",
        }
    }

    pub fn from_id(id: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.id() == id)
    }
}

/// What a login with a password needs besides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Requirement {
    /// Nothing: no second factor set up and none enforced.
    None,
    /// A code: TOTP, or a backup code.
    Code,
    /// Enforced, but nothing to give a code with: the user must enrol first.
    Enrol,
}

/// What became of a typed code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    Accepted(Provider),
    /// Wrong, not a code, or a backup code already used.
    Rejected,
    /// A TOTP code of a step already used (or older): somebody saw it.
    Replayed,
    /// Too many wrong codes for this user lately: not looked at. Seconds left.
    Delayed(i64),
}

/// Wrong codes a user may type before each further one waits.
pub const FREE_CODE_FAILURES: u32 = 5;
/// The longest wait between wrong codes (RFC 4226 §7.3's throttling): with
/// three codes valid at a time, guessing one takes years past this point.
pub const MAX_CODE_DELAY_SECONDS: i64 = 900;
/// How long a secret waits for its first code.
pub const WAITING_SECRET_SECONDS: i64 = 900;

/// Seconds still to wait after `failures` wrong codes, the latest at `last`;
/// never more than the delay itself (a clock set back, or a failure recorded
/// in the future, does not lengthen it).
pub fn wait_left(failures: u32, last: i64, now: i64) -> i64 {
    let delay = code_delay(failures);
    last.saturating_add(delay)
        .saturating_sub(now)
        .clamp(0, delay)
}

/// The first wait: one time step.
pub const FIRST_CODE_DELAY_SECONDS: i64 = 30;

/// The wait after `failures` wrong codes: none for the first few, then one
/// time step, doubling up to the maximum.
pub fn code_delay(failures: u32) -> i64 {
    match failures.checked_sub(FREE_CODE_FAILURES) {
        None => 0,
        Some(extra) => FIRST_CODE_DELAY_SECONDS
            .checked_shl(extra.min(20))
            .unwrap_or(i64::MAX)
            .min(MAX_CODE_DELAY_SECONDS),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TwoFactorError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Unsealable(#[from] Unsealable),
    /// A waiting secret was asked for over a confirmed one.
    #[error("TOTP is set up for this user already")]
    AlreadySetUp,
}

/// A TOTP secret just made: shown once, as text and as a URI to scan.
pub struct TotpSetup {
    pub secret_base32: Zeroizing<String>,
    pub uri: Zeroizing<String>,
}

/// The longest code worth looking at (a backup code with its separators, and more).
pub const MAX_CODE_LEN: usize = 64;

/// The issuer shown in authenticator apps unless the configuration names one.
pub const DEFAULT_ISSUER: &str = "authbridge";

pub struct TwoFactor {
    store: SharedStore,
    sealer: Sealer,
    hasher: CodeHasher,
    issuer: String,
}

impl TwoFactor {
    pub fn new(store: SharedStore, key: &SecretKey, issuer: &str) -> TwoFactor {
        TwoFactor {
            store,
            sealer: Sealer::new(key),
            hasher: CodeHasher::new(key),
            issuer: issuer.to_owned(),
        }
    }

    /// One read of the user's providers; the groups only when enforcement is on
    /// and nothing else decides.
    pub fn requirement(&self, uid: &str) -> Result<Requirement, StoreError> {
        let factors = self.store.second_factors(uid)?;
        if factors.totp {
            return Ok(Requirement::Code);
        }
        if !factors.enforcement_on {
            return Ok(Requirement::None);
        }
        let enforcement = self.store.enforcement()?;
        if !enforcement::is_enforced_for(&enforcement, &self.store.user_groups(uid)?) {
            return Ok(Requirement::None);
        }
        Ok(match factors.backup_codes_left {
            0 => Requirement::Enrol,
            _ => Requirement::Code,
        })
    }

    /// Whether `uid` has a provider enabled (what `state` calls enabled).
    pub fn enabled_providers(&self, uid: &str) -> Result<Vec<Provider>, StoreError> {
        let factors = self.store.second_factors(uid)?;
        Ok(Provider::ALL
            .into_iter()
            .filter(|p| match p {
                Provider::Totp => factors.totp,
                Provider::BackupCodes => factors.backup_codes > 0,
            })
            .collect())
    }

    /// A six-digit code is a TOTP code, anything of a backup code's shape a
    /// backup code; each accepted once. Wrong codes count against the user
    /// (whatever the source); past a few, each further one waits longer.
    pub fn verify(&self, uid: &str, typed: &str, now: i64) -> Result<CodeCheck, TwoFactorError> {
        let uid = self.store.user(uid)?.uid;
        // Counted before it is looked at: codes sent at the same moment cannot
        // all slip in under one count.
        let wait = |failures: u32, last: i64| wait_left(failures, last, now);
        if let Err(left) = self.store.start_code_attempt(&uid, now, &wait)? {
            return Ok(CodeCheck::Delayed(left));
        }
        let check = self.check_code(&uid, typed, now)?;
        if let CodeCheck::Accepted(_) = check {
            self.store.clear_code_failures(&uid)?;
        }
        Ok(check)
    }

    fn check_code(&self, uid: &str, typed: &str, now: i64) -> Result<CodeCheck, TwoFactorError> {
        if typed.len() > MAX_CODE_LEN {
            return Ok(CodeCheck::Rejected);
        }
        let digits: Zeroizing<String> =
            Zeroizing::new(typed.chars().filter(|c| *c != ' ').collect());
        if digits.len() == totp::DIGITS as usize && digits.bytes().all(|b| b.is_ascii_digit()) {
            return self.verify_totp(uid, &digits, now);
        }
        let Some(code) = backup_codes::normalize(typed) else {
            return Ok(CodeCheck::Rejected);
        };
        let hash = self.hasher.hash(uid, &code);
        Ok(match self.store.use_backup_code(uid, &hash)? {
            true => CodeCheck::Accepted(Provider::BackupCodes),
            false => CodeCheck::Rejected,
        })
    }

    fn verify_totp(&self, uid: &str, typed: &str, now: i64) -> Result<CodeCheck, TwoFactorError> {
        let Some(stored) = self.store.totp_secret(uid)? else {
            return Ok(CodeCheck::Rejected);
        };
        if !stored.confirmed {
            return Ok(CodeCheck::Rejected);
        }
        let secret = self.sealer.open(&stored.uid, &stored.sealed)?;
        let Some(step) = totp::matching_step(&secret, typed, now) else {
            return Ok(CodeCheck::Rejected);
        };
        Ok(match self.store.use_totp_step(uid, step)? {
            true => CodeCheck::Accepted(Provider::Totp),
            false => CodeCheck::Replayed,
        })
    }

    /// A new TOTP secret for `uid`: confirmed at once when an administrator
    /// sets it up (replacing any), else waiting for its first code for
    /// `WAITING_SECRET_SECONDS` (replacing a waiting one, never a confirmed one).
    pub fn set_up_totp(
        &self,
        uid: &str,
        confirmed: bool,
        now: i64,
    ) -> Result<TotpSetup, TwoFactorError> {
        let stored_uid = self.store.user(uid)?.uid;
        let mut secret = Zeroizing::new([0u8; totp::SECRET_BYTES]);
        OsRng.fill_bytes(&mut secret[..]);
        let sealed = self.sealer.seal(&stored_uid, &secret[..]);
        if !self
            .store
            .set_totp_secret(&stored_uid, &sealed, confirmed, now)?
        {
            return Err(TwoFactorError::AlreadySetUp);
        }
        if confirmed {
            // An administrator's new secret: the user starts with a clean slate.
            self.store.clear_code_failures(&stored_uid)?;
        }
        Ok(TotpSetup {
            secret_base32: totp::base32(&secret[..]),
            uri: totp::otpauth_uri(&self.issuer, &stored_uid, &secret[..]),
        })
    }

    /// Confirms the waiting secret with its first code; false when the code is
    /// wrong or there is no waiting secret.
    pub fn confirm_totp(&self, uid: &str, typed: &str, now: i64) -> Result<bool, TwoFactorError> {
        let Some(stored) = self.store.totp_secret(uid)? else {
            return Ok(false);
        };
        let age = now - stored.created;
        let stale = !(0..WAITING_SECRET_SECONDS).contains(&age);
        if stored.confirmed || stale || typed.len() > MAX_CODE_LEN {
            return Ok(false);
        }
        let secret = self.sealer.open(&stored.uid, &stored.sealed)?;
        let typed: Zeroizing<String> =
            Zeroizing::new(typed.chars().filter(|c| *c != ' ').collect());
        let Some(step) = totp::matching_step(&secret, &typed, now) else {
            return Ok(false);
        };
        Ok(self.store.confirm_totp(uid, &stored.sealed, step)?)
    }

    /// Ten new backup codes, replacing the old ones; shown once.
    pub fn generate_backup_codes(&self, uid: &str) -> Result<Vec<Zeroizing<String>>, StoreError> {
        let stored_uid = self.store.user(uid)?.uid;
        let codes = backup_codes::generate();
        let hashes: Vec<[u8; 32]> = codes
            .iter()
            .map(|c| self.hasher.hash(&stored_uid, c))
            .collect();
        self.store.set_backup_codes(&stored_uid, &hashes)?;
        self.store.clear_code_failures(&stored_uid)?;
        Ok(codes)
    }

    /// Removes the provider's data for `uid` (a lost phone: its secret is gone
    /// for good); false when there was none.
    pub fn disable(&self, uid: &str, provider: Provider) -> Result<bool, StoreError> {
        let had = match provider {
            Provider::Totp => self.store.delete_totp(uid)?,
            Provider::BackupCodes => self.store.delete_backup_codes(uid)?,
        };
        // An administrator stepped in (a lost phone, a user locked out by
        // someone else's wrong codes): the count starts over.
        self.store.clear_code_failures(uid)?;
        Ok(had)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authbridge_store::SqliteStore;
    use authbridge_store::{Enforcement, NewUser, Store};

    fn setup() -> (tempfile::TempDir, SharedStore, TwoFactor) {
        let dir = tempfile::tempdir().unwrap();
        let store = std::sync::Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        for uid in ["Alice", "bob"] {
            store
                .create_user(
                    &NewUser {
                        uid: uid.into(),
                        backend: "Database".into(),
                        groups: vec!["staff".into()],
                        ..NewUser::default()
                    },
                    1,
                )
                .unwrap();
        }
        let key = SecretKey::load_or_create(&dir.path().join("key")).unwrap();
        let tf = TwoFactor::new(store.clone(), &key, DEFAULT_ISSUER);
        (dir, store, tf)
    }

    fn secret_of(setup: &TotpSetup) -> Vec<u8> {
        let b32 = setup.secret_base32.as_str();
        let uri_secret = setup.uri.split("secret=").nth(1).unwrap();
        assert!(uri_secret.starts_with(b32));
        decode_base32(b32)
    }

    fn decode_base32(text: &str) -> Vec<u8> {
        let (mut out, mut buffer, mut bits) = (Vec::new(), 0u32, 0u32);
        for c in text.bytes() {
            let v = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
                .iter()
                .position(|x| *x == c)
                .unwrap() as u32;
            buffer = (buffer << 5) | v;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((buffer >> bits) as u8);
            }
        }
        out
    }

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn a_waiting_secret_counts_only_once_confirmed() {
        let (_d, _s, tf) = setup();
        let set = tf.set_up_totp("alice", false, NOW).unwrap();
        assert!(
            set.uri
                .starts_with("otpauth://totp/authbridge:Alice?secret=")
        );
        let secret = secret_of(&set);
        assert_eq!(secret.len(), 20);
        assert_eq!(tf.requirement("alice").unwrap(), Requirement::None);
        let code = totp::code(&secret, totp::step_at(NOW), 6);
        assert_eq!(
            tf.verify("alice", &code, NOW).unwrap(),
            CodeCheck::Rejected,
            "not confirmed"
        );
        assert!(!tf.confirm_totp("alice", "000000", NOW).unwrap() || code.as_str() == "000000");
        assert!(tf.confirm_totp("alice", &code, NOW).unwrap());
        assert_eq!(tf.requirement("ALICE").unwrap(), Requirement::Code);
        assert_eq!(
            tf.verify("alice", &code, NOW).unwrap(),
            CodeCheck::Replayed,
            "the confirming code is used up"
        );
        let next = totp::code(&secret, totp::step_at(NOW) + 1, 6);
        assert_eq!(
            tf.verify("alice", &next, NOW).unwrap(),
            CodeCheck::Accepted(Provider::Totp)
        );
        assert_eq!(tf.verify("alice", &next, NOW).unwrap(), CodeCheck::Replayed);
        assert!(
            matches!(
                tf.set_up_totp("alice", false, NOW),
                Err(TwoFactorError::AlreadySetUp)
            ),
            "a waiting secret never replaces a confirmed one"
        );
    }

    #[test]
    fn a_waiting_secret_goes_stale() {
        let (_d, _s, tf) = setup();
        let set = tf.set_up_totp("bob", false, NOW).unwrap();
        let later = NOW + WAITING_SECRET_SECONDS;
        let code = totp::code(&secret_of(&set), totp::step_at(later), 6);
        assert!(!tf.confirm_totp("bob", &code, later).unwrap());
    }

    #[test]
    fn wrong_codes_past_a_few_wait_longer_whatever_the_password_did() {
        let (_d, _s, tf) = setup();
        let set = tf.set_up_totp("alice", true, NOW).unwrap();
        let secret = secret_of(&set);
        let right = totp::code(&secret, totp::step_at(NOW), 6);
        let wrong = format!(
            "{:06}",
            (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
        );
        for _ in 0..FREE_CODE_FAILURES {
            assert_eq!(
                tf.verify("alice", &wrong, NOW).unwrap(),
                CodeCheck::Rejected
            );
        }
        assert_eq!(
            tf.verify("alice", &right, NOW).unwrap(),
            CodeCheck::Delayed(30),
            "not even the right code is looked at"
        );
        let later = NOW + 30;
        assert_eq!(
            tf.verify("alice", &wrong, later).unwrap(),
            CodeCheck::Rejected
        );
        assert_eq!(
            tf.verify("alice", &right, later + 1).unwrap(),
            CodeCheck::Delayed(59)
        );
        let right = totp::code(&secret, totp::step_at(later + 60), 6);
        assert_eq!(
            tf.verify("alice", &right, later + 60).unwrap(),
            CodeCheck::Accepted(Provider::Totp)
        );
        let wrong = format!(
            "{:06}",
            (right.parse::<u32>().unwrap() + 500_000) % 1_000_000
        );
        assert_eq!(
            tf.verify("alice", &wrong, later + 60).unwrap(),
            CodeCheck::Rejected,
            "an accepted code starts the count over"
        );
        for _ in 1..FREE_CODE_FAILURES {
            assert_eq!(
                tf.verify("alice", &wrong, later + 60).unwrap(),
                CodeCheck::Rejected
            );
        }
        assert!(matches!(
            tf.verify("alice", &right, later + 60).unwrap(),
            CodeCheck::Delayed(_)
        ));
        tf.generate_backup_codes("alice").unwrap();
        assert_eq!(
            tf.verify("alice", &wrong, later + 60).unwrap(),
            CodeCheck::Rejected,
            "an administrator's new factor clears the count"
        );
        assert_eq!(
            wait_left(FREE_CODE_FAILURES, NOW + 10_000, NOW),
            30,
            "a failure in the future"
        );
        assert_eq!(wait_left(FREE_CODE_FAILURES, NOW, NOW + 31), 0);
        assert_eq!(code_delay(FREE_CODE_FAILURES - 1), 0);
        assert_eq!(code_delay(FREE_CODE_FAILURES + 3), 240);
        assert_eq!(code_delay(u32::MAX), MAX_CODE_DELAY_SECONDS);
    }

    #[test]
    fn backup_codes_stand_in_once_each_but_do_not_turn_2fa_on() {
        let (_d, _s, tf) = setup();
        let codes = tf.generate_backup_codes("bob").unwrap();
        assert_eq!(tf.requirement("bob").unwrap(), Requirement::None);
        assert_eq!(
            tf.enabled_providers("bob").unwrap(),
            [Provider::BackupCodes]
        );
        let spaced = format!("{} {}", &codes[0][..8], &codes[0][8..]);
        assert_eq!(
            tf.verify("bob", &spaced, NOW).unwrap(),
            CodeCheck::Accepted(Provider::BackupCodes)
        );
        assert_eq!(
            tf.verify("bob", &codes[0], NOW).unwrap(),
            CodeCheck::Rejected
        );
        assert_eq!(
            tf.verify("alice", &codes[1], NOW).unwrap(),
            CodeCheck::Rejected,
            "another user's code"
        );
        assert_eq!(
            tf.verify("bob", &"a".repeat(MAX_CODE_LEN + 1), NOW)
                .unwrap(),
            CodeCheck::Rejected
        );
    }

    #[test]
    fn enforcement_without_a_provider_asks_to_enrol() {
        let (_d, store, tf) = setup();
        store
            .set_enforcement(&Enforcement {
                enforced: true,
                groups: vec![],
                excluded: vec!["staff".into()],
            })
            .unwrap();
        assert_eq!(
            tf.requirement("bob").unwrap(),
            Requirement::None,
            "excluded"
        );
        store
            .set_enforcement(&Enforcement {
                enforced: true,
                groups: vec!["STAFF".into()],
                excluded: vec![],
            })
            .unwrap();
        assert_eq!(tf.requirement("bob").unwrap(), Requirement::Enrol);
        tf.generate_backup_codes("bob").unwrap();
        assert_eq!(tf.requirement("bob").unwrap(), Requirement::Code);
    }

    #[test]
    fn disabling_totp_destroys_the_secret() {
        let (_d, _s, tf) = setup();
        let set = tf.set_up_totp("alice", true, NOW).unwrap();
        let code = totp::code(&secret_of(&set), totp::step_at(NOW), 6);
        assert!(tf.disable("alice", Provider::Totp).unwrap());
        assert!(!tf.disable("alice", Provider::Totp).unwrap());
        assert_eq!(tf.requirement("alice").unwrap(), Requirement::None);
        assert_eq!(tf.verify("alice", &code, NOW).unwrap(), CodeCheck::Rejected);
    }
}
