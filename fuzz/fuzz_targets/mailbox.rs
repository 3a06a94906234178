//! PHP's IMAP mailbox string (`{host[:port][/flag...]}`): `parse` never panics,
//! and what it accepts has a non-empty host without spaces, control characters,
//! `/` or `}`, and a port from 1 to 65535; `ImapConfig::mailbox_check` agrees.
#![no_main]

use authbridge_imap::ImapConfig;
use authbridge_imap::parse_mailbox as parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let parsed = parse(input);
    assert_eq!(ImapConfig::mailbox_check(input).is_ok(), parsed.is_ok());
    match parsed {
        Ok(m) => {
            assert!(!m.host.is_empty());
            assert!(
                !m.host.chars().any(|c| c.is_control() || c.is_whitespace()),
                "host {:?} from {input:?}",
                m.host
            );
            assert!(!m.host.contains(['/', '}']), "host {:?}", m.host);
            assert!(m.port.is_none_or(|p| p > 0));
        }
        // Errors quote the mailbox with escapes: nothing raw reaches a log line.
        Err(e) => assert!(!e.to_string().chars().any(char::is_control), "{e}"),
    }
});
