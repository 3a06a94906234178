//! Two daemons, two hosts' worth (each its own socket, data directory and OCS
//! port, the same secret key), on one PostgreSQL database that the test starts
//! on 127.0.0.1: what one host changes holds on the other at its next request,
//! and a database that goes away makes both answer "unavailable", never a
//! wrong answer, until it is back.

use authbridge_proto::{AuthRequest, AuthStatus, Client as Socket, Request, Response};
use authbridge_testsupport::pam::{self, Pam};
use authbridge_testsupport::{Daemon, Postgres, eventually};
use reqwest::blocking::Client;
use serde_json::Value;
use std::path::Path;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

/// Two nodes on a fresh database of `server`.
struct Cluster {
    a: Daemon,
    b: Daemon,
    http: Client,
    admin: (String, String),
    url: String,
}

impl Cluster {
    fn start(server: &Postgres, extra: &str) -> Cluster {
        let url = server.create_database();
        let config = format!("[store]\nurl = \"{url}\"\ntimeout = \"2s\"\n{extra}\n");
        let a = Daemon::start_http(BIN, &config);
        let b = Daemon::start_node(BIN, &config, &a);
        let admin = (
            "admin".to_owned(),
            a.admin_password
                .clone()
                .expect("the first host made the admin"),
        );
        assert!(b.admin_password.is_none(), "one admin for the cluster");
        Cluster {
            a,
            b,
            http: Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            admin,
            url,
        }
    }

    /// A local user made through host A's command line.
    fn user(&self, uid: &str, password: &str) {
        self.a
            .cli(&["user", "add", "--password-from-env", uid], Some(password));
    }
}

/// An OCS request (v1, JSON) to `node` as `who`: HTTP status and meta code.
fn ocs(
    http: &Client,
    node: &Daemon,
    method: reqwest::Method,
    path: &str,
    who: (&str, &str),
    form: &[(&str, &str)],
) -> (u16, u32) {
    let answer = http
        .request(
            method,
            format!("{}/ocs/v1.php/cloud{path}?format=json", node.url()),
        )
        .header("OCS-APIRequest", "true")
        .basic_auth(who.0, Some(who.1))
        .form(form)
        .send()
        .unwrap();
    let status = answer.status().as_u16();
    let body = answer.text().unwrap();
    let code = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|v| v["ocs"]["meta"]["statuscode"].as_u64())
        .unwrap_or(0) as u32;
    (status, code)
}

fn auth_check(http: &Client, node: &Daemon, who: (&str, &str)) -> u16 {
    http.get(format!("{}/auth/check", node.url()))
        .basic_auth(who.0, Some(who.1))
        .send()
        .unwrap()
        .status()
        .as_u16()
}

/// What the daemon answers a PAM login through its socket (the module's
/// request), and how long it took.
fn login(socket: &Path, user: &str, password: &str) -> (AuthStatus, Duration) {
    let started = Instant::now();
    let request = Request::Authenticate(AuthRequest {
        service: "sshd".into(),
        user: user.into(),
        password: password.to_owned().into(),
        rhost: None,
    });
    let mut c = Socket::connect(socket, Duration::from_secs(5)).unwrap();
    c.set_timeout(Duration::from_secs(30)).unwrap();
    match c.call(&request).unwrap() {
        Response::Auth(a) => (a.status, started.elapsed()),
        other => panic!("{other:?}"),
    }
}

/// pamtester through the real libpam and the module, against `node`.
fn pamtester(pam: &Pam, node: &Daemon, user: &str, password: &str) -> pam::Run {
    pam.service(
        "ab",
        &format!("auth required MODULE socket={}\n", node.socket.display()),
    );
    pam.run("ab", user, &["authenticate"], &format!("{password}\n"), &[])
}

#[test]
fn a_disable_on_one_host_refuses_the_next_request_on_the_other() {
    let server = authbridge_testsupport::postgres::shared();
    let c = Cluster::start(server, "");
    let pam = Pam::new(BIN);
    c.user("carol", "Carol-long-pass-1");
    let carol = ("carol", "Carol-long-pass-1");
    // Accepted on B, so B's credential cache holds the password.
    pam::expect(pamtester(&pam, &c.b, carol.0, carol.1), true, pam::SUCCESS);
    assert_eq!(auth_check(&c.http, &c.b, carol), 204);
    let admin = (c.admin.0.as_str(), c.admin.1.as_str());
    assert_eq!(
        ocs(
            &c.http,
            &c.a,
            reqwest::Method::PUT,
            "/users/carol/disable",
            admin,
            &[]
        ),
        (200, 100)
    );
    // The very next requests on B: no waiting.
    pam::expect(
        pamtester(&pam, &c.b, carol.0, carol.1),
        false,
        pam::AUTH_ERR,
    );
    assert_eq!(auth_check(&c.http, &c.b, carol), 401);
    assert_eq!(
        ocs(&c.http, &c.b, reqwest::Method::GET, "/user", carol, &[]).0,
        401
    );
    // Enabled on B: A lets carol in again at once.
    assert_eq!(
        ocs(
            &c.http,
            &c.b,
            reqwest::Method::PUT,
            "/users/carol/enable",
            admin,
            &[]
        ),
        (200, 100)
    );
    assert_eq!(login(&c.a.socket, carol.0, carol.1).0, AuthStatus::Accepted);
}

#[test]
fn an_app_password_made_on_one_host_works_on_the_other_until_revoked_there() {
    let server = authbridge_testsupport::postgres::shared();
    let c = Cluster::start(server, "");
    c.user("dave", "Dave-long-pass-1");
    let token = c.a.app_password("dave");
    let with_token = ("dave", token.as_str());
    assert_eq!(auth_check(&c.http, &c.b, with_token), 204);
    assert_eq!(login(&c.b.socket, "dave", &token).0, AuthStatus::Accepted);
    let admin = (c.admin.0.as_str(), c.admin.1.as_str());
    // Revoked through B's API: A refuses it on its next request.
    assert_eq!(
        ocs(
            &c.http,
            &c.b,
            reqwest::Method::POST,
            "/users/dave/wipe",
            admin,
            &[]
        ),
        (200, 100)
    );
    assert_eq!(auth_check(&c.http, &c.a, with_token), 401);
    assert_eq!(login(&c.a.socket, "dave", &token).0, AuthStatus::Rejected);
}

#[test]
fn failures_on_one_host_throttle_the_login_on_the_other() {
    let server = authbridge_testsupport::postgres::shared();
    // One failure costs an hour: the next attempt anywhere is refused at once.
    let c = Cluster::start(server, "[throttle]\nfirst_delay = \"1h\"\n");
    c.user("erin", "Erin-long-pass-1");
    assert_eq!(auth_check(&c.http, &c.a, ("erin", "wrong-guess")), 401);
    // B follows other hosts' failures every 500 ms.
    std::thread::sleep(authbridge_daemon::FOLLOW_EVERY * 3);
    assert_eq!(
        auth_check(&c.http, &c.b, ("erin", "Erin-long-pass-1")),
        429,
        "the right password inside A's delay is throttled on B"
    );
    // The count is the store's: both hosts' failures add up.
    let name = c.url.rsplit('/').next().unwrap();
    assert_eq!(
        server.psql(
            name,
            "SELECT failures FROM login_failures WHERE login = 'erin'"
        ),
        "1"
    );
}

#[test]
fn ids_seen_through_nss_agree_on_both_hosts() {
    let server = authbridge_testsupport::postgres::shared();
    let c = Cluster::start(server, "");
    for uid in ["fay", "gus", "hal"] {
        c.user(uid, "Some-long-pass-1");
    }
    let uid_on = |node: &Daemon, name: &str| {
        let mut s = Socket::connect(&node.socket, Duration::from_secs(5)).unwrap();
        match s.call(&Request::PasswdByName(name.into())).unwrap() {
            Response::Passwd(found) if found.len() == 1 => found[0].uid,
            other => panic!("{other:?}"),
        }
    };
    for uid in ["fay", "gus", "hal"] {
        assert_eq!(uid_on(&c.a, uid), uid_on(&c.b, uid), "{uid}");
    }
    let ids: std::collections::BTreeSet<u32> = ["fay", "gus", "hal"]
        .iter()
        .map(|u| uid_on(&c.b, u))
        .collect();
    assert_eq!(ids.len(), 3);
}

#[test]
fn simultaneous_creates_of_one_id_on_two_hosts_make_one_user() {
    let server = authbridge_testsupport::postgres::shared();
    let c = Arc::new(Cluster::start(server, ""));
    let barrier = Arc::new(Barrier::new(32));
    let creates: Vec<_> = (0..32)
        .map(|i| {
            let (c, barrier) = (Arc::clone(&c), Arc::clone(&barrier));
            std::thread::spawn(move || {
                let node = if i % 2 == 0 { &c.a } else { &c.b };
                let admin = (c.admin.0.as_str(), c.admin.1.as_str());
                barrier.wait();
                ocs(
                    &c.http,
                    node,
                    reqwest::Method::POST,
                    "/users",
                    admin,
                    &[("userid", "racer"), ("password", "Racer-long-pass-1")],
                )
            })
        })
        .collect();
    let answers: Vec<(u16, u32)> = creates.into_iter().map(|t| t.join().unwrap()).collect();
    let made = answers.iter().filter(|a| **a == (200, 100)).count();
    let exists = answers.iter().filter(|a| **a == (200, 102)).count();
    assert_eq!((made, exists), (1, 31), "{answers:?}");
    let name = c.url.rsplit('/').next().unwrap();
    assert_eq!(
        server.psql(
            name,
            "SELECT count(*) FROM users WHERE ab_fold(uid) = 'racer'"
        ),
        "1"
    );
}

/// PostgreSQL stopped while both hosts take logins and creates: every answer
/// in the outage is "unavailable" within the store's timeout (never a
/// rejection of a right password, never an accept of a wrong one); once it is
/// back both hosts serve again without a restart, and every create they
/// acknowledged is in the database.
#[test]
fn an_outage_is_unavailable_then_both_hosts_recover_and_nothing_acknowledged_is_lost() {
    // Its own server: this test stops it.
    let server = Postgres::start();
    let c = Arc::new(Cluster::start(&server, ""));
    c.user("ivy", "Ivy-long-pass-1");
    let stop_at = Instant::now() + Duration::from_secs(2);
    let restart_at = stop_at + Duration::from_secs(3);
    let end = restart_at + Duration::from_secs(2);
    let workers: Vec<_> = (0..4)
        .map(|w| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                let node = if w % 2 == 0 { &c.a } else { &c.b };
                let admin = (c.admin.0.as_str(), c.admin.1.as_str());
                let mut acknowledged = Vec::new();
                let mut logins = Vec::new();
                let mut i = 0;
                while Instant::now() < end {
                    let uid = format!("load{w}x{i}");
                    i += 1;
                    let (http, code) = ocs(
                        &c.http,
                        node,
                        reqwest::Method::POST,
                        "/users",
                        admin,
                        &[("userid", &uid), ("password", "Load-long-pass-1")],
                    );
                    if (http, code) == (200, 100) {
                        acknowledged.push(uid);
                    }
                    let right = login(&node.socket, "ivy", "Ivy-long-pass-1");
                    let wrong = login(&node.socket, "ivy", "not-ivys-password");
                    logins.push((Instant::now(), right, wrong));
                    std::thread::sleep(Duration::from_millis(50));
                }
                (acknowledged, logins)
            })
        })
        .collect();
    std::thread::sleep(stop_at.saturating_duration_since(Instant::now()));
    server.stop();
    std::thread::sleep(restart_at.saturating_duration_since(Instant::now()));
    server.restart();
    let mut acknowledged = Vec::new();
    let mut unavailable = 0;
    for worker in workers {
        let (acked, logins) = worker.join().unwrap();
        acknowledged.extend(acked);
        for (_, (right, right_took), (wrong, wrong_took)) in logins {
            // Not refused (as wrong, disabled or throttled) for want of a store.
            assert!(
                matches!(right, AuthStatus::Accepted | AuthStatus::Unavailable),
                "the right password: {right:?}"
            );
            assert!(
                matches!(wrong, AuthStatus::Rejected | AuthStatus::Unavailable),
                "a wrong password: {wrong:?}"
            );
            if right == AuthStatus::Unavailable {
                unavailable += 1;
                // The store's timeout is 2 s; the daemon's answer comes within it
                // and a little.
                assert!(right_took < Duration::from_secs(4), "{right_took:?}");
            }
            if wrong == AuthStatus::Unavailable {
                assert!(wrong_took < Duration::from_secs(4), "{wrong_took:?}");
            }
        }
    }
    assert!(unavailable > 0, "the outage was seen:\n{}", c.a.log());
    // Both hosts serve again, without a restart.
    for node in [&c.a, &c.b] {
        assert!(
            eventually(Duration::from_secs(10), || login(
                &node.socket,
                "ivy",
                "Ivy-long-pass-1"
            )
            .0 == AuthStatus::Accepted),
            "{}",
            node.log()
        );
    }
    let name = c.url.rsplit('/').next().unwrap();
    let stored: std::collections::BTreeSet<String> = server
        .psql(name, "SELECT uid FROM users WHERE uid LIKE 'load%'")
        .lines()
        .map(str::to_owned)
        .collect();
    let missing: Vec<_> = acknowledged
        .iter()
        .filter(|u| !stored.contains(*u))
        .collect();
    assert!(missing.is_empty(), "acknowledged, then lost: {missing:?}");
    assert!(!acknowledged.is_empty());
}

/// `authbridge store copy` SQLite → PostgreSQL → SQLite: the same digest
/// each way, the accounts usable through `--store`, and a target that holds
/// accounts refused unless `--replace`.
#[test]
fn store_copy_round_trips_and_refuses_a_target_with_accounts() {
    let server = authbridge_testsupport::postgres::shared();
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str], password: Option<&str>| {
        let mut c = std::process::Command::new(BIN);
        c.env("AUTHBRIDGE_CONFIG", dir.path().join("none.toml"))
            .env("AUTHBRIDGE_DATA_DIR", dir.path().join("data"))
            .env_remove("AUTHBRIDGE_STORE")
            .args(args);
        if let Some(p) = password {
            c.env("OC_PASS", p);
        }
        c.output().unwrap()
    };
    let ok = |out: std::process::Output| {
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    ok(run(
        &["user", "add", "--password-from-env", "-g", "staff", "ann"],
        Some("Ann-long-pass-1"),
    ));
    ok(run(
        &["user", "auth-tokens", "add", "--name", "phone", "ann"],
        None,
    ));
    let sqlite = format!(
        "sqlite:{}",
        dir.path().join("data/authbridge.sqlite").display()
    );
    let url = server.create_database();
    let digest = |text: &str| text.rsplit("SHA-256 ").next().unwrap().trim().to_owned();
    let there = ok(run(
        &["store", "copy", "--from", &sqlite, "--to", &url],
        None,
    ));
    assert!(there.contains("users: 1 rows"), "{there}");
    assert!(there.contains("app_passwords: 1 rows"), "{there}");
    let back_to = format!("sqlite:{}", dir.path().join("back.sqlite").display());
    let back = ok(run(
        &["store", "copy", "--from", &url, "--to", &back_to],
        None,
    ));
    assert_eq!(digest(&there), digest(&back));
    assert_eq!(digest(&there).len(), 64);
    // The copy is a working store.
    let listed = ok(run(
        &["--store", &url, "user", "list", "--output", "json"],
        None,
    ));
    assert!(listed.contains("\"ann\""), "{listed}");
    // Not over accounts, unless told.
    let refused = run(&["store", "copy", "--from", &sqlite, "--to", &url], None);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("already holds data"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    ok(run(
        &[
            "store",
            "copy",
            "--from",
            &sqlite,
            "--to",
            &url,
            "--replace",
        ],
        None,
    ));
}

/// The id range of a shared store comes from the first host that sets one;
/// a host configured otherwise later is warned, and ids stay in the store's
/// range (hosts writing their own in turn would mix ranges).
#[test]
fn the_first_hosts_id_range_holds_for_every_host() {
    let server = authbridge_testsupport::postgres::shared();
    let url = server.create_database();
    let dir = tempfile::tempdir().unwrap();
    let run = |range: (u32, u32), uid: &str| {
        let config = dir.path().join(format!("{uid}.toml"));
        std::fs::write(
            &config,
            format!(
                "[store]\nurl = \"{url}\"\n[nss]\nid_min = {}\nid_max = {}\n",
                range.0, range.1
            ),
        )
        .unwrap();
        let out = std::process::Command::new(BIN)
            .env("AUTHBRIDGE_CONFIG", &config)
            .env("AUTHBRIDGE_DATA_DIR", dir.path().join("data"))
            .env("OC_PASS", "Some-long-pass-1")
            .args(["user", "add", "--password-from-env", uid])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let first = run((300_000, 399_999), "first");
    assert!(!first.contains("shared store"), "{first}");
    let second = run((400_000, 499_999), "second");
    assert!(
        second.contains("in the shared store, which is kept"),
        "{second}"
    );
    let name = url.rsplit('/').next().unwrap();
    let ids = server.psql(
        name,
        "SELECT string_agg(id_number::text, ',' ORDER BY uid) FROM users WHERE uid IN ('first', 'second')",
    );
    assert_eq!(ids, "300000,300001", "both from the first host's range");
}

/// A store that cannot list the groups while the NSS cache is rebuilt (the
/// memberships table locked past the store's timeout) leaves no snapshot
/// without them: the last file stays stale, lookups ask the daemon, and the
/// next rebuild once the store answers has every group again.
#[test]
fn an_nss_snapshot_is_published_whole_or_not_at_all() {
    let server = authbridge_testsupport::postgres::shared();
    let url = server.create_database();
    let d = Daemon::start(
        BIN,
        &format!("[store]\nurl = \"{url}\"\ntimeout = \"1s\"\n"),
    );
    d.cli(
        &["user", "add", "--password-from-env", "-g", "team", "ann"],
        Some("Ann-long-pass-1"),
    );
    let path = authbridge_nsscache::cache_path(&d.socket);
    // (live, group names in it) of the file as it is now.
    let file = || {
        let bytes = std::fs::read(&path).ok()?;
        let live =
            authbridge_nsscache::header(&bytes).ok()?.state == authbridge_nsscache::STATE_LIVE;
        let view = authbridge_nsscache::View::parse(&bytes).ok()?;
        let groups: Vec<String> = (0..view.group_count())
            .filter_map(|i| view.group_at(i).map(|g| g.name.to_owned()))
            .collect();
        Some((live, groups))
    };
    let whole = |groups: &Vec<String>| groups.iter().any(|g| g == "team");
    assert!(
        eventually(Duration::from_secs(10), || file()
            .is_some_and(|(live, groups)| live && whole(&groups))),
        "{:?}\n{}",
        file(),
        d.log()
    );
    let name = url.rsplit('/').next().unwrap();
    let mut holder = server
        .psql_command(
            name,
            "BEGIN; LOCK TABLE memberships IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;",
        )
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(5), || {
        server.psql(
        name,
        "SELECT count(*) FROM pg_locks WHERE mode = 'AccessExclusiveLock' AND relation = 'memberships'::regclass"
    ) == "1"
    }));
    // A change: the file is marked stale and rebuilt while groups cannot be read.
    d.cli(
        &["user", "add", "--password-from-env", "bob"],
        Some("Bob-long-pass-1"),
    );
    let until = Instant::now() + Duration::from_secs(3);
    while Instant::now() < until {
        if let Some((true, groups)) = file() {
            assert!(
                whole(&groups),
                "a live snapshot with {groups:?}:\n{}",
                d.log()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    holder.kill().ok();
    holder.wait().ok();
    assert!(
        eventually(Duration::from_secs(10), || file().is_some_and(
            |(live, groups)| live && whole(&groups) && groups.iter().any(|g| g == "bob")
        )),
        "{:?}\n{}",
        file(),
        d.log()
    );
}

/// `authbridge doctor` reads a PostgreSQL store's schema without writing, and
/// names a database that is down (by host and name, never its password).
#[test]
fn doctor_reads_a_postgres_store_and_names_one_that_is_down() {
    let server = Postgres::start();
    let url = server.create_database();
    let with_password = url.replace("postgres@", "postgres:not-a-real-secret@");
    let d = Daemon::start(
        BIN,
        &format!("[store]\nurl = \"{with_password}\"\ntimeout = \"2s\"\n"),
    );
    let store_check = || {
        let out = d
            .command()
            .args(["doctor", "--output", "json"])
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(!text.contains("not-a-real-secret"), "{text}");
        let checks: Vec<Value> = serde_json::from_str(&text).unwrap();
        checks
            .into_iter()
            .find(|c| c["check"] == "store")
            .expect("a store check")
    };
    let up = store_check();
    assert_eq!(up["ok"], true, "{up}");
    assert!(up["detail"].as_str().unwrap().contains("schema 1"), "{up}");
    server.stop();
    let down = store_check();
    assert_eq!(down["ok"], false, "{down}");
    assert!(
        down["hint"].as_str().unwrap().contains("start PostgreSQL"),
        "{down}"
    );
}

/// NSS lookups through the socket while the database is away: an error (the
/// module's UNAVAIL), never "no such user" or an empty group list.
#[test]
fn nss_lookups_without_a_store_are_errors_not_empty_answers() {
    let server = Postgres::start();
    let url = server.create_database();
    let d = Daemon::start(
        BIN,
        &format!("[store]\nurl = \"{url}\"\ntimeout = \"1s\"\n[nss]\nmemcache_timeout = \"0s\"\n"),
    );
    d.cli(
        &["user", "add", "--password-from-env", "-g", "team", "ann"],
        Some("Ann-long-pass-1"),
    );
    let ask = |request: Request| {
        let mut s = Socket::connect(&d.socket, Duration::from_secs(5)).unwrap();
        s.set_timeout(Duration::from_secs(10)).unwrap();
        s.call(&request).unwrap()
    };
    assert!(
        matches!(ask(Request::PasswdByName("ann".into())), Response::Passwd(p) if p.len() == 1)
    );
    assert!(
        matches!(ask(Request::GroupIdsOf("ann".into())), Response::GroupIds(g) if g.len() == 1)
    );
    server.stop();
    for request in [
        Request::PasswdByName("ann".into()),
        Request::PasswdAll,
        Request::GroupByName("team".into()),
        Request::GroupIdsOf("ann".into()),
    ] {
        let answer = ask(request.clone());
        // An error, naming no database to whoever asked (any local user).
        assert!(
            matches!(&answer, Response::Error(e) if !e.contains("postgresql")),
            "{request:?}: {answer:?}"
        );
    }
}
