//! The passwd and group entries the NSS module shows: store users with a uid from
//! the range, each with a private group of the same number (so no group has to be
//! shared as everyone's primary), and the store's groups with their members.

use authbridge_proto::{Group, Passwd};
use authbridge_store::{Directory as _, PosixGroup, PosixUser, SqliteStore};

use crate::settings::NssSettings;

pub struct Directory<'a> {
    store: &'a SqliteStore,
    nss: &'a NssSettings,
}

/// A lookup that failed in the store answers "not found" (logged): NSS callers
/// get an empty answer rather than a daemon error for one bad read.
fn or_none<T>(what: &str, r: authbridge_store::Result<T>) -> Option<T> {
    r.map_err(|e| tracing::warn!("nss {what}: {e}")).ok()
}

impl<'a> Directory<'a> {
    pub fn new(store: &'a SqliteStore, nss: &'a NssSettings) -> Self {
        Directory { store, nss }
    }

    fn passwd(&self, u: PosixUser) -> Passwd {
        Passwd {
            dir: self.nss.home_of(&u.name),
            gecos: u.display_name.unwrap_or_default(),
            uid: u.id,
            gid: u.id,
            name: u.name,
            shell: self.nss.shell.clone(),
        }
    }

    fn private_group(u: PosixUser) -> Group {
        Group {
            name: u.name,
            gid: u.id,
            members: vec![],
        }
    }

    fn group(g: PosixGroup) -> Group {
        Group {
            name: g.name,
            gid: g.id,
            members: g.members,
        }
    }

    pub fn name_of(&self, uid: u32) -> Option<String> {
        or_none("uid", self.store.posix_user_by_id(uid))
            .flatten()
            .map(|u| u.name)
    }

    pub fn passwd_by_name(&self, name: &str) -> Vec<Passwd> {
        or_none("getpwnam", self.store.posix_user(name))
            .flatten()
            .map(|u| self.passwd(u))
            .into_iter()
            .collect()
    }

    pub fn passwd_by_id(&self, id: u32) -> Vec<Passwd> {
        or_none("getpwuid", self.store.posix_user_by_id(id))
            .flatten()
            .map(|u| self.passwd(u))
            .into_iter()
            .collect()
    }

    pub fn passwd_all(&self) -> Vec<Passwd> {
        or_none("getpwent", self.store.posix_users())
            .unwrap_or_default()
            .into_iter()
            .map(|u| self.passwd(u))
            .collect()
    }

    /// A real group of that name first; else the user private group.
    pub fn group_by_name(&self, name: &str) -> Vec<Group> {
        if let Some(g) = or_none("getgrnam", self.store.posix_group(name)).flatten() {
            return vec![Self::group(g)];
        }
        or_none("getgrnam", self.store.posix_user(name))
            .flatten()
            .map(Self::private_group)
            .into_iter()
            .collect()
    }

    pub fn group_by_id(&self, id: u32) -> Vec<Group> {
        // Users and groups draw from one sequence: at most one of these exists.
        if let Some(g) = or_none("getgrgid", self.store.posix_group_by_id(id)).flatten() {
            return vec![Self::group(g)];
        }
        or_none("getgrgid", self.store.posix_user_by_id(id))
            .flatten()
            .map(Self::private_group)
            .into_iter()
            .collect()
    }

    pub fn group_all(&self) -> Vec<Group> {
        let mut all: Vec<Group> = or_none("getgrent", self.store.posix_groups())
            .unwrap_or_default()
            .into_iter()
            .map(Self::group)
            .collect();
        let taken: std::collections::HashSet<String> =
            all.iter().map(|g| g.name.to_lowercase()).collect();
        all.extend(
            or_none("getgrent", self.store.posix_users())
                .unwrap_or_default()
                .into_iter()
                .filter(|u| !taken.contains(&u.name.to_lowercase()))
                .map(Self::private_group),
        );
        all.sort_by_key(|g| g.gid);
        all
    }

    pub fn group_ids_of(&self, name: &str) -> Vec<u32> {
        or_none("initgroups", self.store.posix_group_ids_of(name)).unwrap_or_default()
    }
}
