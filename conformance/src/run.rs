//! Runs fixtures against a target: pre-flight, the sweep of a crashed run's
//! leftovers, each fixture in each selected variant (in parallel unless it changes
//! global state), and the removal of everything the run created.

use crate::answer::{Answer, Body};
use crate::client::{Api, Client, Format, Outgoing, SendError, Variant};
use crate::expect::{self, Finding, Severity};
use crate::fixture::{Document, Fixture, FormValue, Level, Request};
use crate::names::{self, RunPrefix};
use crate::snapshot::{SnapshotOutcome, Snapshots};
use reqwest::Method;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// The server under test and what it can do.
#[derive(Debug, Clone)]
pub struct Target {
    pub base_url: String,
    pub admin_user: String,
    pub admin_password: String,
    pub timeout: Duration,
    /// The app the global fixtures switch off and on again.
    pub toggle_app: String,
    /// Whether the server sends mail: `Some(true)` runs fixtures that need mail,
    /// `Some(false)` those that need mail to fail, `None` skips both.
    pub sends_mail: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub variants: Vec<Variant>,
    pub document: Document,
    pub allow_global_changes: bool,
    pub concurrency: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Pass,
    Fail,
    Warning,
    Skipped,
    Unimplemented,
    /// Failed, and listed in the expected failures.
    ExpectedFailure,
    /// Listed in the expected failures, yet passed.
    UnexpectedPass,
}

impl Outcome {
    /// Whether this outcome makes the run fail.
    pub fn is_failure(self) -> bool {
        matches!(self, Outcome::Fail | Outcome::Unimplemented)
    }

    pub fn label(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Warning => "warning",
            Outcome::Skipped => "skipped",
            Outcome::Unimplemented => "unimplemented",
            Outcome::ExpectedFailure => "expected failure",
            Outcome::UnexpectedPass => "UNEXPECTED PASS",
        }
    }
}

/// One request of a case and what came of it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Exchange {
    pub request: String,
    pub answer: String,
    pub server_time_ms: f64,
}

/// The result of one fixture in one variant.
#[derive(Debug, Clone, serde::Serialize)]
pub struct CaseReport {
    pub id: String,
    pub variant: Variant,
    pub title: String,
    pub source: String,
    pub outcome: Outcome,
    /// Why it was skipped or unimplemented, or a note (a snapshot recorded).
    pub reason: String,
    pub findings: Vec<Finding>,
    pub exchanges: Vec<Exchange>,
    #[serde(skip)]
    pub server_time: Duration,
    #[serde(skip)]
    pub wall_time: Duration,
}

impl CaseReport {
    /// `users/add/102-exists [v1 xml]`
    pub fn name(&self) -> String {
        format!("{} [{}]", self.id, self.variant)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    #[error("{url} cannot be reached: {detail}")]
    Unreachable { url: String, detail: String },
    #[error(
        "{url} does not answer as an OCS server: GET /ocs/v1.php/cloud/users gave {got}. Check --base-url (the server's root, without /ocs)"
    )]
    NotOcs { url: String, got: String },
    #[error(
        "{url} refused the admin credentials for {user:?} (statuscode {code}). Check --admin-user and the password variable"
    )]
    Refused {
        url: String,
        user: String,
        code: u32,
    },
    #[error(
        "{user:?} is not an admin on {url}: listing users answered statuscode {code} {message:?}"
    )]
    NotAdmin {
        url: String,
        user: String,
        code: u32,
        message: String,
    },
}

/// What the clean-up removed, and what it could not.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Cleanup {
    pub users_removed: usize,
    pub groups_removed: usize,
    pub errors: Vec<String>,
}

pub struct Runner {
    client: Client,
    target: Target,
    options: Options,
    prefix: RunPrefix,
    snapshots: Option<Arc<Snapshots>>,
    seq: AtomicUsize,
    /// Cases share it; a global case takes it alone.
    global: tokio::sync::RwLock<()>,
    /// Setups done once for all variants of a fixture (see [`shares_setup`]).
    shared: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Prepared>>>>,
}

const V1_XML: Variant = Variant {
    api: Api::V1,
    format: Format::Xml,
};

impl Runner {
    pub fn new(
        target: Target,
        options: Options,
        snapshots: Option<Arc<Snapshots>>,
    ) -> Result<Runner, String> {
        let client = Client::new(&target.base_url, target.timeout)?;
        Ok(Runner {
            client,
            target,
            options,
            prefix: RunPrefix::new(),
            snapshots,
            seq: AtomicUsize::new(0),
            global: tokio::sync::RwLock::new(()),
            shared: std::sync::Mutex::default(),
        })
    }

    pub fn prefix(&self) -> &RunPrefix {
        &self.prefix
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    fn admin(&self) -> (String, String) {
        (
            self.target.admin_user.clone(),
            self.target.admin_password.clone(),
        )
    }

    /// Refuses a target that does not answer as an OCS server, or whose admin
    /// credentials do not work.
    pub async fn preflight(&self) -> Result<(), PreflightError> {
        let url = self.client.base_url().to_owned();
        let request = Outgoing::new(Method::GET, "/cloud/users")
            .query("limit", "1")
            .as_user(&self.admin());
        let (answer, _) = self
            .client
            .send(&request, V1_XML, "preflight")
            .await
            .map_err(|e| PreflightError::Unreachable {
                url: url.clone(),
                detail: e.to_string(),
            })?;
        let Body::Ocs(ocs) = &answer.body else {
            return Err(PreflightError::NotOcs {
                url,
                got: answer.describe(),
            });
        };
        if (300..400).contains(&answer.http) {
            return Err(PreflightError::NotOcs {
                url,
                got: answer.describe(),
            });
        }
        match ocs.statuscode {
            100 => Ok(()),
            997 if answer.http == 401 => Err(PreflightError::Refused {
                url,
                user: self.target.admin_user.clone(),
                code: 997,
            }),
            code => Err(PreflightError::NotAdmin {
                url,
                user: self.target.admin_user.clone(),
                code,
                message: ocs.message.clone(),
            }),
        }
    }

    /// Removes users and groups of earlier runs that started more than
    /// `older_than` ago (a run in progress elsewhere is younger than that).
    pub async fn sweep(&self, older_than: Duration) -> Cleanup {
        let now = SystemTime::now();
        self.remove_matching(names::MARK, |id| {
            names::started(id)
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() >= older_than)
        })
        .await
    }

    /// Removes every user and group this run created.
    pub async fn cleanup(&self) -> Cleanup {
        let prefix = self.prefix.as_str().to_owned();
        self.remove_matching(&prefix, |id| id.starts_with(&prefix))
            .await
    }

    async fn remove_matching(&self, search: &str, ours: impl Fn(&str) -> bool) -> Cleanup {
        let mut cleanup = Cleanup::default();
        for (kind, list_key) in [("users", "users"), ("groups", "groups")] {
            let ids = match self.list_all(kind, list_key, search).await {
                Ok(ids) => ids,
                Err(e) => {
                    cleanup
                        .errors
                        .push(format!("listing {kind} matching {search:?}: {e}"));
                    continue;
                }
            };
            for id in ids.into_iter().filter(|id| ours(id)) {
                let request =
                    Outgoing::new(Method::DELETE, format!("/cloud/{kind}/{}", encode(&id)))
                        .as_user(&self.admin());
                match self.client.send(&request, V1_XML, "cleanup").await {
                    Ok((answer, _)) if answer.ocs().is_some_and(|o| o.statuscode == 100) => {
                        if kind == "users" {
                            cleanup.users_removed += 1;
                        } else {
                            cleanup.groups_removed += 1;
                        }
                    }
                    Ok((answer, _)) => cleanup
                        .errors
                        .push(format!("deleting {kind} {id}: {}", answer.describe())),
                    Err(e) => cleanup.errors.push(format!("deleting {kind} {id}: {e}")),
                }
            }
        }
        cleanup
    }

    async fn list_all(&self, kind: &str, key: &str, search: &str) -> Result<Vec<String>, String> {
        const PAGE: usize = 200;
        let mut all = Vec::new();
        loop {
            let request = Outgoing::new(Method::GET, format!("/cloud/{kind}"))
                .query("search", search)
                .query("limit", &PAGE.to_string())
                .query("offset", &all.len().to_string())
                .as_user(&self.admin());
            let (answer, _) = self
                .client
                .send(&request, V1_XML, "cleanup")
                .await
                .map_err(|e| e.to_string())?;
            let ocs = answer.ocs().ok_or_else(|| answer.describe())?;
            let page: Vec<String> = match ocs.data.get(key) {
                Some(crate::tree::Node::List(items)) => items
                    .iter()
                    .filter_map(|n| n.text().map(str::to_owned))
                    .collect(),
                _ => Vec::new(),
            };
            let done = page.len() < PAGE;
            all.extend(page);
            if done {
                return Ok(all);
            }
        }
    }

    /// Why `fixture` cannot run here, if it cannot.
    pub fn skip_reason(&self, fixture: &Fixture) -> Option<String> {
        let document = self.options.document;
        if !fixture.documents.contains(&document) {
            let name = |d: Document| match d {
                Document::Current => "current",
                Document::Legacy => "legacy",
            };
            return Some(format!(
                "documented only in the {} document (run with --document {})",
                name(fixture.documents[0]),
                name(fixture.documents[0])
            ));
        }
        if fixture.global && !self.options.allow_global_changes {
            return Some(
                "changes global state (switches an app): run with --allow-global-changes".into(),
            );
        }
        for need in &fixture.needs {
            let met = match need.as_str() {
                "mail" => self.target.sends_mail == Some(true),
                _ => self.target.sends_mail == Some(false),
            };
            if !met {
                return Some(match need.as_str() {
                    "mail" => "needs a server that sends mail (--mail works)".into(),
                    _ => "needs a server that cannot send mail (--mail fails)".into(),
                });
            }
        }
        None
    }

    /// Runs one fixture in one variant.
    pub async fn run_case(&self, fixture: &Fixture, variant: Variant) -> CaseReport {
        let mut report = CaseReport {
            id: fixture.id.clone(),
            variant,
            title: fixture.title.clone(),
            source: fixture.source.clone(),
            outcome: Outcome::Pass,
            reason: String::new(),
            findings: Vec::new(),
            exchanges: Vec::new(),
            server_time: Duration::ZERO,
            wall_time: Duration::ZERO,
        };
        if let Some(reason) = self.skip_reason(fixture) {
            report.outcome = Outcome::Skipped;
            report.reason = reason;
            return report;
        }
        let started = Instant::now();
        let _turn = if fixture.global {
            Turn::Alone(self.global.write().await)
        } else {
            Turn::Shared(self.global.read().await)
        };
        let prepared = self.prepared(fixture, variant, &mut report).await;
        let mut case = Case {
            runner: self,
            fixture,
            variant,
            space: prepared.space,
            answers: Vec::new(),
        };
        match prepared.failure {
            Some(finding) => {
                report.findings.push(finding);
                report.outcome = Outcome::Fail;
            }
            None => case.run(&mut report).await,
        }
        for request in &fixture.teardown {
            case.teardown(request, &mut report).await;
        }
        report.wall_time = started.elapsed();
        if report.outcome == Outcome::Pass || report.outcome == Outcome::Warning {
            self.compare_snapshot(&case, &mut report);
        }
        report
    }

    fn compare_snapshot(&self, case: &Case, report: &mut CaseReport) {
        let Some(snapshots) = &self.snapshots else {
            return;
        };
        let contents = case.snapshot_text(report);
        match snapshots.check(&report.id, report.variant, &contents) {
            SnapshotOutcome::Same => {}
            SnapshotOutcome::Recorded => report.reason = "snapshot recorded".into(),
            SnapshotOutcome::Changed(diff) => {
                report.outcome = Outcome::Fail;
                report.findings.push(Finding {
                    severity: Severity::Fail,
                    what: "snapshot".into(),
                    expected: format!("the answer recorded for target {}", snapshots.target()),
                    actual: format!("a different answer (run with --accept to record it):\n{diff}"),
                });
            }
            SnapshotOutcome::Missing => {
                report.outcome = Outcome::Fail;
                report.findings.push(Finding {
                    severity: Severity::Fail,
                    what: "snapshot".into(),
                    expected: format!("a snapshot recorded for target {}", snapshots.target()),
                    actual: "none (record it with --accept, or INSTA_UPDATE=always, and commit it)"
                        .into(),
                });
            }
            SnapshotOutcome::Error(e) => report.findings.push(Finding {
                severity: Severity::Warning,
                what: "snapshot".into(),
                expected: "a readable and writable snapshot".into(),
                actual: e,
            }),
        }
    }

    /// The fixture's setup: its own for this case, or the one its variants share.
    /// The shared setup's exchanges are reported with each case, its server time
    /// with the first only.
    async fn prepared(
        &self,
        fixture: &Fixture,
        variant: Variant,
        report: &mut CaseReport,
    ) -> Prepared {
        if !shares_setup(fixture) {
            let prepared = self.prepare(fixture, variant).await;
            report.server_time += prepared.server_time;
            report.exchanges.extend(prepared.exchanges.iter().cloned());
            return prepared;
        }
        let cell = {
            let mut shared = self.shared.lock().unwrap_or_else(|p| p.into_inner());
            Arc::clone(shared.entry(fixture.id.clone()).or_default())
        };
        let first = std::sync::atomic::AtomicBool::new(false);
        let prepared = cell
            .get_or_init(|| async {
                first.store(true, Ordering::Relaxed);
                self.prepare(fixture, variant).await
            })
            .await
            .clone();
        if first.load(Ordering::Relaxed) {
            report.server_time += prepared.server_time;
        }
        report.exchanges.extend(prepared.exchanges.iter().cloned());
        prepared
    }

    /// Creates the fixture's groups and users as the admin in a fresh namespace;
    /// the first refusal ends it.
    async fn prepare(&self, fixture: &Fixture, variant: Variant) -> Prepared {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        let mut prepared = Prepared {
            space: Space {
                ns: self.prefix.case(seq),
                passwords: HashMap::new(),
                fresh_password: names::password(),
            },
            failure: None,
            exchanges: Vec::new(),
            server_time: Duration::ZERO,
        };
        let admin = self.admin();
        let header = format!("{} [{variant}] setup", fixture.id);
        for step in &fixture.setup {
            let ns = prepared.space.ns.clone();
            let mut requests = Vec::new();
            if let Some(group) = &step.group {
                requests.push(
                    Outgoing::new(Method::POST, "/cloud/groups")
                        .form("groupid", &format!("{ns}{group}")),
                );
            }
            if let Some(user) = &step.user {
                let uid = format!("{ns}{user}");
                let password = names::password();
                let mut create = Outgoing::new(Method::POST, "/cloud/users")
                    .form("userid", &uid)
                    .form("password", &password);
                for g in &step.groups {
                    create = create.form("groups[]", &format!("{ns}{g}"));
                }
                if let Some(email) = &step.email {
                    create = create.form("email", &self.fill(&prepared.space, email));
                }
                if let Some(name) = &step.displayname {
                    create = create.form("displayName", &self.fill(&prepared.space, name));
                }
                requests.push(create);
                for g in &step.subadmin {
                    requests.push(
                        Outgoing::new(
                            Method::POST,
                            format!("/cloud/users/{}/subadmins", encode(&uid)),
                        )
                        .form("groupid", &format!("{ns}{g}")),
                    );
                }
                if step.disabled {
                    requests.push(Outgoing::new(
                        Method::PUT,
                        format!("/cloud/users/{}/disable", encode(&uid)),
                    ));
                }
                prepared.space.passwords.insert(user.clone(), password);
            }
            for request in requests {
                let request = request.as_user(&admin);
                let sent = self
                    .exchange(
                        &request,
                        variant,
                        &header,
                        &mut prepared.exchanges,
                        &mut prepared.server_time,
                    )
                    .await;
                let problem = match sent {
                    Ok(answer)
                        if answer
                            .ocs()
                            .is_some_and(|o| matches!(o.statuscode, 100 | 200)) =>
                    {
                        continue;
                    }
                    Ok(answer) => answer.describe(),
                    Err(e) => e.to_string(),
                };
                prepared.failure = Some(Finding {
                    severity: Severity::Fail,
                    what: format!("setup {}", request.line(variant)),
                    expected: "statuscode 100".into(),
                    actual: problem,
                });
                return prepared;
            }
        }
        prepared
    }

    /// Sends one request and records it.
    async fn exchange(
        &self,
        outgoing: &Outgoing,
        variant: Variant,
        header: &str,
        exchanges: &mut Vec<Exchange>,
        server_time: &mut Duration,
    ) -> Result<Answer, SendError> {
        let (answer, took) = self.client.send(outgoing, variant, header).await?;
        *server_time += took;
        exchanges.push(Exchange {
            request: outgoing.line(variant),
            answer: answer.describe(),
            server_time_ms: took.as_secs_f64() * 1000.0,
        });
        Ok(answer)
    }

    /// Fills in `{p}`, `{admin}`, `{app}` and `{password}`.
    fn fill(&self, space: &Space, text: &str) -> String {
        text.replace("{p}", &space.ns)
            .replace("{admin}", &self.target.admin_user)
            .replace("{app}", &self.target.toggle_app)
            .replace("{password}", &space.fresh_password)
    }

    /// Every case of `fixtures` in every selected variant; those without global
    /// changes in parallel. `progress` hears of each case as it ends.
    pub async fn run_all(
        self: &Arc<Self>,
        fixtures: &[Fixture],
        progress: &(dyn Fn(&CaseReport) + Sync),
    ) -> Vec<CaseReport> {
        let semaphore = Arc::new(tokio::sync::Semaphore::new(self.options.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for fixture in fixtures {
            for &variant in &self.options.variants {
                let (runner, fixture, semaphore) =
                    (Arc::clone(self), fixture.clone(), Arc::clone(&semaphore));
                tasks.spawn(async move {
                    let _permit = semaphore.acquire_owned().await;
                    runner.run_case(&fixture, variant).await
                });
            }
        }
        let mut reports = Vec::new();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(report) => {
                    progress(&report);
                    reports.push(report);
                }
                Err(e) => panic!("a fixture task failed: {e}"),
            }
        }
        reports.sort_by(|a, b| (&a.id, a.variant).cmp(&(&b.id, b.variant)));
        reports
    }
}

enum Turn<'a> {
    Alone(#[allow(dead_code)] tokio::sync::RwLockWriteGuard<'a, ()>),
    Shared(#[allow(dead_code)] tokio::sync::RwLockReadGuard<'a, ()>),
}

fn encode(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'@' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// A namespace (`{p}`) and the users its setup made.
#[derive(Debug, Clone)]
struct Space {
    ns: String,
    /// Setup users' passwords by their fixture name.
    passwords: HashMap<String, String>,
    /// `{password}`: one fresh strong password per namespace.
    fresh_password: String,
}

/// A fixture's setup, done.
#[derive(Debug, Clone)]
struct Prepared {
    space: Space,
    failure: Option<Finding>,
    exchanges: Vec<Exchange>,
    server_time: Duration,
}

/// Whether the variants of `fixture` can share one setup: none of its requests
/// can change what the setup made (GETs, and requests documented to fail), and
/// none sends a wrong password (failures are throttled per user).
fn shares_setup(fixture: &Fixture) -> bool {
    let steps = std::iter::once((&fixture.request, &fixture.expect))
        .chain(fixture.then.iter().map(|s| (&s.request, &s.expect)));
    !fixture.global
        && fixture.teardown.is_empty()
        && steps
            .into_iter()
            .all(|(r, e)| r.password.is_none() && (r.method == "GET" || e.statuscode != 100))
}

/// One fixture in one variant.
struct Case<'a> {
    runner: &'a Runner,
    fixture: &'a Fixture,
    variant: Variant,
    space: Space,
    /// Normalised answers, for the snapshot.
    answers: Vec<(String, Answer)>,
}

impl<'a> Case<'a> {
    fn fill(&self, text: &str) -> String {
        self.runner.fill(&self.space, text)
    }

    fn fill_value(&self, value: &toml::Value) -> toml::Value {
        match value {
            toml::Value::String(s) => toml::Value::String(self.fill(s)),
            toml::Value::Array(items) => {
                toml::Value::Array(items.iter().map(|v| self.fill_value(v)).collect())
            }
            toml::Value::Table(t) => toml::Value::Table(
                t.iter()
                    .map(|(k, v)| (self.fill(k), self.fill_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }

    fn fixture_header(&self) -> String {
        format!("{} [{}]", self.fixture.id, self.variant)
    }

    async fn run(&mut self, report: &mut CaseReport) {
        let steps = std::iter::once((&self.fixture.request, &self.fixture.expect))
            .chain(self.fixture.then.iter().map(|s| (&s.request, &s.expect)));
        for (index, (request, expect)) in steps.enumerate() {
            let outgoing = self.outgoing(request);
            let line = outgoing.line(self.variant);
            let answer = match self.send(&outgoing, report).await {
                Ok(answer) => answer,
                Err(e) => {
                    report.findings.push(Finding {
                        severity: Severity::Fail,
                        what: step_name(index, "answer"),
                        expected: "an answer".into(),
                        actual: format!("{line}: {e}"),
                    });
                    break;
                }
            };
            if index == 0 && unimplemented(&answer) {
                report.outcome = Outcome::Unimplemented;
                report.reason = format!("{line} answered {}", answer.describe());
                return;
            }
            let mut answer = answer;
            let mut expect = expect.clone();
            if let Body::Ocs(ocs) = &mut answer.body {
                for path in &expect.redact {
                    ocs.data.redact(path);
                }
            }
            if let Some(data) = &mut expect.data {
                for v in [&mut data.exact, &mut data.subset, &mut data.lacks]
                    .into_iter()
                    .flatten()
                {
                    *v = self.fill_value(v);
                }
                if let Some(keys) = &mut data.keys {
                    *keys = keys.iter().map(|k| self.fill(k)).collect();
                }
            }
            for mut finding in expect::check(&expect, self.variant, &answer) {
                finding.what = format!("{} {}", step_name(index, &line), finding.what);
                report.findings.push(finding);
            }
            self.answers
                .push((describe_request(&outgoing, self.variant), answer));
        }
        let must = self.fixture.level == Level::Must;
        report.outcome = if report.findings.iter().any(|f| f.severity == Severity::Fail) {
            if must {
                Outcome::Fail
            } else {
                Outcome::Warning
            }
        } else if report.findings.is_empty() {
            Outcome::Pass
        } else {
            Outcome::Warning
        };
    }

    async fn send(
        &self,
        outgoing: &Outgoing,
        report: &mut CaseReport,
    ) -> Result<Answer, SendError> {
        self.runner
            .exchange(
                outgoing,
                self.variant,
                &self.fixture_header(),
                &mut report.exchanges,
                &mut report.server_time,
            )
            .await
    }

    fn outgoing(&self, request: &Request) -> Outgoing {
        let method = Method::from_bytes(request.method.as_bytes()).unwrap_or(Method::GET);
        let mut out = Outgoing::new(method, self.fill(&request.path));
        out.query = self.pairs(&request.query);
        out.form = self.pairs(&request.form);
        out.credentials = match request.actor.as_str() {
            "anonymous" => None,
            "admin" => Some(self.runner.admin()),
            user => Some((
                format!("{}{user}", self.space.ns),
                self.space.passwords.get(user).cloned().unwrap_or_default(),
            )),
        };
        if let (Some(password), Some(credentials)) = (&request.password, &mut out.credentials) {
            credentials.1 = self.fill(password);
        }
        out
    }

    fn pairs(
        &self,
        values: &std::collections::BTreeMap<String, FormValue>,
    ) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        for (key, value) in values {
            match value {
                FormValue::One(v) => pairs.push((key.clone(), self.fill(v))),
                FormValue::Many(vs) => {
                    pairs.extend(vs.iter().map(|v| (format!("{key}[]"), self.fill(v))))
                }
            }
        }
        pairs
    }

    async fn teardown(&self, request: &Request, report: &mut CaseReport) {
        let outgoing = self.outgoing(request);
        let line = outgoing.line(self.variant);
        let problem = match self.send(&outgoing, report).await {
            Ok(answer)
                if answer
                    .ocs()
                    .is_some_and(|o| matches!(o.statuscode, 100 | 200)) =>
            {
                return;
            }
            Ok(answer) => answer.describe(),
            Err(e) => e.to_string(),
        };
        report.findings.push(Finding {
            severity: Severity::Warning,
            what: format!("teardown {line}"),
            expected: "statuscode 100".into(),
            actual: problem,
        });
        if report.outcome == Outcome::Pass {
            report.outcome = Outcome::Warning;
        }
    }

    /// The answers, normalised: the run's prefix masked, volatile values redacted.
    fn snapshot_text(&self, report: &CaseReport) -> String {
        let mut out = format!("# {}\n# {}\n", report.title, report.source);
        for (request, answer) in &self.answers {
            let line = request
                .replace(&self.space.ns, "{p}")
                .replace(&self.space.fresh_password, "{password}");
            out.push_str(&format!("\n{line}\nhttp: {}\n", answer.http));
            match &answer.body {
                Body::Ocs(ocs) => {
                    let mut data = ocs.data.clone();
                    data.mask(&self.space.ns, "{p}");
                    out.push_str(&format!(
                        "status: {}\nstatuscode: {}\nmessage: {:?}\ndata: {}",
                        ocs.status,
                        ocs.statuscode,
                        ocs.message.replace(&self.space.ns, "{p}"),
                        data.render()
                    ));
                }
                Body::NotOcs { why, .. } => out.push_str(&format!("not OCS: {why}\n")),
            }
        }
        out
    }
}

/// The request line, who sent it, and its form (for snapshots; the caller masks
/// the namespace and the generated password).
fn describe_request(request: &Outgoing, variant: Variant) -> String {
    let mut out = request.line(variant);
    let who = match &request.credentials {
        Some((user, _)) => user.as_str(),
        None => "anonymous",
    };
    out.push_str(&format!("\nas: {who}"));
    if !request.form.is_empty() {
        let form: Vec<String> = request
            .form
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        out.push_str(&format!("\nform: {}", form.join("&")));
    }
    out
}

fn step_name(index: usize, what: &str) -> String {
    if index == 0 {
        what.to_owned()
    } else {
        format!("then {index}: {what}")
    }
}

/// A route the server does not have: 404, 405 or 501 without an OCS envelope.
fn unimplemented(answer: &Answer) -> bool {
    matches!(answer.http, 404 | 405 | 501) && answer.ocs().is_none()
}
