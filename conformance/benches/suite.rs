//! The whole suite against authbridge's own server (no mail), one case at a time
//! and eight at a time: wall time, the server's response times summed, and the
//! harness's overhead — wall time minus server time, as a share of wall time
//! (measurable only one at a time, where the two do not overlap).
//!
//!     cargo bench -p ocs-conformance --bench suite

#[path = "../tests/common/mod.rs"]
mod common;

use ocs_conformance::run::{Outcome, Runner};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn main() {
    let server = common::Server::start();
    let fixtures =
        ocs_conformance::fixture::load_dir(&ocs_conformance::default_fixture_dir()).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for jobs in [1, 8] {
        let mut options = common::options();
        options.concurrency = jobs;
        let runner = Arc::new(Runner::new(server.target(), options, None).unwrap());
        let started = Instant::now();
        let reports = runtime.block_on(runner.run_all(&fixtures, &|_| {}));
        let wall = started.elapsed();
        let cleanup = runtime.block_on(runner.cleanup());
        let server_time: Duration = reports.iter().map(|r| r.server_time).sum();
        let requests: usize = reports.iter().map(|r| r.exchanges.len()).sum();
        let failed = reports.iter().filter(|r| r.outcome.is_failure()).count();
        let ran = reports
            .iter()
            .filter(|r| r.outcome != Outcome::Skipped)
            .count();
        let overhead = if jobs == 1 {
            format!(
                "harness overhead {:.1}% of wall",
                (1.0 - server_time.as_secs_f64() / wall.as_secs_f64()) * 100.0
            )
        } else {
            "cases overlap".to_owned()
        };
        println!(
            "jobs {jobs}: {ran} cases ({failed} failed), {requests} requests; wall {:.2} s; \
             server response times summed {:.2} s; {overhead}; clean-up {:.2} s",
            wall.as_secs_f64(),
            server_time.as_secs_f64(),
            (started.elapsed() - wall).as_secs_f64(),
        );
        assert!(cleanup.errors.is_empty(), "{:?}", cleanup.errors);
    }
}
