//! What a run tells people and CI servers: a readable summary, a JUnit file and a
//! JSON report; and the known deviations of a target (`--expected-failures`).

use crate::fixture::Profile;
use crate::result::{CaseReport, Cleanup, Outcome, Severity};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

/// Known deviations of a target: one fixture id per line, optionally with a
/// variant (`users/add/107-password-hint [v2 json]`); `#` starts a comment.
#[derive(Debug, Default, Clone)]
pub struct ExpectedFailures {
    entries: Vec<String>,
}

/// A file the harness reads or writes, and what went wrong with it.
#[derive(Debug, thiserror::Error)]
#[error("{}: {source}", path.display())]
pub struct FileError {
    pub path: std::path::PathBuf,
    #[source]
    pub source: std::io::Error,
}

/// The JUnit report could not be serialised.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the JUnit report: {0}")]
pub struct JunitError(#[source] quick_junit::SerializeError);

impl ExpectedFailures {
    pub fn load(path: &Path) -> Result<ExpectedFailures, FileError> {
        let text = std::fs::read_to_string(path).map_err(|source| FileError {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self::parse(&text))
    }

    pub fn parse(text: &str) -> ExpectedFailures {
        let entries = text
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").trim())
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        ExpectedFailures { entries }
    }

    fn lists(&self, report: &CaseReport) -> bool {
        let name = report.name();
        self.entries.iter().any(|e| *e == report.id || *e == name)
    }

    /// Entries that name no known fixture (a typo hides nothing).
    pub fn unknown<'a>(&'a self, ids: &[&str]) -> Vec<&'a str> {
        self.entries
            .iter()
            .map(|e| e.split(" [").next().unwrap_or(e))
            .filter(|e| !ids.contains(e))
            .collect()
    }

    /// Turns listed failures into expected failures, and listed passes into
    /// unexpected passes.
    pub fn apply(&self, reports: &mut [CaseReport]) {
        for r in reports.iter_mut().filter(|r| self.lists(r)) {
            r.outcome = match r.outcome {
                Outcome::Fail | Outcome::Unimplemented => Outcome::ExpectedFailure,
                Outcome::Pass | Outcome::Warning => Outcome::UnexpectedPass,
                other => other,
            };
        }
    }
}

/// 0 when nothing failed, 1 otherwise.
pub fn exit_code(reports: &[CaseReport]) -> u8 {
    u8::from(reports.iter().any(|r| r.outcome.is_failure()))
}

/// Width of the expected column when expected and actual fit side by side.
const SIDE: usize = 36;

/// The details of one case for people: findings side by side, or why skipped.
pub fn describe(report: &CaseReport) -> String {
    let mut out = format!("{:<16} {}\n", report.outcome.label(), report.name());
    if !report.reason.is_empty() {
        let _ = writeln!(out, "                 {}", report.reason);
    }
    if matches!(report.outcome, Outcome::Pass | Outcome::Skipped) {
        return out;
    }
    let _ = writeln!(out, "                 source: {}", report.source);
    if let Some(nextcloud) = &report.nextcloud_source {
        let _ = writeln!(out, "                 nextcloud: {nextcloud}");
    }
    for f in &report.findings {
        let kind = match f.severity {
            Severity::Fail => "x",
            Severity::Warning => "!",
        };
        let _ = writeln!(out, "               {kind} {}", f.what);
        let short = |t: &str| !t.contains('\n') && t.chars().count() <= SIDE;
        if short(&f.expected) && short(&f.actual) {
            // Side by side when both fit.
            let _ = writeln!(
                out,
                "                   expected: {:<SIDE$}  actual: {}",
                f.expected, f.actual
            );
            continue;
        }
        let _ = writeln!(out, "                   expected: {}", f.expected);
        for (i, line) in f.actual.lines().enumerate() {
            let label = if i == 0 { "actual:  " } else { "         " };
            let _ = writeln!(out, "                   {label} {line}");
        }
    }
    out
}

/// How many cases ended in each outcome, by `name`.
fn count(
    reports: &[CaseReport],
    name: fn(Outcome) -> &'static str,
) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for r in reports {
        *counts.entry(name(r.outcome)).or_default() += 1;
    }
    counts
}

/// Counts per outcome, wall time and the harness's share of it.
pub fn summary(reports: &[CaseReport], wall: Duration, cleanup: &Cleanup) -> String {
    let counts = count(reports, Outcome::label);
    let server: Duration = reports.iter().map(|r| r.server_time).sum();
    let mut out = String::new();
    let parts: Vec<String> = counts.iter().map(|(k, v)| format!("{v} {k}")).collect();
    let _ = writeln!(out, "{} cases: {}", reports.len(), parts.join(", "));
    if let Some(first) = reports.first() {
        let _ = writeln!(out, "{}", expected(first.expect, reports));
    }
    let _ = writeln!(out, "{}", timing(wall, server));
    let _ = writeln!(out, "clean-up: {cleanup}");
    out
}

/// Whose answers the run expected; for Nextcloud's, how many fixtures differ
/// from the documents.
fn expected(expect: Profile, reports: &[CaseReport]) -> String {
    match expect {
        Profile::Documented => "held to the documented answers (--expect documented)".into(),
        Profile::Nextcloud => {
            let differ: std::collections::BTreeSet<&str> = reports
                .iter()
                .filter(|r| r.nextcloud_source.is_some())
                .map(|r| r.id.as_str())
                .collect();
            format!(
                "held to today's Nextcloud's answers (--expect nextcloud; where it differs from the documents: {} of these fixtures)",
                differ.len()
            )
        }
    }
}

/// Wall time, the summed server response times, and the harness's overhead (wall
/// minus server time, as a share of wall).
pub fn timing(wall: Duration, server: Duration) -> String {
    if server > wall {
        return format!(
            "wall time {:.2} s; server response times summed {:.2} s (cases overlapped; --jobs 1 measures the harness overhead)",
            wall.as_secs_f64(),
            server.as_secs_f64()
        );
    }
    let overhead = 1.0 - server.as_secs_f64() / wall.as_secs_f64().max(f64::EPSILON);
    format!(
        "wall time {:.2} s; server response times summed {:.2} s; harness overhead {:.0}% of wall time",
        wall.as_secs_f64(),
        server.as_secs_f64(),
        overhead * 100.0
    )
}

pub fn junit(reports: &[CaseReport], wall: Duration) -> Result<String, JunitError> {
    use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
    let mut suites: BTreeMap<String, TestSuite> = BTreeMap::new();
    for r in reports {
        // One suite per endpoint: `users/add/102-exists` → `users/add`.
        let suite_name =
            r.id.rsplit_once('/')
                .map(|(s, _)| s)
                .unwrap_or(&r.id)
                .to_owned();
        let suite = suites.entry(suite_name.clone()).or_insert_with(|| {
            let mut suite = TestSuite::new(suite_name);
            suite.add_property(Property::new("expect", r.expect.name()));
            suite
        });
        let details = describe(r);
        let status = match r.outcome {
            Outcome::Pass
            | Outcome::Warning
            | Outcome::ExpectedFailure
            | Outcome::UnexpectedPass => TestCaseStatus::success(),
            Outcome::Skipped => {
                let mut s = TestCaseStatus::skipped();
                s.set_message(r.reason.clone());
                s
            }
            Outcome::Fail | Outcome::Unimplemented | Outcome::Error => {
                let kind = if r.outcome == Outcome::Error {
                    NonSuccessKind::Error
                } else {
                    NonSuccessKind::Failure
                };
                let mut s = TestCaseStatus::non_success(kind);
                s.set_message(first_problem(r));
                s.set_type(r.outcome.label());
                s.set_description(details.clone());
                s
            }
        };
        let mut case = TestCase::new(format!("{} [{}]", r.id, r.variant), status);
        case.set_classname(r.id.clone());
        case.set_time(r.wall_time);
        if matches!(
            r.outcome,
            Outcome::Warning | Outcome::ExpectedFailure | Outcome::UnexpectedPass
        ) {
            case.set_system_out(details);
        }
        suite.add_test_case(case);
    }
    let mut report = Report::new("ocs-conformance");
    report.set_time(wall);
    report.add_test_suites(suites.into_values());
    report.to_string().map_err(JunitError)
}

fn first_problem(r: &CaseReport) -> String {
    if !r.reason.is_empty() {
        return r.reason.clone();
    }
    r.findings
        .iter()
        .find(|f| f.severity == Severity::Fail)
        .map(|f| {
            format!(
                "{}: expected {}, got {}",
                f.what,
                f.expected,
                f.actual.lines().next().unwrap_or("")
            )
        })
        .unwrap_or_default()
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    base_url: &'a str,
    run_prefix: &'a str,
    /// Whose answers the run expected.
    expect: Profile,
    wall_time_s: f64,
    server_time_s: f64,
    counts: BTreeMap<&'static str, usize>,
    cleanup: &'a Cleanup,
    cases: &'a [CaseReport],
}

pub fn json(
    reports: &[CaseReport],
    base_url: &str,
    run_prefix: &str,
    expect: Profile,
    wall: Duration,
    cleanup: &Cleanup,
) -> String {
    let counts = count(reports, Outcome::key);
    let doc = JsonReport {
        base_url,
        run_prefix,
        expect,
        wall_time_s: wall.as_secs_f64(),
        server_time_s: reports
            .iter()
            .map(|r| r.server_time)
            .sum::<Duration>()
            .as_secs_f64(),
        counts,
        cleanup,
        cases: reports,
    };
    serde_json::to_string_pretty(&doc).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}
