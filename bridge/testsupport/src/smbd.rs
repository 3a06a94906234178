//! A private Samba smbd started with `ci/servers/smbd.sh`.

use std::time::Duration;

use crate::{free_port, run_script, server_dir, wait_for_port};

pub struct Smbd {
    dir: tempfile::TempDir,
    pub port: u16,
}

impl Smbd {
    /// Users in a private tdbsam; unknown users are refused, guests are not allowed.
    pub fn start(users: &[(&str, &str)]) -> Smbd {
        Self::start_with(users, false)
    }

    /// Unknown users are mapped to guest, and the share allows guests.
    pub fn start_with_guest_mapping(users: &[(&str, &str)]) -> Smbd {
        Self::start_with(users, true)
    }

    fn start_with(users: &[(&str, &str)], guest: bool) -> Smbd {
        let dir = server_dir("absmb");
        let lines: String = users
            .iter()
            .map(|(login, password)| {
                assert!(!login.contains(['\t', '\n']) && !password.contains(['\t', '\n']));
                format!("{login}\t{password}\n")
            })
            .collect();
        std::fs::write(dir.path().join("users"), lines).unwrap();
        let port = free_port();
        run_script(
            "smbd.sh",
            &["start", dir.path().to_str().unwrap()],
            &[
                ("SMB_PORT", port.to_string()),
                ("GUEST", if guest { "yes" } else { "no" }.to_owned()),
            ],
        );
        let server = Smbd { dir, port };
        wait_for_port("127.0.0.1", port, Duration::from_secs(20));
        server
    }

    /// Runs pdbedit against this server's account database, e.g. `["-c", "[D]", "-u", "bob"]`.
    pub fn pdbedit(&self, args: &[&str]) {
        let conf = self.dir.path().join("smb.conf");
        let status = std::process::Command::new("pdbedit")
            .arg("-s")
            .arg(&conf)
            .args(args)
            .env("LD_PRELOAD", "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so")
            .env("NSS_WRAPPER_PASSWD", self.dir.path().join("passwd"))
            .env("NSS_WRAPPER_GROUP", self.dir.path().join("group"))
            .stdout(std::process::Stdio::null())
            .status()
            .expect("run pdbedit");
        assert!(status.success(), "pdbedit {args:?} failed");
    }
}

impl Drop for Smbd {
    fn drop(&mut self) {
        run_script("smbd.sh", &["stop", self.dir.path().to_str().unwrap()], &[]);
    }
}
