//! Throttle failures and verifiers on SQLite.

use rusqlite::{OptionalExtension, params};

use super::CachedRow as _;
use super::SqliteStore;
use crate::{LoginFailure, Result, SecurityStore, Verifier};

fn failure_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LoginFailure> {
    Ok(LoginFailure {
        login: r.get(0)?,
        source: r.get(1)?,
        failures: r.get(2)?,
        last_failure: r.get(3)?,
    })
}

impl SecurityStore for SqliteStore {
    fn login_failures(&self, since: i64) -> Result<Vec<LoginFailure>> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM login_failures WHERE last_failure < ?1",
                [since],
            )?;
            let mut stmt =
                tx.prepare("SELECT login, source, failures, last_failure FROM login_failures")?;
            let rows = stmt.query_map([], failure_row)?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    fn set_login_failure(&self, f: &LoginFailure) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO login_failures (login, source, failures, last_failure) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (login, source) DO UPDATE SET failures = ?3, last_failure = ?4",
                params![f.login, f.source, f.failures, f.last_failure],
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
        self.write(|tx| {
            Ok(tx.query_row(
                "INSERT INTO login_failures (login, source, failures, last_failure) VALUES (?1, ?2, 1, ?3)
                 ON CONFLICT (login, source) DO UPDATE SET
                     failures = CASE WHEN last_failure < ?4 THEN 1 ELSE failures + 1 END,
                     last_failure = ?3
                 RETURNING login, source, failures, last_failure",
                params![login, source, now, window_start],
                failure_row,
            )?)
        })
    }

    fn login_failures_after(&self, after: i64) -> Result<Vec<LoginFailure>> {
        let conn = self.lock();
        let mut stmt = conn.prepare_cached(
            "SELECT login, source, failures, last_failure FROM login_failures WHERE last_failure > ?1",
        )?;
        let rows = stmt.query_map([after], failure_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn prune_login_failures(&self, before: i64) -> Result<usize> {
        self.write(|tx| {
            Ok(tx.execute(
                "DELETE FROM login_failures WHERE last_failure < ?1",
                [before],
            )?)
        })
    }

    fn clear_login_failures(&self, login: &str, source: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "DELETE FROM login_failures WHERE login = ?1 AND source = ?2",
                params![login, source],
            )?;
            Ok(())
        })
    }

    fn verifier(&self, login: &str) -> Result<Option<Verifier>> {
        Ok(self
            .lock()
            .cached_row(
                "SELECT login, uid, verifier, verified_online, offline_failures, last_offline_failure
                 FROM verifiers WHERE login = ?1",
                [login],
                |r| {
                    Ok(Verifier {
                        login: r.get(0)?,
                        uid: r.get(1)?,
                        verifier: r.get(2)?,
                        verified_online: r.get(3)?,
                        offline_failures: r.get(4)?,
                        last_offline_failure: r.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    fn set_verifier(&self, login: &str, uid: &str, verifier: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "INSERT INTO verifiers (login, uid, verifier, verified_online) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (login) DO UPDATE SET uid = ?2, verifier = ?3, verified_online = ?4,
                     offline_failures = 0, last_offline_failure = NULL",
                params![login, uid, verifier, now],
            )?;
            Ok(())
        })
    }

    fn confirm_verifier(&self, login: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE verifiers SET verified_online = ?2, offline_failures = 0, last_offline_failure = NULL
                 WHERE login = ?1",
                params![login, now],
            )?;
            Ok(())
        })
    }

    fn record_offline_failure(&self, login: &str, now: i64) -> Result<()> {
        self.write(|tx| {
            tx.execute(
                "UPDATE verifiers SET offline_failures = offline_failures + 1, last_offline_failure = ?2
                 WHERE login = ?1",
                params![login, now],
            )?;
            Ok(())
        })
    }

    fn drop_verifiers(&self, uid: &str) -> Result<()> {
        self.write(|tx| {
            tx.execute("DELETE FROM verifiers WHERE uid = ?1", [uid])?;
            Ok(())
        })
    }
}
