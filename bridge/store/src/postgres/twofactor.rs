//! Second factors on PostgreSQL: every "use once" is one conditional UPDATE,
//! which the row lock makes first-come on every node.

use super::PostgresStore;
use super::accounts::{lock_user, require_user};
use crate::{Enforcement, Result, SecondFactors, StoreError, TotpSecret, TwoFactorStore};

fn small(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

impl TwoFactorStore for PostgresStore {
    fn second_factors(&self, uid: &str) -> Result<SecondFactors> {
        // One statement: this runs at every accepted login.
        self.read(|db| {
            db.query_opt(
                "SELECT
                    EXISTS (SELECT 1 FROM twofactor_totp t WHERE t.uid = u.uid AND t.confirmed),
                    (SELECT count(*) FROM twofactor_backup_codes b WHERE b.uid = u.uid AND NOT b.used),
                    (SELECT count(*) FROM twofactor_backup_codes b WHERE b.uid = u.uid),
                    (SELECT enforced FROM twofactor_enforcement)
                 FROM users u WHERE ab_fold(u.uid) = ab_fold($1)",
                &[&uid],
            )?
            .map(|r| SecondFactors {
                totp: r.get(0),
                backup_codes_left: small(r.get(1)),
                backup_codes: small(r.get(2)),
                enforcement_on: r.get(3),
            })
            .ok_or_else(|| StoreError::NoSuchUser(uid.to_owned()))
        })
    }

    fn totp_secret(&self, uid: &str) -> Result<Option<TotpSecret>> {
        self.read(|db| {
            let uid = require_user(db, uid)?;
            Ok(db
                .query_opt(
                    "SELECT uid, secret, confirmed, last_step, created FROM twofactor_totp WHERE uid = $1",
                    &[&uid],
                )?
                .map(|r| TotpSecret {
                    uid: r.get(0),
                    sealed: r.get(1),
                    confirmed: r.get(2),
                    last_step: r.get(3),
                    created: r.get(4),
                }))
        })
    }

    fn set_totp_secret(&self, uid: &str, sealed: &[u8], confirmed: bool, now: i64) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db.execute(
                "INSERT INTO twofactor_totp (uid, secret, confirmed, last_step, created)
                 VALUES ($1, $2, $3, -1, $4)
                 ON CONFLICT (uid) DO UPDATE SET secret = $2, confirmed = $3, last_step = -1, created = $4
                 WHERE $3 OR NOT twofactor_totp.confirmed",
                &[&uid, &sealed, &confirmed, &now],
            )? == 1)
        })
    }

    fn confirm_totp(&self, uid: &str, sealed: &[u8], step: i64) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db.execute(
                "UPDATE twofactor_totp SET confirmed = true, last_step = $3
                 WHERE uid = $1 AND secret = $2 AND NOT confirmed",
                &[&uid, &sealed, &step],
            )? == 1)
        })
    }

    fn use_totp_step(&self, uid: &str, step: i64) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db.execute(
                "UPDATE twofactor_totp SET last_step = $2
                 WHERE uid = $1 AND confirmed AND last_step < $2",
                &[&uid, &step],
            )? == 1)
        })
    }

    fn delete_totp(&self, uid: &str) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db.execute("DELETE FROM twofactor_totp WHERE uid = $1", &[&uid])? == 1)
        })
    }

    fn set_backup_codes(&self, uid: &str, hashes: &[[u8; 32]]) -> Result<()> {
        self.write(|db| {
            let uid = lock_user(db, uid)?;
            db.execute("DELETE FROM twofactor_backup_codes WHERE uid = $1", &[&uid])?;
            for hash in hashes {
                db.execute(
                    "INSERT INTO twofactor_backup_codes (uid, hash, used) VALUES ($1, $2, false)
                     ON CONFLICT DO NOTHING",
                    &[&uid, &&hash[..]],
                )?;
            }
            Ok(())
        })
    }

    fn use_backup_code(&self, uid: &str, hash: &[u8; 32]) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db.execute(
                "UPDATE twofactor_backup_codes SET used = true WHERE uid = $1 AND hash = $2 AND NOT used",
                &[&uid, &&hash[..]],
            )? == 1)
        })
    }

    fn delete_backup_codes(&self, uid: &str) -> Result<bool> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            Ok(db.execute("DELETE FROM twofactor_backup_codes WHERE uid = $1", &[&uid])? > 0)
        })
    }

    fn start_code_attempt(
        &self,
        uid: &str,
        now: i64,
        wait: &dyn Fn(u32, i64) -> i64,
    ) -> Result<std::result::Result<u32, i64>> {
        self.write(|db| {
            // The user's row lock makes simultaneous attempts on every node
            // take turns: each sees the count the one before it left.
            let uid = lock_user(db, uid)?;
            let (failures, last) = db
                .query_opt(
                    "SELECT failures, last_failure FROM twofactor_failures WHERE uid = $1",
                    &[&uid],
                )?
                .map(|r| (small(r.get(0)), r.get::<_, i64>(1)))
                .unwrap_or((0, 0));
            let left = wait(failures, last);
            if left > 0 {
                return Ok(Err(left));
            }
            db.execute(
                "INSERT INTO twofactor_failures (uid, failures, last_failure) VALUES ($1, 1, $2)
                 ON CONFLICT (uid) DO UPDATE SET failures = twofactor_failures.failures + 1, last_failure = $2",
                &[&uid, &now],
            )?;
            Ok(Ok(failures))
        })
    }

    fn code_failures(&self, uid: &str) -> Result<(u32, i64)> {
        self.read(|db| {
            let uid = require_user(db, uid)?;
            Ok(db
                .query_opt(
                    "SELECT failures, last_failure FROM twofactor_failures WHERE uid = $1",
                    &[&uid],
                )?
                .map(|r| (small(r.get(0)), r.get(1)))
                .unwrap_or((0, 0)))
        })
    }

    fn clear_code_failures(&self, uid: &str) -> Result<()> {
        self.write(|db| {
            let uid = require_user(db, uid)?;
            db.execute("DELETE FROM twofactor_failures WHERE uid = $1", &[&uid])?;
            Ok(())
        })
    }

    fn cleanup_provider(&self, provider: &str) -> Result<usize> {
        self.write(|db| {
            let gone = match provider {
                "totp" => db.execute("DELETE FROM twofactor_totp", &[])?,
                "backup_codes" => {
                    let users: i64 = db
                        .query_one(
                            "SELECT count(DISTINCT uid) FROM twofactor_backup_codes",
                            &[],
                        )?
                        .get(0);
                    db.execute("DELETE FROM twofactor_backup_codes", &[])?;
                    users as u64
                }
                _ => 0,
            };
            Ok(usize::try_from(gone).unwrap_or(usize::MAX))
        })
    }

    fn enforcement(&self) -> Result<Enforcement> {
        self.read(|db| {
            let enforced: bool = db
                .query_one("SELECT enforced FROM twofactor_enforcement", &[])?
                .get(0);
            let mut enforcement = Enforcement {
                enforced,
                ..Enforcement::default()
            };
            for row in db.query(
                "SELECT gid, excluded FROM twofactor_enforcement_groups ORDER BY position",
                &[],
            )? {
                match row.get::<_, bool>(1) {
                    false => enforcement.groups.push(row.get(0)),
                    true => enforcement.excluded.push(row.get(0)),
                }
            }
            Ok(enforcement)
        })
    }

    fn set_enforcement(&self, e: &Enforcement) -> Result<()> {
        self.write(|db| {
            db.execute(
                "UPDATE twofactor_enforcement SET enforced = $1",
                &[&e.enforced],
            )?;
            db.execute("DELETE FROM twofactor_enforcement_groups", &[])?;
            for (list, excluded) in [(&e.groups, false), (&e.excluded, true)] {
                for gid in list {
                    db.execute(
                        "INSERT INTO twofactor_enforcement_groups (gid, excluded) VALUES ($1, $2)
                         ON CONFLICT DO NOTHING",
                        &[&gid, &excluded],
                    )?;
                }
            }
            Ok(())
        })
    }
}
