//! How decision lines record their fields. The text format records strings
//! with Debug, which quotes them and escapes control characters (a hostile
//! PAM service name cannot forge a line); JSON escapes them itself, so there
//! strings are recorded as they are and parse back to exactly what was sent.
//! Process-wide, as the log subscriber is.

use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

/// The subscriber writes JSON: record decision fields as plain values.
pub fn use_json() {
    JSON.store(true, Ordering::Relaxed);
}

pub(crate) fn json() -> bool {
    JSON.load(Ordering::Relaxed)
}
