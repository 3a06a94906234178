//! Compares an answer with a fixture's expectation, for one API version.
//!
//! The fixture states the OCS status the server gives the answer; what each API
//! version shows follows Nextcloud's rules (its `V1Response` and `V2Response`):
//! v1 answers HTTP 200 (401 when not logged in) and shows a "forbidden" 403 as
//! 997; v2 shows success as 200 and maps failures to HTTP statuses: 997 → 401,
//! 998 → 404, 996 and 999 → 500, any other code outside 200..=600 → 400, the
//! rest as is.
//! An expectation's `http` and `meta` say it where the rule does not fit (today's
//! Nextcloud shows a v1 "forbidden" as 403, not 997).

use crate::answer::{Answer, Body};
use crate::client::{Api, Variant};
use crate::fixture::{DataExpect, Expect};
use crate::profile::per_api;
use crate::result::Finding;
use crate::tree::{Node, REDACTED};

/// The meta statuscode a version shows for the server's OCS status.
pub fn meta_code(api: Api, status: u32) -> u32 {
    match (api, status) {
        (Api::V1, 403) => 997,
        (Api::V2, 100) => 200,
        (_, code) => code,
    }
}

/// The HTTP status a version answers with for the server's OCS status.
pub fn http_status(api: Api, status: u32) -> u16 {
    match (api, status) {
        (_, 997) => 401,
        (Api::V1, _) => 200,
        (Api::V2, 100) => 200,
        (Api::V2, 998) => 404,
        // RESPOND_SERVER_ERROR and RESPOND_UNKNOWN_ERROR alike (V2Response).
        (Api::V2, 996 | 999) => 500,
        (Api::V2, c) if !(200..=600).contains(&c) => 400,
        (Api::V2, c) => c as u16,
    }
}

/// Every difference between `answer` and `expect`. `data` is compared after the
/// expectation's redactions (already applied to `answer` by the caller).
pub fn check(expect: &Expect, variant: Variant, answer: &Answer) -> Vec<Finding> {
    let mut findings = Vec::new();
    let api = variant.api;
    let http = per_api(expect.http, api).unwrap_or_else(|| http_status(api, expect.statuscode));
    if (300..400).contains(&answer.http) {
        findings.push(Finding::fail(
            "http",
            format!("{http} (an OCS answer)"),
            answer.describe(),
        ));
        return findings;
    }
    let ocs = match &answer.body {
        Body::Ocs(ocs) => ocs,
        Body::NotOcs { .. } => {
            findings.push(Finding::fail(
                "body",
                format!("an OCS envelope in {}", format_name(variant)),
                answer.describe(),
            ));
            return findings;
        }
    };
    if answer.format != Some(variant.format) {
        let other = match variant.format {
            crate::client::Format::Xml => "JSON",
            crate::client::Format::Json => "XML",
        };
        findings.push(Finding::fail(
            "format",
            format!("an answer in {}", format_name(variant)),
            format!("an answer in {other}"),
        ));
    }
    if answer.http != http {
        findings.push(Finding::fail(
            "http",
            http.to_string(),
            answer.http.to_string(),
        ));
    }
    let code = per_api(expect.meta, api).unwrap_or_else(|| meta_code(api, expect.statuscode));
    if ocs.statuscode != code {
        findings.push(Finding::fail(
            "statuscode",
            code.to_string(),
            format!("{} {:?}", ocs.statuscode, ocs.message),
        ));
    }
    let status = if expect.statuscode == 100 {
        "ok"
    } else {
        "failure"
    };
    if ocs.status != status {
        findings.push(Finding::fail("status", status, ocs.status.clone()));
    }
    if let Some(pattern) = &expect.message {
        // Validated when the fixture was loaded.
        let re = regex::Regex::new(pattern).expect("validated pattern");
        if !re.is_match(&ocs.message) {
            findings.push(Finding::warning(
                "message",
                format!("/{pattern}/"),
                format!("{:?}", ocs.message),
            ));
        }
    }
    if let Some(data) = &expect.data {
        check_data(data, &ocs.data, &mut findings);
    }
    if !content_type_fits(variant, &answer.content_type) {
        findings.push(Finding::warning(
            "content-type",
            format_name(variant),
            answer.content_type.clone(),
        ));
    }
    findings
}

fn format_name(variant: Variant) -> &'static str {
    match variant.format {
        crate::client::Format::Xml => "XML",
        crate::client::Format::Json => "JSON",
    }
}

fn content_type_fits(variant: Variant, content_type: &str) -> bool {
    let ct = content_type.to_ascii_lowercase();
    match variant.format {
        crate::client::Format::Xml => ct.contains("xml"),
        crate::client::Format::Json => ct.contains("json"),
    }
}

fn check_data(expect: &DataExpect, data: &Node, findings: &mut Vec<Finding>) {
    if expect.empty && *data != Node::Empty {
        findings.push(Finding::fail("data", "(empty)", data.brief()));
    }
    if let Some(exact) = &expect.exact
        && let Err((path, want)) = matches(exact, data, "data", true)
    {
        findings.push(Finding::fail(path, want, data.brief()));
    }
    if let Some(subset) = &expect.subset
        && let Err((path, want)) = matches(subset, data, "data", false)
    {
        findings.push(Finding::fail(
            path,
            format!("at least {want}"),
            data.brief(),
        ));
    }
    if let Some(keys) = &expect.keys {
        let missing: Vec<&str> = keys
            .iter()
            .filter(|k| data.get(k).is_none())
            .map(String::as_str)
            .collect();
        if !missing.is_empty() {
            findings.push(Finding::fail(
                "data keys",
                keys.join(", "),
                format!("missing: {}", missing.join(", ")),
            ));
        }
    }
    if let Some(toml::Value::Table(lacks)) = &expect.lacks {
        for (key, unwanted) in lacks {
            let items: Vec<&toml::Value> = match unwanted {
                toml::Value::Array(a) => a.iter().collect(),
                one => vec![one],
            };
            // The list must be there (empty or not): a missing key is a wrong
            // shape, not an absence.
            let present = match data.get(key) {
                Some(Node::List(list)) => list.clone(),
                Some(Node::Empty) => vec![],
                Some(other) => vec![other.clone()],
                None => {
                    findings.push(Finding::fail(
                        format!("data.{key}"),
                        format!("a list without {}", show(unwanted)),
                        format!("no {key} in {}", data.brief()),
                    ));
                    continue;
                }
            };
            for item in items {
                if present.iter().any(|p| matches(item, p, "", true).is_ok()) {
                    findings.push(Finding::fail(
                        format!("data.{key}"),
                        format!("without {}", show(item)),
                        data.get(key).map(Node::brief).unwrap_or_default(),
                    ));
                }
            }
        }
    }
}

fn show(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => format!("{s:?}"),
        other => other.to_string(),
    }
}

/// Whether `actual` matches `want`; on a mismatch, the path and what was wanted
/// there. Scalars compare as text, so `true` matches `true` and `1` (PHP's XML),
/// `false` matches `false`, `0` and empty. Lists compare regardless of order.
fn matches(
    want: &toml::Value,
    actual: &Node,
    path: &str,
    exact: bool,
) -> Result<(), (String, String)> {
    if actual.text() == Some(REDACTED) {
        return Ok(());
    }
    let mismatch = || Err((path.to_owned(), show(want)));
    match want {
        toml::Value::String(s) => match actual.text() {
            Some(t) if t == s => Ok(()),
            _ => mismatch(),
        },
        toml::Value::Integer(i) => match actual.text().map(str::trim) {
            Some(t) if t.parse::<f64>().ok() == Some(*i as f64) => Ok(()),
            _ => mismatch(),
        },
        toml::Value::Float(f) => match actual.text().and_then(|t| t.trim().parse::<f64>().ok()) {
            Some(v) if v == *f => Ok(()),
            _ => mismatch(),
        },
        toml::Value::Boolean(b) => match (b, actual.text()) {
            (true, Some("true" | "1")) | (false, Some("false" | "0" | "")) => Ok(()),
            _ => mismatch(),
        },
        toml::Value::Array(items) => {
            let actual_items: &[Node] = match actual {
                Node::List(list) => list,
                Node::Empty => &[],
                _ => return mismatch(),
            };
            if exact && items.len() != actual_items.len() {
                return mismatch();
            }
            // Each wanted item takes a distinct actual item.
            let mut used = vec![false; actual_items.len()];
            for item in items {
                let found = actual_items
                    .iter()
                    .enumerate()
                    .position(|(i, a)| !used[i] && matches(item, a, path, exact).is_ok());
                match found {
                    Some(i) => used[i] = true,
                    None => {
                        return Err((
                            path.to_owned(),
                            format!("{} among {}", show(item), show(want)),
                        ));
                    }
                }
            }
            Ok(())
        }
        toml::Value::Table(table) => {
            let map = match actual {
                Node::Map(map) => map,
                Node::Empty if table.is_empty() => return Ok(()),
                _ => return mismatch(),
            };
            if exact && map.len() != table.len() {
                return mismatch();
            }
            for (key, value) in table {
                let child_path = format!("{path}.{key}");
                match map.get(key) {
                    Some(child) => matches(value, child, &child_path, exact)?,
                    None => return Err((child_path, show(value))),
                }
            }
            Ok(())
        }
        toml::Value::Datetime(d) => match actual.text() {
            Some(t) if t == d.to_string() => Ok(()),
            _ => mismatch(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_show_the_status_as_nextcloud_does() {
        assert_eq!(
            (meta_code(Api::V1, 100), http_status(Api::V1, 100)),
            (100, 200)
        );
        assert_eq!(
            (meta_code(Api::V2, 100), http_status(Api::V2, 100)),
            (200, 200)
        );
        assert_eq!(
            (meta_code(Api::V1, 102), http_status(Api::V1, 102)),
            (102, 200)
        );
        assert_eq!(
            (meta_code(Api::V2, 102), http_status(Api::V2, 102)),
            (102, 400)
        );
        assert_eq!(
            (meta_code(Api::V1, 403), http_status(Api::V1, 403)),
            (997, 200)
        );
        assert_eq!(
            (meta_code(Api::V2, 403), http_status(Api::V2, 403)),
            (403, 403)
        );
        assert_eq!(
            (meta_code(Api::V1, 997), http_status(Api::V1, 997)),
            (997, 401)
        );
        assert_eq!(http_status(Api::V2, 998), 404);
        assert_eq!(
            (http_status(Api::V2, 996), http_status(Api::V2, 999)),
            (500, 500)
        );
        assert_eq!(
            (meta_code(Api::V1, 999), http_status(Api::V1, 999)),
            (999, 200)
        );
    }

    fn toml_value(text: &str) -> toml::Value {
        toml::from_str::<toml::Table>(&format!("v = {text}")).unwrap()["v"].clone()
    }

    #[test]
    fn data_matching_is_lenient_on_scalars_and_order_but_not_on_content() {
        let data = Node::from_json(&serde_json::json!({
            "users": ["b", "a"], "enabled": "1", "quota": {"quota": 5}
        }));
        let m = |w: &str, exact| matches(&toml_value(w), &data, "data", exact);
        assert!(m(r#"{ users = ["a"] }"#, false).is_ok());
        assert!(m(r#"{ users = ["a"] }"#, true).is_err());
        assert!(
            m(
                r#"{ users = ["a", "b"], enabled = true, quota = { quota = 5 } }"#,
                true
            )
            .is_ok()
        );
        assert!(m(r#"{ enabled = false }"#, false).is_err());
        assert_eq!(
            m(r#"{ users = ["c"] }"#, false).unwrap_err().0,
            "data.users"
        );
    }

    #[test]
    fn an_answer_in_the_other_format_or_with_the_wrong_codes_fails() {
        let expect: Expect = toml::from_str("statuscode = 100").unwrap();
        let json = Variant {
            api: Api::V2,
            format: crate::client::Format::Json,
        };
        let xml_body =
            b"<ocs><meta><status>ok</status><statuscode>200</statuscode></meta><data/></ocs>";
        let answer = Answer::parse(200, "application/json", None, xml_body);
        let what: Vec<String> = check(&expect, json, &answer)
            .into_iter()
            .map(|f| f.what)
            .collect();
        assert_eq!(what, ["format"]);
        let json_body =
            br#"{"ocs":{"meta":{"status":"failure","statuscode":102,"message":""},"data":[]}}"#;
        let answer = Answer::parse(400, "application/json", None, json_body);
        let what: Vec<String> = check(&expect, json, &answer)
            .into_iter()
            .map(|f| f.what)
            .collect();
        assert_eq!(what, ["http", "statuscode", "status"]);
        let fine = br#"{"ocs":{"meta":{"status":"ok","statuscode":200,"message":"OK"},"data":[]}}"#;
        let answer = Answer::parse(200, "application/json; charset=utf-8", None, fine);
        assert!(check(&expect, json, &answer).is_empty());
    }
}
