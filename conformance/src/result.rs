//! What a run produced: each case's outcome, findings and exchanges, and what
//! the clean-up removed. The reports in [`crate::report`] are made from these.

use crate::client::Variant;
use crate::fixture::{Fixture, Profile};
use std::time::Duration;

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
    /// The run could not start: the pre-flight refused the target.
    Error,
}

impl Outcome {
    /// Whether this outcome makes the run fail.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            Outcome::Fail | Outcome::Unimplemented | Outcome::Error
        )
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
            Outcome::Error => "error",
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
            Outcome::Error => "ERROR",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Fail,
    Warning,
}

/// One difference between what was expected and what came.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// What was compared: `http`, `statuscode`, `data.users`…
    pub what: String,
    pub expected: String,
    pub actual: String,
}

impl Finding {
    pub(crate) fn fail(
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Finding {
            severity: Severity::Fail,
            what: what.into(),
            expected: expected.into(),
            actual: actual.into(),
        }
    }

    pub(crate) fn warning(
        what: impl Into<String>,
        expected: impl Into<String>,
        actual: impl Into<String>,
    ) -> Self {
        Finding {
            severity: Severity::Warning,
            ..Finding::fail(what, expected, actual)
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
    /// Whose answers the case was held to.
    pub expect: Profile,
    /// Under `--expect nextcloud`, where the fixture's Nextcloud expectation was
    /// read from (when it has one: otherwise Nextcloud answers as documented).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nextcloud_source: Option<String>,
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
    /// The report of `fixture` in `variant`, held to `expect`, before it runs:
    /// a pass, so far.
    pub(crate) fn new(fixture: &Fixture, variant: Variant, expect: Profile) -> CaseReport {
        let nextcloud_source = match expect {
            Profile::Nextcloud => fixture.nextcloud_source.clone(),
            Profile::Documented => None,
        };
        CaseReport {
            id: fixture.id.clone(),
            variant,
            title: fixture.title.clone(),
            source: fixture.source.clone(),
            expect,
            nextcloud_source,
            outcome: Outcome::Pass,
            reason: String::new(),
            findings: Vec::new(),
            exchanges: Vec::new(),
            server_time: Duration::ZERO,
            wall_time: Duration::ZERO,
        }
    }

    /// `users/add/102-exists [v1 xml]`
    pub fn name(&self) -> String {
        format!("{} [{}]", self.id, self.variant)
    }
}

/// What the clean-up removed, and what it could not.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Cleanup {
    pub users_removed: usize,
    pub groups_removed: usize,
    pub errors: Vec<String>,
}

impl std::fmt::Display for Cleanup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "removed {} users and {} groups",
            self.users_removed, self.groups_removed
        )?;
        if !self.errors.is_empty() {
            write!(f, "; could not remove: {}", self.errors.join("; "))?;
        }
        Ok(())
    }
}
