//! A private pyftpdlib server started with `ci/servers/ftpd.sh`.

use std::time::Duration;

use crate::{Pki, free_port, run_script, server_dir, wait_for_port};

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
        run_script(
            "ftpd.sh",
            &["start", dir.path().to_str().unwrap()],
            &[
                ("FTP_PORT", port.to_string()),
                ("TLS", if tls { "yes" } else { "no" }.to_owned()),
            ],
        );
        let server = Ftpd { dir, pki, port };
        wait_for_port("127.0.0.1", port, Duration::from_secs(10));
        server
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
