//! The terminal prompts, through a real pseudo-terminal (util-linux `script`):
//! `user add` asks twice, `check` asks once, and neither reads the password from
//! anywhere but the terminal.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// Runs authbridge under `script` with `typed` as keyboard input; exit code and output.
fn on_a_terminal(dir: &Path, args: &str, typed: &str) -> (i32, String) {
    let bin = env!("CARGO_BIN_EXE_authbridge");
    let line = format!(
        "{bin} --config {}/config.toml --data-dir {}/data {args}",
        dir.display(),
        dir.display()
    );
    let mut child = Command::new("script")
        .args(["-qec", &line, "/dev/null"])
        .env_remove("AUTHBRIDGE_PASSWORD")
        .env_remove("OC_PASS")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script (util-linux) runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(typed.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn user_add_and_check_read_the_password_from_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();

    let (code, out) = on_a_terminal(
        dir.path(),
        "user add layla",
        "quartz-lantern-88\nquartz-lantern-89\n",
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Confirm password:") && out.contains("the passwords do not match"),
        "{out}"
    );

    let (code, out) = on_a_terminal(
        dir.path(),
        "user add layla",
        "quartz-lantern-88\nquartz-lantern-88\n",
    );
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("The account \"layla\" was created successfully"),
        "{out}"
    );

    let (code, out) = on_a_terminal(dir.path(), "check layla", "quartz-lantern-88\n");
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("Password:") && out.contains("accepted by local"),
        "{out}"
    );

    let (code, out) = on_a_terminal(dir.path(), "check layla", "wrong-password\n");
    assert_eq!(code, 1, "{out}");
}

/// Bulk work (here `user list` over 120 accounts) shows a bar on a terminal's
/// standard error and nothing when standard error is not a terminal.
#[test]
fn bulk_work_shows_progress_on_a_terminal_and_nothing_elsewhere() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let bin = env!("CARGO_BIN_EXE_authbridge");
    let authbridge = |args: &[&str]| {
        Command::new(bin)
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .args(args)
            .output()
            .unwrap()
    };
    for i in 0..120 {
        let out = authbridge(&["user", "add", "--backend", "imap", &format!("user{i:03}")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (code, out) = on_a_terminal(dir.path(), "user list --limit 1000", "");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("users") && out.contains("/120 ("), "{out}");
    assert!(out.contains("user119"), "{out}");

    let piped = authbridge(&["user", "list", "--limit", "1000"]);
    assert!(piped.status.success());
    assert!(
        piped.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    assert!(String::from_utf8_lossy(&piped.stdout).contains("user119"));
}
