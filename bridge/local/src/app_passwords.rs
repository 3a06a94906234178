//! App passwords: revocable secrets for scripts and devices, shown once, stored
//! only as HMAC-SHA256 under a key kept in the data directory.

use async_trait::async_trait;
use authbridge_core::{
    Accepted, Authenticator, BackendKind, Credentials, ExposeSecret, RejectReason, UnavailableKind,
    Verdict,
};
use authbridge_store::SharedStore;
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;
use subtle::ConstantTimeEq;

/// last_activity moves at most once a minute per app password.
const TOUCH_INTERVAL_SECS: i64 = 60;

/// The HMAC key. Created at first use with mode 0600; never logged. Kept as
/// HMAC keyed with it, copied for each hash: keying is two of the four SHA-256
/// compressions an app password's hash takes, on every login. (Neither the key
/// nor the keyed state is wiped when dropped: both live as long as the process.)
pub struct SecretKey {
    keyed: Hmac<Sha256>,
}

impl SecretKey {
    fn new(bytes: [u8; 32]) -> SecretKey {
        SecretKey {
            keyed: Hmac::<Sha256>::new_from_slice(&bytes).expect("HMAC takes any key length"),
        }
    }

    /// Reads the key file, or creates it if there is none (exclusively, so two
    /// processes starting together end up with the same key).
    pub fn load_or_create(path: &Path) -> std::io::Result<SecretKey> {
        let mut key = [0u8; 32];
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(mut file) => {
                OsRng.fill_bytes(&mut key);
                file.write_all(&key)?;
                file.sync_all()?;
                Ok(SecretKey::new(key))
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let mut file = std::fs::File::open(path)?;
                file.read_exact(&mut key).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("{} is not a 32-byte key: {e}", path.display()),
                    )
                })?;
                Ok(SecretKey::new(key))
            }
            Err(e) => Err(e),
        }
    }

    /// A key for another purpose (sealing TOTP secrets, hashing backup codes),
    /// so that no two uses share a key and none can be turned against another.
    pub fn derive(&self, purpose: &str) -> zeroize::Zeroizing<[u8; 32]> {
        let mut mac = self.keyed.clone();
        mac.update(b"authbridge key for: ");
        mac.update(purpose.as_bytes());
        zeroize::Zeroizing::new(mac.finalize().into_bytes().into())
    }

    pub fn hash(&self, app_password: &str) -> [u8; 32] {
        let mut mac = self.keyed.clone();
        mac.update(app_password.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` base-62 characters (about 5.95 bits each) from the OS CSPRNG.
pub fn random_alphanumeric(len: usize) -> String {
    (0..len)
        .map(|_| {
            // Rejection sampling keeps every character equally likely.
            loop {
                let b = (OsRng.next_u32() & 0xff) as usize;
                if b < 248 {
                    break char::from(ALPHABET[b % 62]);
                }
            }
        })
        .collect()
}

/// Five groups of five base-62 characters joined by "-" (about 149 bits from the
/// OS CSPRNG), the shape occ prints (`kFrH9-TXk4s-...`).
pub fn generate_app_password() -> String {
    let letters = zeroize::Zeroizing::new(random_alphanumeric(25));
    let groups: Vec<&str> = (0..5).map(|i| &letters[i * 5..i * 5 + 5]).collect();
    groups.join("-")
}

/// Validates app passwords: one indexed lookup by keyed hash.
pub struct AppPasswords {
    store: SharedStore,
    key: Arc<SecretKey>,
    clock: fn() -> i64,
}

impl AppPasswords {
    pub fn new(store: SharedStore, key: Arc<SecretKey>, clock: fn() -> i64) -> Self {
        AppPasswords { store, key, clock }
    }
}

#[async_trait]
impl Authenticator for AppPasswords {
    fn name(&self) -> &str {
        "app-password"
    }

    fn kind(&self) -> BackendKind {
        BackendKind::AppPassword
    }

    async fn authenticate(&self, credentials: &Credentials) -> Verdict {
        let hash = self.key.hash(credentials.password().expose_secret());
        let found = match self.store.app_password_by_hash(&hash) {
            Ok(Some(found)) => found,
            Ok(None) => return Verdict::Rejected(RejectReason::BadCredentials),
            Err(e) => {
                return Verdict::unavailable(UnavailableKind::Protocol, format!("store: {e}"));
            }
        };
        // The index matched; compare again without an early exit, by principle.
        let same_hash: bool = found.hash.as_slice().ct_eq(&hash).into();
        // An app password only works for the account it was issued to.
        if !same_hash || !found.uid.eq_ignore_ascii_case(credentials.login()) {
            return Verdict::Rejected(RejectReason::BadCredentials);
        }
        if !found.user_enabled {
            return Verdict::Rejected(RejectReason::AccountDisabled);
        }
        // Only a stale last_activity costs a write; steady use stays read-only.
        let now = (self.clock)();
        if now - found.last_activity >= TOUCH_INTERVAL_SECS
            && let Err(e) = self
                .store
                .touch_app_password(found.id, now, TOUCH_INTERVAL_SECS)
        {
            // A failed update does not change the verdict.
            tracing::warn!(uid = ?found.uid, "could not update an app password's last activity: {e}");
        }
        Verdict::Accepted(Accepted {
            uid: found.uid,
            groups: vec![],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shape_and_entropy_source() {
        let a = generate_app_password();
        assert_eq!(a.len(), 29);
        assert!(
            a.split('-')
                .all(|g| g.len() == 5 && g.bytes().all(|b| b.is_ascii_alphanumeric()))
        );
        assert_ne!(a, generate_app_password());
    }

    #[test]
    fn random_letters_cover_the_whole_alphabet_and_nothing_else() {
        let letters = random_alphanumeric(4000);
        assert_eq!(letters.len(), 4000);
        assert!(letters.bytes().all(|b| ALPHABET.contains(&b)));
        // 4000 draws miss one of 62 letters with probability about 62·e^-65.
        assert!(ALPHABET.iter().all(|b| letters.as_bytes().contains(b)));
    }

    #[test]
    fn key_file_is_created_once_with_mode_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.key");
        let first = SecretKey::load_or_create(&path).unwrap();
        let again = SecretKey::load_or_create(&path).unwrap();
        assert_eq!(first.hash("x"), again.hash("x"));
        assert_eq!(*first.derive("a"), *again.derive("a"));
        assert_ne!(*first.derive("a"), *first.derive("b"));
        assert_ne!(
            *first.derive("x"),
            first.hash("x"),
            "no purpose shares the app-password key"
        );
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::write(&path, b"short").unwrap();
        assert!(SecretKey::load_or_create(&path).is_err());
    }
}
