//! Every fixture, in v1 and v2, XML and JSON, as a libtest-mimic trial against
//! authbridge's own OCS server in each of its `[ocs] compat` profiles, held to
//! the matching expectations: `compat = "documented"` to the documented answers
//! (trials `documented/<id> [<variant>]`), `compat = "nextcloud"` to today's
//! Nextcloud's (`nextcloud/<id> [<variant>]`). Each profile has two servers: one
//! that cannot send mail, and one that delivers to a real SMTP server, for the
//! fixtures about welcome mails. Answers are compared with the insta snapshots in
//! `conformance/snapshots/authbridge` and `conformance/snapshots/authbridge-nextcloud`.
//!
//! Where authbridge knowingly answers otherwise in a profile, the profile's file
//! of expected failures (`tests/authbridge-nextcloud.expected-failures`) says so
//! and why; those trials pass, and fail once they pass.
//!
//! `INSTA_UPDATE=always cargo test -p ocs-conformance --test authbridge` records
//! changed answers; on CI (`CI` set) a missing snapshot fails.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use ocs_conformance::fixture::{Fixture, Need, Profile};
use ocs_conformance::report::{self, ExpectedFailures};
use ocs_conformance::{CaseReport, Cleanup, Outcome, Runner, Snapshots};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// The profiles, the snapshot folder of each, and the file of its known
/// deviations, if it has one.
const PROFILES: [(Profile, &str, Option<&str>); 2] = [
    (Profile::Documented, "authbridge", None),
    (
        Profile::Nextcloud,
        "authbridge-nextcloud",
        Some("tests/authbridge-nextcloud.expected-failures"),
    ),
];

/// `nextcloud/users/add/102-exists [v1 xml]`
fn trial_name(expect: Profile, fixture: &Fixture, variant: impl std::fmt::Display) -> String {
    format!("{expect}/{} [{variant}]", fixture.id)
}

/// One profile's servers (without mail, with mail), their runners, and the
/// reports of its trials.
struct Profiled {
    expect: Profile,
    /// Kept running until the trials are done.
    _servers: [common::Server; 2],
    runners: [Arc<Runner>; 2],
    /// Where authbridge knowingly answers otherwise in this profile.
    expected: Arc<ExpectedFailures>,
    reports: Arc<Mutex<Vec<CaseReport>>>,
}

fn main() {
    let mut args = Arguments::from_args();
    // Each trial mostly waits on the server: more of them at once than cores.
    args.test_threads.get_or_insert(8);
    let fixtures = ocs_conformance::fixture::load_dir(&ocs_conformance::default_fixture_dir())
        .unwrap_or_else(|e| panic!("{e}"));
    if args.list {
        // Listing (as cargo-nextest does first) starts no server.
        let names = PROFILES.iter().flat_map(|&(expect, _, _)| {
            fixtures.iter().flat_map(move |f| {
                common::all_variants()
                    .into_iter()
                    .map(move |v| Trial::test(trial_name(expect, f, v), || Ok(())))
            })
        });
        libtest_mimic::run(&args, names.collect()).exit();
    }
    let accept = matches!(
        std::env::var("INSTA_UPDATE").as_deref(),
        Ok("always" | "force" | "1")
    );
    let on_ci = std::env::var_os("CI").is_some();
    let binary = common::authbridge_binary();
    let runtime = Arc::new(tokio::runtime::Runtime::new().unwrap());
    let profiles: Vec<Profiled> = PROFILES
        .iter()
        .map(|&(expect, folder, known)| {
            let snapshots = Snapshots::new(
                &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"),
                folder,
                accept,
                on_ci,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let snapshots = Arc::new(snapshots);
            let servers = [
                common::Server::start_with(&binary, None, expect),
                common::Server::start_with_mail(&binary, expect),
            ];
            let runners = servers.each_ref().map(|s| {
                let options = common::options_for(expect);
                Arc::new(Runner::new(s.target(), options, Some(Arc::clone(&snapshots))).unwrap())
            });
            for runner in &runners {
                runtime
                    .block_on(runner.preflight())
                    .unwrap_or_else(|e| panic!("{expect}: {e}"));
            }
            let expected = known.map_or_else(ExpectedFailures::default, |file| {
                ExpectedFailures::load(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(file))
                    .unwrap_or_else(|e| panic!("{e}"))
            });
            let ids: Vec<&str> = fixtures.iter().map(|f| f.id.as_str()).collect();
            let unknown = expected.unknown(&ids);
            assert!(
                unknown.is_empty(),
                "{known:?} names no fixture: {unknown:?}"
            );
            Profiled {
                expect,
                _servers: servers,
                runners,
                expected: Arc::new(expected),
                reports: Arc::default(),
            }
        })
        .collect();
    let mut trials = Vec::new();
    for profile in &profiles {
        for fixture in &fixtures {
            let needs_mail = fixture.needs.contains(&Need::Mail);
            let runner = &profile.runners[usize::from(needs_mail)];
            let skip = runner.skip_reason(fixture);
            for &variant in &runner.options().variants {
                let (runner, runtime, reports, expected, fixture) = (
                    Arc::clone(runner),
                    Arc::clone(&runtime),
                    Arc::clone(&profile.reports),
                    Arc::clone(&profile.expected),
                    fixture.clone(),
                );
                let name = trial_name(profile.expect, &fixture, variant);
                let trial = Trial::test(name, move || {
                    let mut report = runtime.block_on(runner.run_case(&fixture, variant));
                    expected.apply(std::slice::from_mut(&mut report));
                    let result = match report.outcome {
                        Outcome::Pass | Outcome::Warning | Outcome::ExpectedFailure => Ok(()),
                        Outcome::Skipped => {
                            Err(Failed::from(format!("skipped here: {}", report.reason)))
                        }
                        _ => Err(Failed::from(report::describe(&report))),
                    };
                    reports.lock().unwrap().push(report);
                    result
                });
                trials.push(trial.with_ignored_flag(skip.is_some()));
            }
        }
    }
    let started = Instant::now();
    let conclusion = libtest_mimic::run(&args, trials);
    let wall = started.elapsed();
    let mut failed_cleanups = Vec::new();
    for profile in &profiles {
        let mut cleanup = Cleanup::default();
        for runner in &profile.runners {
            let one = runtime.block_on(runner.cleanup());
            cleanup.users_removed += one.users_removed;
            cleanup.groups_removed += one.groups_removed;
            cleanup.errors.extend(one.errors);
        }
        let reports = profile.reports.lock().unwrap();
        for r in reports
            .iter()
            .filter(|r| matches!(r.outcome, Outcome::Warning | Outcome::ExpectedFailure))
        {
            print!("{}", report::describe(r));
        }
        if !reports.is_empty() {
            print!(
                "{}: {}",
                profile.expect,
                report::summary(&reports, wall, &cleanup)
            );
        }
        failed_cleanups.extend(cleanup.errors);
    }
    assert!(
        failed_cleanups.is_empty(),
        "clean-up failed: {failed_cleanups:?}"
    );
    drop(profiles);
    conclusion.exit();
}
