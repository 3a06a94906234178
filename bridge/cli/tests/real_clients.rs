//! The real third-party OCS clients from PyPI against a running authbridge:
//! nc_py_api and pyocclient, call for call (issue 12). The clients and pytest
//! live in `ci/clients/.venv`, which `bash ci/install-deps.sh` makes from the
//! pins in `ci/clients/requirements.txt`; the tests are `ci/clients/test_*.py`,
//! one per client method, each asserting what the call did.
//!
//! Each `#[test]` starts its own daemon (OCS API over HTTP, `[mail]` pointing at
//! an aiosmtpd that writes a maildir the Python tests read), adds an admin and
//! runs one client's suite as that admin, with its login password or with an app
//! password. Calls that fail against authbridge today are `xfail(strict=True)`
//! in the Python files, with the cause: the suite passes, and fails the moment
//! such a call starts working, so the mark goes with the fix.

use authbridge_testsupport::{Daemon, eventually, free_port};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");

const ADMIN: &str = "ncadmin";
const ADMIN_PASSWORD: &str = "Nc-admin-login-pass-1";

/// The workspace root (bridge/cli is two levels down).
fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the workspace root")
}

/// The venv's python; fails (never skips) when `ci/install-deps.sh` has not made it.
fn venv_python(root: &Path) -> PathBuf {
    let python = root.join("ci/clients/.venv/bin/python");
    let runs = Command::new(&python)
        .args(["-c", "import nc_py_api, owncloud, pytest"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        runs,
        "{} cannot import nc_py_api, owncloud and pytest: run `bash ci/install-deps.sh` \
         (as root) to make the venv of the real clients from ci/clients/requirements.txt",
        python.display()
    );
    python
}

/// aiosmtpd (Debian's python3-aiosmtpd) on loopback, delivering to a maildir
/// whose path the Python tests get (testsupport's `Smtp` keeps its own private).
struct Mailbox {
    port: u16,
    dir: tempfile::TempDir,
    child: Child,
}

impl Mailbox {
    fn start() -> Mailbox {
        for _ in 0..5 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let mut child = Command::new("/usr/bin/python3")
                .args(["-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Mailbox"])
                .args(["-l", &format!("127.0.0.1:{port}")])
                .arg(dir.path().join("maildir"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("python3 -m aiosmtpd (apt-get install python3-aiosmtpd)");
            let listening = eventually(Duration::from_secs(10), || {
                TcpStream::connect(("127.0.0.1", port)).is_ok()
                    || child.try_wait().ok().flatten().is_some()
            }) && child.try_wait().ok().flatten().is_none();
            if listening {
                return Mailbox { port, dir, child };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("aiosmtpd did not listen (5 tries)");
    }

    fn maildir(&self) -> PathBuf {
        self.dir.path().join("maildir")
    }
}

impl Drop for Mailbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Clone, Copy, Debug)]
enum Secret {
    LoginPassword,
    AppPassword,
}

/// Runs `ci/clients/{suite}` with pytest against a fresh daemon, as an admin
/// logging in with `secret`; fails with pytest's output unless it exits 0.
fn run_suite(suite: &str, secret: Secret) {
    let root = workspace_root();
    let python = venv_python(&root);
    let mail = Mailbox::start();
    let d = Daemon::start_http(
        BIN,
        &format!(
            "[mail]\nrelay = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\n\
             from = \"authbridge <noreply@example.org>\"\n",
            mail.port
        ),
    );
    d.cli(
        &["user", "add", "--password-from-env", "-g", "admin", ADMIN],
        Some(ADMIN_PASSWORD),
    );
    let secret_value = match secret {
        Secret::LoginPassword => ADMIN_PASSWORD.to_owned(),
        Secret::AppPassword => d.app_password(ADMIN),
    };
    let out = Command::new(&python)
        .args(["-m", "pytest", "-v", "-p", "no:cacheprovider"])
        .arg(format!("ci/clients/{suite}"))
        .current_dir(&root)
        .env("AUTHBRIDGE_URL", d.url())
        .env("AUTHBRIDGE_ADMIN", ADMIN)
        .env("AUTHBRIDGE_SECRET", &secret_value)
        // The CLI of the same installation (as `Daemon::command` sets it up).
        .env("AUTHBRIDGE_BIN", BIN)
        .env("AUTHBRIDGE_CONFIG", &d.config)
        .env("AUTHBRIDGE_DATA_DIR", d.dir.path().join("data"))
        .env("AUTHBRIDGE_SOCKET", &d.socket)
        .env("AUTHBRIDGE_MAILDIR", mail.maildir())
        // No __pycache__ in the work tree.
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .output()
        .expect("run pytest");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}{stderr}");
    assert!(
        out.status.success(),
        "pytest ci/clients/{suite} as an admin with its {secret:?} exited with {}:\n{stdout}{stderr}\n\
         --- the daemon's log ---\n{}",
        out.status,
        d.log()
    );
}

#[test]
fn nc_py_api_with_the_login_password() {
    run_suite("test_nc_py_api.py", Secret::LoginPassword);
}

#[test]
fn nc_py_api_with_an_app_password() {
    run_suite("test_nc_py_api.py", Secret::AppPassword);
}

#[test]
fn pyocclient_with_the_login_password() {
    run_suite("test_pyocclient.py", Secret::LoginPassword);
}

#[test]
fn pyocclient_with_an_app_password() {
    run_suite("test_pyocclient.py", Secret::AppPassword);
}
