//! Under systemd (standard error is the stream JOURNAL_STREAM names), decisions
//! go to journald natively, each field a journal field of its own. journald
//! itself cannot run here: the daemon runs in a private mount namespace whose
//! /run/systemd/journal/socket is this test's datagram socket, and the test
//! reads the native protocol (systemd's "Native Journal Protocol") off it.

use authbridge_proto::{AuthRequest, Client, Request, Response};
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

/// One datagram's fields: `KEY=value\n`, or `KEY\n` + 64-bit LE length +
/// bytes + `\n` for values with a newline.
fn fields(mut datagram: &[u8]) -> HashMap<String, Vec<u8>> {
    let mut out = HashMap::new();
    while !datagram.is_empty() {
        let end = datagram.iter().position(|&b| b == b'\n').unwrap();
        let line = &datagram[..end];
        if let Some(eq) = line.iter().position(|&b| b == b'=') {
            out.insert(
                String::from_utf8(line[..eq].to_vec()).unwrap(),
                line[eq + 1..].to_vec(),
            );
            datagram = &datagram[end + 1..];
        } else {
            let key = String::from_utf8(line.to_vec()).unwrap();
            let rest = &datagram[end + 1..];
            let len = u64::from_le_bytes(rest[..8].try_into().unwrap()) as usize;
            out.insert(key, rest[8..8 + len].to_vec());
            assert_eq!(rest[8 + len], b'\n');
            datagram = &rest[8 + len + 1..];
        }
    }
    out
}

#[test]
fn under_systemd_each_decision_field_is_a_journal_field() {
    let dir = authbridge_testsupport::server_dir("abjournal");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[http]\nenabled = false\n").unwrap();
    let data = dir.path().join("data");
    let socket = dir.path().join("authbridge.sock");
    let add = Command::new(BIN)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .args(["user", "add", "--password-from-env", "alice"])
        .env("OC_PASS", "Alice-pass-123")
        .output()
        .unwrap();
    assert!(
        add.status.success(),
        "{}",
        String::from_utf8_lossy(&add.stderr)
    );

    let journal_socket = dir.path().join("journal.sock");
    let journal = UnixDatagram::bind(&journal_socket).unwrap();
    journal
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // The daemon's standard error is this file, and JOURNAL_STREAM names it.
    let stderr_path = dir.path().join("stderr");
    let stderr = std::fs::File::create(&stderr_path).unwrap();
    let meta = stderr.metadata().unwrap();
    let mut daemon = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(concat!(
            r#"mount -t tmpfs tmpfs /run && mkdir -p /run/systemd/journal"#,
            r#" && ln -s "$0" /run/systemd/journal/socket && exec "$@""#
        ))
        .arg(&journal_socket)
        .arg(BIN)
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .arg("--socket")
        .arg(&socket)
        .arg("serve")
        .env("JOURNAL_STREAM", format!("{}:{}", meta.dev(), meta.ino()))
        .stdout(Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let started = Instant::now();
    while Client::connect(&socket, Duration::from_secs(1)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(10), "no daemon");
        std::thread::sleep(Duration::from_millis(20));
    }

    // A PAM service name with a newline: one field, not a forged entry.
    let service = "sshd\nMESSAGE=forged";
    let request = Request::Authenticate(AuthRequest {
        service: service.into(),
        user: "alice".into(),
        password: "Alice-pass-123".to_owned().into(),
        rhost: None,
    });
    assert!(matches!(
        Client::ask(&socket, Duration::from_secs(10), &request).unwrap(),
        Response::Auth(_)
    ));
    let mut buf = vec![0u8; 65536];
    let decision = loop {
        let n = journal.recv(&mut buf).expect("a journal entry within 10 s");
        let entry = fields(&buf[..n]);
        if entry
            .get("MESSAGE")
            .is_some_and(|m| m.starts_with(b"decision: "))
        {
            break entry;
        }
    };
    let _ = daemon.kill();
    let _ = daemon.wait();

    let text = |key: &str| String::from_utf8(decision[key].clone()).unwrap();
    assert_eq!(text("PRIORITY"), "5"); // INFO is journald's "notice"
    assert_eq!(text("SYSLOG_IDENTIFIER"), "authbridge");
    assert_eq!(text("AUTHBRIDGE_LOGIN"), "alice");
    assert_eq!(text("AUTHBRIDGE_VERDICT"), "Accepted");
    assert_eq!(text("AUTHBRIDGE_BACKEND"), "local");
    assert_eq!(text("AUTHBRIDGE_SERVICE"), service);
    assert!(
        text("MESSAGE").starts_with("decision: \"alice\" Accepted by local ("),
        "{}",
        text("MESSAGE")
    );
    assert!(!text("MESSAGE").contains('\n'), "{}", text("MESSAGE"));
    // Nothing of it on standard error.
    let written = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(!written.contains("decision"), "{written}");
}
