//! `authbridge doctor` against a real set-up (a daemon, a Dovecot with a
//! private CA), with each piece broken in turn: the ✘ names the right fix.
//! (Its all-✔ run is in `ci/deb/install-test.sh`, on a root where the package
//! is installed and wired.)

use authbridge_testsupport::{ClosedPort, Daemon, Dovecot};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

/// Runs the doctor as the daemon's installation; the checks by name, and the
/// exit code.
fn doctor(d: &Daemon, pam_dir: &Path, nsswitch: &Path) -> (Vec<serde_json::Value>, i32) {
    let out = d
        .command()
        .args(["doctor", "--output", "json", "--pam-dir"])
        .arg(pam_dir)
        .arg("--nsswitch")
        .arg(nsswitch)
        .output()
        .unwrap();
    let checks: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (checks, out.status.code().unwrap())
}

fn find<'a>(checks: &'a [serde_json::Value], name: &str) -> &'a serde_json::Value {
    checks
        .iter()
        .find(|c| c["check"] == name)
        .unwrap_or_else(|| panic!("no {name} in {checks:#?}"))
}

fn ok(checks: &[serde_json::Value], name: &str) -> bool {
    find(checks, name)["ok"].as_bool().unwrap()
}

fn hint(checks: &[serde_json::Value], name: &str) -> String {
    find(checks, name)["hint"].as_str().unwrap_or("").to_owned()
}

#[test]
fn each_broken_piece_is_named_with_its_fix() {
    let imap = Dovecot::start(&[("alice", "alice-mail-pw")]);
    let closed = ClosedPort::hold();
    let backend = |port: u16, ca: Option<&Path>| {
        let ca = ca.map_or(String::new(), |p| {
            format!("ca_file = \"{}\"\n", p.display())
        });
        format!(
            "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\nsslmode = \"ssl\"\n{ca}"
        )
    };
    let config = [
        backend(imap.imaps_port, Some(&imap.pki.ca_file)),
        // The same server (STARTTLS) without its CA: the certificate is not trusted.
        format!(
            "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"tls\"\n",
            imap.imap_port
        ),
        backend(closed.port, Some(&imap.pki.ca_file)),
    ]
    .join("\n");
    let d = Daemon::start(BIN, &config);
    let work = tempfile::tempdir().unwrap();
    let pam_dir = work.path().join("pam.d");
    std::fs::create_dir(&pam_dir).unwrap();
    let nsswitch = work.path().join("nsswitch.conf");
    std::fs::write(&nsswitch, "passwd: files systemd\ngroup: files systemd\n").unwrap();

    let (checks, code) = doctor(&d, &pam_dir, &nsswitch);
    assert_eq!(code, 1);
    assert!(ok(&checks, "config"), "{checks:#?}");
    let good = format!("backend imap:127.0.0.1:{}", imap.imaps_port);
    assert!(ok(&checks, &good), "{checks:#?}");
    assert!(
        find(&checks, &good)["detail"]
            .as_str()
            .unwrap()
            .contains("TLS")
    );
    let untrusted = format!("backend imap:127.0.0.1:{}", imap.imap_port);
    assert!(!ok(&checks, &untrusted));
    assert!(
        hint(&checks, &untrusted).contains("set `ca_file`"),
        "{checks:#?}"
    );
    let down = format!("backend imap:127.0.0.1:{}", closed.port);
    assert!(!ok(&checks, &down));
    assert!(
        hint(&checks, &down).contains("is the server up"),
        "{checks:#?}"
    );
    for fine in ["data directory", "secret key", "store", "daemon"] {
        assert!(ok(&checks, fine), "{fine}: {checks:#?}");
    }
    assert!(!ok(&checks, "NSS switch"));
    assert!(hint(&checks, "NSS switch").starts_with("authbridge nss enable"));
    assert!(!ok(&checks, "PAM stack"));
    assert_eq!(
        hint(&checks, "PAM stack"),
        "pam-auth-update --enable authbridge"
    );

    // Wired, both: the ✘ go.
    d.command()
        .args(["nss", "enable", "--file"])
        .arg(&nsswitch)
        .output()
        .unwrap();
    std::fs::write(
        pam_dir.join("common-auth"),
        "auth [success=1 default=ignore] pam_authbridge.so\n",
    )
    .unwrap();
    // The socket made private, the key opened up.
    let set_mode = |path: &Path, mode: u32| {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    };
    set_mode(&d.socket, 0o600);
    let key = d.dir.path().join("data/secret.key");
    set_mode(&key, 0o644);
    let (checks, _) = doctor(&d, &pam_dir, &nsswitch);
    assert!(
        ok(&checks, "NSS switch") && ok(&checks, "PAM stack"),
        "{checks:#?}"
    );
    assert!(!ok(&checks, "daemon"));
    assert!(
        hint(&checks, "daemon").starts_with("restart the daemon"),
        "{checks:#?}"
    );
    assert!(!ok(&checks, "secret key"));
    assert!(
        hint(&checks, "secret key").starts_with("chmod 600"),
        "{checks:#?}"
    );
    set_mode(&d.socket, 0o666);
    set_mode(&key, 0o600);
    let (checks, _) = doctor(&d, &pam_dir, &nsswitch);
    assert!(
        ok(&checks, "daemon") && ok(&checks, "secret key"),
        "{checks:#?}"
    );

    // A broken config: the file and line, and nothing built from it.
    std::fs::write(&d.config, "[daemon]\nrequest_timeout = \"forever\"\n").unwrap();
    let (checks, code) = doctor(&d, &pam_dir, &nsswitch);
    assert_eq!(code, 1);
    let detail = find(&checks, "config")["detail"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(detail.contains("config.toml:2"), "{detail}");
    assert!(
        !checks
            .iter()
            .any(|c| c["check"].as_str().unwrap().starts_with("backend"))
    );
}

#[test]
fn the_text_output_marks_each_check_and_indents_the_fix() {
    let d = Daemon::start(BIN, "");
    let work = tempfile::tempdir().unwrap();
    let out = d
        .command()
        .args(["doctor", "--pam-dir"])
        .arg(work.path())
        .arg("--nsswitch")
        .arg(work.path().join("missing"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.lines().any(|l| l.starts_with("✔ daemon: ")), "{text}");
    let switch = text
        .lines()
        .position(|l| l.starts_with("✘ NSS switch: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        text.lines()
            .nth(switch + 1)
            .is_some_and(|l| l.starts_with("    → authbridge nss enable")),
        "{text}"
    );
}
