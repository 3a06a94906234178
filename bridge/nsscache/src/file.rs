//! The file on disk: published whole by the daemon (write a new file, rename it
//! over the old one), marked stale in place by whoever changes the store, and
//! mapped read-only by the module.
//!
//! A published file is never written again except its state word, so a reader
//! can never see a torn record: a writer killed mid-write leaves only its
//! temporary file behind, and the last complete file stays in place.
//!
//! Publishing and marking stale take one lock (`nss.cache.lock`, flock) and the
//! publisher re-reads the store's generation under it: a change committed while
//! a snapshot was being built either stops the publish (the generation moved)
//! or marks the new file stale (it waited for the lock). A reader therefore
//! never answers from a file older than a change that has finished.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt, OpenOptionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use crate::layout::{self, HEADER_LEN, Invalid, MAX_FILE_LEN, STATE_LIVE, STATE_OFFSET, View};

pub const FILE_NAME: &str = "nss.cache";
const LOCK_NAME: &str = "nss.cache.lock";

/// The daemon's runtime directory, where the socket and the cache file live.
pub fn cache_dir(socket: &Path) -> PathBuf {
    socket.parent().unwrap_or(Path::new("/")).to_owned()
}

/// The cache file beside the daemon's socket.
pub fn cache_path(socket: &Path) -> PathBuf {
    cache_dir(socket).join(FILE_NAME)
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("the store changed while the snapshot was built")]
    Moved,
}

fn io_at(path: &Path) -> impl FnOnce(io::Error) -> PublishError + '_ {
    move |source| PublishError::Io {
        path: path.to_owned(),
        source,
    }
}

/// An exclusive flock on the directory's lock file, released when the file
/// closes on drop.
struct Locked(#[allow(dead_code)] File);

/// How long marking a file stale waits for a publisher holding the lock; a
/// publisher stuck longer than this (a frozen daemon) must not hang the CLI.
const MARK_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

impl Locked {
    fn take(dir: &Path) -> io::Result<Locked> {
        Self::take_within(dir, None)
    }

    /// The lock, waiting at most `within` when given (then WouldBlock).
    fn take_within(dir: &Path, within: Option<std::time::Duration>) -> io::Result<Locked> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
            .open(dir.join(LOCK_NAME))?;
        let Some(within) = within else {
            // SAFETY: a valid descriptor; flock touches no memory.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
                return Err(io::Error::last_os_error());
            }
            return Ok(Locked(file));
        };
        let deadline = std::time::Instant::now() + within;
        loop {
            // SAFETY: as above.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Locked(file));
            }
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::WouldBlock || std::time::Instant::now() >= deadline {
                return Err(e);
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
}

/// Marks the published file of `dir` stale: modules stop answering from it at
/// their next lookup and ask the daemon. Nothing to do when there is no file.
/// Called after every committed change of what NSS shows (CLI and daemon).
pub fn invalidate(dir: &Path) -> io::Result<()> {
    let path = dir.join(FILE_NAME);
    if !path.exists() {
        return Ok(());
    }
    match Locked::take_within(dir, Some(MARK_WAIT)) {
        Ok(_lock) => mark_stale(&path),
        // A publisher stuck mid-publish: mark what is there now anyway. Its own
        // file, if it ever lands, is caught by its next generation check.
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => mark_stale(&path),
        Err(e) => Err(e),
    }
}

/// The file at `path` opened for marking, if it is one of ours: a regular file
/// that starts with the cache's magic. Anything else there (a link planted in
/// a directory someone else can write, a stranger's file) is left untouched.
fn open_ours(path: &Path) -> io::Result<Option<File>> {
    let file = match OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY | libc::O_NONBLOCK)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    let mut magic = [0u8; 8];
    let ours = meta.file_type().is_file()
        && meta.nlink() == 1
        && file.read_exact_at(&mut magic, 0).is_ok()
        && magic == layout::MAGIC;
    Ok(ours.then_some(file))
}

fn mark(file: &File) -> io::Result<()> {
    file.write_all_at(&layout::STATE_STALE.to_le_bytes(), STATE_OFFSET as u64)
}

fn mark_stale(path: &Path) -> io::Result<()> {
    match open_ours(path)? {
        Some(file) => mark(&file),
        None => Ok(()),
    }
}

/// Publishes `bytes` as the directory's cache file, world-readable, unless
/// `still_current` (asked under the lock) says the store moved on meanwhile.
/// The file it replaces is marked stale, so modules holding it move on.
pub fn publish(
    dir: &Path,
    bytes: &[u8],
    still_current: impl FnOnce() -> bool,
) -> Result<(), PublishError> {
    let path = dir.join(FILE_NAME);
    let temp = dir.join(format!(".{FILE_NAME}.{}", std::process::id()));
    let _ = std::fs::remove_file(&temp);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW)
        .open(&temp)
        .map_err(io_at(&temp))?;
    // No fsync: the file lives in the runtime directory (tmpfs) and is rebuilt
    // at start-up; a crash of the daemon alone loses nothing the page cache holds.
    if let Err(e) = file.write_all(bytes) {
        let _ = std::fs::remove_file(&temp);
        return Err(io_at(&temp)(e));
    }
    drop(file);
    let lock = Locked::take(dir).map_err(io_at(&dir.join(LOCK_NAME)));
    let published = lock.and_then(|_lock| {
        if !still_current() {
            return Err(PublishError::Moved);
        }
        // Open the old file before the rename: after it, the name is the new one.
        let old = open_ours(&path).ok().flatten();
        std::fs::rename(&temp, &path).map_err(io_at(&path))?;
        if let Some(old) = old {
            mark(&old).map_err(io_at(&path))?;
        }
        Ok(())
    });
    if published.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    published
}

/// Removes temporary files publishers killed mid-write left behind (the
/// daemon calls it at start-up, before its first publish).
pub fn clean_leftovers(dir: &Path) -> io::Result<()> {
    let prefix = format!(".{FILE_NAME}.");
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}

/// Removes the published file (the cache was switched off).
pub fn withdraw(dir: &Path) -> io::Result<()> {
    let _lock = Locked::take(dir)?;
    let path = dir.join(FILE_NAME);
    mark_stale(&path)?;
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Why a file was not mapped.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a regular file, or writable by others than its owner")]
    Mode,
    #[error("owned by uid {0}, neither root nor the daemon")]
    Owner(u32),
    #[error("stale or expired")]
    Stale,
    #[error(transparent)]
    Invalid(#[from] Invalid),
}

/// A published file mapped read-only into this process.
pub struct Mapping {
    base: *mut libc::c_void,
    len: usize,
    expires: u64,
    /// The section table as validated at open.
    sections: layout::Sections,
}

// SAFETY: the mapping is read-only and never unmapped while shared (the
// Mapping owns it); the state word is read atomically.
unsafe impl Send for Mapping {}
// SAFETY: as above.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Maps `path` when it is a regular file owned by root or `daemon_uid`,
    /// writable by its owner only, with a valid header, live and not expired at
    /// `now` (unix seconds). The header is read before anything is mapped.
    pub fn open(path: &Path, daemon_uid: Option<u32>, now: u64) -> Result<Mapping, MapError> {
        let file = OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_CLOEXEC | libc::O_NOFOLLOW | libc::O_NOCTTY)
            .open(path)?;
        let meta = file.metadata()?;
        if !meta.file_type().is_file() || meta.mode() & 0o022 != 0 {
            return Err(MapError::Mode);
        }
        if meta.uid() != 0 && Some(meta.uid()) != daemon_uid {
            return Err(MapError::Owner(meta.uid()));
        }
        let len = meta.len() as usize;
        if !(HEADER_LEN..=MAX_FILE_LEN).contains(&len) {
            return Err(Invalid::Length.into());
        }
        let mut head = [0u8; HEADER_LEN];
        file.read_exact_at(&mut head, 0)?;
        let h = layout::header(&head)?;
        if h.state != STATE_LIVE || h.expires <= now {
            return Err(MapError::Stale);
        }
        if h.length != len as u64 {
            return Err(Invalid::Length.into());
        }
        // SAFETY: a fresh read-only shared mapping of the whole file; the
        // descriptor may close afterwards (the mapping keeps the file).
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ,
                libc::MAP_SHARED,
                file.as_raw_fd(),
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return Err(io::Error::last_os_error().into());
        }
        let mut mapping = Mapping {
            base,
            len,
            expires: h.expires,
            sections: Default::default(),
        };
        mapping.sections = View::parse(mapping.bytes())?.sections();
        Ok(mapping)
    }

    pub fn bytes(&self) -> &[u8] {
        // SAFETY: `len` bytes mapped readable for the Mapping's lifetime. The file
        // is replaced by rename, never truncated, so the pages stay backed.
        unsafe { std::slice::from_raw_parts(self.base.cast::<u8>(), self.len) }
    }

    /// The file as validated at open (the header cannot change but for its state).
    pub fn view(&self) -> View<'_> {
        View::validated(self.bytes(), self.sections)
    }

    /// Still the file to answer from: not marked stale, not expired. No syscall.
    pub fn is_live(&self, now: u64) -> bool {
        // SAFETY: the state word lies inside the mapping, 4-aligned (the mapping
        // is page-aligned); other processes write it, hence the atomic read.
        let state = unsafe { &*(self.base.cast::<u8>().add(STATE_OFFSET).cast::<AtomicU32>()) };
        u32::from_le(state.load(Ordering::Acquire)) == STATE_LIVE && now < self.expires
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `open`, unmapped once.
        unsafe { libc::munmap(self.base, self.len) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Snapshot, encode};
    use authbridge_proto::Passwd;

    fn bytes(name: &str, expires: u64) -> Vec<u8> {
        let passwd = [Passwd {
            name: name.into(),
            uid: 1234,
            gid: 1234,
            gecos: String::new(),
            dir: "/home/x".into(),
            shell: "/bin/sh".into(),
        }];
        encode(&Snapshot {
            generation: 1,
            expires,
            passwd: &passwd,
            groups: &[],
            initgroups: &[],
        })
        .unwrap()
    }

    fn own_uid() -> Option<u32> {
        // SAFETY: geteuid cannot fail.
        Some(unsafe { libc::geteuid() })
    }

    #[test]
    fn a_published_file_is_mapped_until_it_is_marked_stale_or_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        publish(dir.path(), &bytes("alice", 100), || true).unwrap();
        let first = Mapping::open(&path, own_uid(), 50).unwrap();
        assert!(first.is_live(50));
        assert!(!first.is_live(100), "expired");
        assert_eq!(first.view().passwd_by_uid(1234).unwrap().name, "alice");

        publish(dir.path(), &bytes("bob", 100), || true).unwrap();
        assert!(!first.is_live(50), "the replaced file is marked stale");
        assert_eq!(first.view().passwd_by_uid(1234).unwrap().name, "alice");
        let second = Mapping::open(&path, own_uid(), 50).unwrap();
        assert_eq!(second.view().passwd_by_uid(1234).unwrap().name, "bob");

        invalidate(dir.path()).unwrap();
        assert!(!second.is_live(50));
        assert!(matches!(
            Mapping::open(&path, own_uid(), 50),
            Err(MapError::Stale)
        ));
    }

    #[test]
    fn a_publish_the_store_moved_past_leaves_the_old_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        publish(dir.path(), &bytes("alice", 100), || true).unwrap();
        assert!(matches!(
            publish(dir.path(), &bytes("bob", 100), || false),
            Err(PublishError::Moved)
        ));
        let m = Mapping::open(&path, own_uid(), 1).unwrap();
        assert_eq!(m.view().passwd_by_uid(1234).unwrap().name, "alice");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.starts_with('.'))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn files_others_could_write_or_strangers_own_are_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        publish(dir.path(), &bytes("alice", 100), || true).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o777,
            0o644,
            "readable by all, written by the daemon"
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o664)).unwrap();
        assert!(matches!(
            Mapping::open(&path, own_uid(), 1),
            Err(MapError::Mode)
        ));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        if own_uid() != Some(0) {
            assert!(matches!(
                Mapping::open(&path, None, 1),
                Err(MapError::Owner(_))
            ));
        } else {
            // SAFETY: chown of our own temp file.
            let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
            assert_eq!(unsafe { libc::chown(c.as_ptr(), 4321, 4321) }, 0);
            assert!(matches!(
                Mapping::open(&path, Some(1), 1),
                Err(MapError::Owner(4321))
            ));
            assert!(Mapping::open(&path, Some(4321), 1).is_ok());
        }
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(Mapping::open(&link, own_uid(), 1).is_err(), "no symlinks");
    }

    #[test]
    fn marking_stale_never_writes_into_a_file_that_is_not_a_cache() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"0123456789abcdefghij").unwrap();
        // A hard link and a symlink in the cache's place, and a stranger's file.
        std::fs::hard_link(&victim, dir.path().join(FILE_NAME)).unwrap();
        invalidate(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join(FILE_NAME)).unwrap();
        std::os::unix::fs::symlink(&victim, dir.path().join(FILE_NAME)).unwrap();
        assert!(
            invalidate(dir.path()).is_err(),
            "O_NOFOLLOW refuses the link"
        );
        std::fs::remove_file(dir.path().join(FILE_NAME)).unwrap();
        std::fs::write(dir.path().join(FILE_NAME), b"0123456789abcdefghij").unwrap();
        invalidate(dir.path()).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"0123456789abcdefghij");
        assert_eq!(
            std::fs::read(dir.path().join(FILE_NAME)).unwrap(),
            b"0123456789abcdefghij"
        );
        // A publish over a stranger's file replaces it without writing into it.
        std::fs::hard_link(&victim, dir.path().join("other")).unwrap();
        publish(dir.path(), &bytes("alice", 100), || true).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"0123456789abcdefghij");
    }

    #[test]
    fn a_truncated_or_foreign_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(FILE_NAME);
        let good = bytes("alice", 100);
        std::fs::write(&path, &good[..good.len() - 3]).unwrap();
        assert!(matches!(
            Mapping::open(&path, own_uid(), 1),
            Err(MapError::Invalid(Invalid::Length))
        ));
        std::fs::write(&path, vec![0u8; 4096]).unwrap();
        assert!(matches!(
            Mapping::open(&path, own_uid(), 1),
            Err(MapError::Invalid(Invalid::Magic))
        ));
        std::fs::write(&path, b"short").unwrap();
        assert!(Mapping::open(&path, own_uid(), 1).is_err());
    }
}
