//! A private Samba smbd started with `ci/servers/smbd.sh`.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::ports::{PortTaken, start_retrying, wait_until_listening};
use crate::{free_port, run_script, server_dir};

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
        start_retrying("smbd", || Self::try_start(users, guest))
    }

    /// One start on a fresh port. smbd binds it after the start script has
    /// returned, so the wait is for this very process to listen there.
    fn try_start(users: &[(&str, &str)], guest: bool) -> Result<Smbd, PortTaken> {
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
        // Built first, so that a failed start is stopped on drop like any other.
        let server = Smbd { dir, port };
        run_script(
            "smbd.sh",
            &["start", server.dir.path().to_str().unwrap()],
            &[
                ("SMB_PORT", port.to_string()),
                ("GUEST", if guest { "yes" } else { "no" }.to_owned()),
            ],
        );
        let pid = std::fs::read_to_string(server.dir.path().join("smbd.pid"))
            .expect("smbd.sh writes smbd.pid")
            .trim()
            .parse()
            .expect("a pid in smbd.pid");
        wait_until_listening(
            pid,
            Ipv4Addr::LOCALHOST,
            port,
            Duration::from_secs(20),
            || {
                ["smbd.log", "smbd.out"]
                    .map(|f| std::fs::read_to_string(server.dir.path().join(f)).unwrap_or_default())
                    .join("\n")
            },
        )?;
        Ok(server)
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
