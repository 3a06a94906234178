//! occ's output layouts: nested "  - key: value" lists, JSON and pretty JSON.

use anyhow::Result;
use authbridge_daemon::NssSettings;
use authbridge_store::{AccountStore, User};
use clap::ValueEnum;
use serde_json::{Map, Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Format {
    #[default]
    Plain,
    Json,
    #[value(name = "json_pretty")]
    JsonPretty,
}

/// Prints a JSON value in the chosen format; plain is occ's nested list.
pub fn print(format: Format, value: &Value) {
    match format {
        Format::Json => println!("{value}"),
        Format::JsonPretty => println!("{}", serde_json::to_string_pretty(value).expect("JSON")),
        Format::Plain => print!("{}", plain(value, "  ")),
    }
}

/// occ's `writeArrayInOutputFormat`: maps as "- key: value" (nested maps and
/// lists indented below "- key:"), list items as "- item".
pub fn plain(value: &Value, prefix: &str) -> String {
    let mut out = String::new();
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&format!("{prefix}- {key}:\n"));
                        out.push_str(&plain(item, &format!("{prefix}  ")));
                    }
                    _ => out.push_str(&format!("{prefix}- {key}: {}\n", scalar(item))),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::Object(_) | Value::Array(_) => {
                        out.push_str(&plain(item, &format!("{prefix}  ")))
                    }
                    _ => out.push_str(&format!("{prefix}- {}\n", scalar(item))),
                }
            }
        }
        other => out.push_str(&format!("{prefix}{}\n", scalar(other))),
    }
    out
}

fn scalar(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// ISO 8601 in UTC, as occ prints first_seen and last_seen.
pub fn iso8601(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .map(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]+00:00"
            ))
            .expect("format")
        })
        .unwrap_or_else(|_| ts.to_string())
}

/// "2024-03-20 17:18", as `user:lastseen` prints it (UTC).
pub fn minutes(ts: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ts)
        .map(|t| {
            t.format(time::macros::format_description!(
                "[year]-[month]-[day] [hour]:[minute]"
            ))
            .expect("format")
        })
        .unwrap_or_else(|_| ts.to_string())
}

/// occ's table with a header row (`user:auth-tokens:list`).
pub fn grid<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    let line = format!(
        "+{}+\n",
        widths
            .iter()
            .map(|w| "-".repeat(w + 2))
            .collect::<Vec<_>>()
            .join("+")
    );
    let mut out = line.clone();
    for (i, row) in rows.iter().enumerate() {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!(" {c:<w$} "))
            .collect();
        out.push_str(&format!("|{}|\n", cells.join("|")));
        if i == 0 {
            out.push_str(&line);
        }
    }
    out.push_str(&line);
    out
}

/// occ's two-column table (`user:report`).
pub fn table(rows: &[(String, String)]) -> String {
    let w1 = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let w2 = rows.iter().map(|r| r.1.chars().count()).max().unwrap_or(0);
    let line = format!("+-{}-+-{}-+\n", "-".repeat(w1), "-".repeat(w2));
    let mut out = line.clone();
    for (i, (a, b)) in rows.iter().enumerate() {
        out.push_str(&format!("| {a:<w1$} | {b:<w2$} |\n"));
        if i == 0 {
            out.push_str(&line);
        }
    }
    out.push_str(&line);
    out
}

/// A user as `user info` and `user list --info` show it.
/// This machine's name, for occ's `cloud_id` (uid@host).
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for writes of its length; the name is NUL-terminated
    // or truncated, and read up to the first NUL only.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    match ok {
        true => String::from_utf8_lossy(&buf[..end]).into_owned(),
        false => "localhost".into(),
    }
}

/// occ's `user:info`: the account, its storage figures as Nextcloud reports
/// them (authbridge keeps no files: nothing used, the quota all free), and its
/// home directory as the NSS module gives it.
pub fn user_json(store: &dyn AccountStore, nss: &NssSettings, u: &User) -> Result<Value> {
    let groups = store.user_groups(&u.uid)?;
    let quota = authbridge_daemon::ocs::quota_bytes(u.quota.as_deref());
    let mut m = Map::new();
    m.insert("user_id".into(), json!(u.uid));
    m.insert(
        "display_name".into(),
        json!(u.display_name.clone().unwrap_or_else(|| u.uid.clone())),
    );
    m.insert("email".into(), json!(u.email.clone().unwrap_or_default()));
    m.insert(
        "cloud_id".into(),
        json!(format!("{}@{}", u.uid, host_name())),
    );
    m.insert("enabled".into(), json!(u.enabled));
    m.insert("groups".into(), json!(groups));
    m.insert(
        "quota".into(),
        json!(u.quota.clone().unwrap_or_else(|| "none".into())),
    );
    m.insert(
        "storage".into(),
        json!({"free": quota, "used": 0, "total": quota, "relative": 0, "quota": quota}),
    );
    m.insert(
        "first_seen".into(),
        json!(u.first_seen.map(iso8601).unwrap_or_else(|| "never".into())),
    );
    m.insert(
        "last_seen".into(),
        json!(u.last_seen.map(iso8601).unwrap_or_else(|| "never".into())),
    );
    m.insert("user_directory".into(), json!(nss.home_of(&u.uid)));
    m.insert("backend".into(), json!(u.backend));
    Ok(Value::Object(m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn occ_nested_layout() {
        let v = json!({"user_id": "layla", "enabled": true, "groups": ["users", "db-admins"], "quota": "none"});
        assert_eq!(
            plain(&v, "  "),
            "  - user_id: layla\n  - enabled: true\n  - groups:\n    - users\n    - db-admins\n  - quota: none\n"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(iso8601(1_709_282_686), "2024-03-01T08:44:46+00:00");
        assert_eq!(minutes(1_710_955_080), "2024-03-20 17:18");
    }
}
