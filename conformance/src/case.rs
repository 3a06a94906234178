//! One fixture in one variant: its setup (shared by the variants where nothing
//! can change it), its requests and their checks, its teardown, its snapshot text.

use crate::answer::{Answer, Body};
use crate::client::{Outgoing, SendError, Variant};
use crate::expect::{self, Finding, Severity};
use crate::fixture::{Fixture, FormValue, Level, Request};
use crate::names;
use crate::run::{CaseReport, Exchange, Outcome, Runner, encode};
use reqwest::Method;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

impl Runner {
    /// The fixture's setup: its own for this case, or the one its variants share.
    /// The shared setup's exchanges are reported with each case, its server time
    /// with the first only.
    pub(crate) async fn prepared(
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
                    Ok(answer) if answer.succeeded() => continue,
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
}

/// A namespace (`{p}`) and the users its setup made.
#[derive(Debug, Clone)]
pub(crate) struct Space {
    pub(crate) ns: String,
    /// Setup users' passwords by their fixture name.
    pub(crate) passwords: HashMap<String, String>,
    /// `{password}`: one fresh strong password per namespace.
    pub(crate) fresh_password: String,
}

/// A fixture's setup, done.
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    pub(crate) space: Space,
    pub(crate) failure: Option<Finding>,
    pub(crate) exchanges: Vec<Exchange>,
    pub(crate) server_time: Duration,
}

/// Whether the variants of `fixture` can share one setup: all of its requests
/// are GETs, and none sends a wrong password (failures are throttled per user).
/// A write documented to fail is not enough: a server may create and then undo
/// (a user whose invitation mail fails, 109), and a variant running beside it
/// in the same namespace would meet the name in between.
fn shares_setup(fixture: &Fixture) -> bool {
    let requests = std::iter::once(&fixture.request).chain(fixture.then.iter().map(|s| &s.request));
    !fixture.global
        && fixture.teardown.is_empty()
        && requests
            .into_iter()
            .all(|r| r.password.is_none() && r.method == "GET")
}

/// One fixture in one variant.
pub(crate) struct Case<'a> {
    pub(crate) runner: &'a Runner,
    pub(crate) fixture: &'a Fixture,
    pub(crate) variant: Variant,
    pub(crate) space: Space,
    /// Normalised answers, for the snapshot.
    pub(crate) answers: Vec<(String, Answer)>,
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

    pub(crate) async fn run(&mut self, report: &mut CaseReport) {
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

    pub(crate) async fn teardown(&self, request: &Request, report: &mut CaseReport) {
        let outgoing = self.outgoing(request);
        let line = outgoing.line(self.variant);
        let problem = match self.send(&outgoing, report).await {
            Ok(answer) if answer.succeeded() => return,
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
    pub(crate) fn snapshot_text(&self, report: &CaseReport) -> String {
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
