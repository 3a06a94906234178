//! `authbridge config import-nextcloud config.php`: Nextcloud's `user_backends`
//! as authbridge TOML.

use std::fmt::Write as _;

use crate::php::{self, Value};

/// The converted TOML and what could not be carried over as it stands.
#[derive(Debug, Default, PartialEq)]
pub struct Conversion {
    pub toml: String,
    pub notes: Vec<String>,
}

/// Why a config.php cannot be converted at all (a backend that cannot is a note).
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("cannot parse: {0}")]
    Parse(#[from] php::ParseError),
    #[error("no 'user_backends' entry found")]
    NoUserBackends,
    #[error("'user_backends' is not an array")]
    NotAnArray,
}

pub fn convert(text: &str) -> Result<Conversion, ImportError> {
    let backends = php::find_key(text, "user_backends")?.ok_or(ImportError::NoUserBackends)?;
    if !matches!(backends, Value::Array(_)) {
        return Err(ImportError::NotAnArray);
    }
    let mut out = Conversion::default();
    for (index, entry) in backends.items().into_iter().enumerate() {
        let n = index + 1;
        let class = match entry.get("class") {
            Some(Value::Str(s) | Value::Name(s)) => s
                .trim_start_matches('\\')
                .trim_end_matches("::class")
                .to_owned(),
            _ => {
                out.notes.push(format!("backend #{n}: no 'class', skipped"));
                continue;
            }
        };
        let args: Vec<&Value> = entry.get("arguments").map(Value::items).unwrap_or_default();
        let section = match class.to_ascii_lowercase().as_str() {
            "oc_user_imap" | "oca\\userexternal\\imap" | "oca\\user_external\\imap" => {
                imap(n, &args, &mut out.notes)
            }
            "oc_user_smb" | "oca\\userexternal\\smb" | "oca\\user_external\\smb" => {
                smb(n, &args, &mut out.notes)
            }
            "oc_user_ftp" | "oca\\userexternal\\ftp" | "oca\\user_external\\ftp" => {
                ftp(n, &args, &mut out.notes)
            }
            _ => {
                out.notes.push(format!(
                    "backend #{n}: class {class} is not an IMAP, SMB or FTP backend; not converted"
                ));
                continue;
            }
        };
        if let Some(section) = section {
            if !out.toml.is_empty() {
                out.toml.push('\n');
            }
            out.toml.push_str(&section);
        }
    }
    if out.toml.is_empty() {
        out.notes.push("nothing could be converted".into());
    }
    Ok(out)
}

/// `s` as a TOML basic string. Written by hand because the toml crate's writer
/// (toml_write 0.1, under toml 0.8) counts a run of quotes in a `u8` and panics on
/// 256 in a row in builds with overflow checks (toml-rs/toml#1188, fixed only in
/// toml_writer 1.x); config.php strings are anyone's text.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn text_arg(args: &[&Value], i: usize) -> Option<String> {
    match args.get(i) {
        Some(Value::Str(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Int(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn bool_arg(args: &[&Value], i: usize) -> Option<bool> {
    match args.get(i) {
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::Int(n)) => Some(*n != 0),
        Some(Value::Str(s)) => Some(matches!(s.as_str(), "1" | "true")),
        _ => None,
    }
}

fn imap(n: usize, args: &[&Value], notes: &mut Vec<String>) -> Option<String> {
    let Some(first) = text_arg(args, 0) else {
        notes.push(format!(
            "backend #{n} (IMAP): no server argument; not converted"
        ));
        return None;
    };
    let mut s = String::from("[[backend]]\ntype = \"imap\"\n");
    if first.starts_with('{') {
        // OC_User_IMAP($mailbox, $domain): PHP's mailbox string.
        let _ = writeln!(s, "mailbox = {}", quoted(&first));
        if let Err(e) = authbridge_imap::ImapConfig::mailbox_check(&first) {
            notes.push(format!("backend #{n} (IMAP): {e}; fix it before use"));
        }
        if let Some(domain) = text_arg(args, 1) {
            let _ = writeln!(s, "domain = {}", quoted(&domain));
        }
        return Some(s);
    }
    // \OCA\UserExternal\IMAP($host, $port, $sslmode, $domain, $stripeDomain, $groupDomain)
    let _ = writeln!(s, "host = {}", quoted(&first));
    if let Some(port) = text_arg(args, 1) {
        match port.parse::<u16>() {
            Ok(p) if p > 0 => {
                let _ = writeln!(s, "port = {p}");
            }
            _ => notes.push(format!(
                "backend #{n} (IMAP): port {port:?} is not a port number; left out"
            )),
        }
    }
    match text_arg(args, 2).as_deref() {
        Some("ssl") => s.push_str("sslmode = \"ssl\"\n"),
        Some("tls") => s.push_str("sslmode = \"tls\"\n"),
        other => {
            s.push_str("sslmode = \"tls\"\n");
            notes.push(format!(
                "backend #{n} (IMAP): sslmode {} means plaintext in user_external; converted to STARTTLS \
                 (write sslmode = \"none\" and allow_plaintext = true to keep plaintext)",
                other.map_or("unset".to_owned(), |m| format!("{m:?}"))
            ));
        }
    }
    if let Some(domain) = text_arg(args, 3) {
        let _ = writeln!(s, "domain = {}", quoted(&domain));
    }
    if let Some(strip) = bool_arg(args, 4) {
        let _ = writeln!(s, "strip_domain = {strip}");
    }
    if let Some(group) = bool_arg(args, 5) {
        let _ = writeln!(s, "group_domain = {group}");
    }
    Some(s)
}

fn smb(n: usize, args: &[&Value], notes: &mut Vec<String>) -> Option<String> {
    let Some(host) = text_arg(args, 0) else {
        notes.push(format!(
            "backend #{n} (SMB): no server argument; not converted"
        ));
        return None;
    };
    notes.push(format!(
        "backend #{n} (SMB): authbridge proves SMB passwords by opening a share; set `share` \
         to a share every user may open"
    ));
    Some(format!(
        "[[backend]]\ntype = \"smb\"\nhost = {}\nshare = \"CHANGE-ME\"\n",
        quoted(&host)
    ))
}

fn ftp(n: usize, args: &[&Value], notes: &mut Vec<String>) -> Option<String> {
    let Some(host) = text_arg(args, 0) else {
        notes.push(format!(
            "backend #{n} (FTP): no server argument; not converted"
        ));
        return None;
    };
    if bool_arg(args, 1) != Some(true) {
        notes.push(format!(
            "backend #{n} (FTP): plaintext FTP in user_external; converted to explicit FTPS \
             (write secure = false and allow_plaintext = true to keep plaintext)"
        ));
    }
    Some(format!(
        "[[backend]]\ntype = \"ftp\"\nhost = {}\nsecure = true\n",
        quoted(&host)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigFile;
    use proptest::prelude::*;

    const MODERN: &str = r#"<?php
$CONFIG = [
  'user_backends' => [
    ['class' => '\OCA\UserExternal\IMAP', 'arguments' => ['mail.example.com', 993, 'ssl', 'example.com', true, true]],
    ['class' => \OCA\UserExternal\SMB::class, 'arguments' => ['fileserver']],
    ['class' => '\OCA\UserExternal\FTP', 'arguments' => ['ftp.example.com', true]],
    ['class' => '\OCA\UserExternal\BasicAuth', 'arguments' => ['https://x']],
  ],
];"#;

    const CLASSIC: &str = r#"<?php
$CONFIG = array (
  "user_backends" => array (
    0 => array (
      "class" => "OC_User_IMAP",
      "arguments" => array (
        0 => '{imap.gmail.com:993/imap/ssl}',
      ),
    ),
    1 => array ("class" => "OC_User_FTP", "arguments" => array (0 => 'localhost')),
  ),
);"#;

    #[test]
    fn modern_syntax_and_classes() {
        let c = convert(MODERN).unwrap();
        assert_eq!(
            c.toml,
            "[[backend]]\ntype = \"imap\"\nhost = \"mail.example.com\"\nport = 993\nsslmode = \"ssl\"\n\
             domain = \"example.com\"\nstrip_domain = true\ngroup_domain = true\n\n\
             [[backend]]\ntype = \"smb\"\nhost = \"fileserver\"\nshare = \"CHANGE-ME\"\n\n\
             [[backend]]\ntype = \"ftp\"\nhost = \"ftp.example.com\"\nsecure = true\n"
        );
        assert_eq!(c.notes.len(), 2, "{:?}", c.notes);
        assert!(c.notes[0].contains("share"));
        assert!(c.notes[1].contains("BasicAuth"));
        // What it prints is a config authbridge reads.
        toml::from_str::<ConfigFile>(&c.toml).unwrap();
    }

    #[test]
    fn classic_syntax_and_the_seed_example() {
        let c = convert(CLASSIC).unwrap();
        assert_eq!(
            c.toml,
            "[[backend]]\ntype = \"imap\"\nmailbox = \"{imap.gmail.com:993/imap/ssl}\"\n\n\
             [[backend]]\ntype = \"ftp\"\nhost = \"localhost\"\nsecure = true\n"
        );
        assert_eq!(c.notes.len(), 1, "{:?}", c.notes);
        assert!(c.notes[0].contains("plaintext FTP"));
        toml::from_str::<ConfigFile>(&c.toml).unwrap();
    }

    #[test]
    fn plaintext_imap_is_named_and_made_safe() {
        let c = convert("'user_backends' => [['class' => 'OC_User_IMAP', 'arguments' => ['mail', 143, '', 'ex.org']]]").unwrap();
        assert!(c.toml.contains("sslmode = \"tls\""), "{}", c.toml);
        assert!(c.notes[0].contains("plaintext"), "{:?}", c.notes);
    }

    #[test]
    fn bad_mailbox_flags_are_named() {
        let c = convert(
            "'user_backends' => [['class' => 'OC_User_IMAP', 'arguments' => ['{h/pop3}']]]",
        )
        .unwrap();
        assert!(c.notes[0].contains("/pop3"), "{:?}", c.notes);
    }

    #[test]
    fn missing_or_broken_input_is_an_error() {
        let message = |text: &str| convert(text).unwrap_err().to_string();
        assert_eq!(
            message("<?php $CONFIG = array();"),
            "no 'user_backends' entry found"
        );
        assert!(message("'user_backends' => array(").contains("cannot parse"));
        assert!(message("'user_backends' => 'x'").contains("not an array"));
    }

    #[test]
    fn a_value_with_256_quotes_in_a_row_converts_without_overflow() {
        // Found by the config_php fuzz target: toml's writer overflowed (a panic
        // in debug builds) on a string with 256 or more `"` in a row.
        for (quote, php_string) in [
            ("\"", format!("'{}'", "\"".repeat(300))),
            ("'", format!("\"{}\"", "'".repeat(300))),
        ] {
            let text = format!(
                "'user_backends' => [['class' => 'OC_User_FTP', 'arguments' => [{php_string}, true]]]"
            );
            let c = convert(&text).unwrap();
            let read: toml::Table = toml::from_str(&c.toml).unwrap();
            assert_eq!(
                read["backend"][0]["host"].as_str(),
                Some(quote.repeat(300).as_str())
            );
        }
    }

    /// `user_backends` arrays of any shape: known and unknown classes, arguments
    /// of every PHP type, in both array syntaxes.
    fn user_backends() -> impl Strategy<Value = String> {
        let scalar = prop_oneof![
            "'[^'\\\\]{0,12}'",
            "\"[^\"\\\\]{0,12}\"",
            "'\\{[a-z0-9.:]{0,12}(/[a-z-]{0,8}){0,3}\\}'",
            "-?[0-9]{1,6}",
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("null".to_owned()),
            Just("[]".to_owned()),
        ];
        let class = prop_oneof![
            Just("'OC_User_IMAP'".to_owned()),
            Just("'\\OCA\\UserExternal\\SMB'".to_owned()),
            Just("\\OCA\\UserExternal\\FTP::class".to_owned()),
            Just("\"OC_User_FTP\"".to_owned()),
            Just("'\\OCA\\UserExternal\\BasicAuth'".to_owned()),
            "'[^'\\\\]{0,12}'",
            Just("42".to_owned()),
        ];
        let server = prop_oneof![
            3 => "'[a-z0-9.-]{1,12}'",
            1 => "'\\{[^}'\\\\]{0,12}\\}'",
            1 => scalar.clone(),
        ];
        let args =
            (server, proptest::collection::vec(scalar, 0..6)).prop_map(|(first, mut rest)| {
                rest.insert(0, first);
                rest
            });
        let backend = (proptest::option::weighted(0.9, class), args, any::<bool>()).prop_map(
            |(class, args, classic)| {
                let (open, close) = if classic { ("array(", ")") } else { ("[", "]") };
                let class = class
                    .map(|c| format!("'class' => {c}, "))
                    .unwrap_or_default();
                format!(
                    "{open}{class}'arguments' => {open}{}{close}{close}",
                    args.join(", ")
                )
            },
        );
        proptest::collection::vec(backend, 0..4).prop_map(|b| {
            format!(
                "<?php\n$CONFIG = [\n  'user_backends' => [\n    {}\n  ],\n];\n",
                b.join(",\n    ")
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn every_string_quoted_for_toml_reads_back_as_itself(
            s in prop_oneof![any::<String>(), "[\"'\\\\\n\t\r\x00-\x1f\x7f a]{0,300}"]
        ) {
            let read: toml::Table = toml::from_str(&format!("k = {}", quoted(&s))).unwrap();
            prop_assert_eq!(read["k"].as_str(), Some(s.as_str()));
        }

        #[test]
        fn convert_never_panics_and_what_it_prints_is_a_config_authbridge_reads(
            text in prop_oneof![user_backends(), crate::php::tests::php_soup()]
        ) {
            if let Ok(c) = convert(&text) {
                let read = toml::from_str::<ConfigFile>(&c.toml);
                prop_assert!(read.is_ok(), "{:?}\n{}", read.err(), c.toml);
                prop_assert!(!c.toml.is_empty() || !c.notes.is_empty());
            }
        }
    }
}
