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
    #[error("mailbox {mailbox:?}: port {port:?} is not a number from 1 to 65535")]
    Port { mailbox: String, port: String },
    #[error("mailbox {mailbox:?}: unknown flag /{flag}")]
    UnknownFlag { mailbox: String, flag: String },
    #[error("mailbox {mailbox:?}: flag /{flag} is not supported by authbridge ({why})")]
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
}
