//! The whole login path: OpenSSH's sshd (UsePAM) with pam_authbridge.so and
//! libnss_authbridge.so.2, the daemon, and Dovecot holding alice's only password.
//! ci/e2e/ssh.sh runs inside a private mount namespace; see its header.

use authbridge_testsupport::{Dovecot, free_port, module, repo_root, server_dir};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

#[test]
fn an_imap_only_user_logs_into_linux_over_ssh() {
    ssh_end_to_end("own");
}

/// The same through Debian's own sshd stack (common-auth, common-account, ...)
/// with the repository's pam-auth-update profile enabled by pam-auth-update.
#[test]
fn the_debian_pam_profile_works_in_debians_own_stack() {
    let out = ssh_end_to_end("debian");
    assert!(
        out.contains("ok: pam-auth-update enabled the profile"),
        "{out}"
    );
}

fn ssh_end_to_end(stack: &str) -> String {
    let imap = Dovecot::start(&[("alice", "alice-mail-pw-7")]);
    let work = server_dir("abssh");
    let config = work.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[http]\nenabled = false\n\n[throttle]\nfirst_delay = \"1ms\"\nmax_delay = \"2ms\"\n\n[nss]\nhome = \"{home}/%u\"\n\n[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = {port}\nsslmode = \"ssl\"\nca_file = \"{ca}\"\n",
            home = work.path().display(),
            port = imap.imaps_port,
            ca = imap.pki.ca_file.display()
        ),
    )
    .unwrap();
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "bash"])
        .arg(repo_root().join("ci/e2e/ssh.sh"))
        .env("AUTHBRIDGE", BIN)
        .env("PAM_MODULE", module(BIN, "libpam_authbridge.so"))
        .env("NSS_MODULE", module(BIN, "libnss_authbridge.so"))
        .env("AUTHBRIDGE_CONFIG", &config)
        .env("AUTHBRIDGE_DATA_DIR", work.path().join("data"))
        .env("WORK", work.path())
        .env("SSH_PORT", free_port().to_string())
        .env("ALICE_PASSWORD", "alice-mail-pw-7")
        .env("PAM_STACK", stack)
        .env(
            "PAM_PROFILE",
            repo_root().join("bridge/pam/dist/authbridge"),
        )
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    println!("{stdout}");
    for step in [
        "ok: getent passwd alice",
        "ok: ssh alice (mail password) -> uid=",
        "ok: a wrong password is refused",
        "ok: ssh alice (app password) -> uid=",
        "ok: ssh alice (mail password, then a TOTP code from oathtool) -> uid=",
        "ok: a replayed TOTP code is refused",
        "ok: a wrong TOTP code is refused",
        "ok: the password alone is refused once TOTP is on",
        "ok: su alice (as nobody: mail password, then a TOTP code) -> uid=",
        "ok: ssh alice (mail password, then a backup code) -> uid=",
        "ok: a used backup code is refused",
        "ok: without a second factor the password alone logs in again -> uid=",
        "ok: after user disable alice, ssh is refused",
    ] {
        assert!(
            stdout.contains(step),
            "missing {step:?}:\n{stdout}\n{stderr}"
        );
    }
    // The mail server saw alice's password once per mail-password login.
    assert!(imap.logins_reaching("alice", 1) >= 1, "{}", imap.log());
    stdout.into_owned()
}
