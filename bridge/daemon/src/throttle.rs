//! Brute-force throttling as Nextcloud's: every failure for a (login, source)
//! doubles the delay before that pair may try again, up to a maximum; a success
//! clears it. An attempt inside the delay is answered at once and reaches no
//! backend. The state is written through to the store, so a restart forgets nothing.
//!
//! Failures are only known once an attempt finishes, so attempts *in flight* are
//! counted too: a pair with failures has at most one attempt running, a pair
//! without at most [`ThrottleSettings::max_in_flight_per_login`], a source at most
//! [`ThrottleSettings::max_in_flight_per_source`]; others wait for a place (at most
//! `max_wait`) and are then refused. Sixty-four guesses sent at once therefore meet
//! the delays of the first ones' failures instead of all reaching a backend.
//!
//! A source is also counted across logins, as Nextcloud counts an address: past
//! [`ThrottleSettings::source_failures_before_delay`] failures of any logins, the
//! whole source waits the doubling delay too (one password tried against many
//! logins). A success does not clear it, or an attacker would log into their own
//! account between guesses.
//!
//! Both tables are bounded ([`MAX_LOGIN_FAILURES`] entries, the oldest forgotten
//! first) and pruned of expired entries once a minute.

use authbridge_store::{LoginFailure, MAX_LOGIN_FAILURES, SharedStore};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use crate::settings::ThrottleSettings;

type Key = (String, String);

/// Expired pairs are looked for at most this often.
const PRUNE_EVERY_MS: i64 = 60_000;

/// How far back each look at other hosts' failures reaches before the last
/// one (clocks of hosts differ a little; commits land a little late).
const FOLLOW_OVERLAP_MS: i64 = 5_000;

pub struct Throttle {
    store: SharedStore,
    /// (failures, last failure in unix ms), mirrored from the store so a check
    /// costs no query.
    failures: Mutex<HashMap<Key, (u32, i64)>>,
    /// The same per source, whatever the login (rebuilt from the pairs on load).
    by_source: Mutex<HashMap<String, (u32, i64)>>,
    /// Attempts running now, per pair and per source.
    running: Mutex<Running>,
    /// Woken whenever an attempt finishes, for attempts waiting for a place.
    finished: tokio::sync::Notify,
    last_prune: AtomicI64,
    /// Failures up to this time (unix ms) were taken from the store.
    followed_until: AtomicI64,
    /// Pairs remembered at most ([`MAX_LOGIN_FAILURES`]).
    capacity: usize,
}

#[derive(Default)]
struct Running {
    pairs: HashMap<Key, u32>,
    sources: HashMap<String, u32>,
}

/// What to do with an attempt.
#[derive(Debug, PartialEq, Eq)]
pub enum Admission<'a> {
    /// Go; the attempt counts as in flight until the pass drops (also when the
    /// request is cancelled).
    Go(Pass<'a>),
    /// Wait this long first, then go.
    WaitThenGo(Duration, Pass<'a>),
    /// Refuse at once: the delay has this long left (zero: too many attempts of
    /// this pair or this source are in flight).
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

/// One attempt in flight.
#[derive(Debug)]
pub struct Pass<'a> {
    throttle: &'a Throttle,
    key: Key,
}

impl PartialEq for Pass<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}

impl Eq for Pass<'_> {}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        {
            let mut running = self.throttle.running();
            decrement(&mut running.pairs, &self.key);
            decrement(&mut running.sources, &self.key.1);
        }
        self.throttle.finished.notify_waiters();
    }
}

/// Before `key` goes into a full table of (failures, last failure): the entry
/// that failed longest ago leaves; returned, so the store can forget it too.
fn make_room<K: std::hash::Hash + Eq + Clone>(
    table: &mut HashMap<K, (u32, i64)>,
    key: &K,
    capacity: usize,
) -> Option<K> {
    if table.len() < capacity || table.contains_key(key) {
        return None;
    }
    let oldest = table
        .iter()
        .min_by_key(|(_, (_, last))| *last)
        .map(|(k, _)| k.clone())?;
    table.remove(&oldest);
    Some(oldest)
}

fn decrement<K: std::hash::Hash + Eq + Clone>(map: &mut HashMap<K, u32>, key: &K) {
    if let Some(n) = map.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            map.remove(key);
        }
    }
}

impl std::fmt::Debug for Throttle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Throttle")
    }
}

/// Why an attempt may not start yet.
enum Blocked {
    /// The delay has this long left and is longer than max_wait.
    Delay(Duration),
    /// No place free for this pair or source; may change when one finishes.
    Full,
}

impl Throttle {
    /// Loads the failures still inside the window.
    pub fn load(
        store: SharedStore,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) -> authbridge_store::Result<Throttle> {
        let since = now_ms - settings.window.as_millis() as i64;
        let pairs = store.login_failures(since)?;
        let mut by_source: HashMap<String, (u32, i64)> = HashMap::new();
        for f in &pairs {
            let entry = by_source.entry(f.source.clone()).or_default();
            entry.0 = entry.0.saturating_add(f.failures);
            entry.1 = entry.1.max(f.last_failure);
        }
        let failures = pairs
            .into_iter()
            .map(|f| ((f.login, f.source), (f.failures, f.last_failure)))
            .collect();
        Ok(Throttle {
            store,
            failures: Mutex::new(failures),
            by_source: Mutex::new(by_source),
            running: Mutex::new(Running::default()),
            finished: tokio::sync::Notify::new(),
            last_prune: AtomicI64::new(now_ms),
            followed_until: AtomicI64::new(now_ms),
            capacity: MAX_LOGIN_FAILURES,
        })
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<Key, (u32, i64)>> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn sources(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, i64)>> {
        self.by_source.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How long this pair must still wait, if at all: its own delay, or its
    /// source's once the source failed too often across logins.
    pub fn wait(
        &self,
        login: &str,
        source: &str,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) -> Option<Duration> {
        let pair = self.failures_of(login, source, settings, now_ms);
        self.wait_after(pair, source, settings, now_ms)
    }

    /// As `wait`, given the pair's failures (`failures_of`).
    fn wait_after(
        &self,
        pair: Option<(u32, i64)>,
        source: &str,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) -> Option<Duration> {
        let left = |(failures, last): (u32, i64)| {
            let until = last + delay_after(failures, settings).as_millis() as i64;
            (now_ms < until).then(|| Duration::from_millis((until - now_ms) as u64))
        };
        let pair = pair.and_then(left);
        let threshold = settings.source_failures_before_delay;
        let whole_source = self
            .sources()
            .get(source)
            .copied()
            .filter(|&(failures, last)| {
                threshold > 0
                    && failures > threshold
                    && now_ms - last <= settings.window.as_millis() as i64
            })
            .and_then(|(failures, last)| left((failures - threshold, last)));
        pair.max(whole_source)
    }

    /// The pair's failures inside the window, and the time of the last one.
    fn failures_of(
        &self,
        login: &str,
        source: &str,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) -> Option<(u32, i64)> {
        let map = self.map();
        // No failure anywhere (the usual case): no key to build.
        if map.is_empty() {
            return None;
        }
        let &(failures, last) = map.get(&(login.to_owned(), source.to_owned()))?;
        (now_ms - last <= settings.window.as_millis() as i64).then_some((failures, last))
    }

    /// Admits an attempt now or says why not, without waiting.
    fn try_admit(
        &self,
        login: &str,
        source: &str,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) -> Result<Admission<'_>, Blocked> {
        let failures = self.failures_of(login, source, settings, now_ms);
        let left = self.wait_after(failures, source, settings, now_ms);
        if let Some(left) = left
            && left > settings.max_wait
        {
            return Err(Blocked::Delay(left));
        }
        let failed_before = failures.is_some();
        // A pair that has failed tries one at a time; one that has not, a few.
        let pair_limit = if failed_before {
            1
        } else {
            settings.max_in_flight_per_login.max(1)
        };
        let key = (login.to_owned(), source.to_owned());
        let mut running = self.running();
        let pair = running.pairs.get(&key).copied().unwrap_or(0);
        let from_source = running.sources.get(source).copied().unwrap_or(0);
        if pair >= pair_limit || from_source >= settings.max_in_flight_per_source.max(1) {
            return Err(Blocked::Full);
        }
        *running.pairs.entry(key.clone()).or_default() += 1;
        *running.sources.entry(source.to_owned()).or_default() += 1;
        drop(running);
        let pass = Pass {
            throttle: self,
            key,
        };
        Ok(match left {
            Some(left) => Admission::WaitThenGo(left, pass),
            None => Admission::Go(pass),
        })
    }

    /// Go, wait first (at most `max_wait`), or refuse. An attempt finding its pair
    /// or source at its limit waits for a place, at most `max_wait`.
    pub async fn admit(
        &self,
        login: &str,
        source: &str,
        settings: &ThrottleSettings,
        now_ms: impl Fn() -> i64,
    ) -> Admission<'_> {
        // Most attempts find a place at once: nothing to wait on yet.
        match self.try_admit(login, source, settings, now_ms()) {
            Ok(admission) => return admission,
            Err(Blocked::Delay(left)) => return Admission::Refuse(left),
            Err(Blocked::Full) => {}
        }
        let deadline = tokio::time::Instant::now() + settings.max_wait;
        loop {
            // Registered before trying, so a place freed in between is not missed.
            let finished = self.finished.notified();
            match self.try_admit(login, source, settings, now_ms()) {
                Ok(admission) => return admission,
                Err(Blocked::Delay(left)) => return Admission::Refuse(left),
                Err(Blocked::Full) => {
                    if tokio::time::timeout_at(deadline, finished).await.is_err() {
                        let left = self
                            .wait(login, source, settings, now_ms())
                            .unwrap_or_default();
                        return Admission::Refuse(left);
                    }
                }
            }
        }
    }

    pub fn failed(&self, login: &str, source: &str, settings: &ThrottleSettings, now_ms: i64) {
        self.prune_now_and_then(settings, now_ms);
        if self.store.shared_by_hosts() {
            return self.failed_on_shared_store(login, source, settings, now_ms);
        }
        let evicted;
        let failure = {
            let mut map = self.map();
            // Full: the pair that failed longest ago makes room.
            evicted = make_room(
                &mut map,
                &(login.to_owned(), source.to_owned()),
                self.capacity,
            );
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
        self.count_for_source(source, settings, now_ms);
        if let Some((login, source)) = evicted
            && let Err(e) = self.store.clear_login_failures(&login, &source)
        {
            tracing::warn!("evicted login failure not removed from the store: {e}");
        }
        if let Err(e) = self.store.set_login_failure(&failure) {
            tracing::warn!(?login, ?source, "login failure not persisted: {e}");
        }
    }

    /// On a store other hosts write too, the store counts (in one statement,
    /// so that every host's failures add up) and this mirror takes its count.
    fn failed_on_shared_store(
        &self,
        login: &str,
        source: &str,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) {
        let window_start = now_ms - settings.window.as_millis() as i64;
        let counted = match self
            .store
            .add_login_failure(login, source, now_ms, window_start)
        {
            Ok(f) => (f.failures, f.last_failure),
            Err(e) => {
                // Counted here at least: this host still throttles.
                tracing::warn!(
                    ?login,
                    ?source,
                    "login failure not counted in the store: {e}"
                );
                let map = self.map();
                let (failures, _) = map
                    .get(&(login.to_owned(), source.to_owned()))
                    .copied()
                    .unwrap_or_default();
                (failures.saturating_add(1), now_ms)
            }
        };
        self.remember(login, source, counted);
        self.count_for_source(source, settings, now_ms);
    }

    /// Sets the pair's mirror, the oldest pair making room when full.
    fn remember(&self, login: &str, source: &str, counted: (u32, i64)) {
        let mut map = self.map();
        let key = (login.to_owned(), source.to_owned());
        make_room(&mut map, &key, self.capacity);
        map.insert(key, counted);
    }

    /// Takes in what other hosts counted since the last call (a store shared
    /// by hosts only): a pair whose count moved elsewhere gets the store's
    /// count, its source the failures added. Called every
    /// [`FOLLOW_EVERY`](crate::FOLLOW_EVERY) by the daemon.
    pub fn follow_store(
        &self,
        settings: &ThrottleSettings,
        now_ms: i64,
    ) -> authbridge_store::Result<()> {
        // A little overlap: a failure committed late with an earlier time is
        // still seen; taking one twice changes nothing.
        let after = self.followed_until.load(Ordering::Relaxed) - FOLLOW_OVERLAP_MS;
        let found = self.store.login_failures_after(after)?;
        let mut newest = self.followed_until.load(Ordering::Relaxed);
        for f in found {
            newest = newest.max(f.last_failure);
            let known = self
                .map()
                .get(&(f.login.clone(), f.source.clone()))
                .copied();
            let added = match known {
                Some((failures, last)) if last >= f.last_failure => {
                    // Nothing newer than what this host knows.
                    let _ = failures;
                    continue;
                }
                Some((failures, last))
                    if f.last_failure - last <= settings.window.as_millis() as i64 =>
                {
                    f.failures.saturating_sub(failures)
                }
                _ => f.failures,
            };
            self.remember(&f.login, &f.source, (f.failures, f.last_failure));
            self.add_for_source(&f.source, added, f.last_failure);
        }
        self.followed_until
            .store(newest.min(now_ms), Ordering::Relaxed);
        Ok(())
    }

    /// `added` failures of `source` another host counted, the last at `last`;
    /// the source failing longest ago makes room when the table is full.
    fn add_for_source(&self, source: &str, added: u32, last: i64) {
        let mut sources = self.sources();
        make_room(&mut sources, &source.to_owned(), self.capacity);
        let entry = sources.entry(source.to_owned()).or_insert((0, last));
        entry.0 = entry.0.saturating_add(added);
        entry.1 = entry.1.max(last);
    }

    /// One more failure of `source`, whatever the login.
    fn count_for_source(&self, source: &str, settings: &ThrottleSettings, now_ms: i64) {
        let mut sources = self.sources();
        make_room(&mut sources, &source.to_owned(), self.capacity);
        let entry = sources.entry(source.to_owned()).or_insert((0, now_ms));
        if now_ms - entry.1 > settings.window.as_millis() as i64 {
            entry.0 = 0;
        }
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now_ms;
    }

    /// Forgets pairs whose last failure left the window, in memory and in the
    /// store, at most once a minute.
    pub fn prune_now_and_then(&self, settings: &ThrottleSettings, now_ms: i64) {
        let last = self.last_prune.load(Ordering::Relaxed);
        if now_ms - last < PRUNE_EVERY_MS
            || self
                .last_prune
                .compare_exchange(last, now_ms, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let before = now_ms - settings.window.as_millis() as i64;
        self.map().retain(|_, (_, last)| *last >= before);
        self.sources().retain(|_, (_, last)| *last >= before);
        if let Err(e) = self.store.prune_login_failures(before) {
            tracing::warn!("expired login failures not pruned: {e}");
        }
    }

    /// Pairs remembered now.
    #[cfg(test)]
    pub fn remembered(&self) -> usize {
        self.map().len()
    }

    pub fn succeeded(&self, login: &str, source: &str) {
        let had = {
            let mut map = self.map();
            // No failure anywhere (the usual case): no key to build.
            !map.is_empty() && map.remove(&(login.to_owned(), source.to_owned())).is_some()
        };
        // Only a pair that failed before costs a write; on a shared store
        // another host may have counted failures this one has not seen yet.
        if (had || self.store.shared_by_hosts())
            && let Err(e) = self.store.clear_login_failures(login, source)
        {
            tracing::warn!(
                ?login,
                ?source,
                "login failures not cleared in the store: {e}"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authbridge_store::SqliteStore;
    use authbridge_store::prelude::*;
    use std::sync::Arc;

    fn settings() -> ThrottleSettings {
        ThrottleSettings {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(25),
            window: Duration::from_secs(3600),
            max_wait: Duration::from_millis(500),
            max_in_flight_per_login: 4,
            max_in_flight_per_source: 6,
            source_failures_before_delay: 20,
        }
    }

    /// Admission without waiting for a place: Refuse(0) when none is free.
    fn admit_now<'a>(
        t: &'a Throttle,
        login: &str,
        source: &str,
        s: &ThrottleSettings,
        now: i64,
    ) -> Admission<'a> {
        match t.try_admit(login, source, s, now) {
            Ok(a) => a,
            Err(Blocked::Delay(left)) => Admission::Refuse(left),
            Err(Blocked::Full) => {
                Admission::Refuse(t.wait(login, source, s, now).unwrap_or_default())
            }
        }
    }

    #[test]
    fn short_delays_are_waited_out_by_one_attempt_long_ones_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        let s = settings();
        let t = Throttle::load(store, &s, 0).unwrap();
        assert!(matches!(admit_now(&t, "eve", "x", &s, 0), Admission::Go(_)));
        t.failed("eve", "x", &s, 0);
        let first = admit_now(&t, "eve", "x", &s, 10);
        assert!(matches!(first, Admission::WaitThenGo(d, _) if d == Duration::from_millis(90)));
        // A second attempt while the first waits is refused.
        assert_eq!(
            admit_now(&t, "eve", "x", &s, 20),
            Admission::Refuse(Duration::from_millis(80))
        );
        drop(first);
        assert!(matches!(
            admit_now(&t, "eve", "x", &s, 20),
            Admission::WaitThenGo(..)
        ));
        for at in 1..=4 {
            t.failed("eve", "x", &s, at);
        }
        // Five failures: 1.6 s left, more than max_wait.
        assert_eq!(
            admit_now(&t, "eve", "x", &s, 4),
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

    #[test]
    fn attempts_in_flight_count_per_pair_and_per_source() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        let s = settings();
        let t = Throttle::load(store, &s, 0).unwrap();
        // No failure yet: four of one pair at once, the fifth finds no place.
        let passes: Vec<_> = (0..4).map(|_| admit_now(&t, "eve", "x", &s, 0)).collect();
        assert!(passes.iter().all(|a| matches!(a, Admission::Go(_))));
        assert_eq!(
            admit_now(&t, "eve", "x", &s, 0),
            Admission::Refuse(Duration::ZERO)
        );
        // Two more logins from the source fill its six places.
        let other: Vec<_> = (0..2).map(|_| admit_now(&t, "bob", "x", &s, 0)).collect();
        assert!(other.iter().all(|a| matches!(a, Admission::Go(_))));
        assert_eq!(
            admit_now(&t, "carol", "x", &s, 0),
            Admission::Refuse(Duration::ZERO)
        );
        assert!(matches!(
            admit_now(&t, "carol", "y", &s, 0),
            Admission::Go(_)
        ));
        drop(passes);
        drop(other);
        // After a failure the pair tries one at a time.
        t.failed("eve", "x", &s, 0);
        let one = admit_now(&t, "eve", "x", &s, 200);
        assert!(matches!(one, Admission::Go(_)));
        assert_eq!(
            admit_now(&t, "eve", "x", &s, 200),
            Admission::Refuse(Duration::ZERO)
        );
    }

    #[tokio::test]
    async fn a_waiting_attempt_takes_the_place_an_attempt_frees() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        let s = ThrottleSettings {
            max_in_flight_per_login: 1,
            max_wait: Duration::from_secs(5),
            ..settings()
        };
        let t = Arc::new(Throttle::load(store, &s, 0).unwrap());
        let first = admit_now(&t, "eve", "x", &s, 0);
        let waiter = {
            let (t, s) = (Arc::clone(&t), s.clone());
            tokio::spawn(
                async move { matches!(t.admit("eve", "x", &s, || 0).await, Admission::Go(_)) },
            )
        };
        tokio::task::yield_now().await;
        drop(first);
        assert!(
            waiter.await.unwrap(),
            "the waiter went once the place was free"
        );
    }

    #[test]
    fn the_table_is_bounded_and_expired_pairs_are_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        let s = settings();
        let mut t = Throttle::load(store.clone(), &s, 0).unwrap();
        assert_eq!(t.capacity, MAX_LOGIN_FAILURES);
        t.capacity = 100;
        let cap = 100;
        for n in 0..cap + 50 {
            t.failed(&format!("u{n}"), &format!("s{n}"), &s, n);
        }
        assert_eq!(t.remembered(), cap as usize);
        assert_eq!(store.login_failures(0).unwrap().len(), cap as usize);
        // The oldest went first.
        assert_eq!(t.wait("u0", "s0", &s, cap + 50), None);
        assert!(
            t.wait(
                &format!("u{}", cap + 49),
                &format!("s{}", cap + 49),
                &s,
                cap + 50
            )
            .is_some()
        );
        // Past the window and a minute later, one more failure prunes the rest.
        let later = cap + 50 + 3_600_000 + PRUNE_EVERY_MS;
        t.failed("late", "x", &s, later);
        assert_eq!(t.remembered(), 1);
        assert_eq!(store.login_failures(0).unwrap().len(), 1);
    }

    #[test]
    fn one_source_failing_across_many_logins_waits_too_and_a_success_does_not_clear_it() {
        let dir = tempfile::tempdir().unwrap();
        let open = || Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
        let s = settings();
        let t = Throttle::load(open(), &s, 0).unwrap();
        for n in 0..20 {
            t.failed(&format!("user{n}"), "198.51.100.7", &s, 1_000);
        }
        // Twenty failures of twenty logins: a fresh login is not delayed yet ...
        assert_eq!(t.wait("fresh", "198.51.100.7", &s, 1_100), None);
        t.failed("user20", "198.51.100.7", &s, 1_000);
        // ... the twenty-first makes the whole source wait.
        assert_eq!(
            t.wait("fresh", "198.51.100.7", &s, 1_050),
            Some(Duration::from_millis(50))
        );
        assert_eq!(
            t.wait("fresh", "203.0.113.1", &s, 1_050),
            None,
            "other source"
        );
        t.succeeded("mine", "198.51.100.7");
        assert!(t.wait("fresh", "198.51.100.7", &s, 1_050).is_some());
        // Rebuilt from the store after a restart.
        drop(t);
        let again = Throttle::load(open(), &s, 1_050).unwrap();
        assert!(again.wait("fresh", "198.51.100.7", &s, 1_050).is_some());
    }
}
