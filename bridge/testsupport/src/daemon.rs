//! `authbridge serve` on a private socket, with its own data directory and config;
//! stopped with SIGTERM when dropped.

use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

pub struct Daemon {
    pub dir: tempfile::TempDir,
    pub socket: PathBuf,
    pub config: PathBuf,
    binary: PathBuf,
    child: Option<Child>,
    /// Where the OCS API listens, when started with [`Daemon::start_http`].
    pub http: Option<std::net::SocketAddr>,
    /// The first admin's password, from the file the first start wrote.
    pub admin_password: Option<String>,
    with_http: bool,
    /// RLIMIT_NOFILE (soft and hard) for the daemon, as systemd would set it.
    open_files: Option<u64>,
}

impl Daemon {
    /// Writes `config` (TOML) and starts the daemon. `binary` is the `authbridge`
    /// executable (`env!("CARGO_BIN_EXE_authbridge")`).
    /// The OCS API stays off (`[http] enabled = false` is added unless the config
    /// has an `[http]` section).
    pub fn start(binary: &str, config: &str) -> Daemon {
        let config = if config.contains("[http]") {
            config.to_owned()
        } else {
            format!("{config}\n[http]\nenabled = false\n")
        };
        Self::start_with(binary, &config, false, None)
    }

    /// As [`Daemon::start`], with at most `limit` open files (soft and hard), so a
    /// test can show what happens at systemd's default of 1024.
    pub fn start_with_open_files(binary: &str, config: &str, limit: u64) -> Daemon {
        let config = format!("{config}\n[http]\nenabled = false\n");
        Self::start_with(binary, &config, false, Some(limit))
    }

    /// With the OCS API on a free loopback port (see [`Daemon::http`]).
    pub fn start_http(binary: &str, config: &str) -> Daemon {
        Self::start_with(binary, config, true, None)
    }

    /// Another node of `peer`'s installation: its own socket, data directory
    /// and OCS port, `peer`'s secret key (app-password hashes depend on it),
    /// and `config`, which names the same shared store.
    pub fn start_node(binary: &str, config: &str, peer: &Daemon) -> Daemon {
        let mut daemon = Self::prepare(binary, config, true, None);
        let key = "data/secret.key";
        std::fs::create_dir_all(daemon.dir.path().join("data")).unwrap();
        std::fs::copy(peer.dir.path().join(key), daemon.dir.path().join(key))
            .expect("the peer's secret key");
        daemon.restart();
        daemon
    }

    fn start_with(binary: &str, config: &str, with_http: bool, open_files: Option<u64>) -> Daemon {
        let mut daemon = Self::prepare(binary, config, with_http, open_files);
        daemon.restart();
        daemon
    }

    fn prepare(binary: &str, config: &str, with_http: bool, open_files: Option<u64>) -> Daemon {
        let dir = crate::server_dir("abd");
        let config_path = dir.path().join("config.toml");
        std::fs::write(&config_path, config).unwrap();
        Daemon {
            socket: dir.path().join("authbridge.sock"),
            config: config_path,
            binary: PathBuf::from(binary),
            dir,
            child: None,
            http: None,
            admin_password: None,
            with_http,
            open_files,
        }
    }

    /// The base URL of the OCS API (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://{}", self.http.expect("started with start_http"))
    }

    /// A command of the same installation (same config and data directory).
    pub fn command(&self) -> Command {
        let mut c = Command::new(&self.binary);
        c.env("AUTHBRIDGE_CONFIG", &self.config)
            .env("AUTHBRIDGE_DATA_DIR", self.dir.path().join("data"))
            .env("AUTHBRIDGE_SOCKET", &self.socket);
        c
    }

    /// Runs `authbridge ARGS` (OC_PASS set when a password is given); panics on failure.
    pub fn cli(&self, args: &[&str], password: Option<&str>) -> Output {
        let mut c = self.command();
        c.args(args);
        if let Some(p) = password {
            c.env("OC_PASS", p);
        }
        let out = c.output().unwrap();
        assert!(
            out.status.success(),
            "authbridge {args:?}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }

    /// A new app password of `uid` (`user auth-tokens add`), as printed once.
    pub fn app_password(&self, uid: &str) -> String {
        let out = self.cli(&["user", "auth-tokens", "add", "--name", "test", uid], None);
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .find(|w| w.len() == 29 && w.matches('-').count() == 4)
            .expect("an app password in the output")
            .to_owned()
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("daemon.log")
    }

    /// Everything the daemon logged so far, including the decision line of
    /// every answer already received: the accepting thread writes a line right
    /// after its answer and before it accepts again, so one more round trip
    /// (a lookup, when the daemon runs) comes after it.
    pub fn log(&self) -> String {
        if self.child.is_some() {
            let _ = authbridge_proto::Client::ask(
                &self.socket,
                Duration::from_secs(5),
                &authbridge_proto::Request::PasswdById(u32::MAX),
            );
        }
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Starts the daemon (again), appending to the same log.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "already running");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let stdout = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("daemon.out"))
            .unwrap();
        let mut command = self.command();
        command.args(["serve", "--socket"]).arg(&self.socket);
        if self.with_http {
            command.args(["--listen", "127.0.0.1:0"]);
        }
        if let Some(limit) = self.open_files {
            use std::os::unix::process::CommandExt;
            // SAFETY: setrlimit is async-signal-safe and touches only the child.
            unsafe {
                command.pre_exec(move || {
                    let rl = libc::rlimit {
                        rlim_cur: limit,
                        rlim_max: limit,
                    };
                    if libc::setrlimit(libc::RLIMIT_NOFILE, &rl) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                })
            };
        }
        let child = command
            .env("AUTHBRIDGE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        wait_for_socket(&self.socket, Duration::from_secs(10), self);
        if self.with_http {
            self.http = Some(self.wait_for_http());
            // Written once, on the first start, to a 0600 file in the data directory.
            let file = self.dir.path().join("data").join("first-admin-password");
            if let Ok(text) = std::fs::read_to_string(file) {
                self.admin_password = text.split_whitespace().next().map(str::to_owned);
            }
        }
    }

    /// The address from the daemon's "OCS API listening" log line.
    fn wait_for_http(&self) -> std::net::SocketAddr {
        let found = crate::eventually_some(Duration::from_secs(10), || {
            self.log()
                .lines()
                .rev()
                .find(|l| l.contains("OCS API listening"))
                .and_then(|l| l.split("bound=").nth(1))
                .and_then(|a| a.split_whitespace().next())
                .and_then(|a| a.parse().ok())
        });
        found.unwrap_or_else(|| panic!("no OCS API:\n{}", self.log()))
    }

    /// Sends `signal` to the daemon.
    pub fn signal(&self, signal: i32) {
        // SAFETY: kill with a pid we own.
        unsafe { libc::kill(self.pid() as i32, signal) };
    }

    /// SIGTERM, then waits for the exit; returns the exit status.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let mut child = self.child.take()?;
        // SAFETY: kill with a pid we own.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        child.wait().ok()
    }

    /// SIGKILL, as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn wait_for_socket(path: &Path, limit: Duration, daemon: &Daemon) {
    assert!(
        crate::eventually(limit, || UnixStream::connect(path).is_ok()),
        "the daemon did not listen on {} within {limit:?}:\n{}",
        path.display(),
        daemon.log()
    );
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The directory cargo puts the `authbridge` binary and the modules in.
pub fn target_dir(binary: &str) -> PathBuf {
    Path::new(binary).parent().unwrap().to_owned()
}

/// A built cdylib (`libpam_authbridge.so`, `libnss_authbridge.so`); panics with
/// the command to build it when missing.
pub fn module(binary: &str, file: &str) -> PathBuf {
    let path = target_dir(binary).join(file);
    assert!(
        path.exists(),
        "{} is missing: build the modules first (cargo build --workspace, with --release for the benches)",
        path.display()
    );
    path
}
