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
use std::ffi::{CStr, c_char, c_int, c_void};
use std::io::{self, BufReader, BufWriter};
use std::os::fd::FromRawFd;
use std::sync::Mutex;
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
    // Replies go to the original stdout; fd 1 itself is pointed at stderr, so
    // anything libsmbclient prints can never corrupt a reply frame.
    // SAFETY: plain descriptor calls on this process's own fds, before any thread.
    let replies = unsafe {
        let fd = libc::dup(1);
        if fd < 0 || libc::dup2(2, 1) < 0 {
            eprintln!("authbridge-smb-child: cannot set up its descriptors");
            return 2;
        }
        std::fs::File::from_raw_fd(fd)
    };
    let stdin = io::stdin();
    let mut input = BufReader::new(stdin.lock());
    let mut output = BufWriter::new(replies);
    loop {
        let request = match Request::read_from(&mut input) {
            Ok(Some(r)) => r,
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("authbridge-smb-child: bad request frame: {e}");
                return 2;
            }
        };
        REASONS.lock().unwrap_or_else(|p| p.into_inner()).clear();
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
    capture_reasons(&client);
    // Needs an authenticated session and tree connect; keeps the server's refusal.
    match client.stat("/") {
        Ok(_) => reply(Status::Accepted, String::new()),
        Err(SmbError::Io(e)) => classify(&e, &REASONS.lock().unwrap_or_else(|p| p.into_inner())),
        Err(e) => reply(Status::Failed, e.to_string()),
    }
}

/// libsmbclient reduces NT status codes to errno: LOGON_FAILURE, WRONG_PASSWORD,
/// ACCOUNT_DISABLED, PASSWORD_EXPIRED, INVALID_LOGON_HOURS and ACCESS_DENIED all
/// arrive as EACCES. The reason is recovered from its debug log (see
/// [`capture_reasons`]); without one, EACCES is a plain rejection.
fn classify(e: &io::Error, reasons: &[String]) -> Reply {
    let errno = e.raw_os_error().unwrap_or(0);
    let status = if !reasons.is_empty() {
        // The server refused the session setup: whatever errno libsmbclient chose
        // (ACCOUNT_LOCKED_OUT, for one, arrives as EINVAL), this is a refusal.
        refusal(reasons)
    } else {
        match errno {
            libc::EACCES | libc::EPERM => Status::Rejected,
            libc::ECONNREFUSED | libc::EHOSTUNREACH | libc::ENETUNREACH => Status::Connect,
            libc::ETIMEDOUT => Status::Timeout,
            _ => Status::Failed,
        }
    };
    let detail = reasons.last().map(String::as_str).unwrap_or("");
    reply(
        status,
        format!("{e} (errno {errno}) {detail}")
            .trim_end()
            .to_owned(),
    )
}

/// Samba logs a failed session setup at level 3 as "SPNEGO login failed: " and
/// the NT status's description from its error table (libcli/util/nterr.c).
fn refusal(reasons: &[String]) -> Status {
    let text = reasons.join("\n").to_ascii_lowercase();
    if text.contains("account is currently disabled") || text.contains("account has expired") {
        Status::AccountDisabled
    } else if text.contains("automatically locked") {
        Status::AccountLocked
    } else if text.contains("password has expired") || text.contains("password must be changed") {
        Status::PasswordExpired
    } else {
        Status::Rejected
    }
}

/// Collected "login failed" lines of the current request.
static REASONS: Mutex<Vec<String>> = Mutex::new(Vec::new());

extern "C" fn collect(_: *mut c_void, _level: c_int, message: *const c_char) {
    if message.is_null() {
        return;
    }
    // SAFETY: libsmbclient passes a NUL-terminated message valid for this call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    if text.contains("login failed")
        && let Ok(mut reasons) = REASONS.lock()
    {
        reasons.push(text.trim().to_owned());
    }
}

/// Debug level 3 carries the session-setup failure reason; the callback keeps it
/// in memory (nothing is written anywhere, and no password is ever in it).
fn capture_reasons(client: &SmbClient) {
    if let Ok(ctx) = client.ctx() {
        // SAFETY: `ctx` is this client's live context; the callback is a plain
        // function that never unwinds, and the client outlives the check.
        unsafe {
            pavao_sys::smbc_setDebug(ctx, 3);
            pavao_sys::smbc_setLogCallback(ctx, std::ptr::null_mut(), Some(collect));
        }
    }
}

fn reply(status: Status, message: String) -> Reply {
    Reply { status, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samba_reasons_are_recognised() {
        let r = |line: &str| refusal(&[line.to_owned()]);
        assert_eq!(
            r(
                "SPNEGO login failed: The referenced account is currently disabled and cannot be logged on to."
            ),
            Status::AccountDisabled
        );
        assert_eq!(
            r(
                "SPNEGO login failed: The user account has been automatically locked because too many invalid logon attempts or password change attempts have been requested."
            ),
            Status::AccountLocked
        );
        assert_eq!(
            r("SPNEGO login failed: The user account password has expired."),
            Status::PasswordExpired
        );
        assert_eq!(
            r(
                "SPNEGO login failed: The attempted logon is invalid. This is either due to a bad username or authentication information."
            ),
            Status::Rejected
        );
        assert_eq!(refusal(&[]), Status::Rejected);
    }
}
