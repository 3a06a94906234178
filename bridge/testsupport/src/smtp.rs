//! A real SMTP server (aiosmtpd from Debian) for mail tests.

use std::net::Ipv4Addr;
use std::time::Duration;

use crate::ports::{PortTaken, start_retrying, wait_until_listening};

/// A real SMTP server (aiosmtpd from Debian) writing to a maildir.
pub struct Smtp {
    pub port: u16,
    dir: tempfile::TempDir,
    child: std::process::Child,
}

impl Smtp {
    pub fn start() -> Smtp {
        start_retrying("aiosmtpd", Self::try_start)
    }

    /// One start on a fresh port: the wait is for this very process to listen there.
    fn try_start() -> Result<Smtp, PortTaken> {
        let dir = tempfile::tempdir().unwrap();
        let port = crate::free_port();
        let errors = dir.path().join("stderr");
        let child = std::process::Command::new("/usr/bin/python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(dir.path().join("maildir"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&errors).expect("stderr file"))
            .spawn()
            .expect("python3 -m aiosmtpd (apt-get install python3-aiosmtpd)");
        // Built first, so that a failed start is killed and reaped on drop.
        let server = Smtp { port, dir, child };
        wait_until_listening(
            server.child.id(),
            Ipv4Addr::LOCALHOST,
            port,
            Duration::from_secs(10),
            || std::fs::read_to_string(&errors).unwrap_or_default(),
        )?;
        Ok(server)
    }

    /// Every message received so far, sorted.
    pub fn messages(&self) -> Vec<String> {
        let new = self.dir.path().join("maildir/new");
        let mut out: Vec<String> = std::fs::read_dir(new)
            .map(|d| {
                d.flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap())
                    .collect()
            })
            .unwrap_or_default();
        out.sort();
        out
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
