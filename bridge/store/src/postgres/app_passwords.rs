//! App passwords on PostgreSQL, stored only as keyed hashes.

use super::PostgresStore;
use super::accounts::require_user;
use crate::{AppPassword, AppPasswordMatch, AppPasswordStore, Result};

impl AppPasswordStore for PostgresStore {
    fn add_app_password(&self, uid: &str, name: &str, hash: &[u8], now: i64) -> Result<i64> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db
                .query_one(
                    "INSERT INTO app_passwords (uid, name, hash, created, last_activity)
                     VALUES ($1, $2, $3, $4, $4) RETURNING id",
                    &[&uid, &name, &hash, &now],
                )?
                .get(0))
        })
    }

    fn app_password_by_hash(&self, hash: &[u8]) -> Result<Option<AppPasswordMatch>> {
        self.read(|db| {
            Ok(db
                .query_opt(
                    "SELECT t.id, t.uid, t.hash, u.enabled, t.last_activity
                     FROM app_passwords t JOIN users u ON u.uid = t.uid WHERE t.hash = $1",
                    &[&hash],
                )?
                .map(|r| AppPasswordMatch {
                    id: r.get(0),
                    uid: r.get(1),
                    hash: r.get(2),
                    user_enabled: r.get(3),
                    last_activity: r.get(4),
                }))
        })
    }

    fn app_passwords(&self, uid: &str) -> Result<Vec<AppPassword>> {
        self.read(|db| {
            let uid = require_user(db, uid)?;
            Ok(db
                .query(
                    "SELECT id, uid, name, created, last_activity FROM app_passwords
                     WHERE uid = $1 ORDER BY id",
                    &[&uid],
                )?
                .iter()
                .map(|r| AppPassword {
                    id: r.get(0),
                    uid: r.get(1),
                    name: r.get(2),
                    created: r.get(3),
                    last_activity: r.get(4),
                })
                .collect())
        })
    }

    fn delete_app_password(&self, uid: &str, id: i64) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db.execute(
                "DELETE FROM app_passwords WHERE uid = $1 AND id = $2",
                &[&uid, &id],
            )? == 1)
        })
    }

    fn delete_app_passwords_before(&self, uid: &str, before: i64) -> Result<usize> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            let gone = db.execute(
                "DELETE FROM app_passwords WHERE uid = $1 AND last_activity < $2",
                &[&uid, &before],
            )?;
            Ok(usize::try_from(gone).unwrap_or(usize::MAX))
        })
    }

    fn touch_app_password(&self, id: i64, now: i64, min_interval: i64) -> Result<()> {
        // Only writes when the value is stale, so steady use costs no write per check.
        let stale_before = now.saturating_sub(min_interval);
        self.write_one(|db| {
            db.execute(
                "UPDATE app_passwords SET last_activity = $2 WHERE id = $1 AND last_activity <= $3",
                &[&id, &now, &stale_before],
            )?;
            Ok(())
        })
    }
}
