//! PHP's IMAP mailbox string, as Nextcloud's `OC_User_IMAP` takes it:
//! `{host[:port][/flag...]}[mailbox]`, e.g. `{imap.gmail.com:993/imap/ssl}`.

use crate::config::Security;

/// What a mailbox string says about where and how to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    pub host: String,
    pub port: Option<u16>,
    pub security: Security,
    /// `Some(false)` for `/novalidate-cert`, `Some(true)` for `/validate-cert`.
    pub validate_cert: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailboxError {
    #[error("mailbox {0:?} must look like {{host[:port][/flag...]}}")]
    Shape(String),
    #[error("mailbox {0:?} has no host")]
    NoHost(String),
    #[error("mailbox {mailbox:?}: host {host:?} contains a space or control character")]
    Host { mailbox: String, host: String },
    #[error("mailbox {mailbox:?}: port {port:?} is not a number from 1 to 65535")]
    Port { mailbox: String, port: String },
    #[error("mailbox {mailbox:?}: unknown flag /{}", flag.escape_debug())]
    UnknownFlag { mailbox: String, flag: String },
    #[error(
        "mailbox {mailbox:?}: flag /{} is not supported by authbridge ({why})",
        flag.escape_debug()
    )]
    UnsupportedFlag {
        mailbox: String,
        flag: String,
        why: &'static str,
    },
    #[error("mailbox {mailbox:?}: flags /{a} and /{b} contradict each other")]
    Conflict {
        mailbox: String,
        a: &'static str,
        b: &'static str,
    },
}

/// Parses a mailbox string. Without `/ssl`, `/tls` or `/notls`, STARTTLS is required:
/// PHP's c-client would quietly fall back to plaintext when the server does not offer
/// it, which is exactly the downgrade authbridge refuses.
pub fn parse(input: &str) -> Result<Mailbox, MailboxError> {
    let shape = || MailboxError::Shape(input.to_owned());
    let rest = input.trim().strip_prefix('{').ok_or_else(shape)?;
    let (inside, _mailbox_name) = rest.split_once('}').ok_or_else(shape)?;
    let mut parts = inside.split('/');
    let hostport = parts.next().unwrap_or_default();
    let (host, port) = split_host_port(input, hostport)?;

    let mut security: Option<(&'static str, Security)> = None;
    let mut secure = false;
    let mut validate_cert = None;
    for flag in parts {
        let mut choose = |name: &'static str, s: Security| match security {
            Some((prev, _)) if prev != name => Err(MailboxError::Conflict {
                mailbox: input.to_owned(),
                a: prev,
                b: name,
            }),
            _ => {
                security = Some((name, s));
                Ok(())
            }
        };
        match flag.to_ascii_lowercase().as_str() {
            "imap" | "imap4" | "imap4rev1" | "service=imap" => {}
            "ssl" => choose("ssl", Security::Implicit)?,
            "tls" => choose("tls", Security::StartTls)?,
            "notls" => choose("notls", Security::Plaintext)?,
            "secure" => secure = true,
            "validate-cert" => validate_cert = Some(true),
            "novalidate-cert" => validate_cert = Some(false),
            "pop3" | "service=pop3" | "nntp" | "service=nntp" | "imap2" | "imap2bis" => {
                return Err(unsupported(input, flag, "authbridge speaks IMAP4rev1 only"));
            }
            "anonymous" | "readonly" | "debug" | "norsh" | "loser" | "rsh" => {
                return Err(unsupported(
                    input,
                    flag,
                    "it has no meaning for a password check",
                ));
            }
            f if f.starts_with("user=") || f.starts_with("authuser=") => {
                return Err(unsupported(
                    input,
                    flag,
                    "the login always comes from the user",
                ));
            }
            "" => return Err(shape()),
            _ => {
                return Err(MailboxError::UnknownFlag {
                    mailbox: input.to_owned(),
                    flag: flag.to_owned(),
                });
            }
        }
    }
    let security = security.map_or(Security::StartTls, |(_, s)| s);
    if secure && security == Security::Plaintext {
        return Err(MailboxError::Conflict {
            mailbox: input.to_owned(),
            a: "secure",
            b: "notls",
        });
    }
    Ok(Mailbox {
        host,
        port,
        security,
        validate_cert,
    })
}

fn unsupported(mailbox: &str, flag: &str, why: &'static str) -> MailboxError {
    MailboxError::UnsupportedFlag {
        mailbox: mailbox.to_owned(),
        flag: flag.to_owned(),
        why,
    }
}

fn split_host_port(input: &str, hostport: &str) -> Result<(String, Option<u16>), MailboxError> {
    // "[::1]:993" and "[::1]" for IPv6; "host:993" and "host" otherwise.
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (addr, after) = v6
            .split_once(']')
            .ok_or_else(|| MailboxError::Shape(input.to_owned()))?;
        match after.strip_prefix(':') {
            Some(p) => (addr, Some(p)),
            None if after.is_empty() => (addr, None),
            None => return Err(MailboxError::Shape(input.to_owned())),
        }
    } else {
        match hostport.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (hostport, None),
        }
    };
    if host.is_empty() {
        return Err(MailboxError::NoHost(input.to_owned()));
    }
    // No host name has them, and the host goes into log lines and the resolver.
    if host.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(MailboxError::Host {
            mailbox: input.to_owned(),
            host: host.to_owned(),
        });
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => {
                return Err(MailboxError::Port {
                    mailbox: input.to_owned(),
                    port: p.to_owned(),
                });
            }
        },
    };
    Ok((host.to_owned(), port))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_seed_example() {
        let m = parse("{imap.gmail.com:993/imap/ssl}").unwrap();
        assert_eq!(
            m,
            Mailbox {
                host: "imap.gmail.com".into(),
                port: Some(993),
                security: Security::Implicit,
                validate_cert: None
            }
        );
    }

    #[test]
    fn flags_and_defaults() {
        let m = parse("{mail.example.com}INBOX").unwrap();
        assert_eq!((m.port, m.security), (None, Security::StartTls));
        assert_eq!(parse("{h/tls}").unwrap().security, Security::StartTls);
        assert_eq!(
            parse("{h:143/notls}").unwrap().security,
            Security::Plaintext
        );
        assert_eq!(
            parse("{h/ssl/novalidate-cert}").unwrap().validate_cert,
            Some(false)
        );
        assert_eq!(
            parse("{h/SSL/Validate-Cert}").unwrap().validate_cert,
            Some(true)
        );
        assert_eq!(
            parse("{h/ssl/secure}").unwrap().security,
            Security::Implicit
        );
        let v6 = parse("{[::1]:1993/ssl}").unwrap();
        assert_eq!((v6.host.as_str(), v6.port), ("::1", Some(1993)));
    }

    #[test]
    fn errors_name_what_is_wrong() {
        let e = parse("{h/ssl/frobnicate}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "mailbox \"{h/ssl/frobnicate}\": unknown flag /frobnicate"
        );
        assert!(matches!(
            parse("{h/pop3}"),
            Err(MailboxError::UnsupportedFlag { .. })
        ));
        assert!(matches!(
            parse("{h/user=bob}"),
            Err(MailboxError::UnsupportedFlag { .. })
        ));
        assert!(matches!(
            parse("{h/ssl/notls}"),
            Err(MailboxError::Conflict { .. })
        ));
        assert!(matches!(
            parse("{h/notls/secure}"),
            Err(MailboxError::Conflict { .. })
        ));
        assert!(matches!(parse("{h:99999}"), Err(MailboxError::Port { .. })));
        assert!(matches!(parse("{h:0}"), Err(MailboxError::Port { .. })));
        assert!(matches!(parse("{:993/ssl}"), Err(MailboxError::NoHost(_))));
        assert!(matches!(
            parse("imap.example.com"),
            Err(MailboxError::Shape(_))
        ));
        assert!(matches!(parse("{h"), Err(MailboxError::Shape(_))));
        assert!(matches!(parse("{h//ssl}"), Err(MailboxError::Shape(_))));
    }

    #[test]
    fn a_host_with_control_characters_or_spaces_is_refused() {
        // Found by the property below: "{[\0]}" was accepted with the host "\0".
        for bad in [
            "{[\0]}",
            "{mail\nexample.com:993/ssl}",
            "{a b}",
            "{[::1\t]:993}",
        ] {
            assert!(
                matches!(parse(bad), Err(MailboxError::Host { .. })),
                "{bad:?}: {:?}",
                parse(bad)
            );
        }
        assert_eq!(
            parse("{mail\r\nx}").unwrap_err().to_string(),
            "mailbox \"{mail\\r\\nx}\": host \"mail\\r\\nx\" contains a space or control character"
        );
    }

    #[test]
    fn a_flag_with_control_characters_is_named_escaped() {
        // Found by the fuzz target: the flag went into the message raw, so a
        // mailbox string could put a line break or a NUL into a log line.
        let e = parse("{h:143/n\u{1}\0\nx/ssl}").unwrap_err().to_string();
        assert!(e.ends_with("unknown flag /n\\u{1}\\0\\nx"), "{e}");
        let e = parse("{h/user=a\rb}").unwrap_err().to_string();
        assert!(e.contains("flag /user=a\\rb is not supported"), "{e}");
        assert!(!e.chars().any(char::is_control), "{e:?}");
    }

    /// Mailbox-like strings: braces, a host of any characters, maybe a port and
    /// flags, sometimes a mailbox name or stray text around them.
    fn mailbox_like() -> impl Strategy<Value = String> {
        let flag = prop_oneof![
            Just("ssl".to_owned()),
            Just("tls".to_owned()),
            Just("notls".to_owned()),
            Just("imap".to_owned()),
            Just("secure".to_owned()),
            Just("novalidate-cert".to_owned()),
            Just("validate-cert".to_owned()),
            "[a-zA-Z=-]{0,12}",
        ];
        (
            "\\PC{0,2}",
            prop_oneof!["[^/}]{0,20}", "\\[[^/}]{0,12}\\]"],
            proptest::option::of("-?[0-9]{0,7}|.{0,3}"),
            proptest::collection::vec(flag, 0..4),
            "(\\}[^}]{0,8})?",
        )
            .prop_map(|(before, host, port, flags, after)| {
                let mut s = format!("{before}{{{host}");
                if let Some(p) = port {
                    s.push(':');
                    s.push_str(&p);
                }
                for f in flags {
                    s.push('/');
                    s.push_str(&f);
                }
                s + &after
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn parse_never_panics_and_what_it_accepts_has_a_clean_host_and_a_port_in_range(
            input in prop_oneof![any::<String>(), mailbox_like()]
        ) {
            let parsed = parse(&input);
            if let Err(e) = &parsed {
                prop_assert!(!e.to_string().chars().any(char::is_control), "{e}");
            }
            if let Ok(m) = parsed {
                prop_assert!(!m.host.is_empty());
                prop_assert!(
                    !m.host.chars().any(|c| c.is_control() || c.is_whitespace()),
                    "host {:?} from {:?}", m.host, input
                );
                prop_assert!(!m.host.contains(['/', '}']), "host {:?}", m.host);
                prop_assert!(m.port.is_none_or(|p| p > 0));
            }
        }

        #[test]
        fn a_well_formed_mailbox_parses_to_its_host_port_and_security(
            host in "[a-z0-9][a-z0-9.-]{0,30}",
            port in proptest::option::of(1u16..),
            security in prop_oneof![
                Just(("", Security::StartTls)),
                Just(("/ssl", Security::Implicit)),
                Just(("/tls", Security::StartTls)),
                Just(("/notls", Security::Plaintext)),
            ],
            name in "[A-Za-z]{0,8}",
        ) {
            let port_text = port.map(|p| format!(":{p}")).unwrap_or_default();
            let m = parse(&format!("{{{host}{port_text}/imap{}}}{name}", security.0)).unwrap();
            prop_assert_eq!(m, Mailbox { host, port, security: security.1, validate_cert: None });
        }
    }
}
