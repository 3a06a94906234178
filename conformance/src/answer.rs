//! A server's answer, parsed: the HTTP status and, when the body is an OCS
//! envelope (XML or JSON), its meta and its data as a [`Node`] tree.

use crate::client::Format;
use crate::tree::Node;

#[derive(Debug, Clone)]
pub struct Answer {
    pub http: u16,
    pub content_type: String,
    /// Where a 3xx answer points.
    pub location: Option<String>,
    pub body: Body,
    /// The format the envelope came in, when it is one.
    pub format: Option<Format>,
}

#[derive(Debug, Clone)]
pub enum Body {
    Ocs(Ocs),
    /// Not an OCS envelope: why not, and the start of what came instead.
    NotOcs {
        why: String,
        excerpt: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Ocs {
    pub status: String,
    pub statuscode: u32,
    pub message: String,
    pub data: Node,
}

impl Answer {
    pub fn parse(http: u16, content_type: &str, location: Option<String>, body: &[u8]) -> Answer {
        let (body, format) = parse_body(body);
        Answer {
            http,
            content_type: content_type.to_owned(),
            location,
            body,
            format,
        }
    }

    pub fn ocs(&self) -> Option<&Ocs> {
        match &self.body {
            Body::Ocs(o) => Some(o),
            Body::NotOcs { .. } => None,
        }
    }

    /// Whether this is an OCS success (statuscode 100 in v1, 200 in v2).
    pub fn succeeded(&self) -> bool {
        self.ocs()
            .is_some_and(|o| matches!(o.statuscode, 100 | 200))
    }

    /// Says what came back, in a few words, for messages.
    pub fn describe(&self) -> String {
        if (300..400).contains(&self.http) {
            let to = self.location.as_deref().unwrap_or("(no Location)");
            return format!("HTTP {} redirect to {to}", self.http);
        }
        match &self.body {
            Body::Ocs(o) => format!(
                "HTTP {} statuscode {} {:?}",
                self.http, o.statuscode, o.message
            ),
            Body::NotOcs { why, excerpt } => format!(
                "HTTP {} {} ({why}): {excerpt:?}",
                self.http,
                if self.content_type.is_empty() {
                    "without a content type"
                } else {
                    &self.content_type
                }
            ),
        }
    }
}

fn excerpt(text: &str) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match flat.char_indices().nth(120) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}

fn not_ocs(why: impl Into<String>, text: &str) -> Body {
    Body::NotOcs {
        why: why.into(),
        excerpt: excerpt(text),
    }
}

/// The body and, when it is an OCS envelope, the format it came in.
fn parse_body(bytes: &[u8]) -> (Body, Option<Format>) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        let body = not_ocs("the body is not UTF-8", &String::from_utf8_lossy(bytes));
        return (body, None);
    };
    let trimmed = text.trim_start();
    let (body, format) = if trimmed.is_empty() {
        (not_ocs("the body is empty", ""), Format::Xml)
    } else if trimmed.starts_with('{') {
        (parse_json(text), Format::Json)
    } else if trimmed.starts_with('<') {
        (parse_xml(text), Format::Xml)
    } else {
        (not_ocs("neither XML nor JSON", text), Format::Xml)
    };
    let format = matches!(body, Body::Ocs(_)).then_some(format);
    (body, format)
}

fn parse_json(text: &str) -> Body {
    let value: serde_json::Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => return not_ocs(format!("broken JSON: {e}"), text),
    };
    let ocs = &value["ocs"];
    let meta = &ocs["meta"];
    if !meta.is_object() {
        return not_ocs("JSON without ocs.meta", text);
    }
    let statuscode = match &meta["statuscode"] {
        serde_json::Value::Number(n) => n.as_u64().map(|n| n as u32),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    let Some(statuscode) = statuscode else {
        return not_ocs("ocs.meta.statuscode is missing or not a number", text);
    };
    let string = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    };
    Body::Ocs(Ocs {
        status: string(&meta["status"]),
        statuscode,
        message: string(&meta["message"]),
        data: Node::from_json(&ocs["data"]),
    })
}

fn parse_xml(text: &str) -> Body {
    let doc = match roxmltree::Document::parse(text) {
        Ok(d) => d,
        Err(e) => return not_ocs(format!("broken XML: {e}"), text),
    };
    let root = doc.root_element();
    if root.tag_name().name() != "ocs" {
        return not_ocs(
            format!(
                "the root element is <{}>, not <ocs>",
                root.tag_name().name()
            ),
            text,
        );
    }
    let child = |name: &str| root.children().find(|c| c.has_tag_name(name));
    let Some(meta) = child("meta") else {
        return not_ocs("<ocs> without <meta>", text);
    };
    let meta_text = |name: &str| {
        meta.children()
            .find(|c| c.has_tag_name(name))
            .and_then(|c| c.text())
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let Ok(statuscode) = meta_text("statuscode").parse() else {
        return not_ocs("<statuscode> is missing or not a number", text);
    };
    Body::Ocs(Ocs {
        status: meta_text("status"),
        statuscode,
        message: meta_text("message"),
        data: child("data").map(Node::from_xml).unwrap_or(Node::Empty),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_formats_give_the_same_meta_and_data() {
        let xml = Answer::parse(
            200,
            "text/xml",
            None,
            b"<?xml version=\"1.0\"?><ocs><meta><status>failure</status><statuscode>102</statuscode>\
              <message>exists</message></meta><data/></ocs>",
        );
        let json = Answer::parse(
            200,
            "application/json",
            None,
            br#"{"ocs":{"meta":{"status":"failure","statuscode":102,"message":"exists"},"data":[]}}"#,
        );
        assert_eq!(xml.ocs(), json.ocs());
        assert_eq!(xml.ocs().unwrap().statuscode, 102);
    }

    #[test]
    fn html_and_broken_envelopes_are_not_ocs() {
        let html = Answer::parse(
            200,
            "text/html",
            None,
            b"<!DOCTYPE html><html><body>Login</body></html>",
        );
        assert!(html.ocs().is_none());
        assert!(html.describe().contains("text/html"), "{}", html.describe());
        let no_code = Answer::parse(
            200,
            "text/xml",
            None,
            b"<ocs><meta><status>ok</status></meta></ocs>",
        );
        assert!(matches!(no_code.body, Body::NotOcs { ref why, .. } if why.contains("statuscode")));
        assert!(Answer::parse(200, "", None, b"").ocs().is_none());
    }
}
