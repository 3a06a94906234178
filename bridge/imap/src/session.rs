//! One IMAP password check on a blocking thread: connect, (TLS), greeting,
//! one authentication command, LOGOUT. Nothing more is sent.

use authbridge_core::{
    Accepted, Deadline, ExposeSecret, RejectReason, SecretString, UnavailableKind, Verdict,
    io_unavailable,
};
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use zeroize::Zeroizing;

use crate::config::Security;
use crate::domain::Mapped;

/// The socket under the imap crate's client, before or after TLS.
enum Transport {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.read(buf),
            Transport::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Transport::Plain(s) => s.write(buf),
            Transport::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Transport::Plain(s) => s.flush(),
            Transport::Tls(s) => s.flush(),
        }
    }
}

type Client = imap::Client<Transport>;

/// Where to connect and how; built once per backend.
pub struct Target {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub tls: Arc<ClientConfig>,
    pub server_name: ServerName<'static>,
}

/// The whole exchange. Every early exit is a verdict; only a tagged OK to our
/// authentication command is an accept.
pub fn check(
    target: &Target,
    who: &Mapped,
    password: &SecretString,
    deadline: Deadline,
) -> Verdict {
    match exchange(target, who, password, deadline) {
        Ok(()) => Verdict::Accepted(Accepted {
            uid: who.uid.clone(),
            groups: who.groups.clone(),
        }),
        Err(verdict) => verdict,
    }
}

/// The server reached without credentials — connection, TLS as configured,
/// greeting — and nothing more: what `authbridge doctor` checks. Says what it saw.
pub fn probe(target: &Target, deadline: Deadline) -> Result<String, Verdict> {
    // Dropped unauthenticated: the imap crate sends commands only in a session.
    let (_client, capabilities, _) = open(target, deadline)?;
    let tls = match target.security {
        Security::Plaintext => "no TLS (as configured)",
        Security::Implicit => "TLS",
        Security::StartTls => "STARTTLS",
    };
    Ok(match capabilities.is_empty() {
        true => format!("greeting, {tls}"),
        false => format!("greeting, {tls}, {}", capabilities.join(" ")),
    })
}

/// Connected, TLS as configured, greeting read: the client, the capabilities
/// the greeting announced (none trusted from before STARTTLS), the endpoint.
fn open(target: &Target, deadline: Deadline) -> Result<(Client, Vec<String>, String), Verdict> {
    let endpoint = format!("{}:{}", target.host, target.port);
    let tcp = deadline
        .connect_tcp(&target.host, target.port)
        .map_err(|e| io_unavailable(&format!("connect to {endpoint}"), &e))?;

    let (client, capabilities) = match target.security {
        Security::Implicit => {
            let mut client = Client::new(Transport::Tls(handshake(target, tcp)?));
            let caps = greeting(&mut client, &endpoint)?;
            (client, caps)
        }
        Security::StartTls => {
            let tcp = starttls_prelude(tcp, &endpoint)?;
            // Capabilities learnt before TLS are not trusted after it (RFC 9051 7.2.2).
            (
                Client::new(Transport::Tls(handshake(target, tcp)?)),
                Vec::new(),
            )
        }
        Security::Plaintext => {
            let mut client = Client::new(Transport::Plain(tcp));
            let caps = greeting(&mut client, &endpoint)?;
            (client, caps)
        }
    };
    Ok((client, capabilities, endpoint))
}

fn exchange(
    target: &Target,
    who: &Mapped,
    password: &SecretString,
    deadline: Deadline,
) -> Result<(), Verdict> {
    let (client, capabilities, endpoint) = open(target, deadline)?;

    let has = |cap: &str| capabilities.iter().any(|c| c.eq_ignore_ascii_case(cap));
    if has("LOGINDISABLED") && !has("AUTH=PLAIN") {
        return Err(Verdict::unavailable(
            UnavailableKind::Misconfigured,
            format!(
                "{endpoint} refuses plaintext logins on this connection (LOGINDISABLED); no password was sent"
            ),
        ));
    }

    let secret = password.expose_secret();
    let result = if is_quotable(&who.imap_login) && is_quotable(secret) && !has("LOGINDISABLED") {
        // One round trip; the imap crate quotes `"` and `\\`.
        client.login(&who.imap_login, secret)
    } else {
        // Non-ASCII needs SASL PLAIN (RFC 4616 is UTF-8), through the "+" continuation.
        client.authenticate("PLAIN", &PlainAuth(sasl_plain_raw(&who.imap_login, secret)))
    };
    match result {
        Ok(mut session) => {
            // LOGOUT is sent without waiting for its reply: the verdict is already known.
            let _ = session.run_command("LOGOUT");
            Ok(())
        }
        Err((e, _client)) => Err(login_failure(&endpoint, e)),
    }
}

/// The plaintext part of a STARTTLS connection, spoken by hand because the imap
/// crate keeps its raw command API private: greeting, `STARTTLS`, tagged OK.
fn starttls_prelude(tcp: TcpStream, endpoint: &str) -> Result<TcpStream, Verdict> {
    let refused = |why: String| {
        Verdict::unavailable(
            UnavailableKind::Tls,
            format!("{endpoint} did not start TLS ({why}); no password was sent"),
        )
    };
    let mut reader = BufReader::new(&tcp);
    let greeting = read_line(&mut reader, endpoint)?;
    check_greeting(&greeting, endpoint)?;
    (&tcp)
        .write_all(b"a0 STARTTLS\r\n")
        .map_err(|e| io_unavailable(&format!("IMAP with {endpoint}"), &e))?;
    loop {
        let line = read_line(&mut reader, endpoint)?;
        if line.starts_with("* ") {
            continue;
        }
        if line.starts_with("a0 OK") {
            break;
        }
        return Err(refused(format!(
            "STARTTLS answered {:?}",
            truncate(line.trim_end())
        )));
    }
    // Anything the server sent after its STARTTLS reply stays in this buffer and is
    // dropped with it, so injected plaintext never reaches the TLS session.
    drop(reader);
    Ok(tcp)
}

/// One CRLF-terminated line, at most 8 KiB, so garbage cannot grow without bound.
fn read_line(reader: &mut impl BufRead, endpoint: &str) -> Result<String, Verdict> {
    let mut line = Vec::new();
    let n = reader
        .take(8192)
        .read_until(b'\n', &mut line)
        .map_err(|e| io_unavailable(&format!("IMAP with {endpoint}"), &e))?;
    if n == 0 || !line.ends_with(b"\n") {
        return Err(Verdict::unavailable(
            UnavailableKind::Protocol,
            format!("{endpoint} closed the connection or sent an overlong line"),
        ));
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

fn handshake(
    target: &Target,
    mut tcp: TcpStream,
) -> Result<Box<StreamOwned<ClientConnection, TcpStream>>, Verdict> {
    let endpoint = format!("{}:{}", target.host, target.port);
    let tls_error = |e: &dyn std::fmt::Display| {
        Verdict::unavailable(
            UnavailableKind::Tls,
            format!("TLS with {endpoint} failed: {e}"),
        )
    };
    let mut conn = ClientConnection::new(target.tls.clone(), target.server_name.clone())
        .map_err(|e| tls_error(&e))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| {
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
            ) {
                io_unavailable(&format!("TLS with {endpoint}"), &e)
            } else {
                tls_error(&e)
            }
        })?;
    }
    Ok(Box::new(StreamOwned::new(conn, tcp)))
}

/// Reads the greeting; returns the capabilities it advertises, if any.
fn greeting(client: &mut Client, endpoint: &str) -> Result<Vec<String>, Verdict> {
    let line = client
        .read_greeting()
        .map_err(|e| imap_unavailable(endpoint, e))?;
    let line = String::from_utf8_lossy(&line);
    check_greeting(&line, endpoint)?;
    Ok(greeting_capabilities(&line))
}

fn check_greeting(line: &str, endpoint: &str) -> Result<(), Verdict> {
    let line = line.trim_end();
    if line.starts_with("* PREAUTH") {
        // Logged in before we said who we are: its answer says nothing about the password.
        return Err(Verdict::unavailable(
            UnavailableKind::Misconfigured,
            format!("{endpoint} pre-authenticated the connection; refusing to trust it"),
        ));
    }
    if !line.starts_with("* OK") {
        return Err(Verdict::unavailable(
            UnavailableKind::Protocol,
            format!(
                "{endpoint} did not greet as an IMAP server: {:?}",
                truncate(line)
            ),
        ));
    }
    Ok(())
}

fn greeting_capabilities(line: &str) -> Vec<String> {
    let Some(start) = line.find("[CAPABILITY ") else {
        return Vec::new();
    };
    let rest = &line[start + "[CAPABILITY ".len()..];
    let end = rest.find(']').unwrap_or(rest.len());
    rest[..end]
        .split_ascii_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Maps the server's answer to our authentication command.
fn login_failure(endpoint: &str, err: imap::Error) -> Verdict {
    match err {
        imap::Error::No(no) => classify_no(endpoint, &no.information),
        other => imap_unavailable(endpoint, other),
    }
}

/// imap-proto does not parse RFC 5530 response codes, so they stay at the head of
/// the text of a NO.
fn classify_no(endpoint: &str, text: &str) -> Verdict {
    let text = text.trim();
    let code = text
        .strip_prefix('[')
        .and_then(|t| t.split([']', ' ']).next())
        .unwrap_or("")
        .to_ascii_uppercase();
    match code.as_str() {
        "UNAVAILABLE" | "SERVERBUG" | "LIMIT" | "INUSE" => Verdict::unavailable(
            UnavailableKind::Protocol,
            format!(
                "{endpoint} could not check the password: {}",
                truncate(text)
            ),
        ),
        "PRIVACYREQUIRED" => Verdict::unavailable(
            UnavailableKind::Misconfigured,
            format!("{endpoint} requires TLS for logins: {}", truncate(text)),
        ),
        "EXPIRED" => Verdict::Rejected(RejectReason::PasswordExpired),
        "CONTACTADMIN" => Verdict::Rejected(RejectReason::Server(truncate(text).to_owned())),
        _ => Verdict::Rejected(RejectReason::BadCredentials),
    }
}

fn imap_unavailable(endpoint: &str, err: imap::Error) -> Verdict {
    match err {
        imap::Error::Io(e) => io_unavailable(&format!("IMAP with {endpoint}"), &e),
        other => Verdict::unavailable(
            UnavailableKind::Protocol,
            format!("IMAP with {endpoint}: {}", truncate(&other.to_string())),
        ),
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(200) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Printable ASCII can travel in an IMAP quoted string (RFC 3501 `quoted`).
fn is_quotable(s: &str) -> bool {
    s.bytes().all(|b| (0x20..0x7f).contains(&b))
}

/// SASL PLAIN message (RFC 4616): authzid empty, authcid, password.
fn sasl_plain_raw(login: &str, password: &str) -> Zeroizing<Vec<u8>> {
    let mut raw = Zeroizing::new(Vec::with_capacity(login.len() + password.len() + 2));
    raw.push(0);
    raw.extend_from_slice(login.as_bytes());
    raw.push(0);
    raw.extend_from_slice(password.as_bytes());
    raw
}

/// The imap crate base64-encodes what this returns.
struct PlainAuth(Zeroizing<Vec<u8>>);

impl imap::Authenticator for PlainAuth {
    type Response = Vec<u8>;
    fn process(&self, _challenge: &[u8]) -> Vec<u8> {
        self.0.to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capabilities_come_from_the_greeting_code() {
        let caps = greeting_capabilities(
            "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS AUTH=PLAIN] Dovecot ready.",
        );
        assert_eq!(
            caps,
            ["IMAP4rev1", "SASL-IR", "LOGIN-REFERRALS", "AUTH=PLAIN"]
        );
        assert!(greeting_capabilities("* OK ready").is_empty());
    }

    #[test]
    fn only_printable_ascii_goes_into_login() {
        assert!(is_quotable("p a\"s\\s'%@{"));
        assert!(!is_quotable("pässword"));
    }

    #[test]
    fn sasl_plain_layout() {
        assert_eq!(sasl_plain_raw("u", "p").as_slice(), b"\0u\0p");
    }

    fn no(text: &str) -> Verdict {
        classify_no("h", text)
    }

    #[test]
    fn no_responses_are_classified_by_their_code() {
        assert_eq!(
            no("[AUTHENTICATIONFAILED] Authentication failed."),
            Verdict::Rejected(RejectReason::BadCredentials)
        );
        assert_eq!(
            no("[EXPIRED] Password expired"),
            Verdict::Rejected(RejectReason::PasswordExpired)
        );
        assert!(matches!(
            no("[UNAVAILABLE] Temporary authentication failure."),
            Verdict::Unavailable { .. }
        ));
        assert!(matches!(
            no("[PRIVACYREQUIRED] Plaintext authentication disallowed"),
            Verdict::Unavailable {
                kind: UnavailableKind::Misconfigured,
                ..
            }
        ));
        assert!(matches!(
            login_failure("h", imap::Error::ConnectionLost),
            Verdict::Unavailable { .. }
        ));
    }
}
