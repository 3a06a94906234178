//! The FTP backend against a real FTP server (pyftpdlib, started by
//! ci/servers/ftpd.sh) on 127.0.0.1.

use authbridge_core::{
    Authenticator, Credentials, RejectReason, SecretString, UnavailableKind, Verdict,
};
use authbridge_ftp::{FtpBackend, FtpConfig};
use authbridge_testsupport::faults::{Endpoint, Expect, Faults, Trust};
use authbridge_testsupport::{AWKWARD_PASSWORDS, Ftpd, accepted, long_password, unavailable_kind};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

fn server() -> Ftpd {
    let long = long_password();
    let mut users = vec![("alice", "alice-ftp-pw"), ("long", long.as_str())];
    users.extend_from_slice(AWKWARD_PASSWORDS);
    Ftpd::start(&users)
}

fn backend(toml_text: &str) -> FtpBackend {
    let config: FtpConfig = toml::from_str(toml_text).expect("test config parses");
    FtpBackend::new(config.resolve().expect("test config resolves")).expect("backend builds")
}

fn ftps(s: &Ftpd) -> FtpBackend {
    backend(&format!(
        "host = '127.0.0.1'\nport = {}\nca_file = '{}'",
        s.port,
        s.pki.ca_file.display()
    ))
}

/// The shared fault cases, over explicit FTPS.
fn faults() -> Faults<impl Fn(&Endpoint<'_>) -> FtpBackend> {
    Faults::new("alice", "alice-ftp-pw", |e: &Endpoint<'_>| {
        let mut config = format!("host = '{}'\nport = {}\n", e.host, e.port);
        match e.trust {
            Trust::Ca(ca_file) => config.push_str(&format!("ca_file = '{}'\n", ca_file.display())),
            Trust::System => {}
            Trust::Unchecked => config.push_str("tls_verify = false\n"),
        }
        if let Some(timeout) = e.timeout {
            config.push_str(&format!("timeout = '{}ms'\n", timeout.as_millis()));
        }
        backend(&config)
    })
}

async fn check(b: &FtpBackend, login: &str, password: &str) -> Verdict {
    let creds = Credentials::new(login, SecretString::from(password.to_owned())).unwrap();
    b.authenticate(&creds).await
}

#[tokio::test]
async fn right_password_over_explicit_ftps() {
    let s = server();
    assert_eq!(
        check(&ftps(&s), "alice", "alice-ftp-pw").await,
        accepted("alice")
    );
    let sent = s.commands();
    let auth = sent
        .iter()
        .position(|c| c == "AUTH")
        .expect("AUTH TLS sent");
    let user = sent.iter().position(|c| c == "USER").expect("USER sent");
    assert!(auth < user, "TLS before credentials: {sent:?}");
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_rejected() {
    let s = server();
    let b = ftps(&s);
    let rejected = Verdict::Rejected(RejectReason::BadCredentials);
    assert_eq!(check(&b, "alice", "not-her-password").await, rejected);
    assert_eq!(check(&b, "nobody", "whatever").await, rejected);
}

#[tokio::test]
async fn awkward_and_long_passwords() {
    let s = server();
    let b = ftps(&s);
    let long = long_password();
    let mut cases: Vec<(&str, &str)> = AWKWARD_PASSWORDS.to_vec();
    cases.push(("long", &long));
    for (user, password) in cases {
        assert_eq!(
            check(&b, user, password).await,
            accepted(user),
            "user {user}"
        );
        assert_eq!(
            check(&b, user, &format!("{password}x")).await,
            Verdict::Rejected(RejectReason::BadCredentials),
            "user {user} with a wrong password"
        );
    }
}

#[tokio::test]
async fn closed_port_is_unavailable() {
    faults()
        .closed_port_is_unavailable(Expect::Kind(UnavailableKind::Connect))
        .await;
}

#[tokio::test]
async fn a_silent_server_is_unavailable_within_the_timeout() {
    faults()
        .silent_server_is_unavailable_within_the_timeout()
        .await;
}

#[tokio::test]
async fn untrusted_certificate_is_unavailable_unless_validation_is_off() {
    let s = server();
    faults()
        .untrusted_certificate_is_unavailable_unless_validation_is_off(s.port, &s.pki)
        .await;
}

#[tokio::test]
async fn no_tls_offered_is_unavailable_and_no_credentials_are_sent() {
    let plain = Ftpd::start_without_tls(&[("carol", "carol-ftp-pw")]);
    faults()
        .with_user("carol", "carol-ftp-pw")
        .tls_not_offered_is_unavailable(plain.port)
        .await;
    let sent = plain.commands();
    assert!(sent.contains(&"AUTH".to_owned()), "{sent:?}");
    assert!(
        !sent.contains(&"USER".to_owned()) && !sent.contains(&"PASS".to_owned()),
        "{sent:?}"
    );
}

#[tokio::test]
async fn plaintext_only_when_the_config_says_so() {
    let plain = Ftpd::start_without_tls(&[("dave", "dave-ftp-pw")]);
    let b = backend(&format!(
        "host = '127.0.0.1'\nport = {}\nsecure = false\nallow_plaintext = true",
        plain.port
    ));
    assert_eq!(check(&b, "dave", "dave-ftp-pw").await, accepted("dave"));
    assert_eq!(
        check(&b, "dave", "wrong").await,
        Verdict::Rejected(RejectReason::BadCredentials)
    );
}

/// No FTP server from Debian or PyPI can be told to log a user in on USER alone,
/// so this one misbehaving peer is scripted: greeting, then 230 to USER.
#[tokio::test]
async fn logged_in_without_a_password_is_never_an_accept() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let peer = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        stream.write_all(b"220 careless server\r\n").unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut received = Vec::new();
        let mut line = String::new();
        while reader.read_line(&mut line).unwrap_or(0) > 0 {
            let verb = line.split_whitespace().next().unwrap_or("").to_owned();
            received.push(verb.clone());
            let reply: &[u8] = match verb.as_str() {
                "USER" => b"230 come in, no password needed\r\n",
                "QUIT" => b"221 bye\r\n",
                _ => b"500 what\r\n",
            };
            stream.write_all(reply).unwrap();
            if verb == "QUIT" {
                break;
            }
            line.clear();
        }
        received
    });
    let b = backend(&format!(
        "host = '127.0.0.1'\nport = {port}\nsecure = false\nallow_plaintext = true\ntimeout = '3s'"
    ));
    let v = check(&b, "alice", "alice-ftp-pw").await;
    assert_eq!(
        unavailable_kind(&v),
        Some(UnavailableKind::Misconfigured),
        "{v}"
    );
    let received = peer.join().unwrap();
    assert!(!received.contains(&"PASS".to_owned()), "{received:?}");
}

/// `authbridge doctor`'s probe: greeting and AUTH TLS, no credentials sent;
/// the certificate is checked as a login would check it.
#[test]
fn the_probe_reaches_the_server_without_a_password() {
    let s = server();
    let seen = ftps(&s).probe().expect("probe");
    assert!(seen.starts_with("greeting, AUTH TLS, FEAT: "), "{seen}");
    // pyftpdlib announces these (FEAT after TLS, as a login would see it).
    assert!(seen.contains("MLST") && seen.contains("UTF8"), "{seen}");
    let commands = s.commands();
    assert!(
        !commands
            .iter()
            .any(|c| c.starts_with("USER") || c.starts_with("PASS")),
        "{commands:?}"
    );
    let untrusted = backend(&format!("host = '127.0.0.1'\nport = {}", s.port));
    match untrusted.probe() {
        Err(authbridge_core::Verdict::Unavailable { kind, .. }) => {
            assert_eq!(kind, authbridge_core::UnavailableKind::Tls)
        }
        other => panic!("{other:?}"),
    }
}
