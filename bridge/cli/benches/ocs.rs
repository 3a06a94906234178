//! The OCS API under load, each figure against a baseline in the same run:
//!
//!     cargo bench -p authbridge --bench ocs            # all parts
//!     cargo bench -p authbridge --bench ocs -- imap    # one part: load, login, imap
//!
//! Part `login`: GET /cloud/users/{id} with the admin's login password against
//! the same with an app password, 8 and 32 connections (the credential cache
//! makes the login password cost an argon2id hash once per
//! `http_credential_cache`, not per request).
//!
//! Part `imap`: `/auth/check` of an IMAP user, one client, a credential-cache
//! hit (`cached_auth_timeout = "60s"`) against a full IMAP login to the same
//! Dovecot (a daemon with the cache off).
//!
//! 100,000 users in the store; 32 concurrent clients (threads with keep-alive
//! connections) for a fixed time per case; app-password Basic auth, as provisioning
//! scripts should log in. Cases:
//!   baseline  GET /auth/check (authentication and HTTP alone)
//!   GET /cloud/users/{id}
//!   GET /cloud/users?search=...&limit=50
//!   GET /cloud/users/{id} with the admin's login password (argon2id per request)

use authbridge_store::{NewUser, SqliteStore, Store};
use authbridge_testsupport::{Daemon, Dovecot};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");
const USERS: usize = 100_000;
const CLIENTS: usize = 32;

struct Figures {
    per_second: f64,
    p50: Duration,
    p99: Duration,
    errors: u64,
}

fn load(url: &str, user: &str, password: &str, window: Duration, expect: u16) -> Figures {
    load_with(CLIENTS, url, user, password, window, expect)
}

fn load_with(
    clients: usize,
    url: &str,
    user: &str,
    password: &str,
    window: Duration,
    expect: u16,
) -> Figures {
    let until = Instant::now() + window;
    let errors = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..clients)
        .map(|_| {
            let (url, user, password, errors) = (
                url.to_owned(),
                user.to_owned(),
                password.to_owned(),
                Arc::clone(&errors),
            );
            std::thread::spawn(move || {
                let client = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(60))
                    .build()
                    .unwrap();
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let started = Instant::now();
                    let r = client
                        .get(&url)
                        .basic_auth(&user, Some(&password))
                        .header("OCS-APIRequest", "true")
                        .send();
                    match r {
                        Ok(r) if r.status().as_u16() == expect => {
                            let _ = r.bytes();
                            latencies.push(started.elapsed());
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
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
    let pick = |p: f64| {
        all.get(((all.len() as f64) * p) as usize)
            .copied()
            .unwrap_or_default()
    };
    Figures {
        per_second: all.len() as f64 / window.as_secs_f64(),
        p50: pick(0.5),
        p99: pick(0.99),
        errors: errors.load(Ordering::Relaxed),
    }
}

fn show(name: &str, f: &Figures) {
    println!(
        "  {name:<52} {:>8.0}/s  p50 {:>7.2} ms  p99 {:>7.2} ms  errors {}",
        f.per_second,
        f.p50.as_secs_f64() * 1e3,
        f.p99.as_secs_f64() * 1e3,
        f.errors
    );
}

/// Sequential `/auth/check` requests: their latencies, sorted.
fn sequential_checks(url: &str, user: &str, password: &str, n: usize) -> Vec<Duration> {
    let client = reqwest::blocking::Client::new();
    let mut all: Vec<Duration> = (0..n + n / 10)
        .map(|_| {
            let started = Instant::now();
            let r = client
                .get(url)
                .basic_auth(user, Some(password))
                .send()
                .unwrap();
            assert_eq!(r.status().as_u16(), 204);
            started.elapsed()
        })
        .skip(n / 10)
        .collect();
    all.sort();
    all
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// A credential-cache hit against a full IMAP login, same Dovecot, same user.
fn imap_part() {
    let imap = Dovecot::start(&[("alice", "alice-mail-pw")]);
    let config = |cache: &str| {
        format!(
            "[daemon]\ncached_auth_timeout = \"{cache}\"\n\n[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\nca_file = \"{}\"\n",
            imap.imaps_port,
            imap.pki.ca_file.display()
        )
    };
    let cached = Daemon::start_http(BIN, &config("60s"));
    let uncached = Daemon::start_http(BIN, &config("0s"));
    let hit = sequential_checks(
        &format!("{}/auth/check", cached.url()),
        "alice",
        "alice-mail-pw",
        3000,
    );
    let full = sequential_checks(
        &format!("{}/auth/check", uncached.url()),
        "alice",
        "alice-mail-pw",
        300,
    );
    let p = |v: &[Duration], q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    println!("/auth/check of an IMAP user (implicit TLS to Dovecot), one client, sequential:");
    println!(
        "  credential-cache hit       p50 {:>7.3} ms  p99 {:>7.3} ms",
        ms(p(&hit, 0.5)),
        ms(p(&hit, 0.99))
    );
    println!(
        "  full IMAP login (no cache) p50 {:>7.3} ms  p99 {:>7.3} ms",
        ms(p(&full, 0.5)),
        ms(p(&full, 0.99))
    );
    println!(
        "  ratio {:.1}× faster (targets: hit p50 ≤ 1 ms, ≥ 25×); Dovecot saw {} logins of alice\n",
        ms(p(&full, 0.5)) / ms(p(&hit, 0.5)),
        imap.logins("alice")
    );
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    if part("imap") {
        imap_part();
    }
    if !part("load") && !part("login") {
        return;
    }
    // 100,000 users and 500 groups need more ids than the default range has.
    let mut d = Daemon::start_http(BIN, "[nss]\nid_max = 999999\n");
    let admin_password = d.admin_password.clone().unwrap();
    let token = {
        let out = d.cli(
            &["user", "auth-tokens", "add", "--name", "bench", "admin"],
            None,
        );
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .rsplit(' ')
            .next()
            .unwrap()
            .to_owned()
    };
    // Seed the store directly (one argon2id hash shared by all: hashing 100,000
    // passwords would take an hour and measure nothing here).
    d.stop();
    let seeded = Instant::now();
    {
        let store = SqliteStore::open(&d.dir.path().join("data/authbridge.sqlite")).unwrap();
        let hash = authbridge_local::hash_password("Bench-user-password-1");
        for i in 0..USERS {
            store
                .create_user(
                    &NewUser {
                        uid: format!("user{i:06}"),
                        display_name: Some(format!("Bench User {i}")),
                        email: Some(format!("user{i:06}@example.org")),
                        backend: authbridge_store::LOCAL_BACKEND.into(),
                        password_hash: Some(hash.clone()),
                        groups: vec![format!("group{:03}", i % 500)],
                        ..NewUser::default()
                    },
                    0,
                )
                .unwrap();
        }
    }
    println!(
        "seeded {USERS} users in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    d.restart();
    let base = d.url();
    let window = Duration::from_secs(10);
    if part("login") {
        let url = format!("{base}/ocs/v2.php/cloud/users/user054321?format=json");
        println!(
            "GET /cloud/users/{{id}}: the admin's login password vs an app password, {USERS} users:"
        );
        // One request first: the login password's only argon2id hash.
        load_with(
            1,
            &url,
            "admin",
            &admin_password,
            Duration::from_millis(200),
            200,
        );
        for clients in [8, 32] {
            let app = load_with(clients, &url, "admin", &token, window, 200);
            let login = load_with(clients, &url, "admin", &admin_password, window, 200);
            show(&format!("{clients} connections, app password"), &app);
            show(&format!("{clients} connections, login password"), &login);
            println!(
                "  ratio login / app password at {clients}: {:.0} % (target ≥ 50 %)",
                100.0 * login.per_second / app.per_second
            );
        }
        println!();
        if !part("load") {
            return;
        }
    }
    println!("{CLIENTS} concurrent clients, {window:?} per case, {USERS} users:");
    let baseline = load(&format!("{base}/auth/check"), "admin", &token, window, 204);
    show("baseline: GET /auth/check (app password)", &baseline);
    let single = load(
        &format!("{base}/ocs/v2.php/cloud/users/user054321?format=json"),
        "admin",
        &token,
        window,
        200,
    );
    show("GET /cloud/users/{id} (app password)", &single);
    let search = load(
        &format!("{base}/ocs/v2.php/cloud/users?search=user0543&limit=50&format=json"),
        "admin",
        &token,
        window,
        200,
    );
    show("GET /cloud/users?search=user0543&limit=50", &search);
    let rare = load(
        &format!("{base}/ocs/v2.php/cloud/users?search=54321&limit=50&format=json"),
        "admin",
        &token,
        window,
        200,
    );
    show("GET /cloud/users?search=54321&limit=50 (one match)", &rare);
    let login = load(
        &format!("{base}/ocs/v2.php/cloud/users/user054321?format=json"),
        "admin",
        &admin_password,
        window,
        200,
    );
    show("GET /cloud/users/{id} (admin login password)", &login);
    println!(
        "  ratios to the baseline: single GET {:.2}, search {:.2}, rare search {:.2}, login password {:.3}",
        single.per_second / baseline.per_second,
        search.per_second / baseline.per_second,
        rare.per_second / baseline.per_second,
        login.per_second / baseline.per_second
    );
    println!("  targets: single GET ≥ 5,000/s; search p99 < 20 ms");
}
