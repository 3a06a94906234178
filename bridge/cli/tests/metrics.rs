//! `[metrics] listen`: Prometheus's text format, checked by Prometheus's own
//! `promtool`, scraped while the daemon is under load, counters moving with
//! the decisions made.

use authbridge_proto::{AuthRequest, AuthStatus, Client, Request, Response};
use authbridge_testsupport::{Daemon, free_port};
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

fn authenticate(d: &Daemon, password: &str) -> AuthStatus {
    let request = Request::Authenticate(AuthRequest {
        service: "metrics-test".into(),
        user: "alice".into(),
        password: password.to_owned().into(),
        rhost: None,
    });
    match Client::ask(&d.socket, Duration::from_secs(10), &request).unwrap() {
        Response::Auth(a) => a.status,
        other => panic!("{other:?}"),
    }
}

fn scrape(port: u16) -> String {
    let response = reqwest::blocking::get(format!("http://127.0.0.1:{port}/metrics")).unwrap();
    assert_eq!(response.status(), 200);
    let kind = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    response.text().unwrap()
}

/// `promtool check metrics` reads the exposition on stdin; it fails on a
/// malformed line and warns (on stdout) on a bad name or a missing HELP.
fn promtool_accepts(text: &str) {
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (apt-get install prometheus)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && said.trim().is_empty(),
        "{said}\n{text}"
    );
}

/// The value of the sample whose name and labels are exactly `series`.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.parse().unwrap())
}

#[test]
fn metrics_pass_promtool_under_load_and_count_every_decision() {
    let port = free_port();
    let d = Daemon::start(BIN, &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    let accepted = "authbridge_decisions_total{backend=\"local\",verdict=\"accepted\"}";
    // A wrong password is decided by no backend: "-", as in the log.
    let rejected = "authbridge_decisions_total{backend=\"-\",verdict=\"rejected\"}";
    let before = scrape(port);
    promtool_accepts(&before);
    assert_eq!(value(&before, accepted), 0.0);
    assert!(
        before.contains("authbridge_build_info{version=\""),
        "{before}"
    );

    // Four clients at once, each 25 right and 5 wrong passwords (local users'
    // passwords cost an argon2id each: a load, bounded), scraped meanwhile.
    std::thread::scope(|s| {
        let clients: Vec<_> = (0..4)
            .map(|_| {
                s.spawn(|| {
                    for i in 0..30 {
                        let (password, expected) = if i % 6 == 5 {
                            ("wrong-password", AuthStatus::Rejected)
                        } else {
                            ("Alice-pass-123", AuthStatus::Accepted)
                        };
                        // A wrong password makes the next attempts of this
                        // (login, source) wait out the throttle's delay: the
                        // answer is then still the verdict, or "throttled".
                        let status = authenticate(&d, password);
                        assert!(
                            status == expected || status == AuthStatus::Throttled,
                            "{status:?}"
                        );
                    }
                })
            })
            .collect();
        let mut last = 0.0;
        while clients.iter().any(|c| !c.is_finished()) {
            let during = scrape(port);
            promtool_accepts(&during);
            let now = value(&during, accepted);
            assert!(now >= last, "a counter went back: {last} then {now}");
            last = now;
            std::thread::sleep(Duration::from_millis(100));
        }
    });

    let after = scrape(port);
    promtool_accepts(&after);
    let decided: f64 = after
        .lines()
        .filter(|l| l.starts_with("authbridge_decisions_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(decided, 120.0, "{after}");
    let log = d.log();
    assert_eq!(
        value(&after, accepted) as usize,
        log.matches("backend=local verdict=Accepted").count(),
        "{after}\n{log}"
    );
    assert!(value(&after, rejected) >= 1.0, "{after}");
    assert_eq!(
        value(
            &after,
            "authbridge_decision_duration_seconds_count{backend=\"local\"}"
        ),
        value(&after, accepted),
        "{after}"
    );
    assert_eq!(
        value(
            &after,
            "authbridge_decision_duration_seconds_count{backend=\"-\"}"
        ),
        value(&after, rejected),
        "{after}"
    );
    assert!(
        value(&after, "authbridge_store_errors_total") == 0.0,
        "{after}"
    );
}

#[test]
fn only_get_metrics_is_served() {
    let port = free_port();
    let _d = Daemon::start(BIN, &format!("[metrics]\nlisten = \"127.0.0.1:{port}\"\n"));
    let client = reqwest::blocking::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    assert_eq!(
        client
            .post(format!("{base}/metrics"))
            .send()
            .unwrap()
            .status(),
        405
    );
    assert_eq!(client.get(format!("{base}/")).send().unwrap().status(), 404);
}
