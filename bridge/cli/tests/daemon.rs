//! `authbridge serve` under faults and load, spoken to with the same blocking
//! client the PAM and NSS modules use.

use authbridge_proto::{AuthRequest, AuthStatus, Client, Request, Response};
use authbridge_testsupport::{Daemon, SilentServer};
use std::path::Path;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

fn auth(user: &str, password: &str) -> Request {
    Request::Authenticate(AuthRequest {
        service: "test".into(),
        user: user.into(),
        password: password.to_owned().into(),
        rhost: None,
    })
}

fn ask(socket: &Path, request: &Request) -> Result<Response, authbridge_proto::ClientError> {
    let mut c = Client::connect(socket, Duration::from_secs(5))?;
    c.set_timeout(Duration::from_secs(30)).unwrap();
    c.call(request)
}

fn status(socket: &Path, user: &str, password: &str) -> AuthStatus {
    status_from(socket, user, password, None)
}

fn status_from(socket: &Path, user: &str, password: &str, rhost: Option<String>) -> AuthStatus {
    let request = Request::Authenticate(AuthRequest {
        service: "test".into(),
        user: user.into(),
        password: password.to_owned().into(),
        rhost,
    });
    match ask(socket, &request).unwrap() {
        Response::Auth(a) => a.status,
        other => panic!("{other:?}"),
    }
}

/// A config whose IMAP backend (for example.org logins) hangs: it accepts and
/// never speaks, until the backend's 3 s timeout.
fn hanging_backend(silent: &SilentServer) -> String {
    format!(
        "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\ndomain = \"example.org\"\ntimeout = \"3s\"\n",
        silent.port
    )
}

fn wait_for(what: &str, limit: Duration, done: impl FnMut() -> bool) {
    assert!(
        authbridge_testsupport::eventually(limit, done),
        "{what} after {limit:?}"
    );
}

fn open_fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .count()
}

#[test]
fn a_hanging_backend_is_unavailable_and_a_killed_daemon_fails_fast() {
    let silent = SilentServer::start();
    let mut d = Daemon::start(BIN, &hanging_backend(&silent));
    let started = Instant::now();
    assert_eq!(
        status(&d.socket, "carol@example.org", "pw"),
        AuthStatus::Unavailable
    );
    assert!(
        started.elapsed() >= Duration::from_secs(3),
        "answered before the backend timed out"
    );

    // Killed mid-request: the client hears it at once instead of waiting.
    let socket = d.socket.clone();
    let before = silent.connections();
    let pending = std::thread::spawn(move || ask(&socket, &auth("dora@example.org", "pw")));
    wait_for(
        "the request reaches the backend",
        Duration::from_secs(10),
        || silent.connections() > before,
    );
    let killed_at = Instant::now();
    d.kill();
    assert!(
        pending.join().unwrap().is_err(),
        "no answer can come from a dead daemon"
    );
    assert!(killed_at.elapsed() < Duration::from_secs(2));

    // The stale socket file of the crash does not stop a restart.
    d.restart();
    assert_eq!(
        status(&d.socket, "nobody@other.org", "pw"),
        AuthStatus::UnknownUser
    );
}

#[test]
fn a_thousand_concurrent_authentications_leak_nothing() {
    let mut d = Daemon::start(BIN, "");
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    let token = d.app_password("alice");
    // Warm up (the runtime's threads and the store's statements exist from now on).
    assert_eq!(status(&d.socket, "alice", &token), AuthStatus::Accepted);
    let pid = d.pid();
    let baseline = open_fds(pid);
    let threads: Vec<_> = (0..1000)
        .map(|i| {
            let socket = d.socket.clone();
            let password = if i % 10 == 0 {
                "wrong-password".to_owned()
            } else {
                token.clone()
            };
            // One source per client: the throttle (tested elsewhere) stays out of it.
            let rhost = format!("192.0.2.{}:{i}", i % 250);
            std::thread::spawn(move || status_from(&socket, "alice", &password, Some(rhost)))
        })
        .collect();
    let results: Vec<AuthStatus> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let accepted = results
        .iter()
        .filter(|s| **s == AuthStatus::Accepted)
        .count();
    assert_eq!(accepted, 900, "{:?}", &results[..20]);
    // The wrong ones each need an argon2id check; past the daemon's hashing places
    // and a brief wait they are answered "unavailable" (bounded memory), never
    // accepted.
    assert_eq!(
        results
            .iter()
            .filter(|s| matches!(s, AuthStatus::Rejected | AuthStatus::Unavailable))
            .count(),
        100,
        "{results:?}"
    );
    wait_for(
        "the daemon's fds back at the baseline",
        Duration::from_secs(10),
        || open_fds(pid) <= baseline,
    );
    assert_eq!(d.stop().map(|s| s.code()), Some(Some(0)));
}

#[test]
fn sighup_reloads_without_dropping_the_request_in_flight() {
    let silent = SilentServer::start();
    let d = Daemon::start(
        BIN,
        &format!("[nss]\nhome = \"/home/%u\"\n{}", hanging_backend(&silent)),
    );
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    let home = |d: &Daemon| match ask(&d.socket, &Request::PasswdByName("alice".into())).unwrap() {
        Response::Passwd(p) => p[0].dir.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(home(&d), "/home/alice");

    let socket = d.socket.clone();
    let before = silent.connections();
    let pending = std::thread::spawn(move || ask(&socket, &auth("erin@example.org", "pw")));
    wait_for(
        "the request reaches the backend",
        Duration::from_secs(10),
        || silent.connections() > before,
    );
    std::fs::write(
        &d.config,
        format!("[nss]\nhome = \"/srv/%u\"\n{}", hanging_backend(&silent)),
    )
    .unwrap();
    d.signal(libc::SIGHUP);
    wait_for("the reload", Duration::from_secs(10), || {
        d.log().contains("configuration reloaded")
    });
    assert_eq!(home(&d), "/srv/alice");
    match pending.join().unwrap().unwrap() {
        Response::Auth(a) => assert_eq!(a.status, AuthStatus::Unavailable),
        other => panic!("{other:?}"),
    }

    // A broken config is refused and the running one kept.
    std::fs::write(&d.config, "[nss]\nhome = 42\n").unwrap();
    d.signal(libc::SIGHUP);
    wait_for("the refused reload", Duration::from_secs(10), || {
        d.log().contains("reload failed")
    });
    assert_eq!(home(&d), "/srv/alice");
}

#[test]
fn sigterm_lets_the_request_in_flight_finish() {
    let silent = SilentServer::start();
    let mut d = Daemon::start(BIN, &hanging_backend(&silent));
    let socket = d.socket.clone();
    let pending = std::thread::spawn(move || ask(&socket, &auth("fay@example.org", "pw")));
    wait_for(
        "the request reaches the backend",
        Duration::from_secs(10),
        || silent.connections() > 0,
    );
    d.signal(libc::SIGTERM);
    wait_for("the socket is gone", Duration::from_secs(10), || {
        !d.socket.exists()
    });
    // The answer still arrives (the backend times out after 3 s), then the daemon exits 0.
    match pending.join().unwrap().unwrap() {
        Response::Auth(a) => assert_eq!(a.status, AuthStatus::Unavailable),
        other => panic!("{other:?}"),
    }
    assert_eq!(d.stop().map(|s| s.code()), Some(Some(0)));
    assert!(d.log().contains("stopped"));
}

#[test]
fn each_decision_is_one_log_line_without_the_password() {
    let d = Daemon::start(BIN, "");
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    assert_eq!(
        status(&d.socket, "alice", "Alice-pass-123"),
        AuthStatus::Accepted
    );
    assert_eq!(
        status(&d.socket, "alice", "Wrong-pass-999"),
        AuthStatus::Rejected
    );
    let log = d.log();
    let decisions: Vec<&str> = log.lines().filter(|l| l.contains(" decision ")).collect();
    assert_eq!(decisions.len(), 2, "{log}");
    for field in [
        "login=\"alice\"",
        "backend=local",
        "verdict=Accepted",
        "latency_ms=",
        "peer_uid=0",
        "peer_pid=",
    ] {
        assert!(
            decisions[0].contains(field),
            "{field} missing: {}",
            decisions[0]
        );
    }
    assert!(decisions[1].contains("verdict=Rejected"));
    assert!(
        !log.contains("Alice-pass-123") && !log.contains("Wrong-pass-999"),
        "{log}"
    );
}

#[test]
fn an_unprivileged_peer_may_look_up_but_not_authenticate_others() {
    let d = Daemon::start(BIN, "");
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    std::fs::set_permissions(
        d.dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // The PAM module run as nobody (pam_wrapper + pamtester): the daemon refuses.
    let services = authbridge_testsupport::server_dir("abpriv");
    let module = authbridge_testsupport::module(BIN, "libpam_authbridge.so");
    std::fs::write(
        services.path().join("ab"),
        format!(
            "auth required {} socket={}\n",
            module.display(),
            d.socket.display()
        ),
    )
    .unwrap();
    let mut script = std::process::Command::new("sh");
    script
        .arg("-c")
        .arg("printf 'Alice-pass-123\\n' | setpriv --reuid=65534 --regid=65534 --clear-groups env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=\"$1\" LD_PRELOAD=/usr/lib/x86_64-linux-gnu/libpam_wrapper.so pamtester ab alice authenticate")
        .arg("sh")
        .arg(services.path());
    let out = authbridge_testsupport::pam::run_with_input(script, "");
    let text = out.output;
    assert!(!out.ok, "{text}");
    assert!(
        text.contains("Authentication service cannot retrieve authentication info"),
        "{text}"
    );
    assert!(
        d.log()
            .contains("refused: a peer may not authenticate another user"),
        "{}",
        d.log()
    );
    assert!(!d.log().contains("verdict=Accepted"));
}

#[test]
fn the_request_timeout_bounds_a_slow_backend() {
    let silent = SilentServer::start();
    // The backend would wait 30 s; the daemon answers after its own 1 s.
    let config = format!(
        "[daemon]\nrequest_timeout = \"1s\"\n\n[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\ntimeout = \"30s\"\n",
        silent.port
    );
    let d = Daemon::start(BIN, &config);
    let started = Instant::now();
    match ask(&d.socket, &auth("gil", "pw")).unwrap() {
        Response::Error(e) => assert!(e.contains("timed out"), "{e}"),
        other => panic!("{other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    assert!(d.log().contains("request timed out"), "{}", d.log());
}

#[test]
fn the_daemon_stops_even_when_its_socket_file_is_gone() {
    let mut d = Daemon::start(BIN, "");
    assert_eq!(
        status(&d.socket, "nobody-here", "pw"),
        AuthStatus::UnknownUser
    );
    // Nothing can connect to wake the accepting thread through the path now.
    std::fs::remove_file(&d.socket).unwrap();
    assert_eq!(d.stop().map(|s| s.code()), Some(Some(0)));
    assert!(d.log().contains("stopped"), "{}", d.log());
}

/// One request as it goes over the socket: length prefix and body.
fn frame(request: &Request) -> Vec<u8> {
    let body = authbridge_proto::encode(request).unwrap();
    let mut frame = (body.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&body);
    frame
}

/// Every answer on the connection until the daemon closes it.
fn answers_until_closed(stream: &mut std::os::unix::net::UnixStream) -> Vec<String> {
    use std::io::Read;
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    let mut answers = Vec::new();
    let mut rest = &bytes[..];
    while let Some((prefix, tail)) = rest.split_first_chunk::<4>() {
        let len = u32::from_be_bytes(*prefix) as usize;
        let response: Response = authbridge_proto::decode(&tail[..len]).unwrap();
        answers.push(format!("{response:?}"));
        rest = &tail[len..];
    }
    assert!(rest.is_empty(), "a cut answer: {rest:?}");
    answers
}

#[test]
fn requests_are_answered_in_order_however_their_bytes_arrive() {
    use std::io::Write;
    let d = Daemon::start(BIN, "");
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    // Small requests, and one bigger than the accepting thread's first read.
    let requests = [
        Request::PasswdByName("alice".into()),
        Request::PasswdById(u32::MAX),
        Request::PasswdByName("b".repeat(3000)),
    ];
    let expected: Vec<String> = requests
        .iter()
        .map(|r| format!("{:?}", ask(&d.socket, r).unwrap()))
        .collect();
    let frames: Vec<Vec<u8>> = requests.iter().map(frame).collect();
    // Each shape: which requests, in which order, and where the bytes are cut
    // into writes (with a pause between them).
    let small = frames[0].len();
    let shapes: [(&str, &[usize], Vec<usize>); 6] = [
        ("all frames in one write", &[0, 1, 2], vec![]),
        ("the big frame alone", &[2], vec![]),
        ("the big frame first", &[2, 0], vec![]),
        ("a prefix cut in two", &[0, 1], vec![2]),
        (
            "a frame and the start of the next",
            &[0, 1],
            vec![small + 3],
        ),
        ("byte by byte", &[0, 1], (1..2 * small).collect()),
    ];
    for (shape, order, cuts) in shapes {
        let bytes: Vec<u8> = order.iter().flat_map(|&i| frames[i].clone()).collect();
        let mut stream = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut from = 0;
        for to in cuts.into_iter().chain([bytes.len()]) {
            stream.write_all(&bytes[from..to]).unwrap();
            from = to;
            std::thread::sleep(Duration::from_millis(2));
        }
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let wanted: Vec<String> = order.iter().map(|&i| expected[i].clone()).collect();
        assert_eq!(answers_until_closed(&mut stream), wanted, "{shape}");
    }
}

/// Reads until the daemon closes the connection. When it closes with some of the client's
/// bytes still unread, Linux tells this end with a reset instead of an end of file: a close
/// too. Any other error, a read timeout included, fails the test.
fn bytes_until_closed(stream: &mut std::os::unix::net::UnixStream) -> Vec<u8> {
    use std::io::{ErrorKind, Read};
    let mut bytes = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return bytes,
            Ok(n) => bytes.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return bytes,
            Err(e) => panic!("reading until the daemon closes: {e}"),
        }
    }
}

#[test]
fn a_frame_over_the_size_limit_closes_the_connection_however_it_arrives() {
    use std::io::Write;
    let d = Daemon::start(BIN, "");
    // One byte over the daemon's 64 KiB request limit: alone, and with bytes after it
    // (which the accepting thread reads ahead and hands on).
    let prefix = (64 * 1024u32 + 1).to_be_bytes();
    for tail in [&[][..], &[7u8; 100][..]] {
        let mut stream = std::os::unix::net::UnixStream::connect(&d.socket).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        // One write, so the daemon cannot close before the tail is sent (the client would get
        // EPIPE); no shutdown, so only the size can make the daemon close.
        stream.write_all(&[&prefix[..], tail].concat()).unwrap();
        let answer = bytes_until_closed(&mut stream);
        assert!(answer.is_empty(), "answered {} bytes", answer.len());
    }
    // And the daemon goes on answering.
    assert!(matches!(
        ask(&d.socket, &Request::PasswdById(u32::MAX)).unwrap(),
        Response::Passwd(entries) if entries.is_empty()
    ));
}

/// `[log] format = "json"`: every line is one JSON object, and a decision's
/// fields parse back to exactly what was sent, control characters and quotes
/// included (the text format escapes them; JSON must, too).
#[test]
fn json_decision_lines_parse_back_to_what_was_sent() {
    let d = Daemon::start(BIN, "[log]\nformat = \"json\"\n");
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    let hostile = "sshd\n2026-12-02T00:00:00Z INFO decision login=\"root\" \u{1b}[31m\"quoted\"";
    for (password, verdict) in [
        ("Alice-pass-123", "Accepted"),
        ("wrong-password", "Rejected"),
    ] {
        let request = Request::Authenticate(AuthRequest {
            service: hostile.into(),
            user: "alice".into(),
            password: password.to_owned().into(),
            rhost: None,
        });
        assert!(matches!(
            ask(&d.socket, &request).unwrap(),
            Response::Auth(_)
        ));
        let log = d.log();
        let lines: Vec<serde_json::Value> = log
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
            .collect();
        let decision = lines
            .iter()
            .rev()
            .find(|l| l["message"] == "decision")
            .unwrap_or_else(|| panic!("no decision line:\n{log}"));
        assert_eq!(decision["level"], "INFO");
        assert_eq!(decision["login"], "alice");
        assert_eq!(decision["verdict"], verdict);
        assert_eq!(decision["service"], hostile, "{decision}");
        assert!(decision["latency_ms"].is_u64(), "{decision}");
        assert!(decision["peer_uid"].is_i64(), "{decision}");
        for field in [
            "uid",
            "backend",
            "detail",
            "second_factor",
            "source",
            "timestamp",
        ] {
            assert!(decision[field].is_string(), "{field}: {decision}");
        }
    }
    // A service name of 60,000 bytes (a request may have 64 KiB) is logged
    // clipped, the line one object.
    let request = Request::Authenticate(AuthRequest {
        service: "s".repeat(60_000),
        user: "alice".into(),
        password: "Alice-pass-123".to_owned().into(),
        rhost: None,
    });
    assert!(matches!(
        ask(&d.socket, &request).unwrap(),
        Response::Auth(_)
    ));
    let log = d.log();
    let last: serde_json::Value = log
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|l| l["message"] == "decision")
        .unwrap();
    let service = last["service"].as_str().unwrap();
    assert!(service.len() < 300, "{}", service.len());
    assert!(service.ends_with("…[59744 bytes cut]"), "{service}");
    // Nothing of the hostile name reached the log unescaped as a line of its own.
    assert!(
        !d.log()
            .lines()
            .any(|l| l.starts_with("2026-12-02T00:00:00Z"))
    );
}

#[test]
fn an_unknown_log_format_is_a_config_error_naming_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[log]\nformat = \"xml\"\n").unwrap();
    let out = std::process::Command::new(BIN)
        .args(["--config"])
        .arg(&config)
        .args(["--data-dir"])
        .arg(dir.path().join("data"))
        .arg("serve")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("config.toml:2: unknown variant `xml`, expected `text` or `json`"),
        "{err}"
    );
}
