//! What the package ships besides the binary: man pages that render, completions
//! that load, and a version that names its commit.

use authbridge_testsupport::docs::{check_bash_completion, check_man_pages};
use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

fn authbridge(args: &[&str]) -> std::process::Output {
    let out = Command::new(BIN).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_version_names_the_package_version_and_the_commit() {
    let out = authbridge(&["--version"]);
    let line = String::from_utf8(out.stdout).unwrap();
    let expected = format!("authbridge {} (", env!("CARGO_PKG_VERSION"));
    assert!(line.starts_with(&expected), "{line}");
    let commit = line
        .trim_end()
        .trim_start_matches(&expected)
        .trim_end_matches(')');
    let id = commit.split(',').next().unwrap();
    // A checkout has a commit id; a tarball says so.
    assert!(
        (id.len() == 12 && id.chars().all(|c| c.is_ascii_hexdigit())) || id == "unknown commit",
        "{line}"
    );
}

#[test]
fn every_man_page_renders_and_every_page_it_names_exists() {
    let dir = tempfile::tempdir().unwrap();
    authbridge(&["generate", "man", dir.path().to_str().unwrap()]);
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    let root = dir.path().join("authbridge.8");
    assert!(pages.contains(&root));
    // One per command a user types, the daemon's among them; none for the
    // SMB child process the daemon starts itself.
    for page in [
        "authbridge-serve.8",
        "authbridge-user-add.8",
        "authbridge-twofactorauth-totp-setup.8",
    ] {
        assert!(pages.contains(&dir.path().join(page)), "{page}");
    }
    assert!(
        !pages
            .iter()
            .any(|p| p.to_string_lossy().contains("smb-child"))
    );
    check_man_pages("authbridge", &pages);
    // The hand-written pages of the modules render as well.
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    check_man_pages(
        "authbridge",
        &[
            repo.join("bridge/pam/pam_authbridge.8"),
            repo.join("bridge/nss/nss_authbridge.5"),
        ],
    );
}

#[test]
fn the_bash_completion_loads_and_the_others_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("authbridge.bash");
    std::fs::write(
        &script,
        authbridge(&["generate", "completion", "bash"]).stdout,
    )
    .unwrap();
    check_bash_completion("authbridge", &script);
    // zsh and fish are not installed here: their scripts are made and name
    // the program's subcommands.
    for (shell, marker) in [
        ("zsh", "#compdef authbridge"),
        ("fish", "complete -c authbridge"),
    ] {
        let out = authbridge(&["generate", "completion", shell]);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            text.contains(marker) && text.contains("twofactorauth"),
            "{shell}: {text}"
        );
    }
}

#[test]
fn an_unwritable_directory_is_an_error_not_a_panic() {
    let out = Command::new(BIN)
        .args(["generate", "man", "/nonexistent/authbridge-man"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("authbridge: /nonexistent/authbridge-man: "),
        "{err}"
    );
}
