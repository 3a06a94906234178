//! A private PostgreSQL started with `ci/servers/postgres.sh` on 127.0.0.1.
//!
//! [`shared`] is one server per test process, a fresh database per test
//! ([`Postgres::create_database`]); a test that stops the server (an outage)
//! starts one of its own with [`Postgres::start`].

use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use crate::ports::{PortTaken, free_port, says_port_taken, start_retrying};
use crate::{Pki, server_dir, try_run_script};

pub struct Postgres {
    dir: tempfile::TempDir,
    pub port: u16,
    /// The certificate it serves over TLS, when started with [`Postgres::start_tls`].
    pub pki: Option<Pki>,
}

impl Postgres {
    pub fn start() -> Postgres {
        start_retrying("PostgreSQL", || Self::try_start(false))
    }

    /// With TLS, its certificate (for localhost and 127.0.0.1) signed by a
    /// private CA: [`Postgres::pki`].
    pub fn start_tls() -> Postgres {
        start_retrying("PostgreSQL", || Self::try_start(true))
    }

    fn try_start(tls: bool) -> Result<Postgres, PortTaken> {
        let dir = server_dir("abpg");
        let pki = tls.then(|| {
            let certs = dir.path().join("pki");
            std::fs::create_dir(&certs).unwrap();
            Pki::generate(&certs)
        });
        let server = Postgres {
            dir,
            port: free_port(),
            pki,
        };
        match server.run("start") {
            Ok(()) => Ok(server),
            Err(output) if says_port_taken(&output) => Err(PortTaken(output)),
            Err(output) => panic!("PostgreSQL did not start:\n{output}"),
        }
    }

    fn run(&self, command: &str) -> Result<(), String> {
        let mut env = vec![("PG_PORT", self.port.to_string())];
        if let Some(pki) = &self.pki {
            env.push(("PG_TLS_CERT", pki.cert_file.display().to_string()));
            env.push(("PG_TLS_KEY", pki.key_file.display().to_string()));
        }
        try_run_script(
            "postgres.sh",
            &[command, self.dir.path().to_str().expect("UTF-8 temp dir")],
            &env,
        )
    }

    /// A fast shutdown: connections are closed, nothing committed is lost.
    pub fn stop(&self) {
        self.run("stop").expect("PostgreSQL stops");
    }

    /// Starts the stopped server again, on the same port.
    pub fn restart(&self) {
        if let Err(output) = self.run("start") {
            panic!("PostgreSQL did not start again:\n{output}");
        }
    }

    /// The URL of database `name` (trust authentication: no password).
    pub fn url(&self, name: &str) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// A new, empty database; its URL.
    pub fn create_database(&self) -> String {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "ab_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// psql for `sql` in database `name` (unaligned, tuples only), to start
    /// in the background (a session that holds a lock, say).
    pub fn psql_command(&self, name: &str, sql: &str) -> Command {
        let mut command = Command::new(bin().join("psql"));
        let port = self.port.to_string();
        command
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "postgres"])
            .args(["-d", name, "-c", sql]);
        command
    }

    /// Runs `sql` in database `name` with psql; what it printed (unaligned,
    /// tuples only).
    pub fn psql(&self, name: &str, sql: &str) -> String {
        let output = self.psql_command(name, sql).output().expect("psql runs");
        assert!(
            output.status.success(),
            "psql {sql:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// The server's log so far (for a failing test's message).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("postgres.log")).unwrap_or_default()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.run("kill");
    }
}

/// The newest installed PostgreSQL's programs.
fn bin() -> std::path::PathBuf {
    let mut versions: Vec<(u32, std::path::PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .expect("PostgreSQL is installed (apt-get install postgresql)")
        .filter_map(|e| e.ok())
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .collect();
    versions.sort();
    versions.pop().expect("a PostgreSQL version").1
}

/// One server for the whole test process, stopped when the process exits.
pub fn shared() -> &'static Postgres {
    static SHARED: OnceLock<Postgres> = OnceLock::new();
    SHARED.get_or_init(|| {
        extern "C" fn stop_shared() {
            if let Some(server) = SHARED.get() {
                let _ = server.run("kill");
                let _ = std::fs::remove_dir_all(server.dir.path());
            }
        }
        sweep_orphans();
        let server = Postgres::start();
        let _ = std::fs::write(
            server.dir.path().join(OWNER),
            std::process::id().to_string(),
        );
        // SAFETY: registers a plain function to run at exit; it only runs
        // the stop script and removes the server's directory.
        unsafe { libc::atexit(stop_shared) };
        server
    })
}

/// Names the test process a shared server belongs to.
const OWNER: &str = "owner.pid";

/// Stops the shared servers of test processes that died without their exit
/// handler (killed, aborted), so that they do not pile up across runs.
fn sweep_orphans() {
    let Ok(entries) = std::fs::read_dir("/tmp") else {
        return;
    };
    for entry in entries.flatten() {
        let dir = entry.path();
        let is_ours = entry
            .file_name()
            .to_str()
            .is_some_and(|n| n.starts_with("abpg"));
        let Some(pid) = std::fs::read_to_string(dir.join(OWNER))
            .ok()
            .and_then(|p| p.trim().parse::<i32>().ok())
        else {
            continue;
        };
        // SAFETY: signal 0 only asks whether the process exists.
        let alive = unsafe { libc::kill(pid, 0) } == 0
            || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM);
        if is_ours && !alive {
            let _ = try_run_script(
                "postgres.sh",
                &["kill", dir.to_str().unwrap_or_default()],
                &[],
            );
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
