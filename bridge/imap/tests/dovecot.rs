//! The IMAP backend against a real Dovecot on 127.0.0.1 (started by
//! ci/servers/dovecot.sh), for every case a user relies on.

use authbridge_core::{
    Accepted, Authenticator, Credentials, RejectReason, SecretString, UnavailableKind, Verdict,
};
use authbridge_imap::{ImapBackend, ImapConfig};
use authbridge_testsupport::faults::{Endpoint, Expect, Faults, Trust};
use authbridge_testsupport::{
    AWKWARD_PASSWORDS, Dovecot, SilentServer, accepted, long_password, unavailable_kind,
};
use std::time::Duration;

/// Each test starts its own Dovecot and stops it when the handle drops
/// (statics are never dropped, so a shared server would outlive the run).
fn server() -> Dovecot {
    let long = long_password();
    let mut users = vec![
        ("alice", "alice-mail-pw"),
        ("bob@example.test", "bob-mail-pw"),
        ("long", long.as_str()),
    ];
    users.extend_from_slice(AWKWARD_PASSWORDS);
    Dovecot::start(&users)
}

fn backend(toml_text: &str) -> ImapBackend {
    let config: ImapConfig = toml::from_str(toml_text).expect("test config parses");
    ImapBackend::new(config.resolve().expect("test config resolves")).expect("backend builds")
}

fn implicit(s: &Dovecot) -> ImapBackend {
    backend(&format!(
        "host = '127.0.0.1'\nport = {}\nsslmode = 'ssl'\nca_file = '{}'",
        s.imaps_port,
        s.pki.ca_file.display()
    ))
}

fn starttls(s: &Dovecot) -> ImapBackend {
    backend(&format!(
        "mailbox = '{{127.0.0.1:{}/imap/tls}}'\nca_file = '{}'",
        s.imap_port,
        s.pki.ca_file.display()
    ))
}

/// The shared fault cases, with `sslmode` (`ssl` or `tls`) in the host form, or
/// the mailbox form's `/novalidate-cert` when validation is off.
fn faults(sslmode: &'static str) -> Faults<impl Fn(&Endpoint<'_>) -> ImapBackend> {
    Faults::new("alice", "alice-mail-pw", move |e: &Endpoint<'_>| {
        let mut config = match e.trust {
            Trust::Unchecked => format!(
                "mailbox = '{{{}:{}/{sslmode}/novalidate-cert}}'\n",
                e.host, e.port
            ),
            Trust::Ca(_) | Trust::System => format!(
                "host = '{}'\nport = {}\nsslmode = '{sslmode}'\n",
                e.host, e.port
            ),
        };
        if let Trust::Ca(ca_file) = e.trust {
            config.push_str(&format!("ca_file = '{}'\n", ca_file.display()));
        }
        if let Some(timeout) = e.timeout {
            config.push_str(&format!("timeout = '{}ms'\n", timeout.as_millis()));
        }
        backend(&config)
    })
}

fn creds(login: &str, password: &str) -> Credentials {
    Credentials::new(login, SecretString::from(password.to_owned())).unwrap()
}

async fn check(b: &ImapBackend, login: &str, password: &str) -> Verdict {
    b.authenticate(&creds(login, password)).await
}

#[tokio::test]
async fn right_password_is_accepted_over_implicit_tls_and_starttls() {
    let s = server();
    let before = s.logins("alice");
    assert_eq!(
        check(&implicit(&s), "alice", "alice-mail-pw").await,
        accepted("alice")
    );
    assert_eq!(
        check(&starttls(&s), "alice", "alice-mail-pw").await,
        accepted("alice")
    );
    assert_eq!(
        s.logins_reaching("alice", before + 2),
        before + 2,
        "the server saw both logins"
    );
}

#[tokio::test]
async fn wrong_password_and_unknown_user_are_rejected() {
    let s = server();
    for b in [implicit(&s), starttls(&s)] {
        assert_eq!(
            check(&b, "alice", "not-her-password").await,
            Verdict::Rejected(RejectReason::BadCredentials)
        );
        assert_eq!(
            check(&b, "nobody", "whatever").await,
            Verdict::Rejected(RejectReason::BadCredentials)
        );
    }
}

#[tokio::test]
async fn awkward_and_long_passwords_work_both_ways() {
    let s = server();
    let long = long_password();
    assert_eq!(long.chars().count(), 128);
    let mut cases: Vec<(&str, &str)> = AWKWARD_PASSWORDS.to_vec();
    cases.push(("long", &long));
    for b in [implicit(&s), starttls(&s)] {
        for (user, password) in &cases {
            assert_eq!(
                check(&b, user, password).await,
                accepted(user),
                "user {user}"
            );
            let wrong = format!("{password}x");
            assert_eq!(
                check(&b, user, &wrong).await,
                Verdict::Rejected(RejectReason::BadCredentials),
                "user {user} with a wrong password"
            );
        }
    }
}

#[tokio::test]
async fn login_case_never_makes_a_second_account() {
    let s = server();
    // Dovecot folds the login (auth_username_format %Lu); the uid is folded by us.
    assert_eq!(
        check(&implicit(&s), "ALICE", "alice-mail-pw").await,
        accepted("alice")
    );
}

#[tokio::test]
async fn domain_rules_append_strip_and_group() {
    let s = server();
    let with_domain = |extra: &str| {
        backend(&format!(
            "host = '127.0.0.1'\nport = {}\nsslmode = 'ssl'\nca_file = '{}'\ndomain = 'example.test'\n{extra}",
            s.imaps_port,
            s.pki.ca_file.display()
        ))
    };
    let strip = with_domain("");
    assert_eq!(check(&strip, "bob", "bob-mail-pw").await, accepted("bob"));
    assert_eq!(
        check(&strip, "bob@example.test", "bob-mail-pw").await,
        accepted("bob")
    );
    assert_eq!(
        check(&strip, "bob%40example.test", "bob-mail-pw").await,
        accepted("bob")
    );
    let keep = with_domain("strip_domain = false\ngroup_domain = true");
    let bob = Verdict::Accepted(Accepted {
        uid: "bob@example.test".into(),
        groups: vec!["example.test".into()],
    });
    assert_eq!(check(&keep, "Bob@Example.test", "bob-mail-pw").await, bob);
    // One mailbox, one account: typed without its domain it is the same uid.
    assert_eq!(check(&keep, "bob", "bob-mail-pw").await, bob);
    // A domain the login names is never a group: another one is refused.
    assert_eq!(
        check(&keep, "bob@admin", "bob-mail-pw").await,
        Verdict::Rejected(RejectReason::WrongDomain("admin".into()))
    );
}

#[tokio::test]
async fn wrong_domain_is_rejected_without_connecting() {
    let silent = SilentServer::start();
    let b = backend(&format!(
        "host = '127.0.0.1'\nport = {}\nsslmode = 'ssl'\ndomain = 'example.test'\ntimeout = '2s'",
        silent.port
    ));
    assert_eq!(
        check(&b, "bob@elsewhere.org", "bob-mail-pw").await,
        Verdict::Rejected(RejectReason::WrongDomain("elsewhere.org".into()))
    );
    assert_eq!(silent.connections(), 0, "no connection was made");
}

#[tokio::test]
async fn closed_port_is_unavailable() {
    faults("ssl")
        .closed_port_is_unavailable(Expect::Kind(UnavailableKind::Connect))
        .await;
}

#[tokio::test]
async fn a_silent_server_is_unavailable_within_the_timeout() {
    for sslmode in ["ssl", "tls"] {
        faults(sslmode)
            .silent_server_is_unavailable_within_the_timeout()
            .await;
    }
}

#[tokio::test]
async fn untrusted_certificate_is_unavailable_unless_validation_is_off() {
    let s = server();
    faults("ssl")
        .untrusted_certificate_is_unavailable_unless_validation_is_off(s.imaps_port, &s.pki)
        .await;
}

#[tokio::test]
async fn starttls_not_offered_is_unavailable_and_no_password_is_sent() {
    let plain = Dovecot::start_without_tls(&[("carol", "carol-mail-pw")]);
    faults("tls")
        .with_user("carol", "carol-mail-pw")
        .tls_not_offered_is_unavailable(plain.imap_port)
        .await;
    // This Dovecot allows plaintext logins, so a client that sent the password anyway
    // would have logged in. The server saw a connection and no authentication at all.
    let log = wait_for_log(&plain, "Disconnected");
    assert!(
        log.contains("no auth attempts") || log.contains("disconnected before auth was ready"),
        "{log}"
    );
    assert_eq!(plain.logins("carol"), 0, "{log}");
    assert!(!log.contains("carol"), "{log}");
}

#[tokio::test]
async fn plaintext_only_when_the_config_says_so() {
    let plain = Dovecot::start_without_tls(&[("dave", "dave-mail-pw")]);
    let b = backend(&format!(
        "host = '127.0.0.1'\nport = {}\nsslmode = 'none'\nallow_plaintext = true",
        plain.imap_port
    ));
    assert_eq!(check(&b, "dave", "dave-mail-pw").await, accepted("dave"));
    let b = backend(&format!(
        "mailbox = '{{127.0.0.1:{}/notls}}'",
        plain.imap_port
    ));
    assert_eq!(check(&b, "dave", "dave-mail-pw").await, accepted("dave"));
    assert_eq!(plain.logins_reaching("dave", 2), 2);
}

#[tokio::test]
async fn a_server_refusing_plaintext_logins_never_gets_the_password() {
    // Reached from 127.0.0.1, a Dovecot on 127.0.0.2 treats a plaintext connection as
    // insecure and advertises LOGINDISABLED before STARTTLS.
    let s = Dovecot::start_on(&[("alice", "alice-mail-pw")], "127.0.0.2");
    let b = backend(&format!(
        "mailbox = '{{127.0.0.2:{}/notls}}'\ntimeout = '3s'",
        s.imap_port
    ));
    let v = check(&b, "alice", "alice-mail-pw").await;
    let log = wait_for_log(&s, "Disconnected");
    assert_eq!(
        unavailable_kind(&v),
        Some(UnavailableKind::Misconfigured),
        "{v}\n{log}"
    );
    assert_eq!(s.logins("alice"), 0, "{log}");
    assert!(!log.contains("alice"), "no login was attempted: {log}");
}

/// Dovecot writes its log asynchronously; wait (bounded) for the line we expect.
fn wait_for_log(server: &Dovecot, needle: &str) -> String {
    authbridge_testsupport::eventually_some(Duration::from_secs(5), || {
        Some(server.log()).filter(|log| log.contains(needle))
    })
    .unwrap_or_else(|| server.log())
}
