//! ocs-conformance: a conformance harness for the OCS Provisioning API. It replays
//! the documented fixtures (`fixtures/`, one TOML file per operation and outcome)
//! against any OCS server, in v1 and v2, XML and JSON; compares each answer with
//! what the documentation says; snapshot-tests the answers per target; and
//! reports, fixture by fixture, what conforms (for people, JUnit and JSON). What a
//! run creates on the server carries the run's prefix and is removed at its end.
//!
//! The front door: [`fixture::load_dir`] reads the fixtures, a [`Runner`] runs
//! them against a [`Target`] into [`CaseReport`]s, and [`report`] turns those into
//! a summary, JUnit and JSON.
//!
//! One concern per module. Public: [`fixture`] (the files), [`client`] (sending one
//! request), [`run`] (pre-flight, which fixtures can run, each case in each
//! variant), [`report`] (summary, JUnit, JSON, expected failures). Private, their
//! types re-exported here where callers meet them: `result` (what a run
//! produced), `server` (the target as the admin reaches it), `setup` (a case's
//! users and groups), `case` (one fixture in one variant), `cleanup` (removing
//! what runs created), `answer` and `tree` (XML and JSON into one tree), `expect`
//! (comparing), `snapshot` (insta), `names` (what a run calls its users),
//! `profile` (whose answers a run expects: documented or today's Nextcloud's).

mod answer;
mod case;
mod cleanup;
pub mod client;
mod expect;
pub mod fixture;
mod names;
mod profile;
pub mod report;
mod result;
pub mod run;
mod server;
mod setup;
mod snapshot;
mod tree;

pub use answer::{Answer, Body, Ocs};
pub use client::{Api, Client, Format, Outgoing, Variant};
pub use fixture::{Document, Fixture, Profile};
pub use names::RunPrefix;
pub use result::{CaseReport, Cleanup, Exchange, Finding, Outcome, Severity};
pub use run::{Options, PreflightError, Runner, Target};
pub use snapshot::{SnapshotSetupError, Snapshots};
pub use tree::Node;

/// The fixtures shipped with this crate (`fixtures/` at the workspace root).
pub fn default_fixture_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}
