//! `application/x-www-form-urlencoded` bodies and query strings, with PHP's
//! `name[]` arrays (`groups[]=a&groups[]=b`), split by hand because serde's
//! urlencoded deserializer has no repeated keys, and percent-decoded with
//! `percent-encoding` because `form_urlencoded` replaces bad UTF-8 where this
//! refuses it.

use std::borrow::Cow;
use zeroize::{Zeroize, Zeroizing};

/// The pairs in order; a key may repeat. Values may be passwords: they are
/// wiped when the form is dropped and never shown by `Debug`.
#[derive(Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl std::fmt::Debug for Form {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(key, _)| (key, "…")))
            .finish()
    }
}

impl Drop for Form {
    fn drop(&mut self) {
        for (key, value) in &mut self.0 {
            key.zeroize();
            value.zeroize();
        }
    }
}

#[derive(Debug, PartialEq, Eq)]
pub struct BadForm(pub String);

impl Form {
    /// Parses a body or query string; invalid UTF-8 is refused, not replaced.
    pub fn parse(bytes: &[u8]) -> Result<Form, BadForm> {
        if std::str::from_utf8(bytes).is_err() {
            return Err(BadForm("the body is not UTF-8".into()));
        }
        // Filled in place, so that what was decoded is wiped on an error too.
        let mut form = Form::default();
        for sequence in bytes.split(|&b| b == b'&').filter(|s| !s.is_empty()) {
            let (k, v) = match sequence.iter().position(|&b| b == b'=') {
                Some(at) => (&sequence[..at], &sequence[at + 1..]),
                None => (sequence, &[][..]),
            };
            let key = decode(k).ok_or_else(|| {
                BadForm(format!(
                    "the key {:?} is not UTF-8 once decoded",
                    String::from_utf8_lossy(k)
                ))
            })?;
            // A value may be a password: the message names its key, never the value.
            let value = decode(v)
                .ok_or_else(|| BadForm(format!("the value of {key:?} is not UTF-8 once decoded")));
            form.0.push((key, value?));
        }
        Ok(form)
    }

    /// A JSON object body as the pairs Nextcloud reads from it: a string as
    /// itself, a number as written, `true` and `false` as `1` and `0`, `null` as
    /// absent; a list as `key[]` pairs and an object as `key[name]` pairs. What
    /// nests deeper than that names no parameter any endpoint takes: refused.
    pub fn from_json(bytes: &[u8]) -> Result<Form, BadForm> {
        use serde_json::Value;
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| BadForm(format!("the JSON body does not parse: {e}")))?;
        let Value::Object(mut object) = value else {
            return Err(BadForm("the JSON body is not an object".into()));
        };
        // Refused before anything is moved out, so that every value is wiped.
        let too_deep = object.iter().find_map(|(key, value)| {
            let nested = |v: &Value| matches!(v, Value::Array(_) | Value::Object(_));
            let deep = match value {
                Value::Array(items) => items.iter().any(nested),
                Value::Object(fields) => fields.values().any(nested),
                _ => false,
            };
            deep.then(|| key.clone())
        });
        if let Some(key) = too_deep {
            object.values_mut().for_each(wipe_json);
            return Err(BadForm(format!("the JSON value of {key:?} nests too deep")));
        }
        // Strings are moved, not copied, so that dropping the form wipes them.
        fn push(form: &mut Form, key: String, value: Value) {
            let text = match value {
                Value::String(s) => s,
                Value::Bool(b) => if b { "1" } else { "0" }.to_owned(),
                Value::Number(n) => n.to_string(),
                // Nothing deeper is left (checked above); null is absent.
                Value::Null | Value::Array(_) | Value::Object(_) => return,
            };
            form.0.push((key, text));
        }
        let mut form = Form::default();
        for (key, value) in object {
            match value {
                Value::Array(items) => {
                    for item in items {
                        push(&mut form, format!("{key}[]"), item);
                    }
                }
                Value::Object(fields) => {
                    for (name, item) in fields {
                        push(&mut form, format!("{key}[{name}]"), item);
                    }
                }
                scalar => push(&mut form, key, scalar),
            }
        }
        Ok(form)
    }

    /// Drops every value given for `key`.
    pub fn remove(&mut self, key: &str) {
        self.0.retain_mut(|(k, v)| {
            let keep = k != key;
            if !keep {
                v.zeroize();
            }
            keep
        });
    }

    /// Adds `later`'s pairs after these: where a key repeats, `later` wins.
    pub fn append(&mut self, mut later: Form) {
        self.0.append(&mut later.0);
    }

    /// Every pair, decoded, in the order given.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// The last value given for `key` (PHP keeps the last too).
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key[]` values (and `key[n]`), in order.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| {
                k.strip_prefix(key)
                    .is_some_and(|rest| rest.starts_with('[') && rest.ends_with(']'))
            })
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Keys outside `known` (array keys by their base name).
    pub fn unknown_keys(&self, known: &[&str]) -> Vec<String> {
        self.0
            .iter()
            .map(|(k, _)| k.split('[').next().unwrap_or(k))
            .filter(|k| !known.contains(k))
            .map(str::to_owned)
            .collect()
    }
}

/// Wipes every string a JSON value holds (a refused body may hold a password).
fn wipe_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe_json),
        Value::Object(fields) => fields.values_mut().for_each(wipe_json),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

/// `+` is a space, `%XX` a byte; the bytes must be UTF-8 (a U+FFFD that was sent
/// is kept, an invalid sequence refused: `None`).
fn decode(raw: &[u8]) -> Option<String> {
    // A copy only when there is a `+` to turn into a space; wiped after.
    let copy: Zeroizing<Vec<u8>>;
    let spaced: &[u8] = if raw.contains(&b'+') {
        copy = Zeroizing::new(
            raw.iter()
                .map(|&b| if b == b'+' { b' ' } else { b })
                .collect(),
        );
        &copy
    } else {
        raw
    };
    percent_encoding::percent_decode(spaced)
        .decode_utf8()
        .map(Cow::into_owned)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn arrays_repeats_and_percent_encoding() {
        let f = Form::parse(b"userid=J%C3%BCrgen&groups%5B%5D=a&groups[]=b+c&x=1&x=2").unwrap();
        assert_eq!(f.get("userid"), Some("Jürgen"));
        assert_eq!(f.list("groups"), ["a", "b c"]);
        assert_eq!(f.get("x"), Some("2"));
        assert_eq!(f.unknown_keys(&["userid", "groups"]), ["x", "x"]);
        assert!(Form::parse(b"a=%FF").is_err());
        assert!(Form::parse(&[b'a', b'=', 0xff]).is_err());
        assert_eq!(
            Form::parse(b"groups[]=%C3").unwrap_err(),
            BadForm("the value of \"groups[]\" is not UTF-8 once decoded".into())
        );
        assert_eq!(
            Form::parse(b"k%C3=1").unwrap_err(),
            BadForm("the key \"k%C3\" is not UTF-8 once decoded".into())
        );
    }

    #[test]
    fn json_bodies_become_the_pairs_a_form_would_give() {
        let f = Form::from_json(
            br#"{"userid":"ann","groups":["a","b"],"subadmin":true,"quota":5,"x":null,"q":{"k":"v"}}"#,
        )
        .unwrap();
        assert_eq!(f.get("userid"), Some("ann"));
        assert_eq!(f.list("groups"), ["a", "b"]);
        assert_eq!(f.get("subadmin"), Some("1"));
        assert_eq!(f.get("quota"), Some("5"));
        assert_eq!(f.get("x"), None);
        assert_eq!(f.list("q"), ["v"]);
        assert!(Form::from_json(br#"{"groups":[["a"]]}"#).is_err());
        assert!(Form::from_json(br#""ann""#).is_err());
        assert!(Form::from_json(b"{").is_err());
    }

    #[test]
    fn a_refused_json_body_leaves_no_string_behind() {
        let mut v: serde_json::Value =
            serde_json::from_str(r#"{"password":"s3cret","l":["a",{"b":"c"}]}"#).unwrap();
        wipe_json(&mut v);
        assert_eq!(v, serde_json::json!({"password": "", "l": ["", {"b": ""}]}));
    }

    #[test]
    fn removing_and_appending_keep_the_later_value() {
        let mut f = Form::parse(b"a=1&format=json&b=2").unwrap();
        f.remove("format");
        f.append(Form::parse(b"b=3").unwrap());
        assert_eq!(f.pairs().len(), 3);
        assert_eq!(f.get("format"), None);
        assert_eq!(f.get("b"), Some("3"));
    }

    #[test]
    fn a_replacement_character_that_was_sent_is_kept_not_refused() {
        // Found by the properties below: U+FFFD, sent literally or percent-encoded,
        // was taken for a decoding failure and the whole form refused.
        let f = Form::parse("name=a\u{FFFD}b&groups[]=%EF%BF%BD".as_bytes()).unwrap();
        assert_eq!(f.get("name"), Some("a\u{FFFD}b"));
        assert_eq!(f.list("groups"), ["\u{FFFD}"]);
        assert!(Form::parse(b"name=%EF%BF").is_err());
    }

    /// A strict decoder written from the spec (WHATWG urlencoded parsing, but
    /// refusing what is not UTF-8 instead of replacing it): what `parse` must agree with.
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
                b'%' if i + 2 < raw.len()
                    && hex(raw[i + 1]).is_some()
                    && hex(raw[i + 2]).is_some() =>
                {
                    out.push((hex(raw[i + 1])? * 16 + hex(raw[i + 2])?) as u8);
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8(out).ok()
    }

    fn form_bytes() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(b"&".to_vec()),
            Just(b"=".to_vec()),
            Just(b"+".to_vec()),
            Just(b"%".to_vec()),
            Just(b"%4".to_vec()),
            Just(b"%41".to_vec()),
            Just(b"%5B%5D".to_vec()),
            Just(b"[]".to_vec()),
            Just(b"groups".to_vec()),
            Just(b"%C3%BC".to_vec()),
            Just(b"%C3".to_vec()),
            Just(b"%FF".to_vec()),
            Just(b"%EF%BF%BD".to_vec()),
            Just("\u{FFFD}".as_bytes().to_vec()),
            any::<char>().prop_map(|c| c.to_string().into_bytes()),
            any::<u8>().prop_map(|b| vec![b]),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn parse_never_panics_and_refuses_exactly_what_is_not_utf8_once_decoded(
            bytes in prop_oneof![proptest::collection::vec(any::<u8>(), 0..64), form_bytes()]
        ) {
            let parsed = Form::parse(&bytes);
            let expected = reference(&bytes);
            prop_assert_eq!(parsed.as_ref().ok().map(Form::pairs), expected.as_deref(), "{:?}", parsed);
        }

        #[test]
        fn key_lists_survive_encoding_and_parsing_in_order(
            key in "[a-z]{1,8}",
            values in proptest::collection::vec(any::<String>(), 0..6),
            others in proptest::collection::vec(("[a-z]{1,9}", ".{0,6}"), 0..4),
        ) {
            let mut body = form_urlencoded::Serializer::new(String::new());
            for (i, v) in values.iter().enumerate() {
                body.append_pair(&format!("{key}[]"), v);
                if let Some((k, other)) = others.get(i) {
                    body.append_pair(k, other);
                }
            }
            let form = Form::parse(body.finish().as_bytes()).unwrap();
            prop_assert_eq!(form.list(&key), values);
        }
    }
}
