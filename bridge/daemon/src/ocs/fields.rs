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

pub fn website(value: &str) -> Result<(), Reply> {
    let ok = value.is_empty()
        || ((value.starts_with("https://") || value.starts_with("http://"))
            && value.len() > "https://".len()
            && !value.chars().any(|c| c.is_whitespace() || c.is_control()));
    if ok {
        Ok(())
    } else {
        Err(Reply::fail(
            102,
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
    if value.chars().any(char::is_control) || value.chars().count() > 2048 {
        Err(Reply::fail(
            code,
            "the value contains control characters or is too long",
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
    fn languages_and_addresses() {
        assert!(language("de") && language("pt_BR") && language("zh_Hant_TW"));
        assert!(!language("") && !language("German") && !language("de-DE"));
        assert!(email("frank@example.org", 102).is_ok());
        assert!(email("frank", 102).is_err() && email("a b@c.d", 102).is_err());
        assert!(
            website("https://nextcloud.com").is_ok() && website("javascript:alert(1)").is_err()
        );
    }
}
