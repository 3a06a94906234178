//! Runs fixtures against a target: pre-flight, the sweep of a crashed run's
//! leftovers, each fixture in each selected variant (in parallel unless it changes
//! global state), and the removal of everything the run created.

use crate::answer::{Answer, Body};
use crate::case::{Case, Prepared, Space};
use crate::client::{Api, Client, Format, Outgoing, SendError, Variant};
use crate::expect::{Finding, Severity};
use crate::fixture::{Document, Fixture};
use crate::names::RunPrefix;
use crate::snapshot::{SnapshotOutcome, Snapshots};
use reqwest::Method;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

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

    /// The name in the JSON report (as serialised).
    pub fn key(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::Warning => "warning",
            Outcome::Skipped => "skipped",
            Outcome::Unimplemented => "unimplemented",
            Outcome::ExpectedFailure => "expected-failure",
            Outcome::UnexpectedPass => "unexpected-pass",
        }
    }

    /// The name in reports for people.
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

pub struct Runner {
    pub(crate) client: Client,
    pub(crate) target: Target,
    pub(crate) options: Options,
    pub(crate) prefix: RunPrefix,
    pub(crate) snapshots: Option<Arc<Snapshots>>,
    pub(crate) seq: AtomicUsize,
    /// Cases share it; a global case takes it alone.
    pub(crate) global: tokio::sync::RwLock<()>,
    /// Why the global fixtures cannot run, if the app they switch is not enabled.
    toggle_app: tokio::sync::OnceCell<Option<String>>,
    /// Setups done once for all variants of a fixture (see `case::shares_setup`).
    pub(crate) shared: std::sync::Mutex<HashMap<String, Arc<tokio::sync::OnceCell<Prepared>>>>,
}

pub(crate) const V1_XML: Variant = Variant {
    api: Api::V1,
    format: Format::Xml,
};

impl Runner {
    pub fn new(
        target: Target,
        options: Options,
        snapshots: Option<Arc<Snapshots>>,
    ) -> Result<Runner, crate::client::ClientSetupError> {
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
            toggle_app: tokio::sync::OnceCell::new(),
        })
    }

    pub fn prefix(&self) -> &RunPrefix {
        &self.prefix
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    pub(crate) fn admin(&self) -> (String, String) {
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
        let ocs = match &answer.body {
            Body::Ocs(ocs) if !(300..400).contains(&answer.http) => ocs,
            _ => {
                return Err(PreflightError::NotOcs {
                    url,
                    got: answer.describe(),
                });
            }
        };
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

    /// The global fixtures switch an app off and on again: starting from an app
    /// that is off, they would leave it on. An app list that cannot be read does
    /// not stop them (their own checks then report what is wrong).
    async fn toggle_app_not_enabled(&self) -> Option<String> {
        self.toggle_app
            .get_or_init(|| async {
                let app = &self.target.toggle_app;
                let request = Outgoing::new(Method::GET, "/cloud/apps")
                    .query("filter", "enabled")
                    .as_user(&self.admin());
                let (answer, _) = self.client.send(&request, V1_XML, "preflight").await.ok()?;
                let apps = answer.ocs()?.data.get("apps")?.clone();
                let listed = matches!(&apps, crate::tree::Node::List(items)
                    if items.iter().any(|a| a.text() == Some(app.as_str())));
                (!listed).then(|| {
                    format!("the app {app:?} these fixtures switch off and on is not enabled here: choose an enabled one with --toggle-app")
                })
            })
            .await
            .clone()
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
        let reason = match self.skip_reason(fixture) {
            None if fixture.global => self.toggle_app_not_enabled().await,
            other => other,
        };
        if let Some(reason) = reason {
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

    /// Sends one request and records it.
    pub(crate) async fn exchange(
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
    pub(crate) fn fill(&self, space: &Space, text: &str) -> String {
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

/// Percent-encodes a path segment.
pub(crate) fn encode(segment: &str) -> String {
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
