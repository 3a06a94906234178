//! Throttle failures and verifiers on PostgreSQL, shared by every node.

use tokio_postgres::Row;

use super::PostgresStore;
use crate::{LoginFailure, Result, SecurityStore, Verifier};

fn count(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn failure(r: &Row) -> LoginFailure {
    LoginFailure {
        login: r.get(0),
        source: r.get(1),
        failures: count(r.get(2)),
        last_failure: r.get(3),
    }
}

fn verifier(r: &Row) -> Verifier {
    Verifier {
        login: r.get(0),
        uid: r.get(1),
        verifier: r.get(2),
        verified_online: r.get(3),
        offline_failures: count(r.get(4)),
        last_offline_failure: r.get(5),
    }
}

impl SecurityStore for PostgresStore {
    fn login_failures(&self, since: i64) -> Result<Vec<LoginFailure>> {
        self.write(|db| {
            db.execute(
                "DELETE FROM login_failures WHERE last_failure < $1",
                &[&since],
            )?;
            Ok(db
                .query(
                    "SELECT login, source, failures, last_failure FROM login_failures",
                    &[],
                )?
                .iter()
                .map(failure)
                .collect())
        })
    }

    fn set_login_failure(&self, f: &LoginFailure) -> Result<()> {
        let failures = i64::from(f.failures);
        self.write_one(|db| {
            db.execute(
                "INSERT INTO login_failures (login, source, failures, last_failure) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (login, source) DO UPDATE SET failures = $3, last_failure = $4",
                &[&f.login, &f.source, &failures, &f.last_failure],
            )?;
            Ok(())
        })
    }

    fn add_login_failure(
        &self,
        login: &str,
        source: &str,
        now: i64,
        window_start: i64,
    ) -> Result<LoginFailure> {
        self.write_one(|db| {
            let row = db.query_one(
                "INSERT INTO login_failures (login, source, failures, last_failure) VALUES ($1, $2, 1, $3)
                 ON CONFLICT (login, source) DO UPDATE SET
                     failures = CASE WHEN login_failures.last_failure < $4 THEN 1
                                     ELSE login_failures.failures + 1 END,
                     last_failure = $3
                 RETURNING login, source, failures, last_failure",
                &[&login, &source, &now, &window_start],
            )?;
            Ok(failure(&row))
        })
    }

    fn login_failures_after(&self, after: i64) -> Result<Vec<LoginFailure>> {
        self.read(|db| {
            Ok(db
                .query(
                    "SELECT login, source, failures, last_failure FROM login_failures
                     WHERE last_failure > $1",
                    &[&after],
                )?
                .iter()
                .map(failure)
                .collect())
        })
    }

    fn clear_login_failures(&self, login: &str, source: &str) -> Result<()> {
        self.write_one(|db| {
            db.execute(
                "DELETE FROM login_failures WHERE login = $1 AND source = $2",
                &[&login, &source],
            )?;
            Ok(())
        })
    }

    fn prune_login_failures(&self, before: i64) -> Result<usize> {
        let keep = crate::MAX_LOGIN_FAILURES as i64;
        self.write(|db| {
            let old = db.execute(
                "DELETE FROM login_failures WHERE last_failure < $1",
                &[&before],
            )?;
            // Every host adds to this table: it keeps the newest pairs only,
            // as each host's memory does.
            let over = db.execute(
                "DELETE FROM login_failures WHERE (login, source) IN (
                     SELECT login, source FROM login_failures
                     ORDER BY last_failure DESC OFFSET $1)",
                &[&keep],
            )?;
            Ok(usize::try_from(old + over).unwrap_or(usize::MAX))
        })
    }

    fn verifier(&self, login: &str) -> Result<Option<Verifier>> {
        self.read(|db| {
            Ok(db
                .query_opt(
                    "SELECT login, uid, verifier, verified_online, offline_failures, last_offline_failure
                     FROM verifiers WHERE ab_fold(login) = ab_fold($1)",
                    &[&login],
                )?
                .as_ref()
                .map(verifier))
        })
    }

    fn set_verifier(&self, login: &str, uid: &str, verifier: &str, now: i64) -> Result<()> {
        self.write(|db| {
            db.execute(
                "INSERT INTO verifiers (login, uid, verifier, verified_online) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (ab_fold(login)) DO UPDATE SET uid = $2, verifier = $3, verified_online = $4,
                     offline_failures = 0, last_offline_failure = NULL",
                &[&login, &uid, &verifier, &now],
            )?;
            Ok(())
        })
    }

    fn confirm_verifier(&self, login: &str, now: i64) -> Result<()> {
        self.write(|db| {
            db.execute(
                "UPDATE verifiers SET verified_online = $2, offline_failures = 0, last_offline_failure = NULL
                 WHERE ab_fold(login) = ab_fold($1)",
                &[&login, &now],
            )?;
            Ok(())
        })
    }

    fn record_offline_failure(&self, login: &str, now: i64) -> Result<()> {
        self.write(|db| {
            db.execute(
                "UPDATE verifiers SET offline_failures = offline_failures + 1, last_offline_failure = $2
                 WHERE ab_fold(login) = ab_fold($1)",
                &[&login, &now],
            )?;
            Ok(())
        })
    }

    fn drop_verifiers(&self, uid: &str) -> Result<()> {
        self.write(|db| {
            db.execute("DELETE FROM verifiers WHERE uid = $1", &[&uid])?;
            Ok(())
        })
    }
}
