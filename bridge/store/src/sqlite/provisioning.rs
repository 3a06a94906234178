//! Subadmins, module switches and password links on SQLite.

use rusqlite::{OptionalExtension, params};

use super::CachedRow as _;
use super::{SqliteStore, drop_password_tokens, require_group, require_user};
use crate::{ProvisioningStore, Result};

impl ProvisioningStore for SqliteStore {
    fn add_subadmin(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            let gid = require_group(tx, gid)?;
            Ok(tx.execute(
                "INSERT OR IGNORE INTO subadmins (gid, uid) VALUES (?1, ?2)",
                params![gid, uid],
            )? == 1)
        })
    }

    fn remove_subadmin(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            let gid = require_group(tx, gid)?;
            Ok(tx.execute(
                "DELETE FROM subadmins WHERE gid = ?1 AND uid = ?2",
                params![gid, uid],
            )? == 1)
        })
    }

    fn subadmin_groups(&self, uid: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let uid = require_user(&conn, uid)?;
        let mut stmt =
            conn.prepare_cached("SELECT gid FROM subadmins WHERE uid = ?1 ORDER BY gid")?;
        let rows = stmt.query_map([&uid], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn group_subadmins(&self, gid: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let gid = require_group(&conn, gid)?;
        let mut stmt =
            conn.prepare_cached("SELECT uid FROM subadmins WHERE gid = ?1 ORDER BY uid")?;
        let rows = stmt.query_map([&gid], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_quota(&self, uid: &str, quota: Option<&str>) -> Result<()> {
        self.set_user_column(uid, "quota", quota)
    }

    fn set_language(&self, uid: &str, language: Option<&str>) -> Result<()> {
        self.set_user_column(uid, "language", language)
    }

    fn set_welcome_pending(&self, uid: &str, pending: bool) -> Result<()> {
        self.set_user_column(
            uid,
            "welcome_pending",
            Some(if pending { "1" } else { "0" }),
        )
    }

    fn app_enabled(&self, id: &str) -> Result<Option<bool>> {
        Ok(self
            .lock()
            .cached_row("SELECT enabled FROM apps WHERE id = ?1", [id], |r| r.get(0))
            .optional()?)
    }

    fn set_app_enabled(&self, id: &str, enabled: bool) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO apps (id, enabled) VALUES (?1, ?2)
                 ON CONFLICT (id) DO UPDATE SET enabled = ?2",
                params![id, enabled],
            )?;
            Ok(())
        })
    }

    fn add_password_token(&self, uid: &str, hash: &[u8], expires: i64) -> Result<()> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            // Only the newest link works.
            drop_password_tokens(tx, &uid)?;
            tx.execute(
                "INSERT INTO password_tokens (hash, uid, expires) VALUES (?1, ?2, ?3)",
                params![hash, uid, expires],
            )?;
            Ok(())
        })
    }

    fn take_password_token(&self, hash: &[u8], now: i64) -> Result<Option<String>> {
        self.write(|tx| {
            let found: Option<(String, i64)> = tx
                .cached_row(
                    "SELECT uid, expires FROM password_tokens WHERE hash = ?1",
                    [hash],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?;
            tx.execute("DELETE FROM password_tokens WHERE hash = ?1", [hash])?;
            tx.execute("DELETE FROM password_tokens WHERE expires <= ?1", [now])?;
            // A used link takes every other link of the same user with it.
            if let Some((uid, _)) = &found {
                drop_password_tokens(tx, uid)?;
            }
            Ok(found.and_then(|(uid, expires)| (expires > now).then_some(uid)))
        })
    }

    fn peek_password_token(&self, hash: &[u8], now: i64) -> Result<Option<String>> {
        Ok(self
            .lock()
            .cached_row(
                "SELECT uid FROM password_tokens WHERE hash = ?1 AND expires > ?2",
                params![hash, now],
                |r| r.get(0),
            )
            .optional()?)
    }
}
