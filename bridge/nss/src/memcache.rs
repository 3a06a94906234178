//! The module's side of the NSS cache: the daemon's published file, mapped
//! once per process and kept while it is live. A lookup then costs a check of
//! the file's state word and the clock (vDSO), a hash probe, and copying the
//! entry into glibc's buffer — no syscall, no round trip.
//!
//! The mapping is dropped and looked for again when the file is marked stale
//! or expires, or when `AUTHBRIDGE_SOCKET` now names another daemon. Anything
//! wrong with the file (missing, foreign, damaged, written by a stranger)
//! means no mapping, and the caller asks the daemon as before.

use authbridge_nsscache::Mapping;
use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

struct Current {
    mapping: Arc<Mapping>,
    /// The socket the file was found beside.
    socket: PathBuf,
}

static CURRENT: Mutex<Option<Current>> = Mutex::new(None);

fn now_secs() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the struct given; CLOCK_REALTIME is answered by the vDSO.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    ts.tv_sec.max(0) as u64
}

unsafe extern "C" {
    fn secure_getenv(name: *const libc::c_char) -> *mut libc::c_char;
}

/// Does `AUTHBRIDGE_SOCKET`, when set, still name `socket`? (Compared in place:
/// no allocation on the hit path.)
fn env_agrees(socket: &PathBuf) -> bool {
    // SAFETY: a NUL-terminated name; the value is compared before any other
    // environment call could change it.
    let value = unsafe { secure_getenv(authbridge_proto::SOCKET_ENV.as_ptr()) };
    if value.is_null() {
        return true;
    }
    // SAFETY: non-null results of secure_getenv are NUL-terminated.
    let bytes = unsafe { CStr::from_ptr(value) }.to_bytes();
    bytes.is_empty() || bytes == socket.as_os_str().as_bytes()
}

/// The live cache file of the daemon this process would ask, if there is one.
pub(crate) fn current() -> Option<Arc<Mapping>> {
    if crate::in_daemon() {
        return None;
    }
    let now = now_secs();
    let mut current = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(c) = current.as_ref()
        && c.mapping.is_live(now)
        && env_agrees(&c.socket)
    {
        return Some(Arc::clone(&c.mapping));
    }
    *current = None;
    let socket = authbridge_proto::system_socket();
    // The file must be root's or the daemon's: whoever owns the socket.
    let daemon_uid = std::fs::symlink_metadata(&socket).ok().map(|m| m.uid());
    let path = authbridge_nsscache::cache_path(&socket);
    let mapping = Arc::new(Mapping::open(&path, daemon_uid, now).ok()?);
    *current = Some(Current {
        mapping: Arc::clone(&mapping),
        socket,
    });
    Some(mapping)
}
