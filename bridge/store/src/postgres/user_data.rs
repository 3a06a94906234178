//! Settings, profile fields and avatars on PostgreSQL.

use super::PostgresStore;
use super::accounts::{drop_password_tokens, require_user, user_row};
use crate::{Avatar, Result, UserDataStore};

impl UserDataStore for PostgresStore {
    fn settings(&self, uid: &str, app: Option<&str>) -> Result<Vec<(String, String, String)>> {
        self.read(|db| {
            let uid = require_user(db, uid)?;
            Ok(db
                .query(
                    "SELECT app, key, value FROM settings
                     WHERE uid = $1 AND ($2::text IS NULL OR app = $2)
                     ORDER BY app COLLATE \"C\", key COLLATE \"C\"",
                    &[&uid, &app],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2)))
                .collect())
        })
    }

    fn set_setting(&self, uid: &str, app: &str, key: &str, value: &str) -> Result<()> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            db.execute(
                "INSERT INTO settings (uid, app, key, value) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (uid, app, key) DO UPDATE SET value = $4",
                &[&uid, &app, &key, &value],
            )?;
            Ok(())
        })
    }

    fn delete_setting(&self, uid: &str, app: &str, key: &str) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db.execute(
                "DELETE FROM settings WHERE uid = $1 AND app = $2 AND key = $3",
                &[&uid, &app, &key],
            )? == 1)
        })
    }

    fn profile(&self, uid: &str) -> Result<Vec<(String, String)>> {
        self.read(|db| {
            let uid = require_user(db, uid)?;
            Ok(db
                .query(
                    "SELECT field, value FROM profile WHERE uid = $1 ORDER BY field COLLATE \"C\"",
                    &[&uid],
                )?
                .iter()
                .map(|r| (r.get(0), r.get(1)))
                .collect())
        })
    }

    fn set_profile(&self, uid: &str, field: &str, value: &str) -> Result<()> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            db.execute(
                "INSERT INTO profile (uid, field, value) VALUES ($1, $2, $3)
                 ON CONFLICT (uid, field) DO UPDATE SET value = $3",
                &[&uid, &field, &value],
            )?;
            Ok(())
        })
    }

    fn delete_profile(&self, uid: &str, field: &str) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db.execute(
                "DELETE FROM profile WHERE uid = $1 AND field = $2",
                &[&uid, &field],
            )? == 1)
        })
    }

    fn set_display_name(&self, uid: &str, name: Option<&str>) -> Result<()> {
        self.write(|db| {
            user_row(
                db.execute(
                    "UPDATE users SET display_name = $2 WHERE ab_fold(uid) = ab_fold($1)",
                    &[&uid, &name],
                )?,
                uid,
            )
        })
    }

    fn set_email(&self, uid: &str, email: Option<&str>) -> Result<()> {
        // A link mailed to the old address must not outlive the change.
        self.write(|db| {
            drop_password_tokens(db, uid)?;
            user_row(
                db.execute(
                    "UPDATE users SET email = $2 WHERE ab_fold(uid) = ab_fold($1)",
                    &[&uid, &email],
                )?,
                uid,
            )
        })
    }

    fn avatar(&self, uid: &str) -> Result<Option<Avatar>> {
        self.read(|db| {
            Ok(db
                .query_opt("SELECT image, mime FROM avatars WHERE uid = $1", &[&uid])?
                .map(|r| Avatar {
                    image: r.get(0),
                    mime: r.get(1),
                }))
        })
    }

    fn set_avatar(&self, uid: &str, avatar: &Avatar, now: i64) -> Result<()> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            db.execute(
                "INSERT INTO avatars (uid, image, mime, updated) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (uid) DO UPDATE SET image = $2, mime = $3, updated = $4",
                &[&uid, &avatar.image, &avatar.mime, &now],
            )?;
            Ok(())
        })
    }

    fn delete_avatar(&self, uid: &str) -> Result<bool> {
        self.write(|db| Ok(db.execute("DELETE FROM avatars WHERE uid = $1", &[&uid])? > 0))
    }
}
