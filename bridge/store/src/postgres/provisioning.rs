//! Subadmins, module switches and password links on PostgreSQL.

use super::PostgresStore;
use super::accounts::{drop_password_tokens, lock_user, require_group, require_user, user_row};
use crate::{ProvisioningStore, Result};

impl ProvisioningStore for PostgresStore {
    fn add_subadmin(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            let gid = require_group(db, gid)?;
            Ok(db.execute(
                "INSERT INTO subadmins (gid, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&gid, &uid],
            )? == 1)
        })
    }

    fn remove_subadmin(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            let gid = require_group(db, gid)?;
            Ok(db.execute(
                "DELETE FROM subadmins WHERE gid = $1 AND uid = $2",
                &[&gid, &uid],
            )? == 1)
        })
    }

    fn subadmin_groups(&self, uid: &str) -> Result<Vec<String>> {
        self.read(|db| {
            let uid = require_user(db, uid)?;
            Ok(db
                .query(
                    "SELECT gid FROM subadmins WHERE uid = $1 ORDER BY gid COLLATE \"C\"",
                    &[&uid],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn group_subadmins(&self, gid: &str) -> Result<Vec<String>> {
        self.read(|db| {
            let gid = require_group(db, gid)?;
            Ok(db
                .query(
                    "SELECT uid FROM subadmins WHERE gid = $1 ORDER BY uid COLLATE \"C\"",
                    &[&gid],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn set_quota(&self, uid: &str, quota: Option<&str>) -> Result<()> {
        self.write(|db| {
            user_row(
                db.execute(
                    "UPDATE users SET quota = $2 WHERE ab_fold(uid) = ab_fold($1)",
                    &[&uid, &quota],
                )?,
                uid,
            )
        })
    }

    fn set_language(&self, uid: &str, language: Option<&str>) -> Result<()> {
        self.write(|db| {
            user_row(
                db.execute(
                    "UPDATE users SET language = $2 WHERE ab_fold(uid) = ab_fold($1)",
                    &[&uid, &language],
                )?,
                uid,
            )
        })
    }

    fn set_welcome_pending(&self, uid: &str, pending: bool) -> Result<()> {
        self.write(|db| {
            user_row(
                db.execute(
                    "UPDATE users SET welcome_pending = $2 WHERE ab_fold(uid) = ab_fold($1)",
                    &[&uid, &pending],
                )?,
                uid,
            )
        })
    }

    fn app_enabled(&self, id: &str) -> Result<Option<bool>> {
        self.read(|db| {
            Ok(db
                .query_opt("SELECT enabled FROM apps WHERE id = $1", &[&id])?
                .map(|r| r.get(0)))
        })
    }

    fn set_app_enabled(&self, id: &str, enabled: bool) -> Result<()> {
        self.write(|db| {
            db.execute(
                "INSERT INTO apps (id, enabled) VALUES ($1, $2)
                 ON CONFLICT (id) DO UPDATE SET enabled = $2",
                &[&id, &enabled],
            )?;
            Ok(())
        })
    }

    fn add_password_token(&self, uid: &str, hash: &[u8], expires: i64) -> Result<()> {
        self.write(|db| {
            // Locked: of two links made at once, only the later one works.
            let uid = lock_user(db, uid)?;
            // Only the newest link works.
            drop_password_tokens(db, &uid)?;
            db.execute(
                "INSERT INTO password_tokens (hash, uid, expires) VALUES ($1, $2, $3)",
                &[&hash, &uid, &expires],
            )?;
            Ok(())
        })
    }

    fn take_password_token(&self, hash: &[u8], now: i64) -> Result<Option<String>> {
        self.write(|db| {
            // Taken and deleted in one statement: of two nodes presenting the
            // same link at once, one gets the row and the other nothing.
            let found: Option<(String, i64)> = db
                .query_opt(
                    "DELETE FROM password_tokens WHERE hash = $1 RETURNING uid, expires",
                    &[&hash],
                )?
                .map(|r| (r.get(0), r.get(1)));
            db.execute("DELETE FROM password_tokens WHERE expires <= $1", &[&now])?;
            // A used link takes every other link of the same user with it.
            if let Some((uid, _)) = &found {
                drop_password_tokens(db, uid)?;
            }
            Ok(found.and_then(|(uid, expires)| (expires > now).then_some(uid)))
        })
    }

    fn peek_password_token(&self, hash: &[u8], now: i64) -> Result<Option<String>> {
        self.read(|db| {
            Ok(db
                .query_opt(
                    "SELECT uid FROM password_tokens WHERE hash = $1 AND expires > $2",
                    &[&hash, &now],
                )?
                .map(|r| r.get(0)))
        })
    }
}
