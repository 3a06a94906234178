//! Time-based one-time passwords as RFC 6238 defines them over RFC 4226's HOTP,
//! with the parameters every authenticator app assumes when an `otpauth://` URI
//! names none: HMAC-SHA-1, 6 digits, 30-second steps from the Unix epoch.

use hmac::{Hmac, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// Seconds per time step (RFC 6238's X).
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps accepted either side of now, for clocks that drift and users who type
/// slowly: the previous, the current and the next code.
pub const WINDOW: i64 = 1;
/// 160 bits: RFC 4226's recommended length for a SHA-1 key.
pub const SECRET_BYTES: usize = 20;

/// RFC 4226's HOTP value of `counter`, `digits` long.
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let hash: Zeroizing<[u8; 20]> = Zeroizing::new(mac.finalize().into_bytes().into());
    // Dynamic truncation (RFC 4226, 5.3).
    let offset = usize::from(hash[19] & 0x0f);
    let binary = u32::from_be_bytes([
        hash[offset] & 0x7f,
        hash[offset + 1],
        hash[offset + 2],
        hash[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

/// The time step `unix_seconds` falls in.
pub fn step_at(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The code of `step`, zero-padded.
pub fn code(secret: &[u8], step: i64, digits: u32) -> Zeroizing<String> {
    let value = hotp(secret, step as u64, digits);
    Zeroizing::new(format!("{value:0width$}", width = digits as usize))
}

/// The step within the window around `now` whose code `typed` is, if any. Every
/// step of the window is compared, in constant time, whichever matches.
pub fn matching_step(secret: &[u8], typed: &str, unix_seconds: i64) -> Option<i64> {
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix_seconds);
    let mut found = None;
    for step in now - WINDOW..=now + WINDOW {
        if step < 0 {
            continue;
        }
        let expected = code(secret, step, DIGITS);
        if bool::from(expected.as_bytes().ct_eq(typed.as_bytes())) {
            found = Some(step);
        }
    }
    found
}

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 base32 without padding, as `otpauth://` URIs and apps write secrets.
pub fn base32(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len().div_ceil(5) * 8));
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The Key URI an authenticator app scans: `otpauth://totp/ISSUER:ACCOUNT?...`,
/// with the defaults spelled out for apps that do not assume them.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> Zeroizing<String> {
    let issuer = percent_encode(issuer);
    let account = percent_encode(account);
    Zeroizing::new(format!(
        "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECONDS}",
        secret = base32(secret).as_str()
    ))
}

/// Everything but RFC 3986's unreserved characters, percent-encoded.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 4226, Appendix D: the secret "12345678901234567890", counters 0–9.
    #[test]
    fn rfc4226_hotp_vectors() {
        let expected = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, want) in expected.iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64, 6), *want);
        }
    }

    /// RFC 6238, Appendix B, the SHA-1 rows (8 digits, T0 = 0, X = 30).
    #[test]
    fn rfc6238_totp_vectors() {
        let rows: [(i64, &str); 6] = [
            (59, "94287082"),
            (1111111109, "07081804"),
            (1111111111, "14050471"),
            (1234567890, "89005924"),
            (2000000000, "69279037"),
            (20000000000, "65353130"),
        ];
        for (time, want) in rows {
            assert_eq!(
                code(b"12345678901234567890", step_at(time), 8).as_str(),
                want,
                "T = {time}"
            );
        }
    }

    #[test]
    fn the_window_is_one_step_either_side() {
        let secret = b"12345678901234567890";
        let now = 1_700_000_000;
        let step = step_at(now);
        for offset in -1..=1 {
            let typed = code(secret, step + offset, DIGITS);
            assert_eq!(matching_step(secret, &typed, now), Some(step + offset));
        }
        for offset in [-2, 2] {
            let typed = code(secret, step + offset, DIGITS);
            assert_eq!(matching_step(secret, &typed, now), None, "{offset}");
        }
        assert_eq!(matching_step(secret, "12345", now), None);
        assert_eq!(matching_step(secret, "１２３４５６", now), None);
        assert_eq!(matching_step(secret, "12345a", now), None);
    }

    /// RFC 4648, section 10, without padding.
    #[test]
    fn base32_matches_rfc4648() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "MY"),
            ("fo", "MZXQ"),
            ("foo", "MZXW6"),
            ("foob", "MZXW6YQ"),
            ("fooba", "MZXW6YTB"),
            ("foobar", "MZXW6YTBOI"),
        ] {
            assert_eq!(base32(plain.as_bytes()).as_str(), encoded);
        }
    }

    #[test]
    fn the_uri_names_issuer_account_and_parameters() {
        let uri = otpauth_uri("authbridge", "alice@example.org", b"12345678901234567890");
        assert_eq!(
            uri.as_str(),
            "otpauth://totp/authbridge:alice%40example.org?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&issuer=authbridge&algorithm=SHA1&digits=6&period=30"
        );
    }
}
