//! `libnss_authbridge.so.2`: glibc's NSS interface for passwd and group, answered
//! by the authbridge daemon over its socket.
//!
//! The entry points are written by hand rather than with the `libnss` crate: it is
//! LGPL-3.0 (a licence question for every program this library is loaded into is
//! not worth a dozen small functions), and its lazy_static enumeration state and
//! panicking paths are exactly what a module inside sshd must not have. Each entry
//! point catches panics, never blocks longer than the timeouts below, and answers
//! NSS_STATUS_UNAVAIL when the daemon is down so the next source in nsswitch.conf
//! decides.
//!
//! Lookups are answered first from the daemon's memory-mapped cache file
//! (`memcache`), when a live one is published; a miss asks the daemon.

mod buffer;
mod entries;
mod memcache;

use authbridge_proto::{Client, LOOP_GUARD, Request, Response};
use std::time::Duration;

pub use entries::*;

/// A daemon that is not there answers at once (ENOENT, ECONNREFUSED); one that is
/// there but stuck gets this long before the lookup gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(100);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);

/// glibc's `enum nss_status`.
#[repr(i32)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NssStatus {
    TryAgain = -2,
    Unavail = -1,
    NotFound = 0,
    Success = 1,
}

pub(crate) fn in_daemon() -> bool {
    // SAFETY: the name is NUL-terminated; only null-ness is read.
    !unsafe { libc::getenv(LOOP_GUARD.as_ptr()) }.is_null()
}

/// One request to the daemon; None when it cannot be asked.
pub(crate) fn ask(request: &Request) -> Option<Response> {
    if in_daemon() {
        return None;
    }
    let path = authbridge_proto::system_socket();
    Client::connect_with(&path, CONNECT_TIMEOUT, ANSWER_TIMEOUT)
        .ok()?
        .call_once(request)
        .ok()
}
