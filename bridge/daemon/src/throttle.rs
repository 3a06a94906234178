//! Brute-force throttling as Nextcloud's: every failure for a (login, source)
//! doubles the delay before that pair may try again, up to a maximum; a success
//! clears it. An attempt inside the delay is answered at once and reaches no
//! backend. The state is written through to the store, so a restart forgets nothing.

use authbridge_store::{LoginFailure, SecurityStore, SqliteStore};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::settings::ThrottleSettings;

type Key = (String, String);

pub struct Throttle {
    store: Arc<SqliteStore>,
    /// (failures, last failure in unix ms), mirrored from the store so a check
    /// costs no query.
    failures: Mutex<HashMap<Key, (u32, i64)>>,
    /// Pairs with an attempt waiting out its delay right now.
    waiting: Mutex<std::collections::HashSet<Key>>,
}

/// What to do with an attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission<'a> {
    Go,
    /// Wait this long first; the pair counts as waiting until the ticket drops
    /// (also when the request is cancelled mid-wait).
    WaitThenGo(Duration, WaitTicket<'a>),
    /// Refuse at once: the delay has this long left.
    Refuse(Duration),
}

/// The delay after `failures` failures: first_delay doubled per further failure.
pub fn delay_after(failures: u32, settings: &ThrottleSettings) -> Duration {
    if failures == 0 {
        return Duration::ZERO;
    }
    let doublings = (failures - 1).min(31);
    settings
        .first_delay
        .checked_mul(1u32 << doublings)
        .unwrap_or(settings.max_delay)
        .min(settings.max_delay)
}

#[derive(Debug)]
pub struct WaitTicket<'a> {
    throttle: &'a Throttle,
    key: Key,
}

impl PartialEq for WaitTicket<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for WaitTicket<'_> {}

impl Drop for WaitTicket<'_> {
    fn drop(&mut self) {
        self.throttle
            .waiting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.key);
    }
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Throttle")
    }
}

impl Throttle {
    /// Loads the failures still inside the window.
    pub fn load(
        store: Arc<SqliteStore>,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) -> authbridge_store::Result<Throttle> {
        let since = now_ms - settings.window.as_millis() as i64;
        let failures = store
            .login_failures(since)?
            .into_iter()
            .map(|f| ((f.login, f.source), (f.failures, f.last_failure)))
            .collect();
        Ok(Throttle {
            store,
            failures: Mutex::new(failures),
            waiting: Mutex::new(Default::default()),
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (u32, i64)>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long this pair must still wait, if at all.
    pub fn wait(
        &self,
        login: &str,
        source: &str,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) -> Option<Duration> {
        let map = self.map();
        let &(failures, last) = map.get(&(login.to_owned(), source.to_owned()))?;
        if now_ms - last > settings.window.as_millis() as i64 {
            return None;
        }
        let until = last + delay_after(failures, settings).as_millis() as i64;
        (now_ms < until).then(|| Duration::from_millis((until - now_ms) as u64))
    }

    /// Go, wait first (at most `max_wait`, one waiter per pair), or refuse.
    pub fn admit(
        &self,
        login: &str,
        source: &str,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) -> Admission<'_> {
        let Some(left) = self.wait(login, source, settings, now_ms) else {
            return Admission::Go;
        };
        if left > settings.max_wait {
            return Admission::Refuse(left);
        }
        let mut waiting = self.waiting.lock().unwrap_or_else(|p| p.into_inner());
        let key = (login.to_owned(), source.to_owned());
        if waiting.insert(key.clone()) {
            Admission::WaitThenGo(
                left,
                WaitTicket {
                    throttle: self,
                    key,
                },
            )
        } else {
            Admission::Refuse(left)
        }
    }

    pub fn failed(&self, login: &str, source: &str, settings: &ThrottleSettings, now_ms: i64) {
        let failure = {
            let mut map = self.map();
            let entry = map
                .entry((login.to_owned(), source.to_owned()))
                .or_insert((0, now_ms));
            if now_ms - entry.1 > settings.window.as_millis() as i64 {
                entry.0 = 0;
            }
            entry.0 = entry.0.saturating_add(1);
            entry.1 = now_ms;
            LoginFailure {
                login: login.to_owned(),
                source: source.to_owned(),
                failures: entry.0,
                last_failure: now_ms,
            }
        };
        if let Err(e) = self.store.set_login_failure(&failure) {
            tracing::warn!(login, source, "login failure not persisted: {e}");
        }
    }

    pub fn succeeded(&self, login: &str, source: &str) {
        let had = self
            .map()
            .remove(&(login.to_owned(), source.to_owned()))
            .is_some();
        // Only a pair that failed before costs a write.
        if had && let Err(e) = self.store.clear_login_failures(login, source) {
            tracing::warn!(
                login,
                source,
                "login failures not cleared in the store: {e}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(25),
            window: Duration::from_secs(3600),
            max_wait: Duration::from_millis(500),
        }
    }

    #[test]
    fn short_delays_are_waited_out_by_one_attempt_long_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        let s = settings();
        let t = Throttle::load(store, &s, 0).unwrap();
        assert_eq!(t.admit("eve", "x", &s, 0), Admission::Go);
        t.failed("eve", "x", &s, 0);
        let first = t.admit("eve", "x", &s, 10);
        assert!(matches!(first, Admission::WaitThenGo(d, _) if d == Duration::from_millis(90)));
        // A second attempt while the first waits is refused.
        assert_eq!(
            t.admit("eve", "x", &s, 20),
            Admission::Refuse(Duration::from_millis(80))
        );
        drop(first);
        assert!(matches!(
            t.admit("eve", "x", &s, 20),
            Admission::WaitThenGo(..)
        ));
        for at in 1..=4 {
            t.failed("eve", "x", &s, at);
        }
        // Five failures: 1.6 s left, more than max_wait.
        assert_eq!(
            t.admit("eve", "x", &s, 4),
            Admission::Refuse(Duration::from_millis(1600))
        );
    }

    #[test]
    fn the_delay_doubles_up_to_the_maximum() {
        let s = settings();
        let delays: Vec<u128> = (0..12).map(|n| delay_after(n, &s).as_millis()).collect();
        assert_eq!(
            delays,
            [
                0, 100, 200, 400, 800, 1600, 3200, 6400, 12800, 25000, 25000, 25000
            ]
        );
        assert_eq!(delay_after(u32::MAX, &s), s.max_delay);
    }

    #[test]
    fn failures_survive_a_restart_and_a_success_clears_them() {
        let dir = tempfile::tempdir().unwrap();
        let open = || Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        let s = settings();
        let throttle = Throttle::load(open(), &s, 0).unwrap();
        throttle.failed("alice", "192.0.2.7", &s, 1_000);
        throttle.failed("alice", "192.0.2.7", &s, 1_050);
        assert_eq!(
            throttle.wait("alice", "192.0.2.7", &s, 1_100),
            Some(Duration::from_millis(150))
        );
        assert_eq!(
            throttle.wait("alice", "198.51.100.1", &s, 1_100),
            None,
            "other source"
        );
        assert_eq!(
            throttle.wait("alice", "192.0.2.7", &s, 1_250),
            None,
            "delay over"
        );
        drop(throttle);

        let again = Throttle::load(open(), &s, 1_100).unwrap();
        assert_eq!(
            again.wait("alice", "192.0.2.7", &s, 1_100),
            Some(Duration::from_millis(150))
        );
        again.succeeded("alice", "192.0.2.7");
        drop(again);
        let cleared = Throttle::load(open(), &s, 1_100).unwrap();
        assert_eq!(cleared.wait("alice", "192.0.2.7", &s, 1_100), None);
    }

    #[test]
    fn failures_outside_the_window_start_over() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        let s = settings();
        let throttle = Throttle::load(store, &s, 0).unwrap();
        for at in 0..5 {
            throttle.failed("bob", "peer", &s, at);
        }
        let later = 3_600_000 + 10;
        assert_eq!(throttle.wait("bob", "peer", &s, later), None);
        throttle.failed("bob", "peer", &s, later);
        assert_eq!(
            throttle.wait("bob", "peer", &s, later),
            Some(Duration::from_millis(100))
        );
    }
}
