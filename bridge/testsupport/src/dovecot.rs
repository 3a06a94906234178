//! A private Dovecot started with `ci/servers/dovecot.sh`.

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use crate::ports::{PortTaken, free_port_on, says_port_taken, start_retrying};
use crate::{Pki, run_script, server_dir, try_run_script, wait_for_port};

pub struct Dovecot {
    pub address: &'static str,
    dir: tempfile::TempDir,
    pub pki: Pki,
    /// Plain listener: STARTTLS offered (or, with TLS off, nothing offered).
    pub imap_port: u16,
    /// Implicit TLS listener (0 when TLS is off).
    pub imaps_port: u16,
}

impl Dovecot {
    /// Starts Dovecot on 127.0.0.1 with these users (login, password), STARTTLS and
    /// implicit TLS.
    pub fn start(users: &[(&str, &str)]) -> Dovecot {
        Self::start_with(users, true, "127.0.0.1")
    }

    /// Starts Dovecot with no TLS at all (STARTTLS not offered).
    pub fn start_without_tls(users: &[(&str, &str)]) -> Dovecot {
        Self::start_with(users, false, "127.0.0.1")
    }

    /// Starts Dovecot with TLS on another loopback address, where it treats a
    /// plaintext client as insecure (and so advertises LOGINDISABLED).
    pub fn start_on(users: &[(&str, &str)], address: &'static str) -> Dovecot {
        Self::start_with(users, true, address)
    }

    fn start_with(users: &[(&str, &str)], tls: bool, address: &'static str) -> Dovecot {
        start_retrying("Dovecot", || Self::try_start(users, tls, address))
    }

    /// One start on fresh ports. Dovecot binds its listeners before it
    /// daemonises, so a taken port fails the start script itself.
    fn try_start(
        users: &[(&str, &str)],
        tls: bool,
        address: &'static str,
    ) -> Result<Dovecot, PortTaken> {
        let dir = server_dir("abdv");
        let pki = Pki::generate(dir.path());
        let mut passwd = String::new();
        for (login, password) in users {
            assert!(
                !password.contains(':') && !login.contains(':'),
                "passwd-file field separator"
            );
            passwd.push_str(&format!("{login}:{{PLAIN}}{password}::::::\n"));
        }
        std::fs::write(dir.path().join("users"), passwd).unwrap();
        let ip: Ipv4Addr = address.parse().expect("a loopback IPv4 address");
        let imap_port = free_port_on(ip);
        let imaps_port = if tls { free_port_on(ip) } else { 0 };
        let dir_arg = dir.path().to_str().unwrap().to_owned();
        // Built first, so that a failed start is stopped on drop like any other.
        let server = Dovecot {
            address,
            dir,
            pki,
            imap_port,
            imaps_port,
        };
        let started = try_run_script(
            "dovecot.sh",
            &["start", &dir_arg],
            &[
                ("IMAP_PORT", imap_port.to_string()),
                ("IMAPS_PORT", imaps_port.to_string()),
                ("SSL", if tls { "yes" } else { "no" }.to_owned()),
                ("ADDRESS", address.to_owned()),
            ],
        );
        match started {
            Ok(()) => {}
            Err(output) if says_port_taken(&output) => return Err(PortTaken(output)),
            Err(output) => panic!("{output}"),
        }
        wait_for_port(address, imap_port, Duration::from_secs(10));
        if tls {
            wait_for_port(address, imaps_port, Duration::from_secs(10));
        }
        server.wait_for_auth_process();
        Ok(server)
    }

    /// Until its auth process is up, Dovecot greets with "Waiting for authentication
    /// process" and no capabilities; tests want the real greeting.
    fn wait_for_auth_process(&self) {
        let mut line = String::new();
        let ready = crate::eventually(Duration::from_secs(10), || {
            line.clear();
            if let Ok(stream) = TcpStream::connect((self.address, self.imap_port)) {
                let _ = BufReader::new(stream).read_line(&mut line);
            }
            line.contains("CAPABILITY")
        });
        assert!(ready, "Dovecot not ready: {line:?}");
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("dovecot.log")
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Successful logins of `user` seen by the server so far.
    pub fn logins(&self, user: &str) -> usize {
        self.log().matches(&format!("Login: user=<{user}>")).count()
    }

    /// The login count once it reaches `expected` (Dovecot writes its log line
    /// after the client has gone, so the last one may still be on its way), or
    /// whatever it is after a few seconds. Compare the result with `expected`.
    pub fn logins_reaching(&self, user: &str, expected: usize) -> usize {
        crate::eventually_some(Duration::from_secs(5), || {
            Some(self.logins(user)).filter(|&seen| seen >= expected)
        })
        .unwrap_or_else(|| self.logins(user))
    }

    pub fn stop(&self) {
        run_script(
            "dovecot.sh",
            &["stop", self.dir.path().to_str().unwrap()],
            &[],
        );
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        self.stop();
    }
}
