//! One tree for both answer formats, so one expectation checks XML and JSON.
//!
//! OCS renders the same PHP array either way: a list becomes `<element>` children
//! in XML and a JSON array; an empty array becomes `<data/>` in XML and `[]` in
//! JSON; scalars are text in XML and typed in JSON. The tree keeps exactly what
//! survives both renderings: empty, text, list, map (keys sorted).

use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// An empty element, `null`, `""`, `[]` or `{}`.
    Empty,
    Text(String),
    List(Vec<Node>),
    Map(BTreeMap<String, Node>),
}

impl Node {
    pub fn from_json(value: &serde_json::Value) -> Node {
        use serde_json::Value;
        match value {
            Value::Null => Node::Empty,
            Value::Bool(b) => Node::Text(b.to_string()),
            Value::Number(n) => Node::Text(n.to_string()),
            Value::String(s) if s.is_empty() => Node::Empty,
            Value::String(s) => Node::Text(s.clone()),
            Value::Array(items) if items.is_empty() => Node::Empty,
            Value::Array(items) => Node::List(items.iter().map(Node::from_json).collect()),
            Value::Object(map) if map.is_empty() => Node::Empty,
            Value::Object(map) => Node::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Node::from_json(v)))
                    .collect(),
            ),
        }
    }

    /// An XML element: children all named `element` make a list, other children a
    /// map, text alone makes text.
    pub fn from_xml(element: roxmltree::Node) -> Node {
        let children: Vec<_> = element.children().filter(|c| c.is_element()).collect();
        if children.is_empty() {
            let text: String = element
                .children()
                .filter(|c| c.is_text())
                .filter_map(|c| c.text())
                .collect();
            return if text.trim().is_empty() {
                Node::Empty
            } else {
                Node::Text(text)
            };
        }
        if children.iter().all(|c| c.tag_name().name() == "element") {
            return Node::List(children.into_iter().map(Node::from_xml).collect());
        }
        Node::Map(
            children
                .into_iter()
                .map(|c| (c.tag_name().name().to_owned(), Node::from_xml(c)))
                .collect(),
        )
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match self {
            Node::Map(map) => map.get(key),
            _ => None,
        }
    }

    pub fn text(&self) -> Option<&str> {
        match self {
            Node::Text(t) => Some(t),
            Node::Empty => Some(""),
            _ => None,
        }
    }

    /// Replaces the values at `path` (dot-separated keys; `*` is any key or any list
    /// item) with `[redacted]`.
    pub fn redact(&mut self, path: &str) {
        let parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
        self.redact_parts(&parts);
    }

    fn redact_parts(&mut self, parts: &[&str]) {
        let Some((first, rest)) = parts.split_first() else {
            *self = Node::Text(REDACTED.into());
            return;
        };
        match self {
            Node::Map(map) => {
                for (key, child) in map.iter_mut() {
                    if *first == "*" || key == first {
                        child.redact_parts(rest);
                    }
                }
            }
            Node::List(items) if *first == "*" => {
                items.iter_mut().for_each(|c| c.redact_parts(rest));
            }
            _ => {}
        }
    }

    /// Replaces every occurrence of `from` in text (and map keys) with `to`: the
    /// run's random prefix becomes `{p}`, so snapshots compare across runs.
    pub fn mask(&mut self, from: &str, to: &str) {
        match self {
            Node::Text(t) => *t = t.replace(from, to),
            Node::List(items) => items.iter_mut().for_each(|c| c.mask(from, to)),
            Node::Map(map) => {
                let old = std::mem::take(map);
                for (k, mut v) in old {
                    v.mask(from, to);
                    map.insert(k.replace(from, to), v);
                }
            }
            Node::Empty => {}
        }
    }

    /// A stable, indented rendering (for snapshots and failure messages).
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out, 1);
        out
    }

    fn render_into(&self, out: &mut String, depth: usize) {
        let pad = "  ".repeat(depth);
        match self {
            Node::Empty => out.push_str("(empty)\n"),
            Node::Text(t) => {
                let _ = writeln!(out, "{t:?}");
            }
            Node::List(items) => {
                out.push('\n');
                for item in items {
                    let _ = write!(out, "{pad}- ");
                    item.render_into(out, depth + 1);
                }
            }
            Node::Map(map) => {
                out.push('\n');
                for (k, v) in map {
                    let _ = write!(out, "{pad}{k}: ");
                    v.render_into(out, depth + 1);
                }
            }
        }
    }

    /// A one-line rendering for messages.
    pub fn brief(&self) -> String {
        match self {
            Node::Empty => "(empty)".into(),
            Node::Text(t) => format!("{t:?}"),
            Node::List(items) => format!(
                "[{}]",
                items.iter().map(Node::brief).collect::<Vec<_>>().join(", ")
            ),
            Node::Map(map) => format!(
                "{{{}}}",
                map.iter()
                    .map(|(k, v)| format!("{k}: {}", v.brief()))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }
}

pub const REDACTED: &str = "[redacted]";

#[cfg(test)]
mod tests {
    use super::*;

    fn xml(text: &str) -> Node {
        let doc = roxmltree::Document::parse(text).unwrap();
        Node::from_xml(doc.root_element())
    }

    #[test]
    fn xml_and_json_renderings_of_one_answer_are_one_tree() {
        let from_xml = xml(
            "<data><users><element>Frank</element><element>Zoe</element></users>\
             <enabled>true</enabled><phone/><quota><quota>5</quota></quota></data>",
        );
        let from_json = Node::from_json(&serde_json::json!({
            "users": ["Frank", "Zoe"], "enabled": true, "phone": "", "quota": {"quota": 5}
        }));
        assert_eq!(from_xml, from_json);
        assert_eq!(xml("<data/>"), Node::from_json(&serde_json::json!([])));
        assert_eq!(xml("<data>\n </data>"), Node::Empty);
    }

    #[test]
    fn redaction_and_masking_make_answers_stable() {
        let mut n = Node::from_json(&serde_json::json!({
            "id": "ocsct-x-frank", "lastLogin": 1700000000, "quota": {"used": 5, "free": 9},
            "groups": ["ocsct-x-g"]
        }));
        n.redact("lastLogin");
        n.redact("quota.*");
        n.mask("ocsct-x-", "{p}");
        assert_eq!(
            n.brief(),
            "{groups: [\"{p}g\"], id: \"{p}frank\", lastLogin: \"[redacted]\", quota: {free: \"[redacted]\", used: \"[redacted]\"}}"
        );
    }
}
