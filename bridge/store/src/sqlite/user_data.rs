//! Settings, profile fields and avatars on SQLite.

use rusqlite::{OptionalExtension, params};

use super::CachedRow as _;
use super::{SqliteStore, drop_password_tokens, require_user, user_row};
use crate::{Avatar, Result, UserDataStore};

impl SqliteStore {
    /// Updates one column of a user row; the column name is ours, never input.
    pub(crate) fn set_user_column(
        &self,
        uid: &str,
        column: &'static str,
        value: Option<&str>,
    ) -> Result<()> {
        self.write(|tx| {
            user_row(
                tx.execute(
                    &format!("UPDATE users SET {column} = ?2 WHERE uid = ?1"),
                    params![uid, value],
                )?,
                uid,
            )
        })
    }
}

impl UserDataStore for SqliteStore {
    fn settings(&self, uid: &str, app: Option<&str>) -> Result<Vec<(String, String, String)>> {
        let conn = self.lock();
        let uid = &require_user(&conn, uid)?;
        let mut stmt = conn.prepare_cached(
            "SELECT app, key, value FROM settings WHERE uid = ?1 AND (?2 IS NULL OR app = ?2) ORDER BY app, key",
        )?;
        let rows = stmt.query_map(params![uid, app], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_setting(&self, uid: &str, app: &str, key: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            let uid = &require_user(tx, uid)?;
            tx.execute(
                "INSERT INTO settings (uid, app, key, value) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (uid, app, key) DO UPDATE SET value = ?4",
                params![uid, app, key, value],
            )?;
            Ok(())
        })
    }

    fn delete_setting(&self, uid: &str, app: &str, key: &str) -> Result<bool> {
        self.write(|tx| {
            let uid = &require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM settings WHERE uid = ?1 AND app = ?2 AND key = ?3",
                params![uid, app, key],
            )? == 1)
        })
    }

    fn profile(&self, uid: &str) -> Result<Vec<(String, String)>> {
        let conn = self.lock();
        let uid = &require_user(&conn, uid)?;
        let mut stmt =
            conn.prepare_cached("SELECT field, value FROM profile WHERE uid = ?1 ORDER BY field")?;
        let rows = stmt.query_map([uid], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn set_profile(&self, uid: &str, field: &str, value: &str) -> Result<()> {
        self.write(|tx| {
            let uid = &require_user(tx, uid)?;
            tx.execute(
                "INSERT INTO profile (uid, field, value) VALUES (?1, ?2, ?3)
                 ON CONFLICT (uid, field) DO UPDATE SET value = ?3",
                params![uid, field, value],
            )?;
            Ok(())
        })
    }

    fn delete_profile(&self, uid: &str, field: &str) -> Result<bool> {
        self.write(|tx| {
            let uid = &require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM profile WHERE uid = ?1 AND field = ?2",
                params![uid, field],
            )? == 1)
        })
    }

    fn set_display_name(&self, uid: &str, name: Option<&str>) -> Result<()> {
        self.set_user_column(uid, "display_name", name)
    }

    fn set_email(&self, uid: &str, email: Option<&str>) -> Result<()> {
        // A link mailed to the old address must not outlive the change.
        self.write(|tx| {
            drop_password_tokens(tx, uid)?;
            user_row(
                tx.execute(
                    "UPDATE users SET email = ?2 WHERE uid = ?1",
                    params![uid, email],
                )?,
                uid,
            )
        })
    }

    fn avatar(&self, uid: &str) -> Result<Option<Avatar>> {
        Ok(self
            .lock()
            .cached_row(
                "SELECT image, mime FROM avatars WHERE uid = ?1",
                [uid],
                |r| {
                    Ok(Avatar {
                        image: r.get(0)?,
                        mime: r.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    fn set_avatar(&self, uid: &str, avatar: &Avatar, now: i64) -> Result<()> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            tx.execute(
                "INSERT INTO avatars (uid, image, mime, updated) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (uid) DO UPDATE SET image = ?2, mime = ?3, updated = ?4",
                params![uid, avatar.image, avatar.mime, now],
            )?;
            Ok(())
        })
    }

    fn delete_avatar(&self, uid: &str) -> Result<bool> {
        self.write(|tx| Ok(tx.execute("DELETE FROM avatars WHERE uid = ?1", [uid])? > 0))
    }
}
