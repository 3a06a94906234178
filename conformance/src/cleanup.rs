//! Removing what runs created: this run's users and groups at its end (also after
//! a failure or Ctrl-C), and the leftovers of crashed runs before a run starts.
//! Only ids carrying a run's prefix are ever deleted.

use crate::client::{Outgoing, encode};
use crate::names::{self, RunPrefix};
use crate::result::Cleanup;
use crate::server::Server;
use reqwest::Method;
use std::time::{Duration, SystemTime};

/// Removes users and groups of earlier runs that started more than `older_than`
/// ago (a run in progress elsewhere is younger than that).
pub(crate) async fn sweep(server: &Server, older_than: Duration) -> Cleanup {
    let now = SystemTime::now();
    remove_matching(server, names::MARK, |id| {
        names::started(id).is_some_and(|t| now.duration_since(t).unwrap_or_default() >= older_than)
    })
    .await
}

/// Removes every user and group the run with `prefix` created.
pub(crate) async fn remove_run(server: &Server, prefix: &RunPrefix) -> Cleanup {
    let prefix = prefix.as_str();
    remove_matching(server, prefix, |id| id.starts_with(prefix)).await
}

async fn remove_matching(server: &Server, search: &str, ours: impl Fn(&str) -> bool) -> Cleanup {
    let mut cleanup = Cleanup::default();
    for (kind, list_key) in [("users", "users"), ("groups", "groups")] {
        let ids = match list_all(server, kind, list_key, search).await {
            Ok(ids) => ids,
            Err(e) => {
                cleanup
                    .errors
                    .push(format!("listing {kind} matching {search:?}: {e}"));
                continue;
            }
        };
        for id in ids.into_iter().filter(|id| ours(id)) {
            let request = Outgoing::new(Method::DELETE, format!("/cloud/{kind}/{}", encode(&id)));
            match server.as_admin(request, "cleanup").await {
                Ok(answer) if answer.succeeded() => {
                    if kind == "users" {
                        cleanup.users_removed += 1;
                    } else {
                        cleanup.groups_removed += 1;
                    }
                }
                Ok(answer) => cleanup
                    .errors
                    .push(format!("deleting {kind} {id}: {}", answer.describe())),
                Err(e) => cleanup.errors.push(format!("deleting {kind} {id}: {e}")),
            }
        }
    }
    cleanup
}

async fn list_all(
    server: &Server,
    kind: &str,
    key: &str,
    search: &str,
) -> Result<Vec<String>, String> {
    const PAGE: usize = 200;
    let mut all = Vec::new();
    loop {
        let request = Outgoing::new(Method::GET, format!("/cloud/{kind}"))
            .query("search", search)
            .query("limit", &PAGE.to_string())
            .query("offset", &all.len().to_string());
        let answer = server
            .as_admin(request, "cleanup")
            .await
            .map_err(|e| e.to_string())?;
        let ocs = answer.ocs().ok_or_else(|| answer.describe())?;
        let page: Vec<String> = match ocs.data.get(key) {
            Some(crate::tree::Node::List(items)) => items
                .iter()
                .filter_map(|n| n.text().map(str::to_owned))
                .collect(),
            _ => Vec::new(),
        };
        let done = page.len() < PAGE;
        all.extend(page);
        if done {
            return Ok(all);
        }
    }
}
