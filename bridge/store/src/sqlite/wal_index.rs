//! Whether the database has changed, told without a read transaction: in WAL
//! mode every commit, from any process, rewrites the header of the shared
//! wal-index (the `-shm` file), and every reader takes its snapshot from that
//! header. Two equal readings of it mean no commit became visible in between.
//!
//! The layout is SQLite's, documented in "WAL-mode File Format" (walformat.html)
//! and shared by every SQLite version that opens the file at once: two copies of
//! a 48-byte header at offsets 0 and 48. A writer writes the second copy, then
//! a memory barrier, then the first; a reader reads the first, a barrier, the
//! second, and trusts them only when they are equal. The header holds a counter
//! that moves at every commit (`iChange`), the last valid frame (`mxFrame`) and
//! the salts that change whenever the log restarts.

use rusqlite::Connection;
use std::sync::atomic::{AtomicU32, Ordering};

/// 32-bit words in one copy of the header (48 bytes).
const HEADER_WORDS: usize = 12;
/// Byte offset of `isInit` in a copy.
const IS_INIT: usize = 12;
/// The size SQLite maps the wal-index in (its first region holds the header).
const REGION: i32 = 32 * 1024;

/// One consistent reading of the header: equal marks, no commit in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ChangeMark([u32; HEADER_WORDS]);

/// The first region of the wal-index, as SQLite itself maps it.
pub(crate) struct WalIndex {
    /// The region's first header copy. SQLite maps each region once per
    /// process and keeps it at that address until the last connection to the
    /// file in this process closes: the store holds its connections for as
    /// long as it holds this.
    header: *const u32,
}

// SAFETY: the pointer is only read, with atomic loads, from memory that other
// threads and processes write under SQLite's own protocol (see the module
// comment); it stays mapped while the store (its owner) lives.
unsafe impl Send for WalIndex {}
// SAFETY: as above.
unsafe impl Sync for WalIndex {}

impl WalIndex {
    /// The wal-index that `conn` uses, or None when there is none to read (not
    /// in WAL mode, or heap memory instead of a shared file).
    ///
    /// `conn` must have read the database in WAL mode already (so that its
    /// wal-index is mapped), and must not be in use on another thread.
    pub(crate) fn of(conn: &Connection) -> Option<WalIndex> {
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .ok()?;
        let locking: String = conn
            .query_row("PRAGMA locking_mode", [], |r| r.get(0))
            .ok()?;
        // In exclusive mode the wal-index is private heap memory.
        if !mode.eq_ignore_ascii_case("wal") || !locking.eq_ignore_ascii_case("normal") {
            return None;
        }
        let mut file: *mut rusqlite::ffi::sqlite3_file = std::ptr::null_mut();
        // SAFETY: a valid open handle; FILE_POINTER writes one pointer.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_file_control(
                conn.handle(),
                c"main".as_ptr(),
                rusqlite::ffi::SQLITE_FCNTL_FILE_POINTER,
                (&mut file as *mut *mut rusqlite::ffi::sqlite3_file).cast(),
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK || file.is_null() {
            return None;
        }
        // SAFETY: SQLite's own open file; its methods table lives as long.
        let methods = unsafe { (*file).pMethods };
        if methods.is_null() {
            return None;
        }
        // SAFETY: as above; xShmMap exists from io-methods version 2 on.
        let map = unsafe {
            if (*methods).iVersion < 2 {
                return None;
            }
            (*methods).xShmMap?
        };
        let mut region: *mut std::ffi::c_void = std::ptr::null_mut();
        // SAFETY: region 0, already mapped by the connection's read (bExtend 0
        // maps nothing new); the call hands back SQLite's own mapping.
        let rc = unsafe {
            map(
                file,
                0,
                REGION,
                0,
                (&mut region as *mut *mut std::ffi::c_void).cast(),
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK || region.is_null() {
            return None;
        }
        let index = WalIndex {
            header: region.cast::<u32>().cast_const(),
        };
        // A header SQLite has not written yet tells nothing.
        index.mark().map(|_| index)
    }

    /// A consistent reading of the header, or None while a writer is midway
    /// through rewriting it (or it was never written): then nothing may be
    /// assumed unchanged.
    pub(crate) fn mark(&self) -> Option<ChangeMark> {
        let word = |i: usize| {
            // SAFETY: within the mapped region (two copies are 96 bytes of 32 KiB),
            // 4-byte aligned; read as an atomic, as other processes write it.
            unsafe { (*self.header.add(i).cast::<AtomicU32>()).load(Ordering::SeqCst) }
        };
        // The first copy, then the second: the reverse of the writer's order.
        let first: [u32; HEADER_WORDS] = std::array::from_fn(word);
        let second: [u32; HEADER_WORDS] = std::array::from_fn(|i| word(HEADER_WORDS + i));
        let is_init = first[IS_INIT / 4].to_ne_bytes()[IS_INIT % 4];
        (first == second && is_init != 0).then_some(ChangeMark(first))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(path: &std::path::Path) -> Connection {
        let conn = Connection::open(path).unwrap();
        conn.pragma_update(None, "journal_mode", "WAL").unwrap();
        conn.execute_batch("CREATE TABLE IF NOT EXISTS t (v INTEGER)")
            .unwrap();
        conn
    }

    #[test]
    fn every_commit_from_any_connection_moves_the_mark_and_reads_do_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let ours = open(&path);
        let index = WalIndex::of(&ours).expect("a wal-index to read");
        let before = index.mark().unwrap();
        // Reads on any connection change nothing.
        let other = Connection::open(&path).unwrap();
        let _: i64 = other
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(index.mark(), Some(before));
        // A commit on another connection (another process would do the same).
        other.execute("INSERT INTO t VALUES (1)", []).unwrap();
        let after_other = index.mark().unwrap();
        assert_ne!(after_other, before);
        // And one on ours.
        ours.execute("UPDATE t SET v = 2", []).unwrap();
        assert_ne!(index.mark().unwrap(), after_other);
    }

    #[test]
    fn a_checkpoint_and_a_restarted_log_never_look_unchanged_wrongly() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("db");
        let ours = open(&path);
        let index = WalIndex::of(&ours).unwrap();
        let mut seen = vec![index.mark().unwrap()];
        for i in 0..50 {
            ours.execute("INSERT INTO t VALUES (?1)", [i]).unwrap();
            if i % 10 == 0 {
                ours.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .unwrap();
            }
            let mark = index.mark().unwrap();
            // Never a mark seen before: a commit is never mistaken for none.
            assert!(!seen.contains(&mark), "commit {i} repeated an earlier mark");
            seen.push(mark);
        }
    }

    #[test]
    fn a_database_not_in_wal_mode_has_no_index_to_read() {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("db")).unwrap();
        conn.execute_batch("CREATE TABLE t (v INTEGER)").unwrap();
        assert!(WalIndex::of(&conn).is_none());
        let exclusive = Connection::open(dir.path().join("db2")).unwrap();
        exclusive
            .pragma_update(None, "locking_mode", "EXCLUSIVE")
            .unwrap();
        exclusive
            .pragma_update(None, "journal_mode", "WAL")
            .unwrap();
        exclusive
            .execute_batch("CREATE TABLE t (v INTEGER)")
            .unwrap();
        assert!(WalIndex::of(&exclusive).is_none());
    }
}
