//! ocs-conformance fixture files: `parse_fixture` never panics or hangs, every
//! refusal says what is wrong (after toml's excerpt of the text, a line saying
//! what is wrong there), and an accepted fixture has the id asked for.
//! The input's first line is the id the file's place would give it, the rest
//! the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ocs_conformance::fixture::parse_fixture;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    let (id, text) = input.split_once('\n').unwrap_or(("", input));
    match parse_fixture(text, id) {
        Ok(f) => assert_eq!(f.id, id),
        Err(e) => {
            let message = e.to_string();
            let last = message.lines().rev().find(|l| !l.trim().is_empty());
            assert!(
                last.is_some_and(|l| !l.trim_start().starts_with('|')),
                "the error says where but not what: {message:?}"
            );
        }
    }
});
