//! The `authbridge` binary end to end: a chain of real Dovecot, FTP and Samba
//! servers, exit codes, config errors and config.php import.

use authbridge_testsupport::{ClosedPort, Dovecot, Ftpd, SilentServer, Smbd};
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn authbridge(config: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_authbridge"));
    // The store lives beside the config, never in /var/lib/authbridge.
    let data_dir = config.parent().expect("config in a directory").join("data");
    cmd.arg("--config")
        .arg(config)
        .arg("--data-dir")
        .arg(data_dir)
        .args(args)
        .stdin(Stdio::null());
    cmd.env_remove("AUTHBRIDGE_PASSWORD");
    if let Some(p) = password {
        cmd.env("AUTHBRIDGE_PASSWORD", p);
    }
    cmd.output().expect("run authbridge")
}

fn check(config: &Path, user: &str, password: &str) -> (i32, String, String) {
    let out = authbridge(
        config,
        &["check", "--password-from-env", user],
        Some(password),
    );
    (
        out.status.code().expect("exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn write_config(dir: &Path, text: &str) -> std::path::PathBuf {
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_chain_of_real_servers_in_order() {
    let imap = Dovecot::start(&[("alice", "alice-mail-pw")]);
    let ftp = Ftpd::start(&[("frank", "frank-ftp-pw")]);
    let smb = Smbd::start(&[("sam", "sam-smb-pw"), ("sally", "sally-smb-pw")]);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\nca_file = \"{}\"\n\n\
             [[backend]]\ntype = \"ftp\"\nhost = \"127.0.0.1\"\nport = {}\nca_file = \"{}\"\n\n\
             [[backend]]\ntype = \"smb\"\nhost = \"127.0.0.1\"\nport = {}\nshare = \"share\"\n",
            imap.imaps_port,
            imap.pki.ca_file.display(),
            ftp.port,
            ftp.pki.ca_file.display(),
            smb.port
        ),
    );

    let (code, out, err) = check(&config, "alice", "alice-mail-pw");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("accepted by imap:127.0.0.1") && out.contains("as alice"),
        "{out}"
    );

    let (code, out, err) = check(&config, "frank", "frank-ftp-pw");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("rejected: wrong password"),
        "IMAP said no first: {out}"
    );
    assert!(
        out.contains("accepted by ftp:127.0.0.1") && out.contains("as frank"),
        "{out}"
    );

    // The SMB child is the authbridge binary itself.
    let (code, out, err) = check(&config, "sam", "sam-smb-pw");
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("accepted by smb:127.0.0.1"), "{out}");

    let (code, out, _) = check(&config, "alice", "wrong");
    assert_eq!(code, 1, "{out}");
    assert!(out.ends_with("\nrejected\n"), "{out}");
    // alice is known as an IMAP account now: her password goes to app passwords and
    // the IMAP server only, never to the local store, the FTP or the SMB server.
    assert_eq!(out.matches("rejected:").count(), 2, "{out}");
    assert!(
        out.contains("imap:127.0.0.1") && !out.contains("ftp:") && !out.contains("smb:"),
        "{out}"
    );
    let (code, out, _) = check(&config, "nobody-known", "wrong");
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        out.matches("rejected:").count(),
        5,
        "an unknown login goes to app passwords, local users and all three backends: {out}"
    );

    // The store decides: disabled, alice gets in by no backend, and the mail server
    // is not even asked.
    assert!(
        authbridge(&config, &["user", "disable", "alice"], None)
            .status
            .success()
    );
    let (code, out, _) = check(&config, "alice", "alice-mail-pw");
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("store: rejected: account disabled"), "{out}");
    // The only attempt is the store's: no backend, the mail server included, was asked.
    assert_eq!(
        out.lines()
            .filter(|l| l.contains("rejected:") || l.contains("accepted"))
            .count(),
        1,
        "{out}"
    );
    assert!(!out.contains("imap:"), "{out}");
    assert!(
        authbridge(&config, &["user", "enable", "alice"], None)
            .status
            .success()
    );
    assert_eq!(check(&config, "alice", "alice-mail-pw").0, 0);

    // Each account belongs to one backend: the SMB server's "sally" does not open a
    // local account "sally" (her password is not even shown to the SMB server).
    let sally = Command::new(env!("CARGO_BIN_EXE_authbridge"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(dir.path().join("data"))
        .args(["user", "add", "--password-from-env", "sally"])
        .env("OC_PASS", "quartz-lantern-88")
        .output()
        .unwrap();
    assert!(
        dir.path().join("data/authbridge.sqlite").exists(),
        "the same store as check uses"
    );
    assert!(
        sally.status.success(),
        "{}",
        String::from_utf8_lossy(&sally.stderr)
    );
    let (code, out, _) = check(&config, "sally", "sally-smb-pw");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("local: rejected") && !out.contains("smb:"),
        "{out}"
    );
}

#[test]
fn unavailable_is_not_rejected() {
    let ftp = Ftpd::start(&[("frank", "frank-ftp-pw")]);
    let closed = ClosedPort::hold();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\n\n\
             [[backend]]\ntype = \"ftp\"\nhost = \"127.0.0.1\"\nport = {}\nca_file = \"{}\"\n",
            closed.port,
            ftp.port,
            ftp.pki.ca_file.display()
        ),
    );
    let (code, out, _) = check(&config, "alice", "some-pw");
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("unavailable (connect)"), "{out}");
    assert!(out.contains("1 could not be asked"), "{out}");
    // The FTP server still answers for its own users.
    assert_eq!(check(&config, "frank", "frank-ftp-pw").0, 0);
}

#[test]
fn control_characters_are_rejected_before_any_connection() {
    let silent = SilentServer::start();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        &format!(
            "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {}\nsslmode = \"ssl\"\n",
            silent.port
        ),
    );
    // NUL cannot travel in an environment variable; the core library's tests cover it.
    for (user, password) in [
        ("alice", "pw\r\nA1 LOGOUT"),
        ("alice", "pw\rx"),
        ("al\nice", "pw"),
    ] {
        let (code, out, _) = check(&config, user, password);
        assert_eq!(code, 1, "{out}");
        assert!(out.starts_with("rejected: the "), "{out}");
    }
    assert_eq!(silent.connections(), 0);
}

#[test]
fn configuration_and_usage_errors_exit_3() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[backend]]\ntype = \"imap\"\nhost = \"h\"\nsslmode = \"none\"\n",
    );
    let (code, _, err) = check(&config, "alice", "pw");
    assert_eq!(code, 3);
    assert!(
        err.contains(&format!("{}:4: backend #1 (imap)", config.display())),
        "{err}"
    );
    assert!(err.contains("allow_plaintext"), "{err}");

    let (code, _, err) = check(&dir.path().join("missing.toml"), "alice", "pw");
    assert!(
        !dir.path().join("data").exists(),
        "nothing written on a config error"
    );
    assert_eq!(code, 3);
    assert!(err.contains("cannot read config file"), "{err}");

    let bad_data_dir = write_config(dir.path(), "data_dir = 5\n");
    assert_eq!(check(&bad_data_dir, "alice", "pw").0, 3);

    let ok = write_config(
        dir.path(),
        "[[backend]]\ntype = \"ftp\"\nhost = \"127.0.0.1\"\n",
    );
    let out = authbridge(&ok, &["check", "--password-from-env", "alice"], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("AUTHBRIDGE_PASSWORD is not set"));
}

#[test]
fn help_documents_the_exit_codes_and_never_takes_a_password_argument() {
    let out = Command::new(env!("CARGO_BIN_EXE_authbridge"))
        .args(["check", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.contains("0 accepted, 1 rejected, 2 unavailable"),
        "{help}"
    );
    assert!(help.contains("3 configuration or usage error"), "{help}");
    assert!(!help.contains("--password "), "{help}");
}

#[test]
fn import_nextcloud_prints_toml_and_names_what_it_changed() {
    let dir = tempfile::tempdir().unwrap();
    let php = dir.path().join("config.php");
    std::fs::write(
        &php,
        "<?php\n$CONFIG = array(\n  'user_backends' => array(\n    array('class' => 'OC_User_IMAP', 'arguments' => array('{127.0.0.1:993/imap/ssl}')),\n    array('class' => 'OC_User_FTP', 'arguments' => array('localhost')),\n  ),\n);\n",
    )
    .unwrap();
    let out = authbridge(
        Path::new("/nonexistent"),
        &["config", "import-nextcloud", php.to_str().unwrap()],
        None,
    );
    assert_eq!(out.status.code(), Some(0));
    let toml_text = String::from_utf8_lossy(&out.stdout);
    assert!(
        toml_text.contains("mailbox = \"{127.0.0.1:993/imap/ssl}\""),
        "{toml_text}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("plaintext FTP"));
    // The printed TOML is a config `check` accepts as valid.
    let config = write_config(dir.path(), &toml_text);
    let (code, out, err) = check(&config, "alice", "pw");
    assert_ne!(code, 3, "{out}{err}");

    let missing = authbridge(
        Path::new("/nonexistent"),
        &["config", "import-nextcloud", "/nonexistent/config.php"],
        None,
    );
    assert_eq!(missing.status.code(), Some(3));
}

#[test]
fn a_data_dir_made_world_readable_is_made_private_and_store_files_are_0600() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), "");
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = authbridge(
        &config,
        &["user", "add", "--password-from-env", "ann"],
        None,
    );
    // No OC_PASS: refused, but the store was opened (and made private) first.
    assert_eq!(out.status.code(), Some(1));
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    for file in [
        "authbridge.sqlite",
        "authbridge.sqlite-wal",
        "authbridge.sqlite-shm",
        "secret.key",
    ] {
        let path = data.join(file);
        if path.exists() {
            assert_eq!(mode(&path), 0o600, "{file}");
        }
    }
    assert!(data.join("authbridge.sqlite").exists());
    // A store file an older version left world-readable is made 0600 on open.
    std::fs::set_permissions(
        data.join("authbridge.sqlite"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    authbridge(&config, &["user", "list"], None);
    assert_eq!(mode(&data.join("authbridge.sqlite")), 0o600);
    // A data directory that belongs to someone else is refused with a sentence.
    let foreign = dir.path().join("foreign");
    std::fs::create_dir(&foreign).unwrap();
    std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_authbridge"))
        .arg("--config")
        .arg(&config)
        .arg("--data-dir")
        .arg(&foreign)
        .args(["user", "list"])
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains("belongs to uid 65534"), "{said}");
}

#[test]
fn group_domain_without_a_configured_domain_is_a_configuration_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\ngroup_domain = true\n",
    );
    let (code, _, err) = check(&config, "alice@admin", "pw");
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("only the configured domain may become a group"),
        "{err}"
    );
}
