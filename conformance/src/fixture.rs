//! The fixture files: one TOML file per documented operation and outcome, under
//! `fixtures/`, whose path (without `.toml`) is the fixture's stable id.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The two versions of the Provisioning API documentation in `shared/seeds`: the
/// current instruction set (password optional when an email is given, codes 108
/// and 109) and the older admin-manual text (password required).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Document {
    Current,
    Legacy,
}

/// A must-level fixture fails the run when it fails; a should-level one warns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    #[default]
    Must,
    Should,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    pub id: String,
    pub title: String,
    /// The document and section the expectation comes from.
    pub source: String,
    #[serde(default = "both_documents")]
    pub documents: Vec<Document>,
    #[serde(default)]
    pub level: Level,
    /// Changes state outside the run's own users and groups (an app switch): runs
    /// only with `--allow-global-changes`, and alone.
    #[serde(default)]
    pub global: bool,
    /// What the server must be able to do for the outcome to be provoked:
    /// `mail` (sends mail) or `no-mail` (cannot send mail).
    #[serde(default)]
    pub needs: Vec<String>,
    #[serde(default)]
    pub setup: Vec<Setup>,
    pub request: Request,
    pub expect: Expect,
    /// Requests after the main one that show its effect (e.g. the user is now in
    /// the group).
    #[serde(default)]
    pub then: Vec<Step>,
    /// Requests that undo a global change; run even when the fixture failed.
    #[serde(default)]
    pub teardown: Vec<Request>,
    #[serde(skip)]
    pub file: PathBuf,
}

fn both_documents() -> Vec<Document> {
    vec![Document::Current, Document::Legacy]
}

/// A user or group the fixture needs, created through the API as the admin with
/// the fixture's prefix (removed at the end of the run).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    pub user: Option<String>,
    pub group: Option<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    #[serde(default)]
    pub subadmin: Vec<String>,
    pub email: Option<String>,
    pub displayname: Option<String>,
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub request: Request,
    pub expect: Expect,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    pub method: String,
    /// Below `/ocs/v{1,2}.php`, e.g. `/cloud/users/{p}frank`.
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, FormValue>,
    #[serde(default)]
    pub form: BTreeMap<String, FormValue>,
    /// `admin`, `anonymous`, or a user from the setup.
    #[serde(default = "admin")]
    pub actor: String,
    /// Sent instead of the actor's password (e.g. a wrong one).
    pub password: Option<String>,
}

fn admin() -> String {
    "admin".into()
}

/// A form value; a list is sent as `key[]=a&key[]=b`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FormValue {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The OCS status the server gives the answer (the documented v1 code; 403 for
    /// Nextcloud's "forbidden"); the v1 and v2 metas and HTTP statuses follow from
    /// it by Nextcloud's rules unless given below.
    pub statuscode: u32,
    pub http: Option<PerApi<u16>>,
    /// A regular expression the message should match (should-level: a warning).
    pub message: Option<String>,
    pub data: Option<DataExpect>,
    /// Volatile values to blank out before comparing and snapshotting: paths into
    /// `data`, dot-separated, `*` for any key or item.
    #[serde(default)]
    pub redact: Vec<String>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerApi<T> {
    pub v1: Option<T>,
    pub v2: Option<T>,
}

/// What `data` must hold. Lists compare without regard to order.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataExpect {
    /// Exactly this.
    pub exact: Option<toml::Value>,
    /// At least this: every key given, every list item given.
    pub subset: Option<toml::Value>,
    /// `data` is a map with at least these keys.
    pub keys: Option<Vec<String>>,
    /// Lists at these keys must not hold these items.
    pub lacks: Option<toml::Value>,
    /// Nothing (`<data/>`, `[]`).
    #[serde(default)]
    pub empty: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read fixtures in {dir}: {source}")]
    Walk {
        dir: PathBuf,
        source: walkdir::Error,
    },
    #[error("{file}: {source}")]
    Read {
        file: PathBuf,
        source: std::io::Error,
    },
    #[error("{file}: {}", toml_problem(source))]
    Parse {
        file: PathBuf,
        source: Box<toml::de::Error>,
    },
    #[error("{file}: {problem}")]
    Invalid { file: PathBuf, problem: String },
}

/// Every `*.toml` under `dir` (the `UNPROVOKABLE.toml` list aside), sorted by id.
pub fn load_dir(dir: &Path) -> Result<Vec<Fixture>, LoadError> {
    let mut fixtures = Vec::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry.map_err(|source| LoadError::Walk {
            dir: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if !entry.file_type().is_file()
            || path.extension().is_none_or(|e| e != "toml")
            || path.file_name().is_some_and(|n| n == UNPROVOKABLE)
        {
            continue;
        }
        fixtures.push(load_file(dir, path)?);
    }
    let mut seen = std::collections::HashSet::new();
    for f in &fixtures {
        if !seen.insert(f.id.clone()) {
            return Err(invalid(&f.file, format!("id {} is used twice", f.id)));
        }
    }
    fixtures.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(fixtures)
}

/// The file that lists documented codes no request from outside can provoke.
pub const UNPROVOKABLE: &str = "UNPROVOKABLE.toml";

fn load_file(dir: &Path, path: &Path) -> Result<Fixture, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        file: path.to_owned(),
        source,
    })?;
    let expected_id = path
        .strip_prefix(dir)
        .unwrap_or(path)
        .with_extension("")
        .to_string_lossy()
        .replace(std::path::MAIN_SEPARATOR, "/");
    let mut fixture = parse_fixture(&text, &expected_id).map_err(|e| match e {
        FixtureError::Toml(source) => LoadError::Parse {
            file: path.to_owned(),
            source,
        },
        FixtureError::Invalid(problem) => invalid(path, problem),
    })?;
    fixture.file = path.to_owned();
    Ok(fixture)
}

/// toml's report of a parse error: the place, then what is wrong. For a key with
/// nothing after its `=` at the very end of the text toml says only the place, so
/// the problem is named here.
fn toml_problem(e: &toml::de::Error) -> String {
    if e.message().trim().is_empty() {
        format!("{e}a value is missing here\n")
    } else {
        e.to_string()
    }
}

/// What is wrong with a fixture's text ([`load_dir`] adds the file).
#[derive(Debug, thiserror::Error)]
pub enum FixtureError {
    #[error("{}", toml_problem(.0))]
    Toml(Box<toml::de::Error>),
    #[error("{0}")]
    Invalid(String),
}

/// One fixture from its TOML text. `expected_id` is its place under the fixture
/// directory (the path without `.toml`), which its `id` must match. The result's
/// `file` is empty.
pub fn parse_fixture(text: &str, expected_id: &str) -> Result<Fixture, FixtureError> {
    let fixture: Fixture =
        toml::from_str(text).map_err(|source| FixtureError::Toml(Box::new(source)))?;
    if fixture.id != expected_id {
        return Err(FixtureError::Invalid(format!(
            "id {:?} must match the file's place: {expected_id:?}",
            fixture.id
        )));
    }
    validate(&fixture).map_err(FixtureError::Invalid)?;
    Ok(fixture)
}

fn invalid(file: &Path, problem: String) -> LoadError {
    LoadError::Invalid {
        file: file.to_owned(),
        problem,
    }
}

fn validate(f: &Fixture) -> Result<(), String> {
    if f.source.trim().is_empty() {
        return Err("source is empty: every fixture cites its document section".into());
    }
    if f.documents.is_empty() {
        return Err("documents is empty".into());
    }
    for need in &f.needs {
        if !matches!(need.as_str(), "mail" | "no-mail") {
            return Err(format!("unknown need {need:?} (mail, no-mail)"));
        }
    }
    let users: Vec<&str> = f.setup.iter().filter_map(|s| s.user.as_deref()).collect();
    for (i, s) in f.setup.iter().enumerate() {
        if s.user.is_some() == s.group.is_some() {
            return Err(format!("setup {}: give either user or group", i + 1));
        }
    }
    let steps = std::iter::once(&f.request)
        .chain(f.then.iter().map(|s| &s.request))
        .chain(&f.teardown);
    for r in steps {
        if !matches!(r.method.as_str(), "GET" | "POST" | "PUT" | "DELETE") {
            return Err(format!(
                "method {:?} is not GET, POST, PUT or DELETE",
                r.method
            ));
        }
        if !r.path.starts_with('/') {
            return Err(format!("path {:?} must start with /", r.path));
        }
        if !matches!(r.actor.as_str(), "admin" | "anonymous") && !users.contains(&r.actor.as_str())
        {
            return Err(format!(
                "actor {:?} is neither admin, anonymous nor a user of the setup",
                r.actor
            ));
        }
    }
    for e in std::iter::once(&f.expect).chain(f.then.iter().map(|s| &s.expect)) {
        if let Some(m) = &e.message {
            regex::Regex::new(m).map_err(|err| format!("message pattern: {err}"))?;
        }
    }
    Ok(())
}

/// A documented status code that no request from outside can provoke.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct Unprovokable {
    pub endpoint: String,
    pub statuscode: u32,
    pub source: String,
    pub reason: String,
}

#[derive(Deserialize)]
struct UnprovokableFile {
    code: Vec<Unprovokable>,
}

pub fn load_unprovokable(dir: &Path) -> Result<Vec<Unprovokable>, LoadError> {
    let path = dir.join(UNPROVOKABLE);
    let text = std::fs::read_to_string(&path).map_err(|source| LoadError::Read {
        file: path.clone(),
        source,
    })?;
    let file: UnprovokableFile = toml::from_str(&text).map_err(|source| LoadError::Parse {
        file: path,
        source: Box::new(source),
    })?;
    Ok(file.code)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const GOOD: &str = r#"
id = "users/add/102-exists"
title = "t"
source = "doc § section"
[[setup]]
user = "frank"
[request]
method = "POST"
path = "/cloud/users"
actor = "frank"
form = { userid = "{p}frank", groups = ["a", "b"] }
[expect]
statuscode = 102
"#;

    fn load_one(path: &str, text: &str) -> Result<Vec<Fixture>, String> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, text).unwrap();
        load_dir(dir.path()).map_err(|e| e.to_string())
    }

    #[test]
    fn a_good_fixture_loads_with_its_lists() {
        let f = &load_one("users/add/102-exists.toml", GOOD).unwrap()[0];
        assert_eq!(f.documents, [Document::Current, Document::Legacy]);
        assert!(matches!(&f.request.form["groups"], FormValue::Many(g) if g.len() == 2));
    }

    #[test]
    fn mistakes_in_a_fixture_are_refused_with_the_file_and_the_reason() {
        let cases = [
            ("users/add/other.toml", GOOD, "must match the file's place"),
            (
                "users/add/102-exists.toml",
                &GOOD.replace("actor = \"frank\"", "actor = \"zoe\""),
                "neither admin, anonymous nor a user of the setup",
            ),
            (
                "users/add/102-exists.toml",
                &GOOD.replace("[expect]", "[expect]\nmessage = \"(\""),
                "message pattern",
            ),
            (
                "users/add/102-exists.toml",
                &GOOD.replace("method = \"POST\"", "method = \"PATCH\""),
                "is not GET, POST, PUT or DELETE",
            ),
            (
                "users/add/102-exists.toml",
                &GOOD.replace("source = \"doc § section\"", "source = \" \""),
                "cites its document section",
            ),
            (
                "users/add/102-exists.toml",
                &GOOD.replace("statuscode = 102", "statuscode = 102\ncolour = 1"),
                "unknown field `colour`",
            ),
        ];
        for (path, text, reason) in cases {
            let err = load_one(path, text).unwrap_err();
            assert!(err.contains(reason), "{path}: {err}");
            assert!(err.contains(".toml"), "names the file: {err}");
        }
    }

    /// The message is more than toml's excerpt of the text with a caret under the
    /// place: its last line says what is wrong there.
    fn says_what_is_wrong(e: &FixtureError) -> bool {
        let message = e.to_string();
        let last = message.lines().rev().find(|l| !l.trim().is_empty());
        last.is_some_and(|l| !l.trim_start().starts_with('|'))
    }

    #[test]
    fn a_key_without_a_value_at_the_end_is_named_as_a_missing_value() {
        // Found by the property below: toml reports only the place for `""=` and
        // `a=` at the very end of the text, and the message said nothing more.
        for text in ["\"\"=", "a=", "id = \"x\"\ntitle="] {
            let e = parse_fixture(text, "x").unwrap_err();
            assert!(e.to_string().ends_with("a value is missing here\n"), "{e}");
            assert!(says_what_is_wrong(&e));
        }
        let e = load_one("users/add/102-exists.toml", "id=").unwrap_err();
        assert!(
            e.contains(".toml") && e.contains("a value is missing here"),
            "{e}"
        );
        // Other errors keep toml's own words.
        let e = parse_fixture("a = [1", "x").unwrap_err().to_string();
        assert!(
            e.contains("invalid array") && !e.contains("missing here"),
            "{e}"
        );
    }

    /// One thing wrong with `GOOD`, and a word the error must name.
    fn one_mistake() -> impl Strategy<Value = (String, String)> {
        prop_oneof![
            "[a-z]{3,10}"
                .prop_filter("not a field", |k| ![
                    "id",
                    "title",
                    "source",
                    "documents",
                    "level",
                    "global",
                    "needs",
                    "setup",
                    "request",
                    "expect",
                    "then",
                    "teardown",
                    "statuscode",
                    "http",
                    "message",
                    "data",
                    "redact"
                ]
                .contains(&k.as_str()))
                .prop_map(|k| (
                    GOOD.replace("statuscode = 102", &format!("statuscode = 102\n{k} = 1")),
                    k
                )),
            "[A-Z]{1,8}"
                .prop_filter("not a method", |m| !["GET", "POST", "PUT", "DELETE"]
                    .contains(&m.as_str()))
                .prop_map(|m| (
                    GOOD.replace("method = \"POST\"", &format!("method = \"{m}\"")),
                    m
                )),
            "[a-z]{1,8}"
                .prop_filter("not a setup user", |a| !["admin", "anonymous", "frank"]
                    .contains(&a.as_str()))
                .prop_map(|a| (
                    GOOD.replace("actor = \"frank\"", &format!("actor = \"{a}\"")),
                    a
                )),
            "[a-z]{1,8}".prop_map(|p| (
                GOOD.replace("path = \"/cloud/users\"", &format!("path = \"{p}\"")),
                p
            )),
            prop_oneof![
                Just("title"),
                Just("source"),
                Just("method"),
                Just("statuscode")
            ]
            .prop_map(|field| {
                let text: String = GOOD
                    .lines()
                    .filter(|l| !l.starts_with(&format!("{field} =")))
                    .map(|l| format!("{l}\n"))
                    .collect();
                (text, format!("missing field `{field}`"))
            }),
            "[a-z]{1,8}".prop_map(|v| (
                GOOD.replace("statuscode = 102", &format!("statuscode = \"{v}\"")),
                "statuscode".to_owned()
            )),
            "[a-z/]{1,12}"
                .prop_filter("another id", |id| id != "users/add/102-exists")
                .prop_map(|id| (
                    GOOD.replace("id = \"users/add/102-exists\"", &format!("id = \"{id}\"")),
                    "must match the file's place".to_owned()
                )),
            "[a-z]{0,3}[(\\[][a-z]{0,3}".prop_map(|m| (
                GOOD.replace("[expect]", &format!("[expect]\nmessage = \"{m}\"")),
                "message pattern".to_owned()
            )),
        ]
    }

    /// `GOOD` with bytes cut out, doubled or inserted.
    fn mangled() -> impl Strategy<Value = String> {
        (any::<prop::sample::Index>(), 0..8usize, ".{0,4}").prop_map(|(at, cut, insert)| {
            let mut chars: Vec<char> = GOOD.chars().collect();
            let at = at.index(chars.len());
            let end = (at + cut).min(chars.len());
            chars.splice(at..end, insert.chars());
            chars.into_iter().collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn parse_fixture_never_panics_and_every_refusal_says_what_is_wrong(
            text in prop_oneof![any::<String>(), mangled()]
        ) {
            if let Err(e) = parse_fixture(&text, "users/add/102-exists") {
                prop_assert!(says_what_is_wrong(&e), "{:?} for {text:?}", e.to_string());
            }
        }

        #[test]
        fn a_fixture_with_one_mistake_is_refused_naming_it((text, named) in one_mistake()) {
            let message = parse_fixture(&text, "users/add/102-exists")
                .map(|f| f.id)
                .unwrap_err()
                .to_string();
            prop_assert!(message.contains(&named), "{named:?} not in {message:?}");
        }
    }
}
