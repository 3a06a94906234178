//! One FTP password check on a blocking thread: greeting, AUTH TLS (+ PBSZ/PROT,
//! which suppaftp sends with it), USER, PASS, QUIT.

use authbridge_core::{
    Accepted, Deadline, ExposeSecret, RejectReason, SecretString, UnavailableKind, Verdict,
    canonical_uid, io_unavailable,
};
use rustls::ClientConfig;
use std::sync::Arc;
use suppaftp::{FtpError, RustlsConnector, RustlsFtpStream, Status};
use zeroize::Zeroizing;

// suppaftp's own rustls re-export, so the versions always match.
use suppaftp::rustls;

pub struct Target {
    pub host: String,
    pub port: u16,
    /// `None` for plaintext FTP (only when the config allows it in words).
    pub tls: Option<Arc<ClientConfig>>,
}

/// Connected, greeting read, TLS started when configured.
fn open(target: &Target, deadline: Deadline) -> Result<(RustlsFtpStream, String), Verdict> {
    let endpoint = format!("{}:{}", target.host, target.port);
    let tcp = deadline
        .connect_tcp(&target.host, target.port)
        .map_err(|e| io_unavailable(&format!("connect to {endpoint}"), &e))?;
    let mut ftp = RustlsFtpStream::connect_with_stream(tcp)
        .map_err(|e| ftp_unavailable(&endpoint, "greeting", e))?;
    if let Some(tls) = &target.tls {
        ftp = ftp
            .into_secure(RustlsConnector::from(Arc::clone(tls)), &target.host)
            // No downgrade: without TLS the password is never sent.
            .map_err(|e| {
                Verdict::unavailable(
                    UnavailableKind::Tls,
                    format!("{endpoint} did not start TLS ({e}); no password was sent"),
                )
            })?;
    }
    Ok((ftp, endpoint))
}

/// The server reached without credentials — connection, greeting, AUTH TLS as
/// configured, FEAT — then QUIT: what `authbridge doctor` checks.
pub fn probe(target: &Target, deadline: Deadline) -> Result<String, Verdict> {
    let (mut ftp, endpoint) = open(target, deadline)?;
    let features = ftp
        .feat()
        .map_err(|e| ftp_unavailable(&endpoint, "FEAT", e))?;
    let _ = ftp.quit();
    let mut names: Vec<&str> = features.keys().map(String::as_str).collect();
    names.sort_unstable();
    let tls = match target.tls {
        Some(_) => "AUTH TLS",
        None => "no TLS (as configured)",
    };
    Ok(format!("greeting, {tls}, FEAT: {}", names.join(" ")))
}

pub fn check(target: &Target, login: &str, password: &SecretString, deadline: Deadline) -> Verdict {
    let (mut ftp, endpoint) = match open(target, deadline) {
        Ok(opened) => opened,
        Err(verdict) => return verdict,
    };

    let user = ftp.custom_command(
        format!("USER {login}"),
        &[Status::NeedPassword, Status::LoggedIn, Status::NotLoggedIn],
    );
    match user {
        Ok(r) if r.status == Status::NeedPassword => {}
        Ok(r) if r.status == Status::LoggedIn => {
            // A server that lets a user in without a password says nothing about it.
            return Verdict::unavailable(
                UnavailableKind::Misconfigured,
                format!(
                    "{endpoint} logged the user in without asking for a password; refusing to trust it"
                ),
            );
        }
        Ok(_) => return Verdict::Rejected(RejectReason::BadCredentials),
        Err(e) => return ftp_unavailable(&endpoint, "USER", e),
    }

    let command = Zeroizing::new(format!("PASS {}", password.expose_secret()));
    let pass = ftp.custom_command(command.as_str(), &[Status::LoggedIn, Status::NotLoggedIn]);
    let verdict = match pass {
        Ok(r) if r.status == Status::LoggedIn => Verdict::Accepted(Accepted {
            uid: canonical_uid(login),
            groups: vec![],
        }),
        Ok(_) => Verdict::Rejected(RejectReason::BadCredentials),
        Err(e) => ftp_unavailable(&endpoint, "PASS", e),
    };
    // The verdict is known; QUIT is a courtesy and its failure changes nothing.
    let _ = ftp.quit();
    verdict
}

fn ftp_unavailable(endpoint: &str, step: &str, err: FtpError) -> Verdict {
    match err {
        FtpError::ConnectionError(e) => io_unavailable(&format!("FTP {step} with {endpoint}"), &e),
        FtpError::SecureError(e) => Verdict::unavailable(
            UnavailableKind::Tls,
            format!("FTP {step} with {endpoint}: {e}"),
        ),
        FtpError::UnexpectedResponse(r) => Verdict::unavailable(
            UnavailableKind::Protocol,
            format!(
                "FTP {step} with {endpoint}: unexpected reply {} {}",
                r.status.code(),
                String::from_utf8_lossy(&r.body).trim()
            ),
        ),
        other => Verdict::unavailable(
            UnavailableKind::Protocol,
            format!("FTP {step} with {endpoint}: {other}"),
        ),
    }
}
