//! Accounts and groups on PostgreSQL.

use tokio_postgres::Row;

use super::{Db, PostgresStore};
use crate::{
    CredentialState, LOCAL_BACKEND, NewUser, Report, Result, Store, StoreError, User, UserQuery,
    validate_gid, validate_uid,
};

const USER_COLUMNS_BY_UID: &str = "SELECT uid, display_name, email, backend, enabled, first_seen, last_seen, quota, language, welcome_pending
     FROM users WHERE ab_fold(uid) = ab_fold($1)";

fn user_from_row(r: &Row) -> User {
    User {
        uid: r.get(0),
        display_name: r.get(1),
        email: r.get(2),
        backend: r.get(3),
        enabled: r.get(4),
        first_seen: r.get(5),
        last_seen: r.get(6),
        quota: r.get(7),
        language: r.get(8),
        welcome_pending: r.get(9),
    }
}

pub(super) fn get_user(db: &mut Db<'_>, uid: &str) -> Result<User> {
    db.query_opt(USER_COLUMNS_BY_UID, &[&uid])?
        .map(|r| user_from_row(&r))
        .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
}

/// The user's id as stored (ids are unique regardless of ASCII case): every
/// row that names a user holds this spelling, never the caller's.
pub(super) fn require_user(db: &mut Db<'_>, uid: &str) -> Result<String> {
    db.query_opt(
        "SELECT uid FROM users WHERE ab_fold(uid) = ab_fold($1)",
        &[&uid],
    )?
    .map(|r| r.get(0))
    .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
}

/// As [`require_user`], and the user's row stays locked until the transaction
/// ends: a read-then-write on the user's rows cannot interleave with another
/// node's.
pub(super) fn lock_user(db: &mut Db<'_>, uid: &str) -> Result<String> {
    db.query_opt(
        "SELECT uid FROM users WHERE ab_fold(uid) = ab_fold($1) FOR UPDATE",
        &[&uid],
    )?
    .map(|r| r.get(0))
    .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
}

/// The group's id as stored.
pub(super) fn require_group(db: &mut Db<'_>, gid: &str) -> Result<String> {
    db.query_opt(
        "SELECT gid FROM groups WHERE ab_fold(gid) = ab_fold($1)",
        &[&gid],
    )?
    .map(|r| r.get(0))
    .ok_or_else(|| StoreError::NoSuchGroup(gid.to_owned()))
}

/// An UPDATE or DELETE of one user's row: no row touched means no such user.
pub(super) fn user_row(changed: u64, uid: &str) -> Result<()> {
    match changed {
        0 => Err(StoreError::NoSuchUser(uid.to_owned())),
        _ => Ok(()),
    }
}

/// Every password link of the user stops working (a newer link, a new
/// password, a changed address, a disabled account).
pub(super) fn drop_password_tokens(db: &mut Db<'_>, uid: &str) -> Result<()> {
    db.execute(
        "DELETE FROM password_tokens WHERE uid = (SELECT uid FROM users WHERE ab_fold(uid) = ab_fold($1))",
        &[&uid],
    )?;
    Ok(())
}

/// Creates the group when missing; returns its id as stored. Looked up first:
/// an insert that conflicts would still have cost a row lock on the id
/// allocator.
fn ensure_group(db: &mut Db<'_>, gid: &str, now: i64) -> Result<String> {
    if let Some(row) = db.query_opt(
        "SELECT gid FROM groups WHERE ab_fold(gid) = ab_fold($1)",
        &[&gid],
    )? {
        return Ok(row.get(0));
    }
    db.execute(
        "INSERT INTO groups (gid, created) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&gid, &now],
    )?;
    require_group(db, gid)
}

fn join(db: &mut Db<'_>, gid: &str, uid: &str) -> Result<bool> {
    Ok(db.execute(
        "INSERT INTO memberships (gid, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        &[&gid, &uid],
    )? == 1)
}

/// `LIKE` pattern matching `search` anywhere, with its wildcards escaped;
/// compared folded, as SQLite's LIKE compares (ASCII case only).
pub(super) fn like_pattern(search: &str) -> String {
    let escaped = search
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

impl Store for PostgresStore {
    fn create_user(&self, user: &NewUser, now: i64) -> Result<User> {
        validate_uid(&user.uid)?;
        for gid in &user.groups {
            validate_gid(gid)?;
        }
        self.write(|db| {
            let inserted = db.execute(
                "INSERT INTO users (uid, display_name, email, backend, password_hash, welcome_pending, created, quota, language)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT DO NOTHING",
                &[
                    &user.uid,
                    &user.display_name,
                    &user.email,
                    &user.backend,
                    &user.password_hash,
                    &user.welcome_pending,
                    &now,
                    &user.quota,
                    &user.language,
                ],
            )?;
            if inserted == 0 {
                return Err(StoreError::UserExists(user.uid.clone()));
            }
            for gid in &user.groups {
                let gid = ensure_group(db, gid, now)?;
                join(db, &gid, &user.uid)?;
            }
            for gid in &user.subadmin_of {
                let gid = require_group(db, gid)?;
                db.execute(
                    "INSERT INTO subadmins (gid, uid) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                    &[&gid, &user.uid],
                )?;
            }
            get_user(db, &user.uid)
        })
    }

    fn user(&self, uid: &str) -> Result<User> {
        self.read(|db| get_user(db, uid))
    }

    fn users(&self, q: &UserQuery) -> Result<Vec<User>> {
        let pattern = like_pattern(q.search.as_deref().unwrap_or(""));
        let limit = i64::try_from(q.limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(q.offset).unwrap_or(i64::MAX);
        self.read(|db| {
            let rows = db.query(
                "SELECT uid, display_name, email, backend, enabled, first_seen, last_seen, quota, language, welcome_pending
                 FROM users
                 WHERE (ab_fold(uid) LIKE ab_fold($1) OR ab_fold(display_name) LIKE ab_fold($1)
                        OR ab_fold(email) LIKE ab_fold($1))
                   AND (NOT $2 OR NOT enabled)
                 ORDER BY ab_fold(uid) COLLATE \"C\" LIMIT $3 OFFSET $4",
                &[&pattern, &q.disabled_only, &limit, &offset],
            )?;
            Ok(rows.iter().map(user_from_row).collect())
        })
    }

    fn delete_user(&self, uid: &str) -> Result<()> {
        // Memberships, subadmin rights, app passwords, settings and profile go
        // with the user (ON DELETE CASCADE).
        self.write(|db| {
            user_row(
                db.execute(
                    "DELETE FROM users WHERE ab_fold(uid) = ab_fold($1)",
                    &[&uid],
                )?,
                uid,
            )
        })
    }

    fn set_enabled(&self, uid: &str, enabled: bool) -> Result<()> {
        self.write(|db| {
            let uid = lock_user(db, uid)?;
            if !enabled {
                db.execute("DELETE FROM verifiers WHERE uid = $1", &[&uid])?;
                drop_password_tokens(db, &uid)?;
            }
            db.execute(
                "UPDATE users SET enabled = $2 WHERE uid = $1",
                &[&uid, &enabled],
            )?;
            Ok(())
        })
    }

    fn password_hash(&self, uid: &str) -> Result<Option<String>> {
        self.read(|db| {
            db.query_opt(
                "SELECT password_hash FROM users WHERE ab_fold(uid) = ab_fold($1)",
                &[&uid],
            )?
            .map(|r| r.get(0))
            .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
        })
    }

    fn credential_state(&self, uid: &str) -> Result<CredentialState> {
        self.read(|db| {
            db.query_opt(
                "SELECT enabled, backend, password_hash FROM users WHERE ab_fold(uid) = ab_fold($1)",
                &[&uid],
            )?
            .map(|r| CredentialState {
                enabled: r.get(0),
                backend: r.get(1),
                password_hash: r.get(2),
            })
            .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
        })
    }

    fn set_password_hash(&self, uid: &str, hash: Option<&str>) -> Result<()> {
        self.write(|db| {
            let uid = lock_user(db, uid)?;
            db.execute("DELETE FROM verifiers WHERE uid = $1", &[&uid])?;
            drop_password_tokens(db, &uid)?;
            db.execute(
                "UPDATE users SET password_hash = $2 WHERE uid = $1",
                &[&uid, &hash],
            )?;
            Ok(())
        })
    }

    fn record_login(&self, uid: &str, backend: &str, groups: &[String], now: i64) -> Result<User> {
        self.write(|db| {
            // An update first: the insert path runs once per account, not on
            // every login.
            let seen = db.execute(
                "UPDATE users SET last_seen = $2, first_seen = coalesce(first_seen, $2)
                 WHERE ab_fold(uid) = ab_fold($1)",
                &[&uid, &now],
            )?;
            if seen == 0 {
                db.execute(
                    "INSERT INTO users (uid, backend, first_seen, last_seen, created) VALUES ($1, $2, $3, $3, $3)
                     ON CONFLICT (ab_fold(uid)) DO UPDATE
                     SET last_seen = $3, first_seen = coalesce(users.first_seen, $3)",
                    &[&uid, &backend, &now],
                )?;
            }
            let uid = require_user(db, uid)?;
            for gid in groups {
                let gid = ensure_group(db, gid, now)?;
                join(db, &gid, &uid)?;
            }
            get_user(db, &uid)
        })
    }

    fn sync_account(&self, uid: &str, groups: &[String], now: i64) -> Result<bool> {
        self.write(|db| {
            let user = get_user(db, uid)?;
            if user.backend == LOCAL_BACKEND {
                return Ok(false);
            }
            let mut changed = false;
            for gid in groups {
                let gid = ensure_group(db, gid, now)?;
                changed |= join(db, &gid, &user.uid)?;
            }
            Ok(changed)
        })
    }

    fn touch_last_seen(&self, uid: &str, now: i64) -> Result<()> {
        self.write(|db| {
            user_row(
                db.execute(
                    "UPDATE users SET last_seen = $2, first_seen = coalesce(first_seen, $2)
                     WHERE ab_fold(uid) = ab_fold($1)",
                    &[&uid, &now],
                )?,
                uid,
            )
        })
    }

    fn note_login(&self, uid: &str, now: i64, min_interval: i64) -> Result<()> {
        let seen: Option<Option<i64>> = self.read(|db| {
            Ok(db
                .query_opt(
                    "SELECT last_seen FROM users WHERE ab_fold(uid) = ab_fold($1)",
                    &[&uid],
                )?
                .map(|r| r.get(0)))
        })?;
        match seen {
            None => Err(StoreError::NoSuchUser(uid.to_owned())),
            Some(Some(last)) if now.saturating_sub(last) < min_interval => Ok(()),
            Some(_) => self.touch_last_seen(uid, now),
        }
    }

    fn report(&self) -> Result<Report> {
        self.read(|db| {
            let per_backend = db
                .query(
                    "SELECT backend, count(*) FROM users GROUP BY backend ORDER BY backend COLLATE \"C\"",
                    &[],
                )?
                .iter()
                .map(|r| (r.get::<_, String>(0), count(r.get(1))))
                .collect();
            let totals = db.query_one(
                "SELECT count(*), count(last_seen), count(*) FILTER (WHERE NOT enabled) FROM users",
                &[],
            )?;
            Ok(Report {
                per_backend,
                total: count(totals.get(0)),
                active: count(totals.get(1)),
                disabled: count(totals.get(2)),
            })
        })
    }

    fn create_group(&self, gid: &str, now: i64) -> Result<()> {
        validate_gid(gid)?;
        self.write(|db| {
            match db.execute(
                "INSERT INTO groups (gid, created) VALUES ($1, $2) ON CONFLICT DO NOTHING",
                &[&gid, &now],
            )? {
                0 => Err(StoreError::GroupExists(gid.to_owned())),
                _ => Ok(()),
            }
        })
    }

    fn group_display_name(&self, gid: &str) -> Result<Option<String>> {
        self.read(|db| {
            let gid = require_group(db, gid)?;
            Ok(db
                .query_opt(
                    "SELECT display_name FROM group_names WHERE gid = $1",
                    &[&gid],
                )?
                .map(|r| r.get(0)))
        })
    }

    fn set_group_display_name(&self, gid: &str, name: Option<&str>) -> Result<()> {
        self.write(|db| {
            let gid = require_group(db, gid)?;
            match name {
                Some(name) => db.execute(
                    "INSERT INTO group_names (gid, display_name) VALUES ($1, $2)
                     ON CONFLICT (gid) DO UPDATE SET display_name = $2",
                    &[&gid, &name],
                )?,
                None => db.execute("DELETE FROM group_names WHERE gid = $1", &[&gid])?,
            };
            Ok(())
        })
    }

    fn group_counts(&self, gid: &str) -> Result<(u64, u64)> {
        self.read(|db| {
            let gid = require_group(db, gid)?;
            let row = db.query_one(
                "SELECT count(*), count(*) FILTER (WHERE NOT u.enabled)
                 FROM memberships m JOIN users u ON u.uid = m.uid WHERE m.gid = $1",
                &[&gid],
            )?;
            Ok((count(row.get(0)), count(row.get(1))))
        })
    }

    fn delete_group(&self, gid: &str) -> Result<()> {
        if gid.eq_ignore_ascii_case("admin") {
            return Err(StoreError::AdminGroup);
        }
        self.write(|db| {
            match db.execute(
                "DELETE FROM groups WHERE ab_fold(gid) = ab_fold($1)",
                &[&gid],
            )? {
                0 => Err(StoreError::NoSuchGroup(gid.to_owned())),
                _ => Ok(()),
            }
        })
    }

    fn groups(&self, search: Option<&str>, limit: usize, offset: usize) -> Result<Vec<String>> {
        let pattern = like_pattern(search.unwrap_or(""));
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        self.read(|db| {
            Ok(db
                .query(
                    "SELECT gid FROM groups WHERE ab_fold(gid) LIKE ab_fold($1)
                     ORDER BY ab_fold(gid) COLLATE \"C\" LIMIT $2 OFFSET $3",
                    &[&pattern, &limit, &offset],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn group_exists(&self, gid: &str) -> Result<bool> {
        match self.read(|db| require_group(db, gid)) {
            Ok(_) => Ok(true),
            Err(StoreError::NoSuchGroup(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    fn members(&self, gid: &str) -> Result<Vec<String>> {
        self.read(|db| {
            let gid = require_group(db, gid)?;
            Ok(db
                .query(
                    "SELECT uid FROM memberships WHERE gid = $1 ORDER BY uid COLLATE \"C\"",
                    &[&gid],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn user_groups(&self, uid: &str) -> Result<Vec<String>> {
        self.read(|db| {
            let uid = require_user(db, uid)?;
            Ok(db
                .query(
                    "SELECT gid FROM memberships WHERE uid = $1 ORDER BY gid COLLATE \"C\"",
                    &[&uid],
                )?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn add_member(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|db| {
            let gid = require_group(db, gid)?;
            let uid = require_user(db, uid)?;
            join(db, &gid, &uid)
        })
    }

    fn remove_member(&self, gid: &str, uid: &str) -> Result<bool> {
        self.write(|db| {
            let gid = require_group(db, gid)?;
            let uid = require_user(db, uid)?;
            Ok(db.execute(
                "DELETE FROM memberships WHERE gid = $1 AND uid = $2",
                &[&gid, &uid],
            )? == 1)
        })
    }
}
