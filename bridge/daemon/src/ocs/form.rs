//! `application/x-www-form-urlencoded` bodies and query strings, with PHP's
//! `name[]` arrays (`groups[]=a&groups[]=b`), read by hand because serde's
//! urlencoded deserializer has no repeated keys.

/// The pairs in order; a key may repeat.
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

#[derive(Debug, PartialEq, Eq)]
pub struct BadForm(pub String);

impl Form {
    /// Parses a body or query string; invalid UTF-8 is refused, not replaced.
    pub fn parse(bytes: &[u8]) -> Result<Form, BadForm> {
        if std::str::from_utf8(bytes).is_err() {
            return Err(BadForm("the body is not UTF-8".into()));
        }
        let mut pairs = Vec::new();
        for (k, v) in form_urlencoded::parse(bytes) {
            // The decoder replaces bad percent-escaped UTF-8 with U+FFFD: refuse it.
            if k.contains('\u{FFFD}') || v.contains('\u{FFFD}') {
                return Err(BadForm(format!("{k:?} is not UTF-8 once decoded")));
            }
            pairs.push((k.into_owned(), v.into_owned()));
        }
        Ok(Form(pairs))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_repeats_and_percent_encoding() {
        let f = Form::parse(b"userid=J%C3%BCrgen&groups%5B%5D=a&groups[]=b+c&x=1&x=2").unwrap();
        assert_eq!(f.get("userid"), Some("Jürgen"));
        assert_eq!(f.list("groups"), ["a", "b c"]);
        assert_eq!(f.get("x"), Some("2"));
        assert_eq!(f.unknown_keys(&["userid", "groups"]), ["x", "x"]);
        assert!(Form::parse(b"a=%FF").is_err());
        assert!(Form::parse(&[b'a', b'=', 0xff]).is_err());
    }
}
