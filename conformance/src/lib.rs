//! ocs-conformance: replays documented OCS Provisioning API request/response
//! fixtures against an OCS server and snapshot-tests the answers.
//!
//! Not built yet: the fixture model, runner and CLI are the work of their own
//! issue. This crate exists so the workspace has its final shape.
