//! The daemon's counters in Prometheus's text format (`[metrics] listen`):
//! decisions by backend and verdict, their latency, throttle refusals, the
//! credential cache, each backend's load, socket connections, store errors.
//!
//! Process-wide, as the log is: counters outlive config reloads (a SIGHUP
//! builds new backends; their load is counted under the same name). Labels
//! hold backend names and verdicts only — never a login, a password or an
//! address — and at most [`MAX_BACKENDS`] backend names are kept apart.

use authbridge_proto::AuthStatus;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

/// Backend names counted apart, besides the [`FIXED`] deciders; others are
/// counted as `other` (a config reloaded with ever new server names must not
/// grow memory without bound).
pub const MAX_BACKENDS: usize = 256;

/// Upper bounds of the latency buckets, in seconds: 100 µs (a cache hit, an
/// app password) to 10 s (a slow mail server).
const BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5, 10.0,
];

const VERDICTS: [AuthStatus; 6] = [
    AuthStatus::Accepted,
    AuthStatus::Rejected,
    AuthStatus::Throttled,
    AuthStatus::Disabled,
    AuthStatus::UnknownUser,
    AuthStatus::Unavailable,
];

/// What one decider decided: counts per verdict (in [`VERDICTS`]' order) and
/// the latency histogram.
#[derive(Default, Clone)]
struct Decided {
    verdicts: [u64; VERDICTS.len()],
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum_nanos: u128,
}

/// One backend's load, shared by every engine that has a backend of its name.
#[derive(Default)]
pub struct BackendLoad {
    /// Checks running against it now.
    pub running: AtomicI64,
    /// Checks waiting for a place now.
    pub waiting: AtomicI64,
    /// Checks that had to wait for a place.
    pub waited: AtomicU64,
    /// Checks answered "unavailable" at once: its queue was full.
    pub refused: AtomicU64,
}

#[derive(Default)]
pub struct Metrics {
    decided: Mutex<BTreeMap<String, Decided>>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    connections_open: AtomicI64,
    connections_refused: AtomicU64,
    backends: Mutex<BTreeMap<String, Arc<BackendLoad>>>,
}

/// The process's metrics.
pub fn global() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(Metrics::default)
}

fn verdict_index(status: AuthStatus) -> usize {
    VERDICTS.iter().position(|v| *v == status).unwrap_or(0)
}

fn verdict_label(status: AuthStatus) -> &'static str {
    match status {
        AuthStatus::Accepted => "accepted",
        AuthStatus::Rejected => "rejected",
        AuthStatus::Throttled => "throttled",
        AuthStatus::Disabled => "disabled",
        AuthStatus::UnknownUser => "unknown_user",
        AuthStatus::Unavailable => "unavailable",
    }
}

/// Deciders that are not backends: always counted apart, whatever the bound.
const FIXED: [&str; 8] = [
    "-",
    "throttle",
    "cache",
    "offline",
    "input",
    "local",
    "app-password",
    "other",
];

/// `name` if it is fixed, already counted, or there is room; else "other".
/// (Called for names not counted yet: rarely, so counting the map is fine.)
fn bounded_key<V>(map: &BTreeMap<String, V>, name: &str) -> String {
    let backends = || map.keys().filter(|k| !FIXED.contains(&k.as_str())).count();
    if FIXED.contains(&name) || map.contains_key(name) || backends() < MAX_BACKENDS {
        name.to_owned()
    } else {
        "other".to_owned()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// A password decision: who decided (`throttle`, `cache`, `input` included),
    /// what, and how long it took.
    pub fn decided(&self, backend: &str, status: AuthStatus, took: Duration) {
        let mut decided = lock(&self.decided);
        let d = match decided.get_mut(backend) {
            Some(d) => d,
            None => {
                let key = bounded_key(&decided, backend);
                decided.entry(key).or_default()
            }
        };
        d.verdicts[verdict_index(status)] += 1;
        let seconds = took.as_secs_f64();
        for (bucket, bound) in d.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        d.count += 1;
        d.sum_nanos += took.as_nanos();
    }

    pub fn cache_lookup(&self, hit: bool) {
        let counter = if hit {
            &self.cache_hits
        } else {
            &self.cache_misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_opened(&self) {
        self.connections_open.fetch_add(1, Ordering::Relaxed);
    }

    pub fn connection_closed(&self) {
        self.connections_open.fetch_sub(1, Ordering::Relaxed);
    }

    pub fn connection_refused(&self) {
        self.connections_refused.fetch_add(1, Ordering::Relaxed);
    }

    /// The load counters of the backend named `name`.
    pub fn backend(&self, name: &str) -> Arc<BackendLoad> {
        let mut backends = lock(&self.backends);
        let key = bounded_key(&backends, name);
        Arc::clone(backends.entry(key).or_default())
    }

    /// Everything, in the text exposition format (version 0.0.4).
    pub fn render(&self, build: &BuildInfo) -> String {
        let mut out = String::new();
        family(
            &mut out,
            "authbridge_build_info",
            "gauge",
            "The running build.",
        );
        let _ = writeln!(
            out,
            "authbridge_build_info{{version=\"{}\",commit=\"{}\"}} 1",
            escape(&build.version),
            escape(&build.commit)
        );

        family(
            &mut out,
            "authbridge_decisions_total",
            "counter",
            "Password decisions, by what decided (a backend, or throttle, cache, offline, input) and the verdict.",
        );
        // A copy, formatted outside the lock: a scrape never holds up a decision
        // longer than the copy takes.
        let decided: Vec<(String, Decided)> = lock(&self.decided)
            .iter()
            .map(|(k, d)| (k.clone(), d.clone()))
            .collect();
        for (backend, d) in decided.iter() {
            for (verdict, n) in VERDICTS.iter().zip(d.verdicts) {
                if n > 0 {
                    let _ = writeln!(
                        out,
                        "authbridge_decisions_total{{backend=\"{}\",verdict=\"{}\"}} {n}",
                        escape(backend),
                        verdict_label(*verdict)
                    );
                }
            }
        }

        family(
            &mut out,
            "authbridge_throttle_refusals_total",
            "counter",
            "Attempts refused by the brute-force throttle without reaching a backend.",
        );
        let throttled: u64 = decided
            .iter()
            .filter(|(backend, _)| backend == "throttle")
            .map(|(_, d)| d.verdicts.iter().sum::<u64>())
            .sum();
        let _ = writeln!(out, "authbridge_throttle_refusals_total {throttled}");

        family(
            &mut out,
            "authbridge_decision_duration_seconds",
            "histogram",
            "How long password decisions took, by what decided.",
        );
        for (backend, h) in decided.iter() {
            let backend = escape(backend);
            for (n, bound) in h.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "authbridge_decision_duration_seconds_bucket{{backend=\"{backend}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "authbridge_decision_duration_seconds_bucket{{backend=\"{backend}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "authbridge_decision_duration_seconds_sum{{backend=\"{backend}\"}} {}",
                h.sum_nanos as f64 / 1e9
            );
            let _ = writeln!(
                out,
                "authbridge_decision_duration_seconds_count{{backend=\"{backend}\"}} {}",
                h.count
            );
        }

        family(
            &mut out,
            "authbridge_credential_cache_lookups_total",
            "counter",
            "Lookups in the in-memory credential cache, by result.",
        );
        for (result, counter) in [("hit", &self.cache_hits), ("miss", &self.cache_misses)] {
            let _ = writeln!(
                out,
                "authbridge_credential_cache_lookups_total{{result=\"{result}\"}} {}",
                counter.load(Ordering::Relaxed)
            );
        }

        let backends = lock(&self.backends);
        let gauges: [LoadFamily; 4] = [
            (
                "authbridge_backend_checks_running",
                "gauge",
                "Checks running against each backend now.",
                |b| b.running.load(Ordering::Relaxed),
            ),
            (
                "authbridge_backend_checks_waiting",
                "gauge",
                "Checks waiting for a place at each backend now.",
                |b| b.waiting.load(Ordering::Relaxed),
            ),
            (
                "authbridge_backend_checks_waited_total",
                "counter",
                "Checks that waited for a place at each backend.",
                |b| b.waited.load(Ordering::Relaxed) as i64,
            ),
            (
                "authbridge_backend_checks_refused_total",
                "counter",
                "Checks answered unavailable at once: the backend's queue was full.",
                |b| b.refused.load(Ordering::Relaxed) as i64,
            ),
        ];
        for (name, kind, help, value) in gauges {
            family(&mut out, name, kind, help);
            for (backend, load) in backends.iter() {
                let _ = writeln!(
                    out,
                    "{name}{{backend=\"{}\"}} {}",
                    escape(backend),
                    value(load)
                );
            }
        }
        drop(backends);

        let process_wide = [
            (
                "authbridge_socket_connections_open",
                "gauge",
                "Connections from the PAM and NSS modules open now.",
                self.connections_open.load(Ordering::Relaxed),
            ),
            (
                "authbridge_socket_connections_refused_total",
                "counter",
                "Socket connections refused: no place left for their peer.",
                self.connections_refused.load(Ordering::Relaxed) as i64,
            ),
            (
                "authbridge_store_errors_total",
                "counter",
                "Store statements that failed (constraint conflicts, which are answers, excluded).",
                authbridge_store::errors_seen() as i64,
            ),
        ];
        for (name, kind, help, value) in process_wide {
            family(&mut out, name, kind, help);
            let _ = writeln!(out, "{name} {value}");
        }
        out
    }
}

/// A family of per-backend load samples: name, type, help, and how to read it.
type LoadFamily = (
    &'static str,
    &'static str,
    &'static str,
    fn(&BackendLoad) -> i64,
);

/// What `authbridge_build_info` says.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    pub version: String,
    pub commit: String,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// A label value as the format wants it: backslash, double quote and newline
/// escaped.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The `/metrics` endpoint.
pub fn router(build: BuildInfo) -> axum::Router {
    use axum::http::header;
    let build = Arc::new(build);
    axum::Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let build = Arc::clone(&build);
            async move {
                (
                    [(
                        header::CONTENT_TYPE,
                        "text/plain; version=0.0.4; charset=utf-8",
                    )],
                    global().render(&build),
                )
            }
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_cannot_break_out_of_their_quotes() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn a_decision_lands_in_its_buckets_and_counters() {
        let m = Metrics::default();
        m.decided("imap:a", AuthStatus::Accepted, Duration::from_millis(3));
        m.decided("imap:a", AuthStatus::Rejected, Duration::from_micros(50));
        let text = m.render(&BuildInfo {
            version: "1".into(),
            commit: "c".into(),
        });
        assert!(
            text.contains("authbridge_decisions_total{backend=\"imap:a\",verdict=\"accepted\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "authbridge_decision_duration_seconds_bucket{backend=\"imap:a\",le=\"0.0001\"} 1"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "authbridge_decision_duration_seconds_bucket{backend=\"imap:a\",le=\"0.005\"} 2"
            ),
            "{text}"
        );
        assert!(
            text.contains("authbridge_decision_duration_seconds_count{backend=\"imap:a\"} 2"),
            "{text}"
        );
    }

    #[test]
    fn backend_names_beyond_the_bound_are_counted_as_other() {
        let m = Metrics::default();
        for i in 0..MAX_BACKENDS + 10 {
            m.decided(&format!("imap:{i}"), AuthStatus::Accepted, Duration::ZERO);
            m.backend(&format!("imap:{i}"));
        }
        // The names that fit, and "other".
        assert_eq!(lock(&m.decided).len(), MAX_BACKENDS + 1);
        assert_eq!(lock(&m.backends).len(), MAX_BACKENDS + 1);
        // Fixed deciders still count apart once the bound is reached.
        m.decided("throttle", AuthStatus::Throttled, Duration::ZERO);
        assert!(lock(&m.decided).contains_key("throttle"));
        let text = m.render(&BuildInfo {
            version: "1".into(),
            commit: "c".into(),
        });
        assert!(
            text.contains("backend=\"other\",verdict=\"accepted\"} 10"),
            "{text}"
        );
    }
}
