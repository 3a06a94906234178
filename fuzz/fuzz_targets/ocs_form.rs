//! OCS form bodies and query strings: `Form::parse` never panics, accepts exactly
//! what is UTF-8 once percent-decoded (agreeing with a strict decoder written
//! here from the spec), and `key[]` lists come back whole and in order.
#![no_main]

use authbridge_daemon::ocs::Form;
use libfuzzer_sys::arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;

fn reference(bytes: &[u8]) -> Option<Vec<(String, String)>> {
    std::str::from_utf8(bytes).ok()?;
    bytes
        .split(|&b| b == b'&')
        .filter(|s| !s.is_empty())
        .map(|s| match s.iter().position(|&b| b == b'=') {
            Some(i) => Some((strict(&s[..i])?, strict(&s[i + 1..])?)),
            None => Some((strict(s)?, String::new())),
        })
        .collect()
}

fn strict(raw: &[u8]) -> Option<String> {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::new();
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < raw.len() && hex(raw[i + 1]).is_some() && hex(raw[i + 2]).is_some() => {
                out.push((hex(raw[i + 1])? * 16 + hex(raw[i + 2])?) as u8);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

fuzz_target!(|data: &[u8]| {
    let parsed = Form::parse(data);
    assert_eq!(
        parsed.as_ref().ok().map(Form::pairs),
        reference(data).as_deref(),
        "{parsed:?}"
    );

    // The same bytes as a list to send: it must come back as it went.
    let mut u = Unstructured::new(data);
    let Ok((key, values)) = <(String, Vec<String>)>::arbitrary(&mut u) else {
        return;
    };
    if key.is_empty() || key.contains(['[', ']']) {
        return;
    }
    let mut body = form_urlencoded::Serializer::new(String::new());
    body.append_pair("other", "x");
    for v in &values {
        body.append_pair(&format!("{key}[]"), v);
    }
    let form = Form::parse(body.finish().as_bytes()).unwrap();
    assert_eq!(form.list(&key), values);
});
