//! TOTP secrets at rest: sealed with ChaCha20-Poly1305 under a key derived from
//! the data directory's key, bound to the user they belong to (a sealed secret
//! copied to another user's row does not open).

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand_core::{OsRng, RngCore};
use zeroize::Zeroizing;

const NONCE_BYTES: usize = 12;
/// What the derived key is for; changing it makes every sealed secret unreadable.
pub const PURPOSE: &str = "totp secrets v1";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error(
    "a stored TOTP secret does not open with this data directory's key (another key file, or a damaged store)"
)]
pub struct Unsealable;

pub struct Sealer(ChaCha20Poly1305);

impl Sealer {
    pub fn new(key: &authbridge_local::SecretKey) -> Sealer {
        let derived = key.derive(PURPOSE);
        Sealer(ChaCha20Poly1305::new(Key::from_slice(&derived[..])))
    }

    /// A random nonce followed by the ciphertext and its tag.
    pub fn seal(&self, uid: &str, secret: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .0
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret,
                    aad: uid.as_bytes(),
                },
            )
            .expect("ChaCha20-Poly1305 seals any length a secret has");
        [&nonce[..], &sealed].concat()
    }

    pub fn open(&self, uid: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Unsealable> {
        if sealed.len() < NONCE_BYTES {
            return Err(Unsealable);
        }
        let (nonce, body) = sealed.split_at(NONCE_BYTES);
        self.0
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: uid.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| Unsealable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(dir: &tempfile::TempDir, name: &str) -> authbridge_local::SecretKey {
        authbridge_local::SecretKey::load_or_create(&dir.path().join(name)).unwrap()
    }

    #[test]
    fn a_secret_opens_for_its_user_with_its_key_only() {
        let dir = tempfile::tempdir().unwrap();
        let sealer = Sealer::new(&key(&dir, "a"));
        let sealed = sealer.seal("alice", b"twenty bytes secret!");
        assert!(!sealed.windows(6).any(|w| w == b"twenty"), "not in clear");
        assert_eq!(
            &sealer.open("alice", &sealed).unwrap()[..],
            b"twenty bytes secret!"
        );
        assert_eq!(sealer.open("bob", &sealed), Err(Unsealable));
        assert_eq!(
            Sealer::new(&key(&dir, "b")).open("alice", &sealed),
            Err(Unsealable)
        );
        let mut flipped = sealed.clone();
        flipped[20] ^= 1;
        assert_eq!(sealer.open("alice", &flipped), Err(Unsealable));
        assert_eq!(sealer.open("alice", &sealed[..5]), Err(Unsealable));
        assert_ne!(
            sealed,
            sealer.seal("alice", b"twenty bytes secret!"),
            "fresh nonce"
        );
    }
}
