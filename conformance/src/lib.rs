//! ocs-conformance: replays documented OCS Provisioning API fixtures (`fixtures/`)
//! against an OCS server, compares each answer with what the documentation says,
//! and snapshot-tests it per target.
//!
//! One concern per module: [`fixture`] (the files), [`client`] (sending one
//! request), [`answer`] and [`tree`] (parsing XML and JSON into one tree),
//! [`expect`] (comparing), [`run`] (setup, cases, clean-up), [`snapshot`] (insta),
//! [`report`] (summary, JUnit, JSON), [`names`] (what a run calls its users).

pub mod answer;
mod case;
pub mod cleanup;
pub mod client;
pub mod expect;
pub mod fixture;
pub mod names;
pub mod report;
pub mod run;
pub mod snapshot;
pub mod tree;

/// The fixtures shipped with this crate (`fixtures/` at the workspace root).
pub fn default_fixture_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fixtures")
}
