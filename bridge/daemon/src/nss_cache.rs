//! Keeps the NSS cache file beside the socket current: published at start-up,
//! again whenever the store's directory generation moves (any process's
//! change) or the file was marked stale, and before it expires.
//!
//! Changes made through this daemon mark the file stale at once (the store's
//! directory listener, wired in `serve`); the loop below then republishes
//! within [`CHECK_INTERVAL`]. Between the two, modules ask the daemon.

use authbridge_nsscache::{HEADER_LEN, STATE_LIVE, Snapshot};
use authbridge_proto::Group;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, watch};

use crate::directory::Directory;
use crate::service::Service;

/// How often the store's generation and the file's state are looked at.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// What was published last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Published {
    generation: u64,
    expires: u64,
}

fn now_secs() -> u64 {
    crate::clock::now_ms() as u64 / 1000
}

/// Each user's supplementary groups, as initgroups answers them: the exported
/// groups the user is a listed member of.
fn initgroups(groups: &[Group], users: &[authbridge_proto::Passwd]) -> Vec<(String, Vec<u32>)> {
    let mut of: HashMap<&str, Vec<u32>> = users.iter().map(|u| (u.name.as_str(), vec![])).collect();
    for g in groups {
        for m in &g.members {
            if let Some(ids) = of.get_mut(m.as_str()) {
                ids.push(g.gid);
            }
        }
    }
    users
        .iter()
        .map(|u| {
            (
                u.name.clone(),
                of.remove(u.name.as_str()).unwrap_or_default(),
            )
        })
        .collect()
}

/// Builds and publishes one snapshot; the store's generation is read before
/// the entries and again under the file lock, so a change committed meanwhile
/// stops the publish rather than being hidden by it.
fn publish_once(service: &Service, dir: &Path) -> Result<Published, String> {
    let engine = service.engine();
    let store = service.store();
    let generation = store
        .directory_generation()
        .map_err(|e| format!("store: {e}"))?;
    let directory = Directory::new(&**store, &engine.nss, &engine.names);
    // A store error fails the publish (the last file stays until it expires
    // or is marked stale): a partial list must never be served as whole.
    let passwd = directory.passwd_all().map_err(|e| format!("store: {e}"))?;
    let groups = directory.group_all().map_err(|e| format!("store: {e}"))?;
    let initgroups = initgroups(&groups, &passwd);
    let expires = now_secs() + engine.nss.memcache_timeout.as_secs();
    let bytes = authbridge_nsscache::encode(&Snapshot {
        generation,
        expires,
        passwd: &passwd,
        groups: &groups,
        initgroups: &initgroups,
    })
    .map_err(|e| e.to_string())?;
    authbridge_nsscache::publish(dir, &bytes, || {
        store.directory_generation().ok() == Some(generation)
    })
    .map_err(|e| e.to_string())?;
    tracing::debug!(
        users = passwd.len(),
        groups = groups.len(),
        bytes = bytes.len(),
        generation,
        "NSS cache published"
    );
    Ok(Published {
        generation,
        expires,
    })
}

/// The published file's header says it is still live.
fn still_live(path: &Path) -> bool {
    use std::os::unix::fs::FileExt;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    let mut head = [0u8; HEADER_LEN];
    file.read_exact_at(&mut head, 0).is_ok()
        && authbridge_nsscache::header(&head).is_ok_and(|h| h.state == STATE_LIVE)
}

/// Runs until `stop` turns true. `changed` wakes it early (a change made here).
pub async fn run(
    service: Arc<Service>,
    socket: PathBuf,
    changed: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let dir = authbridge_nsscache::cache_dir(&socket);
    let path = dir.join(authbridge_nsscache::FILE_NAME);
    let mut published: Option<Published> = None;
    if let Err(e) = authbridge_nsscache::clean_leftovers(&dir) {
        tracing::debug!("NSS cache leftovers not cleaned: {e}");
    }
    loop {
        let last_check = tokio::time::Instant::now();
        let timeout = service.engine().nss.memcache_timeout;
        if timeout.is_zero() {
            if (published.take().is_some() || path.exists())
                && let Err(e) = authbridge_nsscache::withdraw(&dir)
            {
                tracing::warn!("NSS cache not withdrawn: {e}");
            }
        } else {
            let generation = service.store().directory_generation().ok();
            let due = match published {
                None => true,
                Some(p) => {
                    generation != Some(p.generation)
                        || now_secs() + timeout.as_secs() / 2 >= p.expires
                        || !still_live(&path)
                }
            };
            if due {
                let (service, dir) = (Arc::clone(&service), dir.clone());
                match tokio::task::spawn_blocking(move || publish_once(&service, &dir)).await {
                    Ok(Ok(p)) => published = Some(p),
                    Ok(Err(e)) => {
                        published = None;
                        tracing::warn!("NSS cache not published (lookups ask the daemon): {e}");
                    }
                    Err(e) => tracing::error!("NSS cache publisher failed: {e}"),
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(CHECK_INTERVAL) => {}
            // A change made here: the file is stale already; republish soon,
            // but at most once per interval (a bulk of changes costs one build).
            _ = changed.notified() => {
                tokio::select! {
                    _ = tokio::time::sleep_until(last_check + CHECK_INTERVAL) => {}
                    _ = stop.changed() => break,
                }
            }
            _ = stop.changed() => break,
        }
    }
    // The file would outlive the daemon for memcache_timeout: withdraw it so
    // modules ask (and find nobody) rather than answer for a stopped service.
    if let Err(e) = authbridge_nsscache::withdraw(&dir) {
        tracing::warn!("NSS cache not withdrawn at stop: {e}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use authbridge_proto::Passwd;

    fn user(name: &str, id: u32) -> Passwd {
        Passwd {
            name: name.into(),
            uid: id,
            gid: id,
            gecos: String::new(),
            dir: String::new(),
            shell: String::new(),
        }
    }

    #[test]
    fn initgroups_lists_the_groups_a_user_is_a_member_of_and_nothing_for_others() {
        let users = [user("alice", 1), user("bob", 2)];
        let groups = [
            Group {
                name: "physics".into(),
                gid: 10,
                members: vec!["alice".into(), "bob".into(), "ghost".into()],
            },
            Group {
                name: "chem".into(),
                gid: 11,
                members: vec!["alice".into()],
            },
        ];
        assert_eq!(
            initgroups(&groups, &users),
            [
                ("alice".to_owned(), vec![10, 11]),
                ("bob".to_owned(), vec![10])
            ]
        );
    }
}
