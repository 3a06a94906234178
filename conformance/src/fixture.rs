//! The fixture files: one TOML file per documented operation and outcome, under
//! `fixtures/`, whose path (without `.toml`) is the fixture's stable id.

pub use crate::profile::{NextcloudProblem, Override, Profile};
use serde::Deserialize;
use serde::de::{Deserializer, Error as _, IntoDeserializer};
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
    /// The file(s) of nextcloud/server the `nextcloud` expectations were read
    /// from; required with them, refused without.
    pub nextcloud_source: Option<String>,
    #[serde(default = "both_documents")]
    pub documents: Vec<Document>,
    #[serde(default)]
    pub level: Level,
    /// Changes state outside the run's own users and groups (an app switch): runs
    /// only with `--allow-global-changes`, and alone.
    #[serde(default)]
    pub global: bool,
    /// What the server must be able to do for the outcome to be provoked.
    #[serde(default)]
    pub needs: Vec<Need>,
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

/// What the server must be able to do for a fixture's outcome to be provoked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Need {
    /// `mail`: the server sends mail (`--mail works`).
    Mail,
    /// `no-mail`: the server cannot send mail (`--mail fails`).
    NoMail,
}

impl Need {
    /// The name fixtures give it.
    pub fn name(self) -> &'static str {
        match self {
            Need::Mail => "mail",
            Need::NoMail => "no-mail",
        }
    }
}

impl std::fmt::Display for Need {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A user or group the fixture needs, created through the API as the admin with
/// the fixture's prefix (removed at the end of the run). A `[[setup]]` entry
/// names either a `group` or a `user`; only a user takes the other keys.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "SetupEntry")]
pub enum Setup {
    /// `group = "g1"`
    Group(String),
    /// `user = "frank"`, and what the user gets.
    User(SetupUser),
}

impl Setup {
    /// The user this entry makes, if it makes one.
    pub fn user(&self) -> Option<&SetupUser> {
        match self {
            Setup::User(user) => Some(user),
            Setup::Group(_) => None,
        }
    }
}

/// A user the setup makes, with a generated strong password.
#[derive(Debug, Clone)]
pub struct SetupUser {
    /// Its name in the fixture (the run adds the prefix).
    pub name: String,
    /// Setup groups it is a member of.
    pub groups: Vec<String>,
    /// Setup groups it is a subadmin of.
    pub subadmin: Vec<String>,
    pub email: Option<String>,
    pub displayname: Option<String>,
    pub disabled: bool,
}

/// A `[[setup]]` entry as written, before it is known to be a user or a group.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetupEntry {
    user: Option<String>,
    group: Option<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    subadmin: Vec<String>,
    email: Option<String>,
    displayname: Option<String>,
    #[serde(default)]
    disabled: bool,
}

impl TryFrom<SetupEntry> for Setup {
    type Error = String;

    fn try_from(entry: SetupEntry) -> Result<Setup, String> {
        match (entry.user, entry.group) {
            (Some(name), None) => Ok(Setup::User(SetupUser {
                name,
                groups: entry.groups,
                subadmin: entry.subadmin,
                email: entry.email,
                displayname: entry.displayname,
                disabled: entry.disabled,
            })),
            (None, Some(name)) => {
                let user_keys: Vec<&str> = [
                    ("groups", !entry.groups.is_empty()),
                    ("subadmin", !entry.subadmin.is_empty()),
                    ("email", entry.email.is_some()),
                    ("displayname", entry.displayname.is_some()),
                    ("disabled", entry.disabled),
                ]
                .into_iter()
                .filter_map(|(key, given)| given.then_some(key))
                .collect();
                if user_keys.is_empty() {
                    Ok(Setup::Group(name))
                } else {
                    Err(format!(
                        "setup group {name:?}: only a user takes {}",
                        user_keys.join(", ")
                    ))
                }
            }
            (Some(user), Some(group)) => Err(format!(
                "setup: give either user or group, not both (user {user:?}, group {group:?})"
            )),
            (None, None) => Err("setup: give either user or group".into()),
        }
    }
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
    /// `GET`, `POST`, `PUT` or `DELETE`.
    #[serde(deserialize_with = "method")]
    pub method: Method,
    /// Below `/ocs/v{1,2}.php`, e.g. `/cloud/users/{p}frank`.
    pub path: String,
    #[serde(default)]
    pub query: BTreeMap<String, FormValue>,
    #[serde(default)]
    pub form: BTreeMap<String, FormValue>,
    /// A JSON body instead of a form (`Content-Type: application/json`), as
    /// nc_py_api sends some requests: a table, lists as JSON arrays, placeholders
    /// filled in its strings (keys too).
    pub json: Option<JsonBody>,
    /// `admin` (the default), `anonymous`, or a user from the setup.
    #[serde(default, deserialize_with = "actor")]
    pub actor: Actor,
    /// Sent instead of the actor's password (e.g. a wrong one).
    pub password: Option<String>,
}

/// The HTTP methods a fixture can send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Put,
    Delete,
}

impl Method {
    /// The name fixtures give it.
    pub fn name(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
        }
    }
}

impl std::fmt::Display for Method {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl From<Method> for reqwest::Method {
    fn from(method: Method) -> reqwest::Method {
        match method {
            Method::Get => reqwest::Method::GET,
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
            Method::Delete => reqwest::Method::DELETE,
        }
    }
}

/// Who sends a request.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    /// `admin` (the default): the run's admin.
    #[default]
    Admin,
    /// `anonymous`: no credentials.
    Anonymous,
    /// Any other name: that user of the fixture's setup.
    #[serde(untagged)]
    User(String),
}

/// A [`Method`] by its name.
fn method<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Method, D::Error> {
    by_name(deserializer, |name| {
        format!("method {name:?} is not GET, POST, PUT or DELETE")
    })
}

/// An [`Actor`] by its name. Every string names one (a setup user at worst,
/// which [`parse_fixture`] checks); read as a string first so that anything else
/// is refused as for a string, not as matching no variant.
fn actor<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Actor, D::Error> {
    by_name(deserializer, |name| format!("actor {name:?} is not a name"))
}

/// A `T` written as a string, in the spellings `T`'s `serde` attributes give:
/// anything but a string is refused as toml refuses it for a string, a string
/// that is none of them with `refusal(string)`.
fn by_name<'de, D, T>(deserializer: D, refusal: fn(&str) -> String) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    let name = String::deserialize(deserializer)?;
    T::deserialize(name.as_str().into_deserializer())
        .map_err(|_: serde::de::value::Error| D::Error::custom(refusal(&name)))
}

/// A form value; a list is sent as `key[]=a&key[]=b`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum FormValue {
    One(String),
    Many(Vec<String>),
}

/// A request's JSON body: a TOML table as the JSON object it reads as (strings,
/// numbers, booleans, arrays, tables). A TOML date has no JSON form and is
/// refused.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(try_from = "toml::Table")]
pub struct JsonBody(pub serde_json::Map<String, serde_json::Value>);

impl TryFrom<toml::Table> for JsonBody {
    type Error = String;

    fn try_from(table: toml::Table) -> Result<JsonBody, String> {
        convert_table("json", table).map(JsonBody)
    }
}

/// A TOML table as a JSON object; `path` names it in refusals.
fn convert_table(
    path: &str,
    table: toml::Table,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    table
        .into_iter()
        .map(|(k, v)| {
            let value = convert_value(&format!("{path}.{k}"), v)?;
            Ok((k, value))
        })
        .collect()
}

fn convert_value(path: &str, value: toml::Value) -> Result<serde_json::Value, String> {
    use serde_json::Value;
    Ok(match value {
        toml::Value::String(s) => Value::String(s),
        toml::Value::Integer(i) => Value::from(i),
        toml::Value::Float(f) => serde_json::Number::from_f64(f)
            .map(Value::Number)
            .ok_or_else(|| format!("{path}: {f} has no JSON form"))?,
        toml::Value::Boolean(b) => Value::Bool(b),
        toml::Value::Array(items) => Value::Array(
            items
                .into_iter()
                .map(|v| convert_value(path, v))
                .collect::<Result<_, _>>()?,
        ),
        toml::Value::Table(t) => Value::Object(convert_table(path, t)?),
        toml::Value::Datetime(d) => {
            return Err(format!(
                "{path}: the date {d} has no JSON form; write it as a string"
            ));
        }
    })
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The OCS status the server gives the answer (the documented v1 code; 403 for
    /// Nextcloud's "forbidden"); the v1 and v2 metas and HTTP statuses follow from
    /// it by Nextcloud's rules unless given below.
    pub statuscode: u32,
    pub http: Option<PerApi<u16>>,
    /// The meta statuscode a version shows, where the rule does not fit.
    pub meta: Option<PerApi<u32>>,
    /// A regular expression the message should match (should-level: a warning).
    pub message: Option<String>,
    pub data: Option<DataExpect>,
    /// Volatile values to blank out before comparing and snapshotting: paths into
    /// `data`, dot-separated, `*` for any key or item.
    #[serde(default)]
    pub redact: Vec<String>,
    /// Where today's Nextcloud answers otherwise: the parts it replaces under
    /// `--expect nextcloud`.
    pub nextcloud: Option<Override>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PerApi<T> {
    pub v1: Option<T>,
    pub v2: Option<T>,
}

/// What `data` must hold. Lists compare without regard to order.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
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
    #[error("{file}: {source}")]
    Nextcloud {
        file: PathBuf,
        source: NextcloudProblem,
    },
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
    let text = read(path)?;
    let expected_id = path
        .strip_prefix(dir)
        .unwrap_or(path)
        .with_extension("")
        .to_string_lossy()
        .replace(std::path::MAIN_SEPARATOR, "/");
    let mut fixture = parse_fixture(&text, &expected_id).map_err(|e| e.in_file(path))?;
    fixture.file = path.to_owned();
    Ok(fixture)
}

/// The text of `file`.
fn read(file: &Path) -> Result<String, LoadError> {
    std::fs::read_to_string(file).map_err(|source| LoadError::Read {
        file: file.to_owned(),
        source,
    })
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
    #[error(transparent)]
    Nextcloud(#[from] NextcloudProblem),
}

impl From<toml::de::Error> for FixtureError {
    fn from(e: toml::de::Error) -> FixtureError {
        FixtureError::Toml(Box::new(e))
    }
}

impl FixtureError {
    /// This problem, in `file`.
    fn in_file(self, file: &Path) -> LoadError {
        match self {
            FixtureError::Toml(source) => LoadError::Parse {
                file: file.to_owned(),
                source,
            },
            FixtureError::Invalid(problem) => invalid(file, problem),
            FixtureError::Nextcloud(source) => LoadError::Nextcloud {
                file: file.to_owned(),
                source,
            },
        }
    }
}

/// One fixture from its TOML text. `expected_id` is its place under the fixture
/// directory (the path without `.toml`), which its `id` must match. The result's
/// `file` is empty.
pub fn parse_fixture(text: &str, expected_id: &str) -> Result<Fixture, FixtureError> {
    let fixture: Fixture = toml::from_str(text)?;
    if fixture.id != expected_id {
        return Err(FixtureError::Invalid(format!(
            "id {:?} must match the file's place: {expected_id:?}",
            fixture.id
        )));
    }
    validate(&fixture).map_err(FixtureError::Invalid)?;
    crate::profile::validate(fixture.nextcloud_source.as_deref(), fixture.expectations())?;
    Ok(fixture)
}

impl Fixture {
    /// Each expectation with its step's name: `expect` (the request's), `then 1`…
    pub fn expectations(&self) -> impl Iterator<Item = (String, &Expect)> {
        std::iter::once(("expect".to_owned(), &self.expect)).chain(
            self.then
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("then {}", i + 1), &s.expect)),
        )
    }

    /// Whether today's Nextcloud answers any of its requests otherwise than
    /// documented (some expectation has a `nextcloud` table).
    pub fn nextcloud_differs(&self) -> bool {
        self.expectations().any(|(_, e)| e.nextcloud.is_some())
    }
}

fn invalid(file: &Path, problem: String) -> LoadError {
    LoadError::Invalid {
        file: file.to_owned(),
        problem,
    }
}

/// What the types cannot say: a cited source, a document, paths below the API,
/// actors from the setup, message patterns that compile.
fn validate(f: &Fixture) -> Result<(), String> {
    if f.source.trim().is_empty() {
        return Err("source is empty: every fixture cites its document section".into());
    }
    if f.documents.is_empty() {
        return Err("documents is empty".into());
    }
    let users: Vec<&str> = f
        .setup
        .iter()
        .filter_map(|s| s.user().map(|u| u.name.as_str()))
        .collect();
    let requests = std::iter::once(&f.request)
        .chain(f.then.iter().map(|s| &s.request))
        .chain(&f.teardown);
    for r in requests {
        if !r.path.starts_with('/') {
            return Err(format!("path {:?} must start with /", r.path));
        }
        if r.json.is_some() && !r.form.is_empty() {
            return Err(format!(
                "{} {}: give either form or json, not both (a request has one body)",
                r.method, r.path
            ));
        }
        if r.method == Method::Get && (r.json.is_some() || !r.form.is_empty()) {
            return Err(format!(
                "{} {}: a GET sends no body; give its parameters in query",
                r.method, r.path
            ));
        }
        if let Actor::User(name) = &r.actor
            && !users.contains(&name.as_str())
        {
            return Err(format!(
                "actor {name:?} is neither admin, anonymous nor a user of the setup"
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
    let file: UnprovokableFile =
        toml::from_str(&read(&path)?).map_err(|e| FixtureError::from(e).in_file(&path))?;
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
        // `GOOD` in the right place with one text replaced, and what the error says.
        let mistakes = [
            (
                "actor = \"frank\"",
                "actor = \"zoe\"",
                "neither admin, anonymous nor a user of the setup",
            ),
            ("[expect]", "[expect]\nmessage = \"(\"", "message pattern"),
            (
                "method = \"POST\"",
                "method = \"PATCH\"",
                "is not GET, POST, PUT or DELETE",
            ),
            (
                "source = \"doc § section\"",
                "source = \" \"",
                "cites its document section",
            ),
            (
                "statuscode = 102",
                "statuscode = 102\ncolour = 1",
                "unknown field `colour`",
            ),
        ];
        let cases = std::iter::once((
            "users/add/other.toml",
            GOOD.to_owned(),
            "must match the file's place",
        ))
        .chain(mistakes.into_iter().map(|(from, to, reason)| {
            ("users/add/102-exists.toml", GOOD.replace(from, to), reason)
        }));
        for (path, text, reason) in cases {
            let err = load_one(path, &text).unwrap_err();
            assert!(err.contains(reason), "{path}: {err}");
            assert!(err.contains(".toml"), "names the file: {err}");
        }
    }

    #[test]
    fn a_json_body_loads_as_json_and_what_it_cannot_be_is_refused() {
        let text = GOOD.replace(
            "form = { userid = \"{p}frank\", groups = [\"a\", \"b\"] }",
            "json = { userid = \"{p}frank\", groups = [\"a\", \"b\"], quota = 5, o = { x = true } }",
        );
        let f = &load_one("users/add/102-exists.toml", &text).unwrap()[0];
        let body = serde_json::Value::Object(f.request.json.clone().unwrap().0);
        assert_eq!(
            body,
            serde_json::json!({ "userid": "{p}frank", "groups": ["a", "b"], "quota": 5, "o": { "x": true } })
        );
        assert!(f.request.form.is_empty());
        let mistakes = [
            (
                text.replace("quota = 5", "born = 1990-01-01"),
                "json.born: the date 1990-01-01 has no JSON form",
            ),
            (
                text.replace("o = { x = true }", "o = { x = 1990-01-01 }"),
                "json.o.x",
            ),
            (
                text.replace("json = {", "form = { a = \"b\" }\njson = {"),
                "give either form or json",
            ),
            (
                text.replace("method = \"POST\"", "method = \"GET\""),
                "a GET sends no body",
            ),
            (
                GOOD.replace("method = \"POST\"", "method = \"GET\""),
                "a GET sends no body",
            ),
            (
                GOOD.replace("form = {", "json = \"{\"\nform = {"),
                "invalid type",
            ),
        ];
        for (text, reason) in mistakes {
            let err = load_one("users/add/102-exists.toml", &text).unwrap_err();
            assert!(err.contains(reason), "{reason:?} not in {err}");
            assert!(err.contains("102-exists.toml"), "names the file: {err}");
        }
    }

    #[test]
    fn nextcloud_expectations_load_with_their_citation_and_are_checked() {
        let cited = GOOD.replace(
            "source = \"doc § section\"",
            "source = \"doc § section\"\nnextcloud_source = \"apps/provisioning_api/lib/Controller/UsersController.php (addUser)\"",
        );
        let text = cited.replace(
            "statuscode = 102",
            "statuscode = 102\nnextcloud = { statuscode = 998 }",
        ) + "[[then]]\nrequest = { method = \"GET\", path = \"/cloud/users\" }\n\
               expect = { statuscode = 100, nextcloud = { data = { empty = true } } }\n";
        let f = &load_one("users/add/102-exists.toml", &text).unwrap()[0];
        assert!(f.nextcloud_differs());
        assert_eq!(f.expect.resolve(Profile::Documented).statuscode, 102);
        assert_eq!(f.expect.resolve(Profile::Nextcloud).statuscode, 998);
        assert!(
            f.then[0]
                .expect
                .resolve(Profile::Nextcloud)
                .data
                .is_some_and(|d| d.empty)
        );
        assert!(
            !parse_fixture(GOOD, "users/add/102-exists")
                .unwrap()
                .nextcloud_differs()
        );
        let mistakes = [
            (
                GOOD.replace(
                    "statuscode = 102",
                    "statuscode = 102\nnextcloud = { statuscode = 998 }",
                ),
                "expect.nextcloud: cite the Nextcloud source",
            ),
            (cited.clone(), "no expectation has a nextcloud table"),
            (
                cited.replace(
                    "statuscode = 102",
                    "statuscode = 102\nnextcloud = { statuscode = 102 }",
                ),
                "expect.nextcloud.statuscode repeats the documented one",
            ),
            (
                cited.replace(
                    "statuscode = 102",
                    "statuscode = 102\nnextcloud = { code = 998 }",
                ),
                "unknown field `code`",
            ),
            (
                cited.clone()
                    + "[[then]]\nrequest = { method = \"GET\", path = \"/cloud/users\" }\n\
                       expect = { statuscode = 100, nextcloud = {} }\n",
                "then 1.nextcloud is empty",
            ),
        ];
        for (text, reason) in mistakes {
            let err = load_one("users/add/102-exists.toml", &text).unwrap_err();
            assert!(err.contains(reason), "{reason:?} not in {err}");
            assert!(err.contains("102-exists.toml"), "names the file: {err}");
        }
    }

    #[test]
    fn needs_methods_actors_and_setups_are_read_into_their_kinds() {
        let text = GOOD
            .replace("source = ", "needs = [\"mail\", \"no-mail\"]\nsource = ")
            .replace("[[setup]]", "[[setup]]\ngroup = \"g1\"\n[[setup]]")
            .replace("user = \"frank\"", "user = \"frank\"\nsubadmin = [\"g1\"]")
            + "[[then]]\nrequest = { method = \"GET\", path = \"/cloud/users\", actor = \"anonymous\" }\n\
               expect = { statuscode = 997 }\n\
               [[teardown]]\nmethod = \"DELETE\"\npath = \"/cloud/groups/{p}g1\"\n";
        let f = parse_fixture(&text, "users/add/102-exists").unwrap();
        assert_eq!(f.needs, [Need::Mail, Need::NoMail]);
        assert!(matches!(&f.setup[0], Setup::Group(g) if g == "g1"));
        let user = f.setup[1].user().expect("a user");
        assert_eq!(
            (user.name.as_str(), &user.subadmin[..]),
            ("frank", &["g1".to_owned()][..])
        );
        assert_eq!(f.request.method, Method::Post);
        assert_eq!(f.request.actor, Actor::User("frank".into()));
        assert_eq!(
            (f.then[0].request.method, &f.then[0].request.actor),
            (Method::Get, &Actor::Anonymous)
        );
        assert_eq!(
            (f.teardown[0].method, &f.teardown[0].actor),
            (Method::Delete, &Actor::Admin)
        );
    }

    #[test]
    fn unknown_needs_and_unclear_setups_are_refused_with_the_file_and_the_value() {
        let cases = [
            (
                GOOD.replace("source = ", "needs = [\"fax\"]\nsource = "),
                &["`fax`", "`mail`", "`no-mail`"][..],
            ),
            (
                GOOD.replace("user = \"frank\"", "user = \"frank\"\ngroup = \"g1\""),
                &["either user or group", "\"frank\"", "\"g1\""][..],
            ),
            (
                GOOD.replace("user = \"frank\"", "email = \"f@example.org\""),
                &["either user or group"][..],
            ),
            (
                GOOD.replace("user = \"frank\"", "group = \"g1\"\nsubadmin = [\"g2\"]"),
                &["\"g1\"", "only a user takes subadmin"][..],
            ),
            (
                GOOD.replace(
                    "user = \"frank\"",
                    "user = \"frank\"\nemial = \"f@example.org\"",
                ),
                &["unknown field `emial`"][..],
            ),
        ];
        for (text, named) in cases {
            let err = load_one("users/add/102-exists.toml", &text).unwrap_err();
            assert!(err.contains("102-exists.toml"), "names the file: {err}");
            for word in named {
                assert!(err.contains(word), "{word:?} not in {err}");
            }
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
                    "redact",
                    "meta",
                    "nextcloud"
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
