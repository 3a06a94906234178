//! The credential fast path: passwords accepted lately, answered from memory
//! before any argon2id or backend round trip (SSSD's in-memory
//! `cached_auth_timeout` cache, not its on-disk verifiers).
//!
//! What is kept is never the password: an HMAC-SHA-256 of login and password
//! under a key drawn at start-up and never written anywhere, so a memory dump
//! or a core file gives an attacker an offline guessing target no cheaper than
//! the key is secret. Only an accepted password enters; a wrong one never
//! does. Each entry carries a digest of the account's [`CredentialState`] as it
//! was when the password passed: a reset, a disable or a delete — by the
//! daemon or the CLI — changes the state, and the very next lookup misses.

use authbridge_core::BackendKind;
use authbridge_store::CredentialState;
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

type Digest32 = [u8; 32];

/// A password that passed lately, as the decision that accepted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remembered {
    pub uid: String,
    pub backend: String,
    pub kind: BackendKind,
    /// [`state_digest`] of the account when the password passed.
    pub state: Digest32,
}

struct Entry {
    password: Digest32,
    remembered: Remembered,
    expires: Instant,
}

pub struct CredentialCache {
    /// HMAC keyed with a random key made at start-up, copied per digest (keying
    /// is two SHA-256 compressions of every lookup). The keyed state, as good as
    /// the key, is not wiped when dropped: the cache lives as long as the daemon.
    keyed: Hmac<Sha256>,
    /// One entry per login (the spelling the client sent, canonicalised).
    entries: Mutex<HashMap<String, Entry>>,
    max_entries: usize,
}

/// What an account's state comes to, for comparing without keeping the hash.
pub fn state_digest(state: &CredentialState) -> Digest32 {
    let mut h = Sha256::new();
    h.update([u8::from(state.enabled)]);
    for part in [Some(state.backend.as_str()), state.password_hash.as_deref()] {
        let bytes = part.unwrap_or("").as_bytes();
        h.update((bytes.len() as u64).to_le_bytes());
        h.update(bytes);
        h.update([u8::from(part.is_some())]);
    }
    h.finalize().into()
}

impl CredentialCache {
    pub fn new(max_entries: usize) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, key.as_mut());
        CredentialCache {
            keyed: <Hmac<Sha256> as Mac>::new_from_slice(key.as_ref()).expect("any key length"),
            entries: Mutex::new(HashMap::new()),
            max_entries,
        }
    }

    fn password_digest(&self, login: &str, password: &str) -> Digest32 {
        let mut mac = self.keyed.clone();
        // Length-prefixed: no (login, password) pair runs into another.
        mac.update(&(login.len() as u64).to_le_bytes());
        mac.update(login.as_bytes());
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The decision remembered for this exact login and password, if it has not
    /// expired. The caller still compares `state` with the account's state now.
    pub fn lookup(&self, login: &str, password: &str, now: Instant) -> Option<Remembered> {
        let digest = self.password_digest(login, password);
        let mut entries = self.lock();
        let entry = entries.get(login)?;
        if entry.expires <= now {
            entries.remove(login);
            return None;
        }
        bool::from(entry.password.ct_eq(&digest)).then(|| entry.remembered.clone())
    }

    /// Remembers an accepted password for `ttl`. A full cache first drops what
    /// has expired, then the entry closest to expiry.
    pub fn insert(
        &self,
        login: &str,
        password: &str,
        remembered: Remembered,
        ttl: Duration,
        now: Instant,
    ) {
        if ttl.is_zero() || self.max_entries == 0 {
            return;
        }
        let entry = Entry {
            password: self.password_digest(login, password),
            remembered,
            expires: now + ttl,
        };
        let mut entries = self.lock();
        if entries.len() >= self.max_entries && !entries.contains_key(login) {
            entries.retain(|_, e| e.expires > now);
            if entries.len() >= self.max_entries
                && let Some(soonest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
            {
                entries.remove(&soonest);
            }
        }
        entries.insert(login.to_owned(), entry);
    }

    /// Drops every entry of an account (any login that mapped to it).
    pub fn forget_uid(&self, uid: &str) {
        self.lock()
            .retain(|login, e| !e.remembered.uid.eq_ignore_ascii_case(uid) && login != uid);
    }

    pub fn forget(&self, login: &str) {
        self.lock().remove(login);
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(hash: &str) -> CredentialState {
        CredentialState {
            enabled: true,
            backend: "Database".into(),
            password_hash: Some(hash.into()),
        }
    }

    fn remembered(uid: &str) -> Remembered {
        Remembered {
            uid: uid.into(),
            backend: "IMAP".into(),
            kind: BackendKind::Imap,
            state: state_digest(&state("h")),
        }
    }

    #[test]
    fn only_the_exact_password_is_served_and_only_until_it_expires() {
        let cache = CredentialCache::new(10);
        let t = Instant::now();
        cache.insert(
            "alice",
            "right",
            remembered("alice"),
            Duration::from_secs(60),
            t,
        );
        assert_eq!(cache.lookup("alice", "right", t), Some(remembered("alice")));
        assert_eq!(cache.lookup("alice", "wrong", t), None);
        assert_eq!(cache.lookup("alice", "right ", t), None);
        assert_eq!(cache.lookup("bob", "right", t), None);
        assert_eq!(
            cache.lookup("alice", "right", t + Duration::from_secs(60)),
            None
        );
        assert!(cache.is_empty(), "an expired entry is dropped when met");
    }

    #[test]
    fn the_digest_is_keyed_per_process_and_separates_login_from_password() {
        let (a, b) = (CredentialCache::new(1), CredentialCache::new(1));
        assert_ne!(
            a.password_digest("al", "ice"),
            b.password_digest("al", "ice")
        );
        assert_ne!(
            a.password_digest("al", "ice"),
            a.password_digest("ali", "ce")
        );
    }

    #[test]
    fn the_cache_is_bounded_and_evicts_the_soonest_to_expire() {
        let cache = CredentialCache::new(3);
        let t = Instant::now();
        for (i, login) in ["a", "b", "c"].iter().enumerate() {
            let ttl = Duration::from_secs(10 + i as u64);
            cache.insert(login, "pw", remembered(login), ttl, t);
        }
        cache.insert("d", "pw", remembered("d"), Duration::from_secs(60), t);
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.lookup("a", "pw", t), None, "a expired soonest");
        assert!(cache.lookup("d", "pw", t).is_some());
        let off = CredentialCache::new(0);
        off.insert("a", "pw", remembered("a"), Duration::from_secs(60), t);
        assert!(off.is_empty());
    }

    #[test]
    fn forgetting_an_account_drops_every_login_that_mapped_to_it() {
        let cache = CredentialCache::new(10);
        let t = Instant::now();
        let ttl = Duration::from_secs(60);
        cache.insert("alice@example.org", "pw", remembered("alice"), ttl, t);
        cache.insert("alice", "pw", remembered("alice"), ttl, t);
        cache.insert("bob", "pw", remembered("bob"), ttl, t);
        cache.forget_uid("Alice");
        assert_eq!(cache.len(), 1);
        assert!(cache.lookup("bob", "pw", t).is_some());
    }

    #[test]
    fn every_part_of_the_account_state_changes_its_digest() {
        let base = state("h1");
        let digests = [
            state_digest(&base),
            state_digest(&state("h2")),
            state_digest(&CredentialState {
                enabled: false,
                ..base.clone()
            }),
            state_digest(&CredentialState {
                backend: "IMAP".into(),
                ..base.clone()
            }),
            state_digest(&CredentialState {
                password_hash: None,
                ..base.clone()
            }),
        ];
        for (i, a) in digests.iter().enumerate() {
            for b in &digests[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }
}
