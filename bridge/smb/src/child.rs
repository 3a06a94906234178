//! The child process that talks to libsmbclient, one request at a time.
//!
//! libsmbclient keeps process-wide state, serialises its calls, reads
//! `$HOME/.smb/smb.conf` at first use and can block in a call for as long as it
//! likes. Running it in a child started with an empty environment keeps all of
//! that out of the daemon: `HOME` points at a directory of authbridge's own (so
//! the invoking user's `~/.smb` is never read, and the client settings are
//! ours, see [`CLIENT_CONF`]), a hung call is ended by killing the child, and a
//! crash in C code costs one check, not the daemon.

use pavao::{SmbClient, SmbCredentials, SmbDialect, SmbError, SmbOptions};
use std::io::{self, BufReader, BufWriter};
use std::time::Duration;

use crate::wire::{Reply, Request, Status};

/// The client settings the child runs with, as `$HOME/.smb/smb.conf` (which
/// libsmbclient reads instead of the system smb.conf). Signing is required: a
/// session the server turned into a guest session has no key to sign with, so it
/// can never pass for the user's own.
pub const CLIENT_CONF: &str = "\
[global]
  client min protocol = SMB2_02
  client signing = required
  client ipc signing = required
  client use kerberos = off
";

/// Serves requests from stdin until it closes. Returns the process exit code.
pub fn child_main() -> i32 {
    let stdin = io::stdin();
    let stdout = io::stdout();
    let mut input = BufReader::new(stdin.lock());
    let mut output = BufWriter::new(stdout.lock());
    loop {
        let request = match Request::read_from(&mut input) {
            Ok(Some(r)) => r,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("authbridge-smb-child: bad request frame: {e}");
                return 2;
            }
        };
        let reply = check(&request);
        if reply.write_to(&mut output).is_err() {
            return 0;
        }
    }
}

fn check(r: &Request) -> Reply {
    let credentials = SmbCredentials::default()
        .server(format!("smb://{}:{}", r.server, r.port))
        .share(if r.share.is_empty() {
            String::new()
        } else {
            format!("/{}", r.share)
        })
        .workgroup(&r.workgroup)
        .username(&r.user)
        .password(r.password.as_str());
    let options = SmbOptions::default()
        // A failed login must never be retried as guest or anonymous.
        .no_auto_anonymous_login(true)
        .min_protocol(SmbDialect::Smb202)
        .use_kerberos(false)
        .fallback_after_kerberos(false)
        .use_ccache(false)
        .one_share_per_server(true);
    // A fresh context per check: libsmbclient caches authenticated connections per
    // context, and a cached one would let a later wrong password through.
    let client = match SmbClient::new(credentials, options) {
        Ok(c) => c,
        Err(e) => return reply(Status::Failed, format!("libsmbclient setup failed: {e}")),
    };
    let _ = client.set_timeout(Duration::from_millis(u64::from(r.timeout_ms)));
    // Needs an authenticated session and tree connect; keeps the server's refusal.
    match client.stat("/") {
        Ok(_) => reply(Status::Accepted, String::new()),
        Err(SmbError::Io(e)) => classify(&e),
        Err(e) => reply(Status::Failed, e.to_string()),
    }
}

/// libsmbclient reduces NT status codes to errno: LOGON_FAILURE, WRONG_PASSWORD,
/// ACCOUNT_DISABLED, PASSWORD_EXPIRED, INVALID_LOGON_HOURS and ACCESS_DENIED all
/// arrive as EACCES, so the exact reason is only in the server's log.
fn classify(e: &io::Error) -> Reply {
    let errno = e.raw_os_error().unwrap_or(0);
    let status = match errno {
        libc_errno::EACCES | libc_errno::EPERM => Status::Rejected,
        libc_errno::ECONNREFUSED | libc_errno::EHOSTUNREACH | libc_errno::ENETUNREACH => {
            Status::Connect
        }
        libc_errno::ETIMEDOUT => Status::Timeout,
        _ => Status::Failed,
    };
    reply(status, format!("{e} (errno {errno})"))
}

/// The few errno values we tell apart (Linux numbering, which is what libsmbclient
/// on this platform reports).
mod libc_errno {
    pub const EPERM: i32 = 1;
    pub const EACCES: i32 = 13;
    pub const ENETUNREACH: i32 = 101;
    pub const ETIMEDOUT: i32 = 110;
    pub const ECONNREFUSED: i32 = 111;
    pub const EHOSTUNREACH: i32 = 113;
}

fn reply(status: Status, message: String) -> Reply {
    Reply { status, message }
}
