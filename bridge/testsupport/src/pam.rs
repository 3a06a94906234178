//! pamtester through pam_wrapper: a PAM service directory of the test's own,
//! the real libpam, and answers to the conversation's prompts on stdin.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

pub const PAM_WRAPPER: &str = "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so";
pub const SET_ITEMS: &str = "/usr/lib/x86_64-linux-gnu/pam_wrapper/pam_set_items.so";

/// pam_strerror texts, as pamtester prints them.
pub const SUCCESS: &str = "successfully";
pub const AUTH_ERR: &str = "Authentication failure";
pub const USER_UNKNOWN: &str = "User not known to the underlying authentication module";
pub const AUTHINFO_UNAVAIL: &str = "Authentication service cannot retrieve authentication info";
pub const ACCT_EXPIRED: &str = "User account has expired";
pub const AUTHTOK_ERR: &str = "Authentication token manipulation error";

pub struct Pam {
    services: tempfile::TempDir,
    module: PathBuf,
}

pub struct Run {
    pub ok: bool,
    pub output: String,
}

impl Pam {
    /// `binary` is the `authbridge` executable; the module is built beside it.
    pub fn new(binary: &str) -> Pam {
        Pam {
            services: tempfile::tempdir().unwrap(),
            module: crate::module(binary, "libpam_authbridge.so"),
        }
    }

    /// The service directory (PAM_WRAPPER_SERVICE_DIR).
    pub fn services(&self) -> &std::path::Path {
        self.services.path()
    }

    /// A service file; `MODULE` stands for the module's path.
    pub fn service(&self, name: &str, lines: &str) {
        let text = lines.replace("MODULE", self.module.to_str().unwrap());
        std::fs::write(self.services.path().join(name), text).unwrap();
    }

    /// pamtester SERVICE USER OPS, the answers to the prompts on stdin.
    pub fn run(
        &self,
        service: &str,
        user: &str,
        ops: &[&str],
        stdin: &str,
        extra: &[(&str, &str)],
    ) -> Run {
        self.run_with(service, user, ops, stdin, extra, &[])
    }

    pub fn run_with(
        &self,
        service: &str,
        user: &str,
        ops: &[&str],
        stdin: &str,
        env: &[(&str, &str)],
        items: &[&str],
    ) -> Run {
        let mut cmd = Command::new("pamtester");
        for item in items {
            cmd.args(["-I", item]);
        }
        cmd.arg(service)
            .arg(user)
            .args(ops)
            .env("PAM_WRAPPER", "1")
            .env("PAM_WRAPPER_SERVICE_DIR", self.services.path())
            .env("LD_PRELOAD", PAM_WRAPPER)
            .envs(env.iter().copied());
        run_with_input(cmd, stdin)
    }
}

/// Runs `cmd`, a process under pam_wrapper, with `stdin` fed in; its stdout and
/// stderr together. One such process runs at a time on the machine: see
/// [`OnePamWrapperAtATime`].
pub fn run_with_input(mut cmd: Command, stdin: &str) -> Run {
    let _turn = OnePamWrapperAtATime::wait();
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("pamtester (apt-get install pamtester libpam-wrapper)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        ok: out.status.success(),
        output: format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The run ended as `ok` says, and its output holds `text`.
pub fn expect(run: Run, ok: bool, text: &str) -> String {
    assert_eq!(run.ok, ok, "{}", run.output);
    assert!(
        run.output.contains(text),
        "expected {text:?} in:\n{}",
        run.output
    );
    run.output
}

/// pam_wrapper picks its configuration directory among `/tmp/pam.?` by
/// `lstat`, then `mkdir`s it without failing when that `mkdir` loses a race,
/// copies the service files in, and removes the directory when the process ends.
/// Two wrapped processes starting together can therefore share one directory,
/// and a service named alike in both (every test calls its service `ab`) then
/// sends one test's logins to the other test's daemon. Wrapped processes take
/// turns through this lock on a file, across threads and test processes alike.
pub struct OnePamWrapperAtATime {
    _file: std::fs::File,
}

impl OnePamWrapperAtATime {
    pub fn wait() -> OnePamWrapperAtATime {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::OpenOptionsExt;
        let path = std::env::temp_dir().join("authbridge-tests-pam_wrapper.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o666)
            .open(&path)
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        loop {
            // SAFETY: flock on a descriptor this function owns.
            if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } == 0 {
                break;
            }
            let error = std::io::Error::last_os_error();
            assert_eq!(
                error.kind(),
                std::io::ErrorKind::Interrupted,
                "flock: {error}"
            );
        }
        // The lock goes with the descriptor, when the value drops.
        OnePamWrapperAtATime { _file: file }
    }
}
