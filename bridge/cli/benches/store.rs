//! SQLite against PostgreSQL, and one PostgreSQL host against two, each figure
//! a ratio to a baseline taken in the same run:
//!
//!     cargo bench -p authbridge --bench store
//!
//! Part `calls`: the two store calls of an app-password login, in process, one
//! thread (where the time of a login goes: a PostgreSQL call is a loopback
//! round trip to another process; a SQLite call is a read of a mapped file).
//!
//! Part `daemon`: app-password authentications per second through the daemon's
//! socket (the PAM module's request, a connection per login), and
//! `GET /cloud/users/{id}` per second with an app password over HTTP; 8
//! clients, a fixed time per case, SQLite and PostgreSQL cases taking turns.
//! Then two daemons on the one PostgreSQL (the clients split between them)
//! against one.

use authbridge_proto::{AuthRequest, AuthStatus, Client as Socket, Request, Response};
use authbridge_store::{AccountStore, PostgresSettings, PostgresStore, SqliteStore};
use authbridge_testsupport::{Daemon, Postgres};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");
const CLIENTS: usize = 8;
const WINDOW: Duration = Duration::from_secs(3);
const ROUNDS: usize = 2;

#[derive(Clone, Copy)]
struct Figures {
    per_second: f64,
    p50: Duration,
    errors: u64,
}

/// `CLIENTS` threads doing `one` for `WINDOW`, thread `i` on target `i % n`.
fn load<T: Send + Sync + 'static>(
    targets: Vec<T>,
    one: impl Fn(&T) -> bool + Send + Sync + Clone + 'static,
) -> Figures {
    let targets = Arc::new(targets);
    let until = Instant::now() + WINDOW;
    let errors = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let (targets, errors, one) = (Arc::clone(&targets), Arc::clone(&errors), one.clone());
            std::thread::spawn(move || {
                let target = &targets[i % targets.len()];
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let started = Instant::now();
                    if one(target) {
                        latencies.push(started.elapsed());
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
                latencies
            })
        })
        .collect();
    let mut all: Vec<Duration> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    Figures {
        per_second: all.len() as f64 / WINDOW.as_secs_f64(),
        p50: all.get(all.len() / 2).copied().unwrap_or_default(),
        errors: errors.load(Ordering::Relaxed),
    }
}

fn pam_login(socket: &std::path::Path, token: &str) -> bool {
    let request = Request::Authenticate(AuthRequest {
        service: "sshd".into(),
        user: "bench".into(),
        password: token.to_owned().into(),
        rhost: None,
    });
    let Ok(mut c) = Socket::connect(socket, Duration::from_secs(5)) else {
        return false;
    };
    matches!(c.call(&request), Ok(Response::Auth(a)) if a.status == AuthStatus::Accepted)
}

fn http_get(client: &reqwest::blocking::Client, url: &str, token: &str) -> bool {
    client
        .get(url)
        .basic_auth("bench", Some(token))
        .header("OCS-APIRequest", "true")
        .send()
        .is_ok_and(|r| r.status().as_u16() == 200 && r.bytes().is_ok())
}

/// A daemon with the user `bench` and an app password of it.
fn prepared(daemon: &Daemon) -> String {
    daemon.cli(
        &["user", "add", "--password-from-env", "bench"],
        Some("Bench-long-pass-1"),
    );
    daemon.app_password("bench")
}

fn show(name: &str, f: Figures) {
    println!(
        "  {name:<44} {:>9.0}/s  p50 {:>8.1} µs  errors {}",
        f.per_second,
        f.p50.as_secs_f64() * 1e6,
        f.errors
    );
}

/// p50 of `calls` runs of `call`, one thread.
fn p50(calls: usize, mut call: impl FnMut()) -> Duration {
    let mut took: Vec<Duration> = (0..calls)
        .map(|_| {
            let started = Instant::now();
            call();
            started.elapsed()
        })
        .collect();
    took.sort();
    took[took.len() / 2]
}

fn calls_part(server: &Postgres) {
    println!("calls: the store calls of an app-password login, in process, p50 of 20,000");
    let dir = tempfile::tempdir().unwrap();
    let sqlite: Arc<dyn AccountStore> =
        Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
    let url = server.create_database();
    let postgres: Arc<dyn AccountStore> =
        Arc::new(PostgresStore::open(&PostgresSettings::new(&url)).unwrap());
    for store in [&sqlite, &postgres] {
        store
            .create_user(
                &authbridge_store::NewUser {
                    uid: "bench".into(),
                    backend: "Database".into(),
                    ..Default::default()
                },
                1,
            )
            .unwrap();
        store.add_app_password("bench", "b", &[5; 32], 1).unwrap();
    }
    let mut figures = Vec::new();
    for (name, store) in [("SQLite", &sqlite), ("PostgreSQL", &postgres)] {
        let by_hash = p50(20_000, || {
            store.app_password_by_hash(&[5; 32]).unwrap().unwrap();
        });
        let factors = p50(20_000, || {
            store.second_factors("bench").unwrap();
        });
        println!(
            "  {name:<11} app_password_by_hash {:>7.1} µs   second_factors {:>7.1} µs",
            by_hash.as_secs_f64() * 1e6,
            factors.as_secs_f64() * 1e6
        );
        figures.push(by_hash + factors);
    }
    println!(
        "  PostgreSQL / SQLite, both calls: {:.1}×",
        figures[1].as_secs_f64() / figures[0].as_secs_f64()
    );
    // The floor: the same query from a client whose connection is driven on
    // the calling thread (no hand-over to the store's runtime thread).
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let floor = runtime.block_on(async {
        let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        let statement = client
            .prepare(
                "SELECT t.id, t.uid, t.hash, u.enabled, t.last_activity
                 FROM app_passwords t JOIN users u ON u.uid = t.uid WHERE t.hash = $1",
            )
            .await
            .unwrap();
        let mut took = Vec::with_capacity(20_000);
        for _ in 0..20_000 {
            let started = Instant::now();
            client
                .query_opt(&statement, &[&&[5u8; 32][..]])
                .await
                .unwrap()
                .unwrap();
            took.push(started.elapsed());
        }
        took.sort();
        took[took.len() / 2]
    });
    println!(
        "  PostgreSQL, the lookup on a connection driven by the caller (the floor): {:.1} µs; the store's call is {:.2}× that",
        floor.as_secs_f64() * 1e6,
        (figures[1].as_secs_f64() / 2.0) / floor.as_secs_f64()
    );
}

fn daemon_part(server: &Postgres) {
    let sqlite = Daemon::start_http(BIN, "");
    let config = format!("[store]\nurl = \"{}\"\n", server.create_database());
    let a = Daemon::start_http(BIN, &config);
    let b = Daemon::start_node(BIN, &config, &a);
    let sqlite_token = prepared(&sqlite);
    let pg_token = prepared(&a);
    let http = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    let pam = |daemons: Vec<&Daemon>, token: &str| {
        let token = token.to_owned();
        let sockets: Vec<PathBuf> = daemons.iter().map(|d| d.socket.clone()).collect();
        load(sockets, move |s| pam_login(s, &token))
    };
    let get = |daemons: Vec<&Daemon>, token: &str| {
        let (token, http) = (token.to_owned(), http.clone());
        let urls: Vec<String> = daemons
            .iter()
            .map(|d| format!("{}/ocs/v2.php/cloud/users/bench", d.url()))
            .collect();
        load(urls, move |u| http_get(&http, u, &token))
    };
    println!("daemon: {CLIENTS} clients, {WINDOW:?} per case, {ROUNDS} rounds");
    for round in 1..=ROUNDS {
        println!(" round {round}");
        let pam_sqlite = pam(vec![&sqlite], &sqlite_token);
        let pam_pg = pam(vec![&a], &pg_token);
        let pam_two = pam(vec![&a, &b], &pg_token);
        let get_sqlite = get(vec![&sqlite], &sqlite_token);
        let get_pg = get(vec![&a], &pg_token);
        let get_two = get(vec![&a, &b], &pg_token);
        show("PAM login, SQLite", pam_sqlite);
        show("PAM login, PostgreSQL, one daemon", pam_pg);
        show("PAM login, PostgreSQL, two daemons", pam_two);
        show("GET /cloud/users/{id}, SQLite", get_sqlite);
        show("GET /cloud/users/{id}, PostgreSQL, one daemon", get_pg);
        show("GET /cloud/users/{id}, PostgreSQL, two daemons", get_two);
        println!(
            "  ratios: PAM PostgreSQL/SQLite {:.2}, two/one {:.2}; GET PostgreSQL/SQLite {:.2}, two/one {:.2}",
            pam_pg.per_second / pam_sqlite.per_second,
            pam_two.per_second / pam_pg.per_second,
            get_pg.per_second / get_sqlite.per_second,
            get_two.per_second / get_pg.per_second,
        );
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let server = Postgres::start();
    if part("calls") {
        calls_part(&server);
    }
    if part("daemon") {
        daemon_part(&server);
    }
}
