//! Whose answers a run expects (`--expect`): the documented ones, which every
//! fixture's `[expect]` states, or today's Nextcloud's, which a fixture states
//! only where Nextcloud answers otherwise — a `nextcloud` table in the
//! expectation that replaces the parts it names, read from the Nextcloud source
//! file the fixture cites in `nextcloud_source`.

use crate::fixture::{DataExpect, Expect, PerApi};
use serde::Deserialize;

/// Whose answers a run holds the server to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, clap::ValueEnum, Hash)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The Provisioning API documents: each fixture's `[expect]`.
    #[default]
    Documented,
    /// Today's Nextcloud server: `[expect]` with the fixture's `nextcloud`
    /// parts in place of the documented ones.
    Nextcloud,
}

impl Profile {
    /// The name `--expect` takes.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Documented => "documented",
            Profile::Nextcloud => "nextcloud",
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What today's Nextcloud answers where it differs from the documented
/// expectation: each part given replaces the documented one, the rest stays as
/// documented (`message = ""` matches any message, `data = {}` checks none).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub statuscode: Option<u32>,
    pub http: Option<PerApi<u16>>,
    pub meta: Option<PerApi<u32>>,
    pub message: Option<String>,
    pub data: Option<DataExpect>,
    pub redact: Option<Vec<String>>,
}

impl Expect {
    /// The expectation `profile` holds the server to (without its `nextcloud`
    /// table).
    pub fn resolve(&self, profile: Profile) -> Expect {
        let mut expect = Expect {
            nextcloud: None,
            ..self.clone()
        };
        if let (Profile::Nextcloud, Some(o)) = (profile, &self.nextcloud) {
            let o = o.clone();
            if let Some(code) = o.statuscode {
                expect.statuscode = code;
            }
            expect.http = o.http.or(expect.http);
            expect.meta = o.meta.or(expect.meta);
            expect.message = o.message.or(expect.message);
            expect.data = o.data.or(expect.data);
            expect.redact = o.redact.unwrap_or(expect.redact);
        }
        expect
    }
}

/// What is wrong with a fixture's Nextcloud expectations. `step` is `expect`
/// (the request's) or `then N`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NextcloudProblem {
    #[error(
        "{step}.nextcloud: cite the Nextcloud source it was read from in nextcloud_source (e.g. {EXAMPLE})"
    )]
    Uncited { step: String },
    #[error("nextcloud_source is given, but no expectation has a nextcloud table")]
    Unused,
    #[error("nextcloud_source {0:?}: cite files of nextcloud/server by their path, e.g. {EXAMPLE}")]
    NotAFile(String),
    #[error("{step}.nextcloud is empty: give what Nextcloud answers differently")]
    Empty { step: String },
    #[error("{step}.nextcloud.{field} repeats the documented one: give only what differs")]
    Repeats { step: String, field: &'static str },
    #[error(
        "{step}.nextcloud.statuscode changes the code, but the documented {field} (given for the documented code) is not restated: give {step}.nextcloud.{field}"
    )]
    Unrestated { step: String, field: &'static str },
    #[error("{step}.nextcloud.message pattern: {problem}")]
    Pattern { step: String, problem: String },
}

const EXAMPLE: &str = "apps/provisioning_api/lib/Controller/UsersController.php";

/// Checks the `nextcloud` tables of a fixture's expectations (`(step, expect)`)
/// against the fixture's `nextcloud_source`.
pub(crate) fn validate<'a>(
    source: Option<&str>,
    expectations: impl Iterator<Item = (String, &'a Expect)>,
) -> Result<(), NextcloudProblem> {
    let mut any = false;
    for (step, expect) in expectations {
        let Some(o) = &expect.nextcloud else {
            continue;
        };
        any = true;
        if source.is_none() {
            return Err(NextcloudProblem::Uncited { step });
        }
        check_override(&step, expect, o)?;
    }
    match source {
        Some(_) if !any => Err(NextcloudProblem::Unused),
        Some(source) => check_citation(source),
        None => Ok(()),
    }
}

fn check_override(step: &str, expect: &Expect, o: &Override) -> Result<(), NextcloudProblem> {
    if *o == Override::default() {
        return Err(NextcloudProblem::Empty { step: step.into() });
    }
    let repeats = |field| NextcloudProblem::Repeats {
        step: step.into(),
        field,
    };
    if o.statuscode == Some(expect.statuscode) {
        return Err(repeats("statuscode"));
    }
    if o.http.is_some() && o.http == expect.http {
        return Err(repeats("http"));
    }
    if o.meta.is_some() && o.meta == expect.meta {
        return Err(repeats("meta"));
    }
    if o.message.is_some() && o.message == expect.message {
        return Err(repeats("message"));
    }
    if o.data.is_some() && o.data == expect.data {
        return Err(repeats("data"));
    }
    if o.redact.as_ref().is_some_and(|r| *r == expect.redact) {
        return Err(repeats("redact"));
    }
    if o.statuscode.is_some() {
        for (field, documented, given) in [
            ("http", expect.http.is_some(), o.http.is_some()),
            ("meta", expect.meta.is_some(), o.meta.is_some()),
        ] {
            if documented && !given {
                return Err(NextcloudProblem::Unrestated {
                    step: step.into(),
                    field,
                });
            }
        }
    }
    if let Some(m) = &o.message {
        regex::Regex::new(m).map_err(|e| NextcloudProblem::Pattern {
            step: step.into(),
            problem: e.to_string(),
        })?;
    }
    Ok(())
}

/// `nextcloud_source`: one or more paths of files in nextcloud/server, separated
/// by `;`, each optionally followed by a note (`UsersController.php (editUser)`).
fn check_citation(source: &str) -> Result<(), NextcloudProblem> {
    let path =
        regex::Regex::new(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/[A-Za-z0-9_.-]+\.[A-Za-z0-9]+$")
            .expect("a valid pattern");
    let cites_files = source.split(';').all(|part| {
        part.split_whitespace()
            .next()
            .is_some_and(|first| path.is_match(first) && !first.contains(".."))
    });
    if cites_files {
        Ok(())
    } else {
        Err(NextcloudProblem::NotAFile(source.to_owned()))
    }
}

/// The `PerApi` value for `api`.
pub(crate) fn per_api<T: Copy>(p: Option<PerApi<T>>, api: crate::client::Api) -> Option<T> {
    p.and_then(|p| match api {
        crate::client::Api::V1 => p.v1,
        crate::client::Api::V2 => p.v2,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expect(text: &str) -> Expect {
        toml::from_str(text).unwrap()
    }

    #[test]
    fn the_nextcloud_profile_replaces_only_the_parts_given() {
        let e = expect(
            "statuscode = 101\nmessage = \"gone\"\nredact = [\"quota\"]\n\
             data = { empty = true }\n\
             nextcloud = { statuscode = 998, meta = { v1 = 998 } }",
        );
        let documented = e.resolve(Profile::Documented);
        assert_eq!(documented.statuscode, 101);
        assert!(documented.nextcloud.is_none() && documented.meta.is_none());
        let nextcloud = e.resolve(Profile::Nextcloud);
        assert_eq!(nextcloud.statuscode, 998);
        assert_eq!(nextcloud.meta.and_then(|m| m.v1), Some(998));
        assert_eq!(nextcloud.message.as_deref(), Some("gone"));
        assert_eq!(nextcloud.redact, ["quota"]);
        assert!(nextcloud.data.is_some_and(|d| d.empty));
        assert!(nextcloud.nextcloud.is_none());
        // Without a nextcloud table, both profiles expect the same.
        let plain = expect("statuscode = 100");
        assert_eq!(plain.resolve(Profile::Nextcloud).statuscode, 100);
    }

    #[test]
    fn nextcloud_tables_and_citations_are_checked() {
        let src = Some(EXAMPLE);
        let check = |source: Option<&str>, text: &str| {
            let e = expect(text);
            validate(source, std::iter::once(("expect".to_owned(), &e)))
        };
        assert_eq!(
            check(src, "statuscode = 101\nnextcloud = { statuscode = 998 }"),
            Ok(())
        );
        assert_eq!(check(None, "statuscode = 101"), Ok(()));
        let problems = [
            (
                None,
                "statuscode = 101\nnextcloud = { statuscode = 998 }",
                "cite the Nextcloud source",
            ),
            (
                src,
                "statuscode = 101",
                "no expectation has a nextcloud table",
            ),
            (src, "statuscode = 101\nnextcloud = {}", "is empty"),
            (
                src,
                "statuscode = 101\nnextcloud = { statuscode = 101 }",
                "nextcloud.statuscode repeats",
            ),
            (
                src,
                "statuscode = 101\nmessage = \"a\"\nnextcloud = { message = \"a\" }",
                "nextcloud.message repeats",
            ),
            (
                src,
                "statuscode = 101\nhttp = { v2 = 418 }\nnextcloud = { statuscode = 998 }",
                "documented http",
            ),
            (
                src,
                "statuscode = 101\nnextcloud = { message = \"(\" }",
                "message pattern",
            ),
            (
                Some("UsersController"),
                "statuscode = 101\nnextcloud = { statuscode = 998 }",
                "cite files",
            ),
            (
                Some("https://github.com/nextcloud/server"),
                "statuscode = 101\nnextcloud = { statuscode = 998 }",
                "cite files",
            ),
            (
                Some("apps/a.php; see the docs"),
                "statuscode = 101\nnextcloud = { statuscode = 998 }",
                "cite files",
            ),
        ];
        for (source, text, says) in problems {
            let err = check(source, text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
        }
        assert_eq!(
            check(
                Some(
                    "lib/private/AppFramework/OCS/V1Response.php (getOCSStatus); apps/provisioning_api/lib/Middleware/ProvisioningApiMiddleware.php"
                ),
                "statuscode = 403\nnextcloud = { meta = { v1 = 403 } }"
            ),
            Ok(())
        );
    }
}
