//! Wrapped PAM processes started together each read their own services.

use authbridge_testsupport::pam::run_with_input;
use std::process::Command;

#[test]
fn simultaneous_wrapped_runs_each_read_their_own_service_directory() {
    // Services named alike, half allowing and half denying: a run that read
    // another run's directory (or lost its own) gives the other answer.
    let runs: Vec<(tempfile::TempDir, bool)> = (0..24)
        .map(|i| {
            let dir = tempfile::tempdir().unwrap();
            let allow = i % 2 == 0;
            let module = if allow {
                "pam_permit.so"
            } else {
                "pam_deny.so"
            };
            std::fs::write(dir.path().join("ab"), format!("auth required {module}\n")).unwrap();
            (dir, allow)
        })
        .collect();
    for _ in 0..5 {
        std::thread::scope(|s| {
            for (dir, allow) in &runs {
                s.spawn(move || {
                    let mut cmd = Command::new("pamtester");
                    cmd.args(["ab", "alice", "authenticate"])
                        .env("PAM_WRAPPER", "1")
                        .env("PAM_WRAPPER_SERVICE_DIR", dir.path())
                        .env("LD_PRELOAD", authbridge_testsupport::pam::PAM_WRAPPER);
                    let run = run_with_input(cmd, "");
                    assert_eq!(run.ok, *allow, "{}", run.output);
                });
            }
        });
    }
}
