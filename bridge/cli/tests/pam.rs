//! pam_authbridge.so through the real libpam (pam_wrapper + pamtester), against a
//! real `authbridge serve`: every verdict, every option, and chauthtok.

use authbridge_testsupport::pam::{
    ACCT_EXPIRED, AUTH_ERR, AUTHINFO_UNAVAIL, AUTHTOK_ERR, PAM_WRAPPER, Pam, Run, SET_ITEMS,
    SUCCESS, USER_UNKNOWN, expect, run_with_input,
};
use authbridge_testsupport::{ClosedPort, Daemon, Dovecot, module};
use std::path::Path;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

/// Runs a Python `script` as nobody from `dir` (made world-writable) and waits
/// until it has created `dir/ready`.
fn python_as_nobody(dir: &Path, name: &str, script: &str) -> std::process::Child {
    std::fs::write(dir.join(name), script).unwrap();
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let child = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "/usr/bin/python3",
        ])
        .arg(dir.join(name))
        .spawn()
        .unwrap();
    assert!(
        authbridge_testsupport::eventually(std::time::Duration::from_secs(30), || dir
            .join("ready")
            .exists()),
        "{name} did not start"
    );
    child
}

fn line(socket: &Path, options: &str) -> String {
    format!("MODULE socket={} {options}", socket.display())
}

/// A daemon whose only external backend serves example.org on an IMAP port nobody
/// listens on: such logins are unavailable, logins of other domains unknown.
fn daemon(extra_config: &str) -> Daemon {
    let config = format!(
        "{extra_config}\n[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\ndomain = \"example.org\"\n",
        // Held until the test process ends, so no other test's server takes it.
        Box::leak(Box::new(ClosedPort::hold())).port
    );
    let d = Daemon::start(BIN, &config);
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    d.cli(
        &["user", "add", "--password-from-env", "dave"],
        Some("Dave-pass-1234"),
    );
    d.cli(&["user", "disable", "dave"], None);
    d
}

#[test]
fn every_verdict_maps_to_its_pam_code() {
    let d = daemon("");
    let pam = Pam::new(BIN);
    let l = line(&d.socket, "");
    pam.service(
        "ab",
        &format!("auth required {l}\naccount required {l}\nsession required {l}\n"),
    );
    let all = [
        "authenticate",
        "acct_mgmt",
        "setcred",
        "open_session",
        "close_session",
    ];
    expect(
        pam.run("ab", "alice", &all, "Alice-pass-123\n", &[]),
        true,
        SUCCESS,
    );
    expect(
        pam.run("ab", "alice", &["authenticate"], "wrong-password\n", &[]),
        false,
        AUTH_ERR,
    );
    // Disabled: the password is refused, and the account is reported expired.
    expect(
        pam.run("ab", "dave", &["authenticate"], "Dave-pass-1234\n", &[]),
        false,
        AUTH_ERR,
    );
    expect(
        pam.run("ab", "dave", &["acct_mgmt"], "", &[]),
        false,
        ACCT_EXPIRED,
    );
    // No backend serves other.org and the store does not know the login.
    expect(
        pam.run(
            "ab",
            "nobody@other.org",
            &["authenticate"],
            "x-password\n",
            &[],
        ),
        false,
        USER_UNKNOWN,
    );
    expect(
        pam.run("ab", "nobody", &["acct_mgmt"], "", &[]),
        false,
        USER_UNKNOWN,
    );
    // The example.org mail server cannot be reached.
    expect(
        pam.run(
            "ab",
            "carol@example.org",
            &["authenticate"],
            "c-password\n",
            &[],
        ),
        false,
        AUTHINFO_UNAVAIL,
    );
    // open_session recorded the login.
    let info = d.cli(&["user", "info", "alice", "--output=json"], None);
    let info = String::from_utf8_lossy(&info.stdout);
    assert!(!info.contains("\"last_seen\":\"never\""), "{info}");
    let log = d.log();
    assert!(
        log.contains("session opened") && log.contains("uid=\"alice\""),
        "{log}"
    );
}

#[test]
fn the_daemon_down_or_mute_is_authinfo_unavail() {
    let pam = Pam::new(BIN);
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nobody-listens.sock");
    pam.service(
        "down",
        &format!(
            "auth required {}\naccount required {}\n",
            line(&missing, ""),
            line(&missing, "")
        ),
    );
    expect(
        pam.run("down", "alice", &["authenticate"], "pw\n", &[]),
        false,
        AUTHINFO_UNAVAIL,
    );
    expect(
        pam.run("down", "alice", &["acct_mgmt"], "", &[]),
        false,
        AUTHINFO_UNAVAIL,
    );

    // A daemon that accepts and never answers: timeout= bounds the wait.
    let mute = dir.path().join("mute.sock");
    let listener = std::os::unix::net::UnixListener::bind(&mute).unwrap();
    pam.service(
        "mute",
        &format!("auth required {}\n", line(&mute, "timeout=1")),
    );
    let started = std::time::Instant::now();
    expect(
        pam.run("mute", "alice", &["authenticate"], "pw\n", &[]),
        false,
        AUTHINFO_UNAVAIL,
    );
    let waited = started.elapsed();
    drop(listener);
    assert!(
        waited.as_secs() < 15,
        "the module waited {waited:?}, not about timeout=1"
    );
}

#[test]
fn no_password_goes_to_a_socket_of_another_unprivileged_user() {
    let dir = authbridge_testsupport::server_dir("abpam");
    let sock = dir.path().join("impostor.sock");
    let received = dir.path().join("received");
    // A listener running as nobody, recording how many bytes it was sent.
    let script = format!(
        "import socket,os\ns=socket.socket(socket.AF_UNIX)\ns.bind({sock:?})\nos.chmod({sock:?},0o666)\ns.listen()\nopen({ready:?},'w').close()\nc,_=s.accept()\nc.settimeout(3)\nn=0\ntry:\n  while True:\n    b=c.recv(4096)\n    if not b: break\n    n+=len(b)\nexcept Exception: pass\nopen({received:?},'w').write(str(n))\n",
        sock = sock.to_str().unwrap(),
        ready = dir.path().join("ready").to_str().unwrap(),
        received = received.to_str().unwrap(),
    );
    let mut impostor = python_as_nobody(dir.path(), "impostor.py", &script);
    let pam = Pam::new(BIN);
    pam.service("imp", &format!("auth required {}\n", line(&sock, "")));
    let out = expect(
        pam.run("imp", "alice", &["authenticate"], "secret-pw\n", &[]),
        false,
        AUTHINFO_UNAVAIL,
    );
    assert!(out.contains("runs as uid 65534"), "{out}");
    impostor.wait().unwrap();
    assert_eq!(
        std::fs::read_to_string(&received).unwrap(),
        "0",
        "bytes reached the impostor"
    );
}

#[test]
fn first_pass_options_and_the_stacked_token() {
    let d = daemon("");
    let pam = Pam::new(BIN);
    let l = |o: &str| line(&d.socket, o);
    // The first module prompts and stores PAM_AUTHTOK; the second uses it unasked.
    pam.service(
        "stack",
        &format!(
            "auth required {}\nauth required {}\n",
            l(""),
            l("use_first_pass")
        ),
    );
    expect(
        pam.run("stack", "alice", &["authenticate"], "Alice-pass-123\n", &[]),
        true,
        SUCCESS,
    );

    // use_first_pass with a token from pam_set_items, nothing on stdin.
    pam.service(
        "first",
        &format!(
            "auth required {SET_ITEMS}\nauth required {}\n",
            l("use_first_pass")
        ),
    );
    expect(
        pam.run(
            "first",
            "alice",
            &["authenticate"],
            "",
            &[("PAM_AUTHTOK", "Alice-pass-123")],
        ),
        true,
        SUCCESS,
    );
    // use_first_pass without a token: refused, never prompts.
    let out = expect(
        pam.run("first", "alice", &["authenticate"], "Alice-pass-123\n", &[]),
        false,
        AUTH_ERR,
    );
    assert!(!out.contains("Password:"), "prompted: {out}");

    // try_first_pass: a wrong stacked token, then the prompt.
    pam.service(
        "try",
        &format!(
            "auth required {SET_ITEMS}\nauth required {}\n",
            l("try_first_pass")
        ),
    );
    let out = expect(
        pam.run(
            "try",
            "alice",
            &["authenticate"],
            "Alice-pass-123\n",
            &[("PAM_AUTHTOK", "not-it")],
        ),
        true,
        SUCCESS,
    );
    assert!(out.contains("Password:"), "{out}");
    // try_first_pass with the right token: no prompt.
    let out = expect(
        pam.run(
            "try",
            "alice",
            &["authenticate"],
            "",
            &[("PAM_AUTHTOK", "Alice-pass-123")],
        ),
        true,
        SUCCESS,
    );
    assert!(!out.contains("Password:"), "{out}");

    // debug: the verdict goes to syslog; an unknown option is named there too.
    pam.service("dbg", &format!("auth required {}\n", l("debug frobnicate")));
    let out = expect(
        pam.run(
            "dbg",
            "alice",
            &["authenticate"],
            "Alice-pass-123\n",
            &[("PAM_WRAPPER_DEBUGLEVEL", "2")],
        ),
        true,
        SUCCESS,
    );
    assert!(out.contains("authenticate alice: Accepted"), "{out}");
    assert!(out.contains("unknown options ignored: frobnicate"), "{out}");
}

#[test]
fn throttled_attempts_fail_and_reach_no_backend() {
    // A long first delay, so the second attempt is surely inside it.
    let d = daemon("[throttle]\nfirst_delay = \"1h\"\n");
    let pam = Pam::new(BIN);
    pam.service("ab", &format!("auth required {}\n", line(&d.socket, "")));
    let from = |host: &str| format!("rhost={host}");
    let attempt = |password: &str, host: &str| {
        pam.run_with(
            "ab",
            "alice",
            &["authenticate"],
            &format!("{password}\n"),
            &[],
            &[&from(host)],
        )
    };
    expect(attempt("wrong-password", "192.0.2.1"), false, AUTH_ERR);
    expect(attempt("Alice-pass-123", "192.0.2.1"), false, AUTH_ERR);
    // Another source is not throttled, and its success does not clear the first.
    expect(attempt("Alice-pass-123", "198.51.100.2"), true, SUCCESS);
    expect(attempt("Alice-pass-123", "192.0.2.1"), false, AUTH_ERR);
    let log = d.log();
    let throttled: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("verdict=Throttled"))
        .collect();
    assert_eq!(throttled.len(), 2, "{log}");
    assert!(
        throttled
            .iter()
            .all(|l| l.contains("backend=throttle") && l.contains("source=\"192.0.2.1\"")),
        "{log}"
    );

    // The state survives a restart.
    let mut d = d;
    d.stop();
    d.restart();
    expect(attempt("Alice-pass-123", "192.0.2.1"), false, AUTH_ERR);
    assert_eq!(d.log().matches("verdict=Throttled").count(), 3);
}

#[test]
fn chauthtok_changes_local_passwords_under_the_policy_only() {
    let d = daemon("");
    let pam = Pam::new(BIN);
    let l = line(&d.socket, "");
    pam.service("pw", &format!("auth required {l}\npassword required {l}\n"));
    // Root changes without the old password; the new one twice.
    expect(
        pam.run(
            "pw",
            "alice",
            &["chauthtok"],
            "Brand-new-pass-42\nBrand-new-pass-42\n",
            &[],
        ),
        true,
        SUCCESS,
    );
    expect(
        pam.run("pw", "alice", &["authenticate"], "Brand-new-pass-42\n", &[]),
        true,
        SUCCESS,
    );
    expect(
        pam.run("pw", "alice", &["authenticate"], "Alice-pass-123\n", &[]),
        false,
        AUTH_ERR,
    );
    // Mismatch, policy.
    let out = expect(
        pam.run(
            "pw",
            "alice",
            &["chauthtok"],
            "Other-pass-4242\nOther-pass-4243\n",
            &[],
        ),
        false,
        AUTHTOK_ERR,
    );
    assert!(out.contains("do not match"), "{out}");
    let out = expect(
        pam.run("pw", "alice", &["chauthtok"], "short\nshort\n", &[]),
        false,
        AUTHTOK_ERR,
    );
    assert!(out.contains("at least"), "policy message missing: {out}");
    expect(
        pam.run("pw", "alice", &["authenticate"], "Brand-new-pass-42\n", &[]),
        true,
        SUCCESS,
    );
    // Unknown to authbridge: the stack may fall through to pam_unix.
    expect(
        pam.run("pw", "nobody", &["chauthtok"], "", &[]),
        false,
        USER_UNKNOWN,
    );
}

/// A daemon in front of Dovecot (implicit TLS) with these daemon settings.
fn with_mail_server(imap: &Dovecot, daemon_settings: &str) -> Daemon {
    Daemon::start(
        BIN,
        &format!(
            "[daemon]\n{daemon_settings}\n\n[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\nca_file = \"{}\"\n",
            imap.imaps_port,
            imap.pki.ca_file.display()
        ),
    )
}

/// `alice` authenticates through the `ab` service with this password.
fn alice_authenticates(pam: &Pam, password: &str) -> Run {
    pam.run(
        "ab",
        "alice",
        &["authenticate"],
        &format!("{password}\n"),
        &[],
    )
}

#[test]
fn the_credential_cache_spares_the_mail_server_and_never_outlives_a_change() {
    let imap = Dovecot::start(&[("alice", "alice-mail-pw")]);
    let mut d = with_mail_server(&imap, "cached_auth_timeout = \"60s\"");
    let pam = Pam::new(BIN);
    pam.service("ab", &format!("auth required {}\n", line(&d.socket, "")));
    let login = |password: &str| alice_authenticates(&pam, password);
    for _ in 0..10 {
        expect(login("alice-mail-pw"), true, SUCCESS);
    }
    assert_eq!(imap.logins_reaching("alice", 1), 1, "{}", imap.log());
    let log = d.log();
    assert_eq!(
        log.matches("backend=cache").count(),
        9,
        "{log}\n{}",
        imap.log()
    );
    // A password that was not accepted goes to the server, and is refused.
    expect(login("not-alices-pw"), false, AUTH_ERR);
    assert_eq!(
        imap.log().matches("Password mismatch").count(),
        1,
        "{}",
        imap.log()
    );
    expect(login("alice-mail-pw"), true, SUCCESS);
    let log = d.log();
    assert_eq!(
        log.matches("backend=cache").count(),
        10,
        "{log}\n{}",
        imap.log()
    );

    // Disabled by the CLI: refused at once, the remembered password included.
    d.cli(&["user", "disable", "alice"], None);
    expect(login("alice-mail-pw"), false, AUTH_ERR);
    d.cli(&["user", "enable", "alice"], None);
    expect(login("alice-mail-pw"), true, SUCCESS);
    assert_eq!(
        imap.logins_reaching("alice", 2),
        2,
        "asked again after the change"
    );

    // Deleted: nothing remembered of the old account answers for it.
    d.cli(&["user", "delete", "alice"], None);
    expect(login("alice-mail-pw"), true, SUCCESS);
    assert_eq!(
        imap.logins_reaching("alice", 3),
        3,
        "asked again after the delete"
    );

    // SIGHUP empties the cache.
    d.signal(libc::SIGHUP);
    assert!(
        authbridge_testsupport::eventually(std::time::Duration::from_secs(5), || d
            .log()
            .contains("configuration reloaded")),
        "no reload"
    );
    expect(login("alice-mail-pw"), true, SUCCESS);
    assert_eq!(imap.logins_reaching("alice", 4), 4);
    let cached = d.log().matches("backend=cache").count();

    // The same cache answers /auth/check; a local user's PAM password is never
    // kept (argon2id's cost is the point of a PAM login).
    d.cli(
        &["user", "add", "--password-from-env", "bob"],
        Some("Bob-local-pass-1"),
    );
    for _ in 0..2 {
        let bob = pam.run("ab", "bob", &["authenticate"], "Bob-local-pass-1\n", &[]);
        expect(bob, true, SUCCESS);
    }
    assert_eq!(d.log().matches("backend=cache").count(), cached);
    d.stop();
}

#[test]
fn offline_logins_inside_the_window_only() {
    let imap = Dovecot::start(&[("alice", "alice-mail-pw")]);
    let d = with_mail_server(
        &imap,
        "offline_credentials_expiration = \"1h\"\noffline_failed_login_attempts = 2\noffline_failed_login_delay = \"1h\"",
    );
    let pam = Pam::new(BIN);
    pam.service("ab", &format!("auth required {}\n", line(&d.socket, "")));
    // A failure shows the daemon's decisions too: this test depends on their order.
    let login = |password: &str| {
        let run = alice_authenticates(&pam, password);
        Run {
            output: format!("{}\n--- daemon log ---\n{}", run.output, d.log()),
            ..run
        }
    };
    expect(login("alice-mail-pw"), true, SUCCESS);
    let out = d.cli(&["user", "auth-tokens", "add", "alice"], None);
    let token = String::from_utf8_lossy(&out.stdout)
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();

    imap.stop();
    // The mail server is down: the verifier of the last online login decides.
    expect(login("alice-mail-pw"), true, SUCCESS);
    assert!(d.log().contains("backend=offline"), "{}", d.log());
    // App passwords do not depend on the mail server at all.
    expect(login(&token), true, SUCCESS);
    // Wrong offline passwords are counted; after two, even the right one waits.
    expect(login("guess-one"), false, AUTH_ERR);
    expect(login("guess-two"), false, AUTH_ERR);
    expect(login("alice-mail-pw"), false, AUTHINFO_UNAVAIL);
    assert!(
        d.log().contains("too many wrong offline passwords"),
        "{}",
        d.log()
    );
    // The outage revoked nothing.
    let tokens = d.cli(&["user", "auth-tokens", "list", "alice"], None);
    assert!(!String::from_utf8_lossy(&tokens.stdout).trim().is_empty());

    // Move the last online login two hours back: the window is over.
    let db = rusqlite::Connection::open(d.dir.path().join("data/authbridge.sqlite")).unwrap();
    let changed = db
        .execute(
            "UPDATE verifiers SET verified_online = verified_online - 7200, offline_failures = 0",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    expect(login("alice-mail-pw"), false, AUTHINFO_UNAVAIL);

    // Back inside the window, a disable drops the verifier for good.
    db.execute(
        "UPDATE verifiers SET verified_online = verified_online + 7200",
        [],
    )
    .unwrap();
    expect(login("alice-mail-pw"), true, SUCCESS);
    d.cli(&["user", "disable", "alice"], None);
    d.cli(&["user", "enable", "alice"], None);
    let left: i64 = db
        .query_row("SELECT count(*) FROM verifiers", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
    expect(login("alice-mail-pw"), false, AUTHINFO_UNAVAIL);
}

/// An unprivileged installation (the embedded default run by an ordinary user):
/// the module trusts a daemon of its own uid, and a caller that is not root must
/// give the old password to change it.
#[test]
fn an_unprivileged_daemon_and_the_old_password_path() {
    const NOBODY: &str = "65534";
    let dir = authbridge_testsupport::server_dir("abnobody");
    let data = dir.path().join("data");
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[http]\nenabled = false\n").unwrap();
    let as_nobody = |program: &str| {
        let mut c = Command::new("setpriv");
        c.args([
            "--reuid",
            NOBODY,
            "--regid",
            NOBODY,
            "--clear-groups",
            program,
        ])
        .env("AUTHBRIDGE_CONFIG", &config)
        .env("AUTHBRIDGE_DATA_DIR", &data)
        .env("HOME", dir.path());
        c
    };
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let added = as_nobody(BIN)
        .args(["user", "add", "--password-from-env", "alice"])
        .env("OC_PASS", "Alice-pass-123")
        .output()
        .unwrap();
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    let socket = data.join("authbridge.sock");
    let mut daemon = as_nobody(BIN)
        .arg("serve")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    assert!(
        authbridge_testsupport::eventually(std::time::Duration::from_secs(10), || {
            std::os::unix::net::UnixStream::connect(&socket).is_ok()
        }),
        "the daemon did not start"
    );
    let services = authbridge_testsupport::server_dir("abnobodypam");
    let module = module(BIN, "libpam_authbridge.so");
    std::fs::write(
        services.path().join("pw"),
        format!(
            "auth required {m} socket={s}\npassword required {m} socket={s}\n",
            m = module.display(),
            s = socket.display()
        ),
    )
    .unwrap();
    let pamtester = |ops: &[&str], stdin: &str| {
        let mut cmd = as_nobody("pamtester");
        cmd.args(["pw", "alice"])
            .args(ops)
            .env("PAM_WRAPPER", "1")
            .env("PAM_WRAPPER_SERVICE_DIR", services.path())
            .env("LD_PRELOAD", PAM_WRAPPER);
        run_with_input(cmd, stdin)
    };
    // The daemon runs as the caller's own uid: trusted.
    expect(
        pamtester(&["authenticate"], "Alice-pass-123\n"),
        true,
        SUCCESS,
    );
    // Not root: the old password is asked first, and a wrong one is refused.
    let out = expect(
        pamtester(
            &["chauthtok"],
            "Wrong-old-pass-1\nBrand-new-pass-42\nBrand-new-pass-42\n",
        ),
        false,
        AUTH_ERR,
    );
    assert!(out.contains("Current password"), "{out}");
    expect(
        pamtester(
            &["chauthtok"],
            "Alice-pass-123\nBrand-new-pass-42\nBrand-new-pass-42\n",
        ),
        true,
        SUCCESS,
    );
    expect(
        pamtester(&["authenticate"], "Brand-new-pass-42\n"),
        true,
        SUCCESS,
    );
    let _ = daemon.kill();
    let _ = daemon.wait();
}

/// Gives the store user `uid` the password hash of `like`, as an old database
/// or a hand-edited one could: the row exists whatever the rules say now.
fn plant_store_user(d: &Daemon, uid: &str, like: &str) {
    let db = rusqlite::Connection::open(d.dir.path().join("data/authbridge.sqlite")).unwrap();
    db.execute(
        "INSERT INTO users (uid, backend, password_hash, created)
         SELECT ?1, backend, password_hash, 0 FROM users WHERE uid = ?2",
        [uid, like],
    )
    .unwrap();
}

#[test]
fn system_names_are_never_authenticated_even_with_a_store_row() {
    // carol is on the deny list only: the module cannot know, the daemon refuses.
    let d = daemon("[names]\ndeny_users = [\"root\", \"carol\"]\n");
    for uid in ["root", "daemon", "carol"] {
        plant_store_user(&d, uid, "alice");
    }
    let pam = Pam::new(BIN);
    let l = line(&d.socket, "debug");
    pam.service("ab", &format!("auth required {l}\naccount required {l}\n"));
    for uid in ["root", "Daemon", "carol"] {
        // With alice's password, which the planted row carries.
        expect(
            pam.run("ab", uid, &["authenticate"], "Alice-pass-123\n", &[]),
            false,
            USER_UNKNOWN,
        );
        expect(
            pam.run("ab", uid, &["acct_mgmt"], "", &[]),
            false,
            USER_UNKNOWN,
        );
    }
    // root and daemon never reached the daemon (refused in the module); carol did.
    let log = d.log();
    assert!(!log.contains("login=\"root\""), "{log}");
    assert!(!log.contains("login=\"daemon\""), "{log}");
    assert!(
        log.lines()
            .any(|l| l.contains("login=\"carol\"") && l.contains("deny list")),
        "{log}"
    );
    expect(
        pam.run("ab", "alice", &["authenticate"], "Alice-pass-123\n", &[]),
        true,
        SUCCESS,
    );
}

#[test]
fn a_local_peer_cannot_pick_its_throttle_source_through_rhost() {
    let d = daemon("[throttle]\nfirst_delay = \"1h\"\n");
    // The peer runs as alice's own uid (a screen locker checking its user).
    let id = {
        let db = rusqlite::Connection::open(d.dir.path().join("data/authbridge.sqlite")).unwrap();
        db.query_row("SELECT id_number FROM users WHERE uid = 'alice'", [], |r| {
            r.get::<_, i64>(0)
        })
        .unwrap()
    };
    let pam = Pam::new(BIN);
    pam.service("ab", &format!("auth required {}\n", line(&d.socket, "")));
    std::fs::set_permissions(
        pam.services(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let attempt = |password: &str, host: &str| {
        let script = format!(
            "printf '{password}\\n' | setpriv --reuid={id} --regid={id} --clear-groups env PAM_WRAPPER=1 PAM_WRAPPER_SERVICE_DIR=\"$1\" LD_PRELOAD={PAM_WRAPPER} pamtester -I rhost={host} ab alice authenticate"
        );
        let mut c = Command::new("sh");
        c.arg("-c").arg(script).arg("sh").arg(pam.services());
        run_with_input(c, "")
    };
    // A wrong password from one claimed host, then the right one from another:
    // both count against the peer's uid, so the second is throttled.
    expect(attempt("wrong-password", "192.0.2.1"), false, AUTH_ERR);
    expect(attempt("Alice-pass-123", "198.51.100.9"), false, AUTH_ERR);
    let log = d.log();
    let source = format!("source=\"local uid {id}\"");
    assert!(
        log.lines()
            .any(|l| l.contains("verdict=Throttled") && l.contains(&source)),
        "{log}"
    );
    assert!(!log.contains("198.51.100.9"), "{log}");
}

#[test]
fn pam_answers_while_an_unprivileged_user_holds_1030_idle_connections() {
    // systemd's default limit of 1024 open files, soft and hard.
    let d = Daemon::start_with_open_files(BIN, "", 1024);
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    let dir = authbridge_testsupport::server_dir("abhoard");
    let ready = dir.path().join("ready");
    // As nobody: 1,030 connections, each with half a frame sent, held open.
    let script = format!(
        "import socket,time,resource\n\
         resource.setrlimit(resource.RLIMIT_NOFILE,(4096,4096))\n\
         held=[]\n\
         for i in range(1030):\n\
         \x20 s=socket.socket(socket.AF_UNIX)\n\
         \x20 try:\n\
         \x20   s.connect({sock:?}); s.send(b'\\x00\\x00')\n\
         \x20 except OSError: pass\n\
         \x20 held.append(s)\n\
         open({ready:?},'w').close()\n\
         time.sleep(20)\n",
        sock = d.socket.to_str().unwrap(),
        ready = ready.to_str().unwrap(),
    );
    // setpriv keeps root's hard limit, so the script may raise its own.
    let mut hoarder = python_as_nobody(dir.path(), "hoard.py", &script);
    let pam = Pam::new(BIN);
    pam.service(
        "ab",
        &format!("auth required {}\n", line(&d.socket, "timeout=2")),
    );
    let asked = std::time::Instant::now();
    expect(
        pam.run("ab", "alice", &["authenticate"], "Alice-pass-123\n", &[]),
        true,
        SUCCESS,
    );
    let took = asked.elapsed();
    eprintln!("PAM answered in {took:?} with 1,030 connections held by nobody");
    let _ = hoarder.kill();
    let _ = hoarder.wait();
    // The bound the issue states; here about 130 ms, most of it pamtester and argon2id.
    assert!(
        took < std::time::Duration::from_secs(2),
        "PAM took {took:?}"
    );
    assert!(
        d.log()
            .contains("connection refused: the peer holds too many connections"),
        "{}",
        d.log()
    );
}

#[test]
fn a_password_changed_through_pam_revokes_app_passwords_when_configured() {
    let d = daemon("revoke_app_passwords_on_reset = true\n");
    let token = d.app_password("alice");
    let pam = Pam::new(BIN);
    let l = line(&d.socket, "");
    pam.service("pw", &format!("auth required {l}\npassword required {l}\n"));
    expect(
        pam.run("pw", "alice", &["authenticate"], &format!("{token}\n"), &[]),
        true,
        SUCCESS,
    );
    expect(
        pam.run(
            "pw",
            "alice",
            &["chauthtok"],
            "Brand-new-pass-42\nBrand-new-pass-42\n",
            &[],
        ),
        true,
        SUCCESS,
    );
    expect(
        pam.run("pw", "alice", &["authenticate"], &format!("{token}\n"), &[]),
        false,
        AUTH_ERR,
    );
    let listed = d.cli(
        &["user", "auth-tokens", "list", "alice", "--output", "json"],
        None,
    );
    assert!(
        !String::from_utf8_lossy(&listed.stdout).contains(r#""name":"test""#),
        "{}",
        String::from_utf8_lossy(&listed.stdout)
    );
}

#[test]
fn wrong_su_attempts_of_one_user_do_not_lock_the_victim_out_of_the_console() {
    let d = daemon("[throttle]\nfirst_delay = \"1h\"\n");
    let pam = Pam::new(BIN);
    pam.service("su", &format!("auth required {}\n", line(&d.socket, "")));
    std::fs::set_permissions(
        pam.services(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    // As su does: effective uid root (setuid), real uid the user who typed it.
    let as_su = pam.services().join("as_su");
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/pam/as_su.c");
    let built = Command::new("gcc")
        .arg("-o")
        .arg(&as_su)
        .arg(&source)
        .arg("-lpam")
        .status()
        .unwrap();
    assert!(built.success(), "gcc {}", source.display());
    let mut su = Command::new(&as_su);
    su.args(["65534", "su", "alice", "wrong-password"])
        .env("PAM_WRAPPER", "1")
        .env("PAM_WRAPPER_SERVICE_DIR", pam.services())
        .env("LD_PRELOAD", PAM_WRAPPER);
    expect(run_with_input(su, ""), false, AUTH_ERR);
    // Alice at the console (real uid root, no remote host) is not throttled.
    expect(
        pam.run("su", "alice", &["authenticate"], "Alice-pass-123\n", &[]),
        true,
        SUCCESS,
    );
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("verdict=Rejected") && l.contains("local uid 65534")),
        "{log}"
    );
}

/// Two mail servers serve the same users; the first says the password is
/// wrong, the second cannot be asked. An offline verifier that still holds
/// that password (changed since on the server) must not let it in: a server
/// that checked it said no.
#[test]
fn an_offline_verifier_never_overrules_a_server_that_said_no() {
    let imap = Dovecot::start(&[("alice", "alice-new-pw")]);
    let closed = ClosedPort::hold();
    let d = Daemon::start(
        BIN,
        &format!(
            "[daemon]\noffline_credentials_expiration = \"1h\"\n\n\
             [[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\nca_file = \"{}\"\n\n\
             [[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\nca_file = \"{}\"\n",
            imap.imaps_port,
            imap.pki.ca_file.display(),
            closed.port,
            imap.pki.ca_file.display()
        ),
    );
    let pam = Pam::new(BIN);
    pam.service("ab", &format!("auth required {}\n", line(&d.socket, "")));
    expect(alice_authenticates(&pam, "alice-new-pw"), true, SUCCESS);
    // The verifier holds the password alice had before she changed it.
    let db = rusqlite::Connection::open(d.dir.path().join("data/authbridge.sqlite")).unwrap();
    assert!(authbridge_testsupport::eventually(
        std::time::Duration::from_secs(10),
        || db
            .query_row("SELECT count(*) FROM verifiers", [], |r| r.get::<_, i64>(0))
            .unwrap()
            == 1
    ));
    let old = authbridge_local::hash_password("alice-old-pw");
    db.execute("UPDATE verifiers SET verifier = ?1", [&old])
        .unwrap();
    let refused = alice_authenticates(&pam, "alice-old-pw");
    assert!(!refused.ok, "{}\n{}", refused.output, d.log());
    // Both servers away: the verifier decides, and does hold that password.
    imap.stop();
    let offline = alice_authenticates(&pam, "alice-old-pw");
    assert!(offline.ok, "{}\n{}", offline.output, d.log());
}
