//! Runs fixtures against a target: pre-flight, the sweep of a crashed run's
//! leftovers, each fixture in each selected variant (in parallel unless it changes
//! global state), and the removal of everything the run created.

use crate::answer::Body;
use crate::case::{Case, Context};
use crate::cleanup;
use crate::client::{Api, ClientSetupError, Format, Outgoing, Variant};
use crate::fixture::{Document, Fixture, Need, Profile};
use crate::names::RunPrefix;
use crate::result::{Cleanup, Finding};
use crate::server::Server;
use crate::setup::Setups;
use crate::snapshot::Snapshots;
use reqwest::Method;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OnceCell, RwLock};

// Also here, where callers have found them (`ocs_conformance::run::Outcome`, as
// in benches/suite.rs); their home is `result`.
pub use crate::result::{CaseReport, Outcome};

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
    /// Whose answers to expect: the documented ones or today's Nextcloud's.
    pub expect: Profile,
    pub allow_global_changes: bool,
    pub concurrency: usize,
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

impl PreflightError {
    /// What went wrong, in a word: `unreachable`, `not-ocs`, `refused`, `not-admin`.
    pub fn kind(&self) -> &'static str {
        match self {
            PreflightError::Unreachable { .. } => "unreachable",
            PreflightError::NotOcs { .. } => "not-ocs",
            PreflightError::Refused { .. } => "refused",
            PreflightError::NotAdmin { .. } => "not-admin",
        }
    }

    /// The one case a refused run reports, so that its JUnit and JSON reports
    /// say why nothing ran: the pre-flight request, an error, and this.
    pub fn report(&self, expect: Profile) -> CaseReport {
        let mut report = CaseReport {
            id: PREFLIGHT.into(),
            variant: Variant {
                api: Api::V1,
                format: Format::Xml,
            },
            title: "The target answers as an OCS server and takes the admin's credentials".into(),
            source: format!("ocs-conformance pre-flight: {PREFLIGHT_REQUEST} as the admin"),
            expect,
            nextcloud_source: None,
            outcome: Outcome::Error,
            reason: self.to_string(),
            findings: Vec::new(),
            exchanges: Vec::new(),
            server_time: Duration::ZERO,
            wall_time: Duration::ZERO,
        };
        report.findings.push(Finding::fail(
            format!("pre-flight ({})", self.kind()),
            "an OCS answer with statuscode 100 to the admin",
            self.to_string(),
        ));
        report
    }
}

/// The id of the case a refused run reports.
pub const PREFLIGHT: &str = "preflight";

/// The request the pre-flight sends, for reports.
const PREFLIGHT_REQUEST: &str = "GET /ocs/v1.php/cloud/users?limit=1";

/// Runs fixtures against one target.
pub struct Runner {
    server: Server,
    target: Target,
    options: Options,
    setups: Setups,
    snapshots: Option<Arc<Snapshots>>,
    /// Cases share it; a global case takes it alone.
    global: RwLock<()>,
    /// Why the global fixtures cannot run, if the app they switch is not enabled.
    toggle_app: OnceCell<Option<String>>,
}

impl Runner {
    pub fn new(
        target: Target,
        options: Options,
        snapshots: Option<Arc<Snapshots>>,
    ) -> Result<Runner, ClientSetupError> {
        let admin = (target.admin_user.clone(), target.admin_password.clone());
        Ok(Runner {
            server: Server::new(&target.base_url, target.timeout, admin)?,
            target,
            options,
            setups: Setups::new(RunPrefix::new()),
            snapshots,
            global: RwLock::new(()),
            toggle_app: OnceCell::new(),
        })
    }

    /// What every user and group this run creates is named with.
    pub fn prefix(&self) -> &RunPrefix {
        self.setups.prefix()
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// What a case needs from the run.
    fn context(&self) -> Context<'_> {
        Context {
            server: &self.server,
            toggle_app: &self.target.toggle_app,
            expect: self.options.expect,
        }
    }

    /// Refuses a target that does not answer as an OCS server, or whose admin
    /// credentials do not work.
    pub async fn preflight(&self) -> Result<(), PreflightError> {
        let url = self.server.base_url().to_owned();
        let request = Outgoing::new(Method::GET, "/cloud/users").query("limit", "1");
        let answer = self
            .server
            .as_admin(request, "preflight")
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
            let (met, why) = match need {
                Need::Mail => (
                    self.target.sends_mail == Some(true),
                    "needs a server that sends mail (--mail works)",
                ),
                Need::NoMail => (
                    self.target.sends_mail == Some(false),
                    "needs a server that cannot send mail (--mail fails)",
                ),
            };
            if !met {
                return Some(why.into());
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
                let request = Outgoing::new(Method::GET, "/cloud/apps").query("filter", "enabled");
                let answer = self.server.as_admin(request, "preflight").await.ok()?;
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
        let mut report = CaseReport::new(fixture, variant, self.options.expect);
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
        let context = self.context();
        let prepared = self
            .setups
            .prepared(context, fixture, variant, &mut report)
            .await;
        let mut case = Case::new(context, fixture, variant, prepared.space);
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
        if let Some(snapshots) = &self.snapshots
            && matches!(report.outcome, Outcome::Pass | Outcome::Warning)
        {
            let contents = case.snapshot_text(&report);
            snapshots.judge(&mut report, &contents);
        }
        report
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

    /// Removes users and groups of earlier runs that started more than
    /// `older_than` ago (a run in progress elsewhere is younger than that).
    pub async fn sweep(&self, older_than: Duration) -> Cleanup {
        cleanup::sweep(&self.server, older_than).await
    }

    /// Removes every user and group this run created.
    pub async fn cleanup(&self) -> Cleanup {
        cleanup::remove_run(&self.server, self.prefix()).await
    }
}

enum Turn<'a> {
    Alone(#[allow(dead_code)] tokio::sync::RwLockWriteGuard<'a, ()>),
    Shared(#[allow(dead_code)] tokio::sync::RwLockReadGuard<'a, ()>),
}
