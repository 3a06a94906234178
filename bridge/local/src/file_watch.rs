//! Whether a file may have changed, known without a system call per question.
//!
//! The names policy looks at the host's passwd and group files on every login;
//! a `stat` per login to see whether they changed is one of the dearest steps of
//! an app-password login. A thread blocked on inotify (as SSSD's files provider
//! watches the same files) counts the changes to the file's directory entry
//! instead, and a reader compares counts.
//!
//! The count moves when the watching thread has read the event: microseconds
//! after the change, later on a loaded machine. A reader in between sees the
//! file as it was a moment before, as it would have had it asked a moment
//! earlier. Where watching is not possible (no inotify, a symlink, the directory
//! gone), [`FileWatch::generation`] says so and the reader looks every time.

use std::ffi::{CString, OsStr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// What the watching thread and the readers share.
#[derive(Default)]
struct Shared {
    changes: AtomicU64,
    stopped: AtomicBool,
}

/// Counts changes to one file while it exists; stops watching when dropped.
pub struct FileWatch {
    shared: Arc<Shared>,
    inotify: Arc<OwnedFd>,
    watch: libc::c_int,
}

/// Events on the directory that may mean the file changed: written, replaced
/// by a rename, created, removed, its mode or owner changed.
const EVENTS: u32 = libc::IN_MODIFY
    | libc::IN_CLOSE_WRITE
    | libc::IN_ATTRIB
    | libc::IN_CREATE
    | libc::IN_DELETE
    | libc::IN_MOVED_FROM
    | libc::IN_MOVED_TO
    | libc::IN_DELETE_SELF
    | libc::IN_MOVE_SELF
    | libc::IN_ONLYDIR
    | libc::IN_DONT_FOLLOW;

/// Events that end watching: the directory itself went away or moved.
const ENDS: u32 = libc::IN_DELETE_SELF | libc::IN_MOVE_SELF | libc::IN_IGNORED;

impl FileWatch {
    /// Watches `path`'s directory entry; `None` when it cannot be watched
    /// reliably (no inotify here, the file or its directory a symlink whose
    /// target could change unseen), in which case the reader looks every time.
    pub fn new(path: &Path) -> Option<FileWatch> {
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty())?;
        let name = path.file_name()?.to_owned();
        let not_a_link =
            |p: &Path| std::fs::symlink_metadata(p).is_ok_and(|m| !m.file_type().is_symlink());
        if !not_a_link(dir) || !not_a_link(path) {
            return None;
        }
        // SAFETY: no pointers; the descriptor is owned below.
        let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC) };
        if fd < 0 {
            return None;
        }
        // SAFETY: a fresh descriptor nobody else owns.
        let inotify = Arc::new(unsafe { OwnedFd::from_raw_fd(fd) });
        let dir_c = CString::new(dir.as_os_str().as_bytes()).ok()?;
        // SAFETY: a valid descriptor and a NUL-terminated path.
        let watch = unsafe { libc::inotify_add_watch(fd, dir_c.as_ptr(), EVENTS) };
        if watch < 0 {
            return None;
        }
        let shared = Arc::new(Shared::default());
        let (thread_shared, thread_inotify) = (Arc::clone(&shared), Arc::clone(&inotify));
        let spawned = std::thread::Builder::new()
            .name("names-watch".into())
            .spawn(move || watch_events(&thread_inotify, &name, &thread_shared));
        if spawned.is_err() {
            return None;
        }
        Some(FileWatch {
            shared,
            inotify,
            watch,
        })
    }

    /// The number of changes seen so far, or `None` once watching has stopped
    /// (then every question must look at the file).
    pub fn generation(&self) -> Option<u64> {
        // Read before the stopped flag: a stop after this read shows up as a
        // count not seen before, or as `None` next time.
        let changes = self.shared.changes.load(Ordering::Acquire);
        (!self.shared.stopped.load(Ordering::Acquire)).then_some(changes)
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        // The kernel answers with IN_IGNORED, which ends the thread.
        // SAFETY: the descriptor is open (the thread holds it too).
        unsafe { libc::inotify_rm_watch(self.inotify.as_raw_fd(), self.watch) };
    }
}

/// The watching thread: reads events until the watch ends.
fn watch_events(inotify: &OwnedFd, name: &OsStr, shared: &Shared) {
    // Room for many events at once; an event is 16 bytes and its name.
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        // SAFETY: buf is valid for writes of its length.
        let n = unsafe { libc::read(inotify.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        let (changed, ended) = match usize::try_from(n) {
            Ok(n) if n > 0 => read_events(&buf[..n], name),
            // An error on an inotify descriptor does not go away: stop watching.
            _ => (true, true),
        };
        if ended {
            shared.stopped.store(true, Ordering::Release);
        }
        if changed || ended {
            shared.changes.fetch_add(1, Ordering::AcqRel);
        }
        if ended {
            return;
        }
    }
}

/// Does this batch of events touch the file named `name`, and does it end
/// watching?
fn read_events(mut bytes: &[u8], name: &OsStr) -> (bool, bool) {
    const HEADER: usize = std::mem::size_of::<libc::inotify_event>();
    let (mut changed, mut ended) = (false, false);
    while bytes.len() >= HEADER {
        // SAFETY: HEADER bytes are there; read_unaligned copes with any alignment.
        let event: libc::inotify_event = unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast()) };
        let end = (HEADER + event.len as usize).min(bytes.len());
        let field = &bytes[HEADER..end];
        // The name is NUL-padded.
        let named = &field[..field.iter().position(|&b| b == 0).unwrap_or(field.len())];
        if event.mask & libc::IN_Q_OVERFLOW != 0 || named == name.as_bytes() {
            changed = true;
        }
        // A lost queue may also have lost the end of the watch (IN_IGNORED,
        // IN_DELETE_SELF): stop trusting it, and let readers look every time.
        if event.mask & (ENDS | libc::IN_Q_OVERFLOW) != 0 {
            ended = true;
        }
        bytes = &bytes[end..];
    }
    (changed, ended)
}

#[cfg(test)]
mod tests {
    use super::*;
    use authbridge_testsupport::eventually;
    use std::time::Duration;

    /// Whether the generation moves from `before` (the thread runs on its own
    /// time), within a generous bound.
    fn moves_from(watch: &FileWatch, before: Option<u64>) -> bool {
        eventually(Duration::from_secs(10), || watch.generation() != before)
    }

    #[test]
    fn writes_renames_and_removals_of_the_file_move_the_count() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(&path, "a:x:1:1::/:/bin/sh\n").unwrap();
        let watch = FileWatch::new(&path).unwrap();
        let steps: [(&str, &dyn Fn()); 4] = [
            ("written in place", &|| {
                std::fs::write(&path, "b\n").unwrap()
            }),
            ("replaced by a rename", &|| {
                let new = dir.path().join("passwd+");
                std::fs::write(&new, "c\n").unwrap();
                std::fs::rename(&new, &path).unwrap();
            }),
            ("mode changed", &|| {
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
            }),
            ("removed", &|| std::fs::remove_file(&path).unwrap()),
        ];
        for (what, step) in steps {
            let before = watch.generation();
            assert!(before.is_some(), "{what}: still watching");
            step();
            assert!(moves_from(&watch, before), "{what}: no change counted");
        }
    }

    /// An event as the kernel lays it out: header, then the NUL-padded name.
    fn event(mask: u32, name: &str) -> Vec<u8> {
        let padded = if name.is_empty() {
            0
        } else {
            (name.len() + 1).next_multiple_of(16)
        };
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&1i32.to_ne_bytes());
        bytes.extend_from_slice(&mask.to_ne_bytes());
        bytes.extend_from_slice(&0u32.to_ne_bytes());
        bytes.extend_from_slice(&(padded as u32).to_ne_bytes());
        bytes.extend_from_slice(name.as_bytes());
        bytes.resize(bytes.len() + padded - name.len(), 0);
        bytes
    }

    #[test]
    fn only_the_files_own_events_count() {
        let name = OsStr::new("passwd");
        let other = event(libc::IN_CLOSE_WRITE, "hosts");
        assert_eq!(read_events(&other, name), (false, false));
        // A longer name that begins with the file's is another file.
        let longer = event(libc::IN_MOVED_TO, "passwd-");
        assert_eq!(read_events(&longer, name), (false, false));
        let batch = [other.clone(), event(libc::IN_MOVED_TO, "passwd")].concat();
        assert_eq!(read_events(&batch, name), (true, false));
        // A lost queue may have held anything, the watch's end included.
        assert_eq!(
            read_events(&event(libc::IN_Q_OVERFLOW, ""), name),
            (true, true)
        );
        assert_eq!(
            read_events(&event(libc::IN_IGNORED, ""), name),
            (false, true)
        );
        // A batch cut inside a header is read as far as it goes.
        assert_eq!(read_events(&batch[..other.len() + 8], name), (false, false));
    }

    #[test]
    fn a_removed_directory_ends_watching_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("etc");
        std::fs::create_dir(&sub).unwrap();
        let path = sub.join("passwd");
        std::fs::write(&path, "").unwrap();
        let watch = FileWatch::new(&path).unwrap();
        let before = watch.generation();
        std::fs::remove_dir_all(&sub).unwrap();
        assert!(moves_from(&watch, before));
        // Ends for good: every reader looks at the file from now on.
        assert!(eventually(Duration::from_secs(10), || watch
            .generation()
            .is_none()));
    }

    #[test]
    fn symlinks_are_not_watched() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("real");
        std::fs::write(&target, "").unwrap();
        let link = dir.path().join("passwd");
        std::os::unix::fs::symlink(&target, &link).unwrap();
        assert!(FileWatch::new(&link).is_none());
        assert!(FileWatch::new(&target).is_some());
    }

    #[test]
    fn a_dropped_watch_ends_its_thread() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("passwd");
        std::fs::write(&path, "").unwrap();
        let watch = FileWatch::new(&path).unwrap();
        let shared = Arc::clone(&watch.shared);
        drop(watch);
        assert!(eventually(Duration::from_secs(10), || shared
            .stopped
            .load(Ordering::Acquire)));
    }
}
