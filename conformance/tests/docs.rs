//! ocs-conformance's man pages render and its bash completion loads.

use authbridge_testsupport::docs::{check_bash_completion, check_man_pages};
use std::path::PathBuf;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_ocs-conformance");

#[test]
fn the_man_pages_render_and_the_completion_loads() {
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new(BIN)
        .args(["generate", "man"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    assert!(pages.contains(&dir.path().join("ocs-conformance-run.1")));
    check_man_pages("ocs-conformance", &pages);

    let out = Command::new(BIN)
        .args(["generate", "completion", "bash"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = dir.path().join("ocs-conformance.bash");
    std::fs::write(&script, out.stdout).unwrap();
    check_bash_completion("ocs-conformance", &script);
}
