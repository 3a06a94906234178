//! The cases every backend's tests share.

use authbridge_core::{Accepted, UnavailableKind, Verdict};

/// Passwords that break naive quoting or encoding, each for its own user.
pub const AWKWARD_PASSWORDS: &[(&str, &str)] = &[
    ("space", "with space inside"),
    ("dquote", "quote\"in\"side"),
    ("backslash", "back\\slash\\"),
    ("squote", "it's mine"),
    ("percent", "100%sure%40x"),
    ("at", "at@sign"),
    ("brace", "{literal}{5}"),
    ("utf8", "pässwörd-ß-日本"),
];

/// A 128-character password.
pub fn long_password() -> String {
    "Lp0-".repeat(32)
}

/// An accept with no derived groups.
pub fn accepted(uid: &str) -> Verdict {
    Verdict::Accepted(Accepted {
        uid: uid.into(),
        groups: vec![],
    })
}

pub fn unavailable_kind(v: &Verdict) -> Option<UnavailableKind> {
    match v {
        Verdict::Unavailable { kind, .. } => Some(*kind),
        _ => None,
    }
}
