//! One fixture in one variant, given what it needs explicitly ([`Context`]) and
//! its setup's namespace ([`Space`]): its requests and their checks, its
//! teardown, its snapshot text.

use crate::answer::{Answer, Body};
use crate::client::{Outgoing, SendError, Variant};
use crate::expect;
use crate::fixture::{Actor, Fixture, FormValue, Level, Profile, Request};
use crate::result::{CaseReport, Finding, Outcome, Severity};
use crate::server::Server;
use std::collections::HashMap;

/// What a case is given by its run.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    /// The server, and the admin's credentials (`admin` actors, `{admin}`).
    pub(crate) server: &'a Server,
    /// `{app}`: the app the global fixtures switch off and on again.
    pub(crate) toggle_app: &'a str,
    /// Whose answers to expect.
    pub(crate) expect: Profile,
}

impl Context<'_> {
    /// Fills in `{p}`, `{admin}`, `{app}` and `{password}`.
    pub(crate) fn fill(&self, space: &Space, text: &str) -> String {
        text.replace("{p}", &space.ns)
            .replace("{admin}", &self.server.admin().0)
            .replace("{app}", self.toggle_app)
            .replace("{password}", &space.fresh_password)
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

/// One fixture in one variant, once its setup is done.
pub(crate) struct Case<'a> {
    context: Context<'a>,
    fixture: &'a Fixture,
    variant: Variant,
    space: Space,
    /// Normalised answers, for the snapshot.
    answers: Vec<(String, Answer)>,
}

impl<'a> Case<'a> {
    pub(crate) fn new(
        context: Context<'a>,
        fixture: &'a Fixture,
        variant: Variant,
        space: Space,
    ) -> Case<'a> {
        Case {
            context,
            fixture,
            variant,
            space,
            answers: Vec::new(),
        }
    }

    fn fill(&self, text: &str) -> String {
        self.context.fill(&self.space, text)
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

    fn fill_json(&self, value: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(items) => Value::Array(items.iter().map(|v| self.fill_json(v)).collect()),
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.fill(k), self.fill_json(v)))
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
                    report.findings.push(Finding::fail(
                        step_name(index, "answer"),
                        "an answer",
                        format!("{line}: {e}"),
                    ));
                    break;
                }
            };
            if index == 0 && unimplemented(&answer) {
                report.outcome = Outcome::Unimplemented;
                report.reason = format!("{line} answered {}", answer.describe());
                return;
            }
            let mut answer = answer;
            let mut expect = expect.resolve(self.context.expect);
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
        self.context
            .server
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
        let mut out = Outgoing::new(request.method.into(), self.fill(&request.path));
        out.query = self.pairs(&request.query);
        out.form = self.pairs(&request.form);
        out.json = request
            .json
            .as_ref()
            .map(|body| self.fill_json(&serde_json::Value::Object(body.0.clone())));
        out.credentials = match &request.actor {
            Actor::Anonymous => None,
            Actor::Admin => Some(self.context.server.admin().clone()),
            Actor::User(user) => Some((
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
        report.findings.push(Finding::warning(
            format!("teardown {line}"),
            "statuscode 100",
            problem,
        ));
        if report.outcome == Outcome::Pass {
            report.outcome = Outcome::Warning;
        }
    }

    /// The answers, normalised: the run's prefix masked, volatile values redacted.
    pub(crate) fn snapshot_text(&self, report: &CaseReport) -> String {
        let mut out = format!("# {}\n# {}\n", report.title, report.source);
        // A run held to Nextcloud's answers says so, and where they were read.
        if self.context.expect == Profile::Nextcloud {
            let from = match &self.fixture.nextcloud_source {
                Some(source) if self.fixture.nextcloud_differs() => source.as_str(),
                _ => "as documented",
            };
            out.push_str(&format!("# expect nextcloud: {from}\n"));
        }
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

/// The request line, who sent it, and its form or JSON body (for snapshots; the
/// caller masks the namespace and the generated password).
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
    if let Some(json) = &request.json {
        out.push_str(&format!("\njson: {json}"));
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
