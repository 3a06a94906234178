//! How decision lines record their fields. The text format records strings
//! with Debug, which quotes them and escapes control characters (a hostile
//! PAM service name cannot forge a line); JSON and the journal's native
//! protocol escape or frame them themselves, so there strings are recorded as
//! they are and read back as exactly what was logged. Process-wide, as the log
//! subscriber is.

use std::sync::atomic::{AtomicU8, Ordering};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sink {
    Text = 0,
    Json = 1,
    /// journald's native protocol: fields of their own, a readable MESSAGE.
    Journal = 2,
}

static SINK: AtomicU8 = AtomicU8::new(Sink::Text as u8);

/// Where the subscriber writes; decision lines record their fields to suit it.
pub fn set(sink: Sink) {
    SINK.store(sink as u8, Ordering::Relaxed);
}

pub(crate) fn sink() -> Sink {
    match SINK.load(Ordering::Relaxed) {
        1 => Sink::Json,
        2 => Sink::Journal,
        _ => Sink::Text,
    }
}
