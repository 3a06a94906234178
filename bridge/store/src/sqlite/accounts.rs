//! Accounts and groups on SQLite.

use rusqlite::{OptionalExtension, params};

use super::CachedRow as _;
use super::{
    SqliteStore, USER_COLUMNS, drop_password_tokens, ensure_group, get_user, like_pattern,
    require_group, require_user, user_from_row, user_row,
};
use crate::{
    CredentialState, NewUser, Report, Result, Store, StoreError, User, UserQuery, validate_gid,
    validate_uid,
};

impl Store for SqliteStore {
    fn create_user(&self, user: &NewUser, now: i64) -> Result<User> {
        validate_uid(&user.uid)?;
        for gid in &user.groups {
            validate_gid(gid)?;
        }
        self.write(|tx| {
            let inserted = tx.execute(
                "INSERT OR IGNORE INTO users (uid, display_name, email, backend, password_hash, welcome_pending, created, quota, language)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                params![
                    user.uid,
                    user.display_name,
                    user.email,
                    user.backend,
                    user.password_hash,
                    user.welcome_pending,
                    now,
                    user.quota,
                    user.language
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::UserExists(user.uid.clone()));
            }
            for gid in &user.groups {
                let gid = ensure_group(tx, gid, now)?;
                tx.execute(
                    "INSERT OR IGNORE INTO memberships (gid, uid) VALUES (?1, ?2)",
                    params![gid, user.uid],
                )?;
            }
            for gid in &user.subadmin_of {
                let gid = require_group(tx, gid)?;
                tx.execute(
                    "INSERT OR IGNORE INTO subadmins (gid, uid) VALUES (?1, ?2)",
                    params![gid, user.uid],
                )?;
            }
            get_user(tx, &user.uid)
        })
    }

    fn user(&self, uid: &str) -> Result<User> {
        get_user(&self.lock(), uid)
    }

    fn users(&self, q: &UserQuery) -> Result<Vec<User>> {
        let conn = self.lock();
        let search = q.search.as_deref().unwrap_or("");
        // The trigram index answers a search of three characters or more; when it
        // matches many users, walking the uid order with LIKE stops sooner.
        if search.chars().count() >= 3 {
            let phrase = format!("\"{}\"", search.replace('"', "\"\""));
            // One pass over the index: at most 1001 matches tell "few" from "many".
            let rowids: Vec<i64> = conn
                .prepare_cached(
                    "SELECT rowid FROM users_search WHERE users_search MATCH ?1 LIMIT 1001",
                )?
                .query_map([&phrase], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()?;
            if rowids.len() <= 1000 {
                let list = format!(
                    "[{}]",
                    rowids
                        .iter()
                        .map(i64::to_string)
                        .collect::<Vec<_>>()
                        .join(",")
                );
                let mut stmt = conn.prepare_cached(&format!(
                    "SELECT {USER_COLUMNS} FROM users
                     WHERE rowid IN (SELECT value FROM json_each(?1))
                       AND (?2 = 0 OR enabled = 0)
                     ORDER BY uid LIMIT ?3 OFFSET ?4"
                ))?;
                let rows = stmt.query_map(
                    params![list, q.disabled_only, q.limit as i64, q.offset as i64],
                    user_from_row,
                )?;
                return Ok(rows.collect::<rusqlite::Result<_>>()?);
            }
        }
        let pattern = like_pattern(search);
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT {USER_COLUMNS} FROM users
             WHERE (uid LIKE ?1 ESCAPE '\\' OR display_name LIKE ?1 ESCAPE '\\' OR email LIKE ?1 ESCAPE '\\')
               AND (?2 = 0 OR enabled = 0)
             ORDER BY uid LIMIT ?3 OFFSET ?4"
        ))?;
        let rows = stmt.query_map(
            params![pattern, q.disabled_only, q.limit as i64, q.offset as i64],
            user_from_row,
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delete_user(&self, uid: &str) -> Result<()> {
        // Memberships, subadmin rights, app passwords, settings and profile go with
        // the user (ON DELETE CASCADE).
        self.write(|tx| user_row(tx.execute("DELETE FROM users WHERE uid = ?1", [uid])?, uid))
    }

    fn set_enabled(&self, uid: &str, enabled: bool) -> Result<()> {
        self.write(|tx| {
            if !enabled {
                tx.execute(
                    "DELETE FROM verifiers WHERE uid = (SELECT uid FROM users WHERE uid = ?1)",
                    [uid],
                )?;
                drop_password_tokens(tx, uid)?;
            }
            user_row(
                tx.execute(
                    "UPDATE users SET enabled = ?2 WHERE uid = ?1",
                    params![uid, enabled],
                )?,
                uid,
            )
        })
    }

    fn password_hash(&self, uid: &str) -> Result<Option<String>> {
        let conn = self.lock();
        conn.cached_row(
            "SELECT password_hash FROM users WHERE uid = ?1",
            [uid],
            |r| r.get(0),
        )
        .optional()?
        .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
    }

    fn credential_state(&self, uid: &str) -> Result<CredentialState> {
        let read = || {
            self.lock()
                .cached_row(
                    "SELECT enabled, backend, password_hash FROM users WHERE uid = ?1",
                    [uid],
                    |r| {
                        Ok(CredentialState {
                            enabled: r.get(0)?,
                            backend: r.get(1)?,
                            password_hash: r.get(2)?,
                        })
                    },
                )
                .optional()?
                .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
        };
        self.memo
            .read(|k| &mut k.credential_states, uid.as_bytes(), read, |_| true)
    }

    fn set_password_hash(&self, uid: &str, hash: Option<&str>) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM verifiers WHERE uid = (SELECT uid FROM users WHERE uid = ?1)",
                [uid],
            )?;
            drop_password_tokens(tx, uid)?;
            user_row(
                tx.execute(
                    "UPDATE users SET password_hash = ?2 WHERE uid = ?1",
                    params![uid, hash],
                )?,
                uid,
            )
        })
    }

    fn record_login(&self, uid: &str, backend: &str, groups: &[String], now: i64) -> Result<User> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO users (uid, backend, first_seen, last_seen, created) VALUES (?1, ?2, ?3, ?3, ?3)
                 ON CONFLICT (uid) DO UPDATE SET last_seen = ?3, first_seen = coalesce(first_seen, ?3)",
                params![uid, backend, now],
            )?;
            let uid = require_user(tx, uid)?;
            for gid in groups {
                let gid = ensure_group(tx, gid, now)?;
                tx.execute(
                    "INSERT OR IGNORE INTO memberships (gid, uid) VALUES (?1, ?2)",
                    params![gid, uid],
                )?;
            }
            get_user(tx, &uid)
        })
    }

    fn sync_account(&self, uid: &str, groups: &[String], now: i64) -> Result<bool> {
        self.write(|tx| {
            let user = get_user(tx, uid)?;
            if user.backend == crate::LOCAL_BACKEND {
                return Ok(false);
            }
            let mut changed = false;
            for gid in groups {
                let gid = ensure_group(tx, gid, now)?;
                changed |= tx.execute(
                    "INSERT OR IGNORE INTO memberships (gid, uid) VALUES (?1, ?2)",
                    params![gid, user.uid],
                )? > 0;
            }
            Ok(changed)
        })
    }

    fn touch_last_seen(&self, uid: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            user_row(
                tx.execute(
                    "UPDATE users SET last_seen = ?2, first_seen = coalesce(first_seen, ?2) WHERE uid = ?1",
                    params![uid, now],
                )?,
                uid,
            )
        })
    }

    fn note_login(&self, uid: &str, now: i64, min_interval: i64) -> Result<()> {
        let seen: Option<Option<i64>> = self
            .lock()
            .cached_row("SELECT last_seen FROM users WHERE uid = ?1", [uid], |r| {
                r.get(0)
            })
            .optional()?;
        match seen {
            None => Err(StoreError::NoSuchUser(uid.to_owned())),
            Some(Some(last)) if now.saturating_sub(last) < min_interval => Ok(()),
            Some(_) => self.touch_last_seen(uid, now),
        }
    }

    fn report(&self) -> Result<Report> {
        let conn = self.lock();
        let mut stmt =
            conn.prepare("SELECT backend, count(*) FROM users GROUP BY backend ORDER BY backend")?;
        let per_backend = stmt
            .query_map([], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let (total, active, disabled): (i64, i64, i64) = conn.cached_row(
            "SELECT count(*), count(last_seen), coalesce(sum(enabled = 0), 0) FROM users",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )?;
        Ok(Report {
            per_backend,
            total: total as u64,
            active: active as u64,
            disabled: disabled as u64,
        })
    }

    fn create_group(&self, gid: &str, now: i64) -> Result<()> {
        validate_gid(gid)?;
        self.write(|tx| {
            match tx.execute(
                "INSERT OR IGNORE INTO groups (gid, created) VALUES (?1, ?2)",
                params![gid, now],
            )? {
                0 => Err(StoreError::GroupExists(gid.to_owned())),
                _ => Ok(()),
            }
        })
    }

    fn delete_group(&self, gid: &str) -> Result<()> {
        if gid.eq_ignore_ascii_case("admin") {
            return Err(StoreError::AdminGroup);
        }
        self.write(
            |tx| match tx.execute("DELETE FROM groups WHERE gid = ?1", [gid])? {
                0 => Err(StoreError::NoSuchGroup(gid.to_owned())),
                _ => Ok(()),
            },
        )
    }

    fn groups(&self, search: Option<&str>, limit: usize, offset: usize) -> Result<Vec<String>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT gid FROM groups WHERE gid LIKE ?1 ESCAPE '\\' ORDER BY gid LIMIT ?2 OFFSET ?3",
        )?;
        let rows = stmt.query_map(
            params![
                like_pattern(search.unwrap_or("")),
                limit as i64,
                offset as i64
            ],
            |r| r.get(0),
        )?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn group_display_name(&self, gid: &str) -> Result<Option<String>> {
        let conn = self.lock();
        let gid = require_group(&conn, gid)?;
        Ok(conn
            .cached_row(
                "SELECT display_name FROM group_names WHERE gid = ?1",
                [gid],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn set_group_display_name(&self, gid: &str, name: Option<&str>) -> Result<()> {
        self.write(|tx| {
            let gid = require_group(tx, gid)?;
            match name {
                Some(name) => tx.execute(
                    "INSERT INTO group_names (gid, display_name) VALUES (?1, ?2)
                     ON CONFLICT (gid) DO UPDATE SET display_name = ?2",
                    params![gid, name],
                )?,
                None => tx.execute("DELETE FROM group_names WHERE gid = ?1", [gid])?,
            };
            Ok(())
        })
    }

    fn group_counts(&self, gid: &str) -> Result<(u64, u64)> {
        let conn = self.lock();
        let gid = require_group(&conn, gid)?;
        Ok(conn.cached_row(
            "SELECT COUNT(*), COALESCE(SUM(NOT u.enabled), 0)
             FROM memberships m JOIN users u ON u.uid = m.uid WHERE m.gid = ?1",
            [gid],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    fn group_exists(&self, gid: &str) -> Result<bool> {
        match require_group(&self.lock(), gid) {
            Ok(_) => Ok(true),
            Err(StoreError::NoSuchGroup(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn members(&self, gid: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let gid = require_group(&conn, gid)?;
        let mut stmt =
            conn.prepare_cached("SELECT uid FROM memberships WHERE gid = ?1 ORDER BY uid")?;
        let rows = stmt.query_map([&gid], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn user_groups(&self, uid: &str) -> Result<Vec<String>> {
        let conn = self.lock();
        let uid = require_user(&conn, uid)?;
        let mut stmt =
            conn.prepare_cached("SELECT gid FROM memberships WHERE uid = ?1 ORDER BY gid")?;
        let rows = stmt.query_map([&uid], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn add_member(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|tx| {
            let gid = require_group(tx, gid)?;
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "INSERT OR IGNORE INTO memberships (gid, uid) VALUES (?1, ?2)",
                params![gid, uid],
            )? == 1)
        })
    }

    fn remove_member(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|tx| {
            let gid = require_group(tx, gid)?;
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "DELETE FROM memberships WHERE gid = ?1 AND uid = ?2",
                params![gid, uid],
            )? == 1)
        })
    }
}
