//! Every fixture, in v1 and v2, XML and JSON, as a libtest-mimic trial against
//! authbridge's own OCS server (two of them: one that cannot send mail, and one
//! that delivers to a real SMTP server, for the fixtures about welcome mails);
//! answers are compared with the insta snapshots in
//! `conformance/snapshots/authbridge`.
//!
//! `INSTA_UPDATE=always cargo test -p ocs-conformance --test authbridge` records
//! changed answers; on CI (`CI` set) a missing snapshot fails.

mod common;

use libtest_mimic::{Arguments, Failed, Trial};
use ocs_conformance::fixture::Need;
use ocs_conformance::report;
use ocs_conformance::{CaseReport, Outcome, Runner, Snapshots};
use std::sync::{Arc, Mutex};
use std::time::Instant;

fn main() {
    let mut args = Arguments::from_args();
    // Each trial mostly waits on the server: more of them at once than cores.
    args.test_threads.get_or_insert(8);
    let fixtures = ocs_conformance::fixture::load_dir(&ocs_conformance::default_fixture_dir())
        .unwrap_or_else(|e| panic!("{e}"));
    if args.list {
        // Listing (as cargo-nextest does first) starts no server.
        let names = fixtures.iter().flat_map(|f| {
            common::all_variants()
                .into_iter()
                .map(move |v| Trial::test(format!("{} [{v}]", f.id), || Ok(())))
        });
        libtest_mimic::run(&args, names.collect()).exit();
    }
    let accept = matches!(
        std::env::var("INSTA_UPDATE").as_deref(),
        Ok("always" | "force" | "1")
    );
    let on_ci = std::env::var_os("CI").is_some();
    let snapshots = Snapshots::new(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("snapshots"),
        "authbridge",
        accept,
        on_ci,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let snapshots = Arc::new(snapshots);
    let binary = common::authbridge_binary();
    let servers = [
        common::Server::start_with(&binary, None),
        common::Server::start_with_mail(&binary),
    ];
    let runners: Vec<Arc<Runner>> = servers
        .iter()
        .map(|s| {
            Arc::new(
                Runner::new(s.target(), common::options(), Some(Arc::clone(&snapshots))).unwrap(),
            )
        })
        .collect();
    let runtime = Arc::new(tokio::runtime::Runtime::new().unwrap());
    for runner in &runners {
        runtime
            .block_on(runner.preflight())
            .unwrap_or_else(|e| panic!("{e}"));
    }
    let reports: Arc<Mutex<Vec<CaseReport>>> = Arc::default();
    let mut trials = Vec::new();
    for fixture in &fixtures {
        let needs_mail = fixture.needs.contains(&Need::Mail);
        let runner = &runners[usize::from(needs_mail)];
        let skip = runner.skip_reason(fixture);
        for &variant in &runner.options().variants {
            let (runner, runtime, reports, fixture) = (
                Arc::clone(runner),
                Arc::clone(&runtime),
                Arc::clone(&reports),
                fixture.clone(),
            );
            let name = format!("{} [{}]", fixture.id, variant);
            let trial = Trial::test(name, move || {
                let report = runtime.block_on(runner.run_case(&fixture, variant));
                let result = match report.outcome {
                    Outcome::Pass | Outcome::Warning => Ok(()),
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
    let started = Instant::now();
    let conclusion = libtest_mimic::run(&args, trials);
    let wall = started.elapsed();
    let mut cleanup = runtime.block_on(runners[0].cleanup());
    let mailing = runtime.block_on(runners[1].cleanup());
    cleanup.users_removed += mailing.users_removed;
    cleanup.groups_removed += mailing.groups_removed;
    cleanup.errors.extend(mailing.errors);
    let reports = reports.lock().unwrap();
    for r in reports.iter().filter(|r| r.outcome == Outcome::Warning) {
        print!("{}", report::describe(r));
    }
    if !reports.is_empty() {
        print!("{}", report::summary(&reports, wall, &cleanup));
    }
    assert!(
        cleanup.errors.is_empty(),
        "clean-up failed: {:?}",
        cleanup.errors
    );
    drop(servers);
    conclusion.exit();
}
