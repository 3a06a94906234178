//! App passwords on SQLite, stored only as keyed hashes.

use rusqlite::{OptionalExtension, params};

use super::{SqliteStore, require_user};
use crate::{AppPassword, AppPasswordMatch, AppPasswordStore, Result};

impl AppPasswordStore for SqliteStore {
    fn add_app_password(&self, uid: &str, name: &str, hash: &[u8], now: i64) -> Result<i64> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            tx.execute(
                "INSERT INTO app_passwords (uid, name, hash, created, last_activity) VALUES (?1, ?2, ?3, ?4, ?4)",
                params![uid, name, hash, now],
            )?;
            Ok(tx.last_insert_rowid())
        })
    }

    fn app_password_by_hash(&self, hash: &[u8]) -> Result<Option<AppPasswordMatch>> {
        let read = || {
            let conn = self.lock();
            let mut stmt = conn.prepare_cached(
                "SELECT t.id, t.uid, t.hash, u.enabled, t.last_activity
                 FROM app_passwords t JOIN users u ON u.uid = t.uid WHERE t.hash = ?1",
            )?;
            Ok(stmt
                .query_row([hash], |r| {
                    Ok(AppPasswordMatch {
                        id: r.get(0)?,
                        uid: r.get(1)?,
                        hash: r.get(2)?,
                        user_enabled: r.get(3)?,
                        last_activity: r.get(4)?,
                    })
                })
                .optional()?)
        };
        // Only a match is kept: wrong passwords must not fill the memo.
        self.memo
            .read(|k| &mut k.app_passwords, hash, read, Option::is_some)
    }

    fn app_passwords(&self, uid: &str) -> Result<Vec<AppPassword>> {
        let conn = self.lock();
        let uid = require_user(&conn, uid)?;
        let mut stmt = conn.prepare_cached(
            "SELECT id, uid, name, created, last_activity FROM app_passwords WHERE uid = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map([&uid], |r| {
            Ok(AppPassword {
                id: r.get(0)?,
                uid: r.get(1)?,
                name: r.get(2)?,
                created: r.get(3)?,
                last_activity: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delete_app_password(&self, uid: &str, id: i64) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM app_passwords WHERE uid = ?1 AND id = ?2",
                params![uid, id],
            )? == 1)
        })
    }

    fn delete_app_passwords_before(&self, uid: &str, before: i64) -> Result<usize> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM app_passwords WHERE uid = ?1 AND last_activity < ?2",
                params![uid, before],
            )?)
        })
    }

    fn touch_app_password(&self, id: i64, now: i64, min_interval: i64) -> Result<()> {
        // Only writes when the value is stale, so steady use costs no write per check.
        self.write(|tx| {
            tx.execute(
                "UPDATE app_passwords SET last_activity = ?2 WHERE id = ?1 AND last_activity <= ?2 - ?3",
                params![id, now, min_interval],
            )?;
            Ok(())
        })
    }
}
