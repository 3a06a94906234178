//! The NSS memory-mapped cache, as SSSD keeps one in `/var/lib/sss/mc`: the
//! daemon publishes every passwd and group entry it exports, with indexes by
//! name and number and each user's initgroups, into one read-only file beside
//! its socket; `libnss_authbridge.so.2` maps it once and answers hits with no
//! syscall and no allocation (initgroups aside), asking the daemon only on a
//! miss or when the file is stale, expired or invalid.
//!
//! `layout` is the format (both sides, every offset checked); `file` is
//! publishing, invalidating and mapping.

mod file;
mod layout;

pub use file::{
    FILE_NAME, MapError, Mapping, PublishError, cache_dir, cache_path, clean_leftovers, invalidate,
    publish, withdraw,
};
pub use layout::{
    GroupRef, HEADER_LEN, Header, Invalid, PasswdRef, STATE_LIVE, Snapshot, TooLarge, View, encode,
    header,
};
