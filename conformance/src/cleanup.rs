//! Removing what runs created: this run's users and groups at its end (also after
//! a failure or Ctrl-C), and the leftovers of crashed runs before a run starts.
//! Only ids carrying a run's prefix are ever deleted.

use crate::client::Outgoing;
use crate::names;
use crate::run::{Runner, V1_XML, encode};
use reqwest::Method;
use std::time::{Duration, SystemTime};

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

impl Runner {
    /// Removes users and groups of earlier runs that started more than
    /// `older_than` ago (a run in progress elsewhere is younger than that).
    pub async fn sweep(&self, older_than: Duration) -> Cleanup {
        let now = SystemTime::now();
        self.remove_matching(names::MARK, |id| {
            names::started(id)
                .is_some_and(|t| now.duration_since(t).unwrap_or_default() >= older_than)
        })
        .await
    }

    /// Removes every user and group this run created.
    pub async fn cleanup(&self) -> Cleanup {
        let prefix = self.prefix.as_str().to_owned();
        self.remove_matching(&prefix, |id| id.starts_with(&prefix))
            .await
    }

    async fn remove_matching(&self, search: &str, ours: impl Fn(&str) -> bool) -> Cleanup {
        let mut cleanup = Cleanup::default();
        for (kind, list_key) in [("users", "users"), ("groups", "groups")] {
            let ids = match self.list_all(kind, list_key, search).await {
                Ok(ids) => ids,
                Err(e) => {
                    cleanup
                        .errors
                        .push(format!("listing {kind} matching {search:?}: {e}"));
                    continue;
                }
            };
            for id in ids.into_iter().filter(|id| ours(id)) {
                let request =
                    Outgoing::new(Method::DELETE, format!("/cloud/{kind}/{}", encode(&id)))
                        .as_user(&self.admin());
                match self.client.send(&request, V1_XML, "cleanup").await {
                    Ok((answer, _)) if answer.succeeded() => {
                        if kind == "users" {
                            cleanup.users_removed += 1;
                        } else {
                            cleanup.groups_removed += 1;
                        }
                    }
                    Ok((answer, _)) => cleanup
                        .errors
                        .push(format!("deleting {kind} {id}: {}", answer.describe())),
                    Err(e) => cleanup.errors.push(format!("deleting {kind} {id}: {e}")),
                }
            }
        }
        cleanup
    }

    async fn list_all(&self, kind: &str, key: &str, search: &str) -> Result<Vec<String>, String> {
        const PAGE: usize = 200;
        let mut all = Vec::new();
        loop {
            let request = Outgoing::new(Method::GET, format!("/cloud/{kind}"))
                .query("search", search)
                .query("limit", &PAGE.to_string())
                .query("offset", &all.len().to_string())
                .as_user(&self.admin());
            let (answer, _) = self
                .client
                .send(&request, V1_XML, "cleanup")
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
}
