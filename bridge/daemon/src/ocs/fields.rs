//! Checks of the values the API takes: paging, quota strings, e-mail, website,
//! language, free text. Each refusal names what was wrong.

use super::envelope::Reply;
use super::form::Form;

/// `limit` and `offset`: non-negative integers when given.
pub fn paging(query: &Form) -> Result<(Option<usize>, usize), Reply> {
    let number = |key: &str| -> Result<Option<usize>, Reply> {
        match query.get(key).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(v) => v.parse::<usize>().map(Some).map_err(|_| {
                Reply::fail(
                    101,
                    format!("{key} must be a non-negative integer, not {v:?}"),
                )
            }),
        }
    };
    Ok((number("limit")?, number("offset")?.unwrap_or(0)))
}

/// Nextcloud's quota forms: "none", "default", a byte count, or a size with a
/// unit ("5 GB", "100MB", "1.5T"). Returns the stored spelling.
pub fn quota(value: &str) -> Option<String> {
    let v = value.trim();
    if v.eq_ignore_ascii_case("none") || v.eq_ignore_ascii_case("default") {
        return Some(v.to_lowercase());
    }
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let number: f64 = number.parse().ok()?;
    if !number.is_finite() || number < 0.0 {
        return None;
    }
    let unit = unit.trim().to_ascii_uppercase();
    let known = [
        "", "B", "K", "KB", "M", "MB", "G", "GB", "T", "TB", "P", "PB",
    ];
    known.contains(&unit.as_str()).then(|| v.to_owned())
}

/// A quota as bytes, as Nextcloud reports it: -3 (`FileInfo::SPACE_UNLIMITED`)
/// for none, default or anything unset.
pub fn quota_bytes(stored: Option<&str>) -> i64 {
    const UNLIMITED: i64 = -3;
    let Some(v) = stored.map(str::trim).and_then(quota) else {
        return UNLIMITED;
    };
    let split = v
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(v.len());
    let (number, unit) = v.split_at(split);
    let Ok(number) = number.parse::<f64>() else {
        return UNLIMITED;
    };
    let power = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" => 1,
        "M" | "MB" => 2,
        "G" | "GB" => 3,
        "T" | "TB" => 4,
        "P" | "PB" => 5,
        _ => return UNLIMITED,
    };
    // Saturates rather than wraps for absurd sizes.
    (number * 1024f64.powi(power)).round() as i64
}

/// A phone number in international form (`+` and 7 to 15 digits; spaces,
/// dashes, dots and brackets dropped), as Nextcloud takes one when no default
/// region is configured. Returns the stored form; empty clears.
pub fn phone(value: &str, code: u32) -> Result<String, Reply> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let digits: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let national = digits.strip_prefix('+').unwrap_or("");
    match (7..=15).contains(&national.len())
        && national.chars().all(|c| c.is_ascii_digit())
        && !national.starts_with('0')
    {
        true => Ok(digits),
        false => Err(Reply::fail(code, "Invalid phone")),
    }
}

/// A Twitter handle: 2 to 15 of A-Z, a-z, 0-9 and _, with an optional `@` that
/// is not stored.
pub fn twitter(value: &str, code: u32) -> Result<String, Reply> {
    let handle = value.strip_prefix('@').unwrap_or(value);
    let ok = value.is_empty()
        || ((2..=15).contains(&handle.len())
            && handle
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_'));
    match ok {
        true => Ok(handle.to_owned()),
        false => Err(Reply::fail(code, "Invalid twitter")),
    }
}

/// A fediverse handle, `user@host` with an optional leading `@` (not stored).
/// Nextcloud also asks the host's WebFinger when it has internet access;
/// authbridge does not reach out to other servers.
pub fn fediverse(value: &str, code: u32) -> Result<String, Reply> {
    if value.is_empty() {
        return Ok(String::new());
    }
    let handle = value.strip_prefix('@').unwrap_or(value);
    let ok = handle.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty()
            && user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
            && domain(host)
    });
    match ok {
        true => Ok(handle.to_owned()),
        false => Err(Reply::fail(code, "Invalid fediverse")),
    }
}

/// A DNS name with at least one dot: labels of letters, digits and inner dashes.
fn domain(host: &str) -> bool {
    host.len() <= 253
        && host.contains('.')
        && host.split('.').all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// A locale as Nextcloud names them: `de`, `de_DE`, `sr_Latn_RS`.
pub fn locale(value: &str) -> bool {
    language(value)
}

/// A birth date, `YYYY-MM-DD` (a real date); empty clears.
pub fn birthdate(value: &str) -> bool {
    let parts: Vec<&str> = value.split('-').collect();
    let [y, m, d] = parts.as_slice() else {
        return value.is_empty();
    };
    let number = |s: &str, len: usize| {
        (s.len() == len && s.chars().all(|c| c.is_ascii_digit())).then(|| s.parse::<u32>().ok())
    };
    let (Some(Some(y)), Some(Some(m)), Some(Some(d))) = (number(y, 4), number(m, 2), number(d, 2))
    else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// `profile_enabled`: `1`/`true` or `0`/`false`, stored as `1` or `0`.
pub fn flag(value: &str, code: u32) -> Result<&'static str, Reply> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" => Ok("1"),
        "0" | "false" | "no" | "" => Ok("0"),
        _ => Err(Reply::fail(
            code,
            format!("Invalid value {value:?}: 1 or 0 expected"),
        )),
    }
}

/// An account property's visibility. The v1 names are kept as Nextcloud maps
/// them (private: this server, contacts: trusted servers, public: everyone).
pub fn scope(value: &str, code: u32) -> Result<&'static str, Reply> {
    match value {
        "v2-private" => Ok("v2-private"),
        "v2-local" | "private" => Ok("v2-local"),
        "v2-federated" | "contacts" => Ok("v2-federated"),
        "v2-published" | "public" => Ok("v2-published"),
        _ => Err(Reply::fail(code, "Invalid scope")),
    }
}

pub fn email(value: &str, code: u32) -> Result<(), Reply> {
    if value.is_empty() {
        return Ok(());
    }
    let ok = value.len() <= 254
        && !value.chars().any(|c| c.is_whitespace() || c.is_control())
        && value.rsplit_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        });
    if ok {
        Ok(())
    } else {
        Err(Reply::fail(
            code,
            format!("Invalid email address {value:?}"),
        ))
    }
}

pub fn website(value: &str, code: u32) -> Result<(), Reply> {
    let ok = value.is_empty()
        || ((value.starts_with("https://") || value.starts_with("http://"))
            && value.len() > "https://".len()
            && !value.chars().any(|c| c.is_whitespace() || c.is_control()));
    if ok {
        Ok(())
    } else {
        Err(Reply::fail(
            code,
            format!("Invalid website {value:?}: an http(s) URL is expected"),
        ))
    }
}

/// Language codes as Nextcloud lists them: `de`, `pt_BR`, `zh_Hant_TW`.
pub fn language(value: &str) -> bool {
    let mut parts = value.split('_');
    let first = parts.next().unwrap_or("");
    (2..=3).contains(&first.len())
        && first.chars().all(|c| c.is_ascii_lowercase())
        && parts.all(|p| (2..=4).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// Free text (display name, phone, address...): no control characters, bounded.
pub fn text(value: &str, code: u32) -> Result<(), Reply> {
    if value.chars().any(authbridge_store::hidden_character) || value.chars().count() > 2048 {
        Err(Reply::fail(
            code,
            "the value contains a control, invisible or non-character, or is too long",
        ))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_strings() {
        for ok in ["none", "default", "1024", "5 GB", "100MB", "1.5T", "0"] {
            assert!(quota(ok).is_some(), "{ok}");
        }
        for bad in ["", "five", "5 parsecs", "-1 GB", "1e9", "GB"] {
            assert!(quota(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn quotas_in_bytes_as_nextcloud_reports_them() {
        assert_eq!(quota_bytes(None), -3);
        assert_eq!(quota_bytes(Some("none")), -3);
        assert_eq!(quota_bytes(Some("default")), -3);
        assert_eq!(quota_bytes(Some("1024")), 1024);
        assert_eq!(quota_bytes(Some("5 GB")), 5 * 1024 * 1024 * 1024);
        assert_eq!(quota_bytes(Some("1.5K")), 1536);
    }

    #[test]
    fn profile_values_as_nextcloud_checks_them() {
        assert_eq!(phone("+49 (30) 123-4567", 101).unwrap(), "+49301234567");
        assert_eq!(phone("", 101).unwrap(), "");
        for bad in ["030 1234567", "+0301234567", "+12", "+49abc1234567"] {
            assert!(phone(bad, 101).is_err(), "{bad}");
        }
        assert_eq!(twitter("@nextclouders", 101).unwrap(), "nextclouders");
        assert!(twitter("a", 101).is_err() && twitter("no spaces", 101).is_err());
        assert_eq!(
            fediverse("@ann@mastodon.example", 101).unwrap(),
            "ann@mastodon.example"
        );
        assert!(fediverse("ann", 101).is_err() && fediverse("ann@localhost", 101).is_err());
        assert!(birthdate("2000-02-29") && birthdate("") && !birthdate("1999-02-29"));
        assert!(!birthdate("2000-13-01") && !birthdate("20-01-01") && !birthdate("x"));
        assert_eq!(flag("true", 101).unwrap(), "1");
        assert!(flag("maybe", 101).is_err());
        assert_eq!(scope("public", 101).unwrap(), "v2-published");
        assert!(scope("everyone", 101).is_err());
    }

    #[test]
    fn languages_and_addresses() {
        assert!(language("de") && language("pt_BR") && language("zh_Hant_TW"));
        assert!(!language("") && !language("German") && !language("de-DE"));
        assert!(email("frank@example.org", 102).is_ok());
        assert!(email("frank", 102).is_err() && email("a b@c.d", 102).is_err());
        assert!(
            website("https://nextcloud.com", 102).is_ok()
                && website("javascript:alert(1)", 102).is_err()
        );
    }
}
