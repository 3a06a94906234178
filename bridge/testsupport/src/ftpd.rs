//! A private pyftpdlib server started with `ci/servers/ftpd.sh`.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::ports::{PortTaken, start_retrying, wait_until_listening};
use crate::{Pki, free_port, run_script, server_dir};

pub struct Ftpd {
    dir: tempfile::TempDir,
    pub pki: Pki,
    pub port: u16,
}

impl Ftpd {
    /// Explicit FTPS required before USER.
    pub fn start(users: &[(&str, &str)]) -> Ftpd {
        Self::start_with(users, true)
    }

    /// No TLS offered at all.
    pub fn start_without_tls(users: &[(&str, &str)]) -> Ftpd {
        Self::start_with(users, false)
    }

    fn start_with(users: &[(&str, &str)], tls: bool) -> Ftpd {
        start_retrying("pyftpdlib", || Self::try_start(users, tls))
    }

    /// One start on a fresh port. The server binds it after the start script has
    /// returned, so the wait is for this very process to listen there.
    fn try_start(users: &[(&str, &str)], tls: bool) -> Result<Ftpd, PortTaken> {
        let dir = server_dir("abftp");
        let pki = Pki::generate(dir.path());
        let lines: String = users
            .iter()
            .map(|(login, password)| {
                serde_json::json!({ "login": login, "password": password }).to_string() + "\n"
            })
            .collect();
        std::fs::write(dir.path().join("users.jsonl"), lines).unwrap();
        let port = free_port();
        // Built first, so that a failed start is stopped on drop like any other.
        let server = Ftpd { dir, pki, port };
        run_script(
            "ftpd.sh",
            &["start", server.dir.path().to_str().unwrap()],
            &[
                ("FTP_PORT", port.to_string()),
                ("TLS", if tls { "yes" } else { "no" }.to_owned()),
            ],
        );
        let pid = std::fs::read_to_string(server.dir.path().join("ftpd.pid"))
            .expect("ftpd.sh writes ftpd.pid")
            .trim()
            .parse()
            .expect("a pid in ftpd.pid");
        wait_until_listening(
            pid,
            Ipv4Addr::LOCALHOST,
            port,
            Duration::from_secs(10),
            || std::fs::read_to_string(server.dir.path().join("ftpd.log")).unwrap_or_default(),
        )?;
        Ok(server)
    }

    /// The command verbs the server received, in order.
    pub fn commands(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("commands.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for Ftpd {
    fn drop(&mut self) {
        run_script("ftpd.sh", &["stop", self.dir.path().to_str().unwrap()], &[]);
    }
}
