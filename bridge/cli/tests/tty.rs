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
