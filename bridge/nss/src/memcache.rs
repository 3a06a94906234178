//! The module's side of the NSS cache: the daemon's published file, mapped
//! once per process and kept while it is live. A lookup then costs a check of
//! the file's state word and the clock (vDSO), a hash probe, and copying the
//! entry into glibc's buffer — no syscall, no round trip.
//!
//! The mapping is dropped and looked for again when the file is marked stale
//! or expires (a process that changes `AUTHBRIDGE_SOCKET` meanwhile keeps the
//! file it mapped until then: the environment is not read on a hit). Anything
//! wrong with the file (missing, foreign, damaged, written by a stranger)
//! means no mapping, and the caller asks the daemon as before.

use authbridge_nsscache::Mapping;
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

struct Current {
    mapping: Arc<Mapping>,
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

/// The live cache file of the daemon this process would ask, if there is one
/// (kept, for an enumeration that walks it across calls).
pub(crate) fn current() -> Option<Arc<Mapping>> {
    with(|m| Some(Arc::clone(m)))
}

/// `lookup` on the live cache file, under the lock that guards the mapping:
/// a hit costs no reference count, no allocation and no syscall.
pub(crate) fn with<T>(lookup: impl FnOnce(&Arc<Mapping>) -> Option<T>) -> Option<T> {
    if crate::in_daemon() {
        return None;
    }
    let now = now_secs();
    let mut current = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    if !current.as_ref().is_some_and(|c| c.mapping.is_live(now)) {
        *current = None;
        let socket = authbridge_proto::system_socket();
        // The file must be root's or the daemon's: whoever owns the socket.
        let daemon_uid = std::fs::symlink_metadata(&socket).ok().map(|m| m.uid());
        let path = authbridge_nsscache::cache_path(&socket);
        let mapping = Mapping::open(&path, daemon_uid, now).ok()?;
        *current = Some(Current {
            mapping: Arc::new(mapping),
        });
    }
    lookup(&current.as_ref()?.mapping)
}
