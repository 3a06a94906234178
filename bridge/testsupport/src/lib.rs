//! Test helpers: a throw-away PKI, free loopback ports, handles that start the
//! real servers through the scripts in `ci/servers/` and stop them when dropped,
//! and the fault cases every network backend's tests share ([`faults`]).

mod cases;
mod daemon;
pub mod docs;
mod dovecot;
pub mod faults;
mod ftpd;
pub mod pam;
mod pki;
mod ports;
pub mod postgres;
mod scripted;
mod silent;
mod smbd;
mod smtp;

pub use cases::{AWKWARD_PASSWORDS, accepted, long_password, unavailable_kind};
pub use daemon::{Daemon, module, target_dir};
pub use dovecot::Dovecot;
pub use ftpd::Ftpd;
pub use pki::Pki;
pub use ports::{ClosedPort, free_port, free_port_on};
pub use postgres::Postgres;
pub use scripted::Scripted;
pub use silent::SilentServer;
pub use smbd::Smbd;
pub use smtp::Smtp;

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// The repository's top directory.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// How often [`eventually`] asks again.
const POLL_EVERY: Duration = Duration::from_millis(5);

/// Asks `probe` until it has an answer, for what gives no readiness signal of
/// its own (a server that daemonises, a file another process publishes, a
/// watching thread). `None` once `limit` has passed.
pub fn eventually_some<T>(limit: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL_EVERY);
    }
}

/// Asks `condition` until it holds; false once `limit` has passed.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    eventually_some(limit, || condition().then_some(())).is_some()
}

/// Polls until something accepts TCP on the port: servers that daemonise give no
/// other readiness signal. Panics after `limit`.
pub fn wait_for_port(address: &str, port: u16, limit: Duration) {
    assert!(
        eventually(limit, || TcpStream::connect((address, port)).is_ok()),
        "nothing listens on {address}:{port} after {limit:?}"
    );
}

/// Runs a script from `ci/servers/`, panicking with its output if it fails.
pub fn run_script(script: &str, args: &[&str], env: &[(&str, String)]) {
    if let Err(failure) = try_run_script(script, args, env) {
        panic!("{failure}");
    }
}

/// Runs a script from `ci/servers/`; when it fails, what it printed.
pub(crate) fn try_run_script(
    script: &str,
    args: &[&str],
    env: &[(&str, String)],
) -> Result<(), String> {
    let path = repo_root().join("ci/servers").join(script);
    let output = Command::new("bash")
        .arg(&path)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", path.display()));
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{} {args:?} failed: {}\n{}",
        path.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// A private directory that servers running as other users can traverse.
pub fn server_dir(prefix: &str) -> tempfile::TempDir {
    let dir = tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in("/tmp")
        .expect("temp dir");
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod temp dir");
    dir
}
