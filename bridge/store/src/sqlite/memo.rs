//! The answers of the reads every login makes (an app password by its keyed
//! hash, a user's second factors, a user's credential state), kept in memory
//! for as long as the database has not changed since they were read. Any
//! commit, by this process or another (the CLI, an administrator's `sqlite3`),
//! moves the wal-index mark and so drops them all: a memo answer is always the
//! answer a read would give at that moment.

use std::collections::HashMap;
use std::sync::Mutex;

use super::wal_index::{ChangeMark, WalIndex};
use crate::{AppPasswordMatch, CredentialState, Result, SecondFactors};

/// Entries per kind; past it that kind starts over. App passwords enter only
/// when they match; the per-user kinds take any existing user, once per
/// spelling of the name (the column compares without case).
const MAX_ENTRIES: usize = 4096;

/// One kind of answer, by its key.
pub(crate) struct Answers<V>(HashMap<Box<[u8]>, V>);

impl<V> Default for Answers<V> {
    fn default() -> Self {
        Answers(HashMap::new())
    }
}

/// Every kind, valid for one mark of the database.
#[derive(Default)]
pub(crate) struct Kinds {
    /// The mark the answers were read under; None before the first.
    mark: Option<ChangeMark>,
    pub(crate) app_passwords: Answers<Option<AppPasswordMatch>>,
    pub(crate) second_factors: Answers<SecondFactors>,
    pub(crate) credential_states: Answers<CredentialState>,
}

impl Kinds {
    /// Drops every answer read under another mark.
    fn follow(&mut self, mark: ChangeMark) {
        if self.mark != Some(mark) {
            *self = Kinds {
                mark: Some(mark),
                ..Kinds::default()
            };
        }
    }
}

pub(crate) struct Memo {
    /// None: no wal-index to read, so nothing is kept.
    index: Option<WalIndex>,
    kinds: Mutex<Kinds>,
}

impl Memo {
    pub(crate) fn new(index: Option<WalIndex>) -> Memo {
        Memo {
            index,
            kinds: Mutex::new(Kinds::default()),
        }
    }

    fn kinds(&self) -> std::sync::MutexGuard<'_, Kinds> {
        // Plain maps: a panic midway leaves them usable.
        self.kinds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The answer to `read` for `key`: from memory when it was read while the
    /// database was as it is now, else read (and kept when `keep` says so and
    /// no commit came in while it was read).
    pub(crate) fn read<V: Clone>(
        &self,
        kind: fn(&mut Kinds) -> &mut Answers<V>,
        key: &[u8],
        read: impl FnOnce() -> Result<V>,
        keep: impl FnOnce(&V) -> bool,
    ) -> Result<V> {
        let Some(before) = self.index.as_ref().and_then(WalIndex::mark) else {
            return read();
        };
        {
            let mut kinds = self.kinds();
            kinds.follow(before);
            if let Some(known) = kind(&mut kinds).0.get(key) {
                return Ok(known.clone());
            }
        }
        // The read's transaction starts after `before` was taken; equal marks
        // after it mean it saw the database as of `before`.
        let value = read()?;
        let unchanged = self.index.as_ref().and_then(WalIndex::mark) == Some(before);
        if unchanged && keep(&value) {
            let mut kinds = self.kinds();
            if kinds.mark == Some(before) {
                let answers = &mut kind(&mut kinds).0;
                if answers.len() >= MAX_ENTRIES {
                    answers.clear();
                }
                answers.insert(key.into(), value.clone());
            }
        }
        Ok(value)
    }
}
