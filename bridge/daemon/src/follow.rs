//! What a daemon keeps in memory from a store that other hosts' daemons write
//! too: the module switches and the throttle's counts, read again every
//! [`FOLLOW_EVERY`]. Everything else a request depends on (an account, its
//! password, its app passwords, its second factors) is read from the store by
//! the request itself, so a change made on another host holds on this one at
//! the next request.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::service::Service;

/// How often a daemon on a shared store looks at other hosts' changes: a
/// module switched off, or failures counted, on one host holds on every other
/// within this (and the time of one store read).
pub const FOLLOW_EVERY: Duration = Duration::from_millis(500);

/// Runs until `stop` turns true; returns at once on a store of this machine
/// only.
pub async fn run(service: Arc<Service>, mut stop: watch::Receiver<bool>) {
    if !service.store().shared_by_hosts() {
        return;
    }
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(FOLLOW_EVERY) => {}
            _ = stop.changed() => break,
        }
        let service = Arc::clone(&service);
        match tokio::task::spawn_blocking(move || service.follow_store()).await {
            Ok(Ok(())) if failing => {
                failing = false;
                tracing::info!("the store answers again: following other hosts' changes");
            }
            Ok(Ok(())) => {}
            Ok(Err(e)) if !failing => {
                failing = true;
                tracing::warn!("cannot follow other hosts' changes (trying again): {e}");
            }
            Ok(Err(_)) => {}
            Err(e) => tracing::error!("following other hosts' changes failed: {e}"),
        }
    }
}
