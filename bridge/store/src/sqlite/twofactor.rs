//! Second factors on SQLite: every "use once" is one conditional UPDATE.

use rusqlite::{OptionalExtension, params};

use super::CachedRow as _;
use super::{SqliteStore, require_user};
use crate::{Enforcement, Result, SecondFactors, TotpSecret, TwoFactorStore};

impl TwoFactorStore for SqliteStore {
    fn second_factors(&self, uid: &str) -> Result<SecondFactors> {
        let read = || {
            // One statement: this runs at every accepted login.
            self.lock()
                .cached_row(
                    "SELECT
                        EXISTS (SELECT 1 FROM twofactor_totp t WHERE t.uid = u.uid AND t.confirmed),
                        (SELECT count(*) FROM twofactor_backup_codes b WHERE b.uid = u.uid AND NOT b.used),
                        (SELECT count(*) FROM twofactor_backup_codes b WHERE b.uid = u.uid),
                        (SELECT enforced FROM twofactor_enforcement)
                     FROM users u WHERE u.uid = ?1",
                    [uid],
                    |r| {
                        Ok(SecondFactors {
                            totp: r.get(0)?,
                            backup_codes_left: r.get(1)?,
                            backup_codes: r.get(2)?,
                            enforcement_on: r.get(3)?,
                        })
                    },
                )
                .optional()?
                .ok_or_else(|| crate::StoreError::NoSuchUser(uid.to_owned()))
        };
        self.memo
            .read(|k| &mut k.second_factors, uid.as_bytes(), read, |_| true)
    }

    fn totp_secret(&self, uid: &str) -> Result<Option<TotpSecret>> {
        let conn = self.lock();
        let uid = require_user(&conn, uid)?;
        Ok(conn
            .cached_row(
                "SELECT uid, secret, confirmed, last_step, created FROM twofactor_totp WHERE uid = ?1",
                [&uid],
                |r| {
                    Ok(TotpSecret {
                        uid: r.get(0)?,
                        sealed: r.get(1)?,
                        confirmed: r.get(2)?,
                        last_step: r.get(3)?,
                        created: r.get(4)?,
                    })
                },
            )
            .optional()?)
    }

    fn set_totp_secret(&self, uid: &str, sealed: &[u8], confirmed: bool, now: i64) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "INSERT INTO twofactor_totp (uid, secret, confirmed, last_step, created)
                 VALUES (?1, ?2, ?3, -1, ?4)
                 ON CONFLICT (uid) DO UPDATE SET secret = ?2, confirmed = ?3, last_step = -1, created = ?4
                 WHERE ?3 OR NOT twofactor_totp.confirmed",
                params![uid, sealed, confirmed, now],
            )? == 1)
        })
    }

    fn confirm_totp(&self, uid: &str, sealed: &[u8], step: i64) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "UPDATE twofactor_totp SET confirmed = 1, last_step = ?3
                 WHERE uid = ?1 AND secret = ?2 AND NOT confirmed",
                params![uid, sealed, step],
            )? == 1)
        })
    }

    fn use_totp_step(&self, uid: &str, step: i64) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "UPDATE twofactor_totp SET last_step = ?2
                 WHERE uid = ?1 AND confirmed AND last_step < ?2",
                params![uid, step],
            )? == 1)
        })
    }

    fn delete_totp(&self, uid: &str) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute("DELETE FROM twofactor_totp WHERE uid = ?1", [uid])? == 1)
        })
    }

    fn set_backup_codes(&self, uid: &str, hashes: &[[u8; 32]]) -> Result<()> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            tx.execute("DELETE FROM twofactor_backup_codes WHERE uid = ?1", [&uid])?;
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO twofactor_backup_codes (uid, hash, used) VALUES (?1, ?2, 0)",
            )?;
            for hash in hashes {
                insert.execute(params![uid, &hash[..]])?;
            }
            Ok(())
        })
    }

    fn use_backup_code(&self, uid: &str, hash: &[u8; 32]) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute(
                "UPDATE twofactor_backup_codes SET used = 1 WHERE uid = ?1 AND hash = ?2 AND NOT used",
                params![uid, &hash[..]],
            )? == 1)
        })
    }

    fn delete_backup_codes(&self, uid: &str) -> Result<bool> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            Ok(tx.execute("DELETE FROM twofactor_backup_codes WHERE uid = ?1", [uid])? > 0)
        })
    }

    fn start_code_attempt(
        &self,
        uid: &str,
        now: i64,
        wait: &dyn Fn(u32, i64) -> i64,
    ) -> Result<std::result::Result<u32, i64>> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            let (failures, last): (u32, i64) = tx
                .query_row(
                    "SELECT failures, last_failure FROM twofactor_failures WHERE uid = ?1",
                    [&uid],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()?
                .unwrap_or((0, 0));
            let left = wait(failures, last);
            if left > 0 {
                return Ok(Err(left));
            }
            tx.execute(
                "INSERT INTO twofactor_failures (uid, failures, last_failure) VALUES (?1, 1, ?2)
                 ON CONFLICT (uid) DO UPDATE SET failures = failures + 1, last_failure = ?2",
                params![uid, now],
            )?;
            Ok(Ok(failures))
        })
    }

    fn code_failures(&self, uid: &str) -> Result<(u32, i64)> {
        let conn = self.lock();
        let uid = require_user(&conn, uid)?;
        Ok(conn
            .cached_row(
                "SELECT failures, last_failure FROM twofactor_failures WHERE uid = ?1",
                [&uid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?
            .unwrap_or((0, 0)))
    }

    fn clear_code_failures(&self, uid: &str) -> Result<()> {
        self.write(|tx| {
            let uid = require_user(tx, uid)?;
            tx.execute("DELETE FROM twofactor_failures WHERE uid = ?1", [uid])?;
            Ok(())
        })
    }

    fn cleanup_provider(&self, provider: &str) -> Result<usize> {
        self.write(|tx| {
            Ok(match provider {
                "totp" => tx.execute("DELETE FROM twofactor_totp", [])?,
                "backup_codes" => {
                    let users: usize = tx.query_row(
                        "SELECT count(DISTINCT uid) FROM twofactor_backup_codes",
                        [],
                        |r| r.get(0),
                    )?;
                    tx.execute("DELETE FROM twofactor_backup_codes", [])?;
                    users
                }
                _ => 0,
            })
        })
    }

    fn enforcement(&self) -> Result<Enforcement> {
        let conn = self.lock();
        let enforced: bool =
            conn.cached_row("SELECT enforced FROM twofactor_enforcement", [], |r| {
                r.get(0)
            })?;
        let mut stmt = conn.prepare_cached(
            "SELECT gid, excluded FROM twofactor_enforcement_groups ORDER BY rowid",
        )?;
        let mut enforcement = Enforcement {
            enforced,
            ..Enforcement::default()
        };
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, bool>(1)?)))?;
        for row in rows {
            match row? {
                (gid, false) => enforcement.groups.push(gid),
                (gid, true) => enforcement.excluded.push(gid),
            }
        }
        Ok(enforcement)
    }

    fn set_enforcement(&self, e: &Enforcement) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE twofactor_enforcement SET enforced = ?1",
                [e.enforced],
            )?;
            tx.execute("DELETE FROM twofactor_enforcement_groups", [])?;
            let mut insert = tx.prepare(
                "INSERT OR IGNORE INTO twofactor_enforcement_groups (gid, excluded) VALUES (?1, ?2)",
            )?;
            for (list, excluded) in [(&e.groups, false), (&e.excluded, true)] {
                for gid in list {
                    insert.execute(params![gid, excluded])?;
                }
            }
            Ok(())
        })
    }
}
