//! Backup codes: ten single-use codes of sixteen characters from an alphabet
//! without look-alikes (Nextcloud's shape), shown once and kept only as keyed
//! hashes. About 91 bits each, so a keyed hash (not a slow one) is enough.

use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use sha2::Sha256;
use zeroize::Zeroizing;

pub use authbridge_store::BACKUP_CODES as COUNT;

/// Characters of a code.
pub const LENGTH: usize = 16;
/// No 0/O, 1/l/I, 8/B, 5/S, h/n, u/v look-alikes (Nextcloud's "human readable").
const ALPHABET: &[u8] = b"abcdefgijkmnopqrstwxyzABCDEFGHJKLMNPQRSTWXYZ23456789";
/// What the derived key is for.
pub const PURPOSE: &str = "backup codes v1";

/// `COUNT` fresh codes from the OS CSPRNG.
pub fn generate() -> Vec<Zeroizing<String>> {
    (0..COUNT).map(|_| one()).collect()
}

fn one() -> Zeroizing<String> {
    let mut code = Zeroizing::new(String::with_capacity(LENGTH));
    while code.len() < LENGTH {
        // Rejection sampling keeps every character equally likely.
        let byte = (OsRng.next_u32() & 0xff) as usize;
        if byte < 256 - 256 % ALPHABET.len() {
            code.push(char::from(ALPHABET[byte % ALPHABET.len()]));
        }
    }
    code
}

/// What the user typed, without the spaces and dashes people add, if it has a
/// backup code's shape.
pub fn normalize(typed: &str) -> Option<Zeroizing<String>> {
    let code: Zeroizing<String> =
        Zeroizing::new(typed.chars().filter(|c| !matches!(c, ' ' | '-')).collect());
    (code.len() == LENGTH && code.bytes().all(|b| ALPHABET.contains(&b))).then_some(code)
}

pub struct CodeHasher(Zeroizing<[u8; 32]>);

impl CodeHasher {
    pub fn new(key: &authbridge_local::SecretKey) -> CodeHasher {
        CodeHasher(key.derive(PURPOSE))
    }

    /// Bound to the user: the same code given to two users hashes apart.
    pub fn hash(&self, uid: &str, code: &str) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0[..]).expect("any key length");
        mac.update(uid.as_bytes());
        mac.update(&[0]);
        mac.update(code.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_shape_and_differ() {
        let codes = generate();
        assert_eq!(codes.len(), 10);
        for code in &codes {
            assert_eq!(
                normalize(code).as_deref().map(String::as_str),
                Some(code.as_str())
            );
        }
        let mut unique: Vec<&str> = codes.iter().map(|c| c.as_str()).collect();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 10);
    }

    #[test]
    fn typing_aids_are_ignored_and_strangers_refused() {
        assert_eq!(
            normalize("abcd-efgi jkmn-opqr").unwrap().as_str(),
            "abcdefgijkmnopqr"
        );
        assert_eq!(normalize("abcdefgijkmnopq"), None, "short");
        assert_eq!(
            normalize("abcdefgijkmnopq0"),
            None,
            "0 is not in the alphabet"
        );
        assert_eq!(normalize("123456"), None);
    }

    #[test]
    fn hashes_are_keyed_and_per_user() {
        let dir = tempfile::tempdir().unwrap();
        let key = authbridge_local::SecretKey::load_or_create(&dir.path().join("k")).unwrap();
        let hasher = CodeHasher::new(&key);
        assert_eq!(hasher.hash("a", "x"), hasher.hash("a", "x"));
        assert_ne!(hasher.hash("a", "x"), hasher.hash("b", "x"));
        assert_ne!(hasher.hash("a", "x"), key.hash("x"));
    }
}
