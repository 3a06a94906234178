//! The passwd and group entries the NSS module shows: store users with a uid from
//! the range, each with a private group of the same number (so no group has to be
//! shared as everyone's primary), and the store's groups with their members.
//!
//! The system's names come first: no entry is shown whose name or number the
//! host's own files know, nor a user the deny list names, nor a group the deny
//! list names or the `admin` role — so no sudoers or polkit rule written for the
//! host's groups can ever match something authbridge exports.

use authbridge_local::Names;
use authbridge_proto::{Group, Passwd};
use authbridge_store::{AccountStore, PosixGroup, PosixUser, Result};

use crate::settings::NssSettings;

pub struct Directory<'a> {
    store: &'a dyn AccountStore,
    nss: &'a NssSettings,
    names: &'a Names,
}

/// A failed read of the store, for a question whose "no" fails closed
/// (whose socket peer this is): logged, and "nobody".
fn or_none<T>(what: &str, r: authbridge_store::Result<T>) -> Option<T> {
    r.map_err(|e| tracing::warn!("nss {what}: {e}")).ok()
}

impl<'a> Directory<'a> {
    pub fn new(store: &'a dyn AccountStore, nss: &'a NssSettings, names: &'a Names) -> Self {
        Directory { store, nss, names }
    }

    fn user_shown(&self, u: &PosixUser) -> bool {
        self.names.check_user(&u.name).is_ok() && !self.names.system_id(u.id)
    }

    fn group_shown(&self, name: &str, id: u32) -> bool {
        self.names.check_export(name).is_ok() && !self.names.system_id(id)
    }

    /// A user's private group, unless the user or the group name is not shown.
    fn private_group_shown(&self, u: &PosixUser) -> bool {
        self.user_shown(u) && self.group_shown(&u.name, u.id)
    }

    /// A store group as shown: only exportable groups, only shown members.
    fn shown_group(&self, g: PosixGroup) -> Option<Group> {
        if !self.group_shown(&g.name, g.id) {
            return None;
        }
        let members = g
            .members
            .into_iter()
            .filter(|m| self.names.check_user(m).is_ok())
            .collect();
        Some(Group {
            name: g.name,
            gid: g.id,
            members,
        })
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

    /// The store user running as this uid (for the socket's per-peer rights).
    pub fn name_of(&self, uid: u32) -> Option<String> {
        or_none("uid", self.store.posix_user_by_id(uid))
            .flatten()
            .filter(|u| self.user_shown(u))
            .map(|u| u.name)
    }

    pub fn passwd_by_name(&self, name: &str) -> Result<Vec<Passwd>> {
        Ok(self
            .store
            .posix_user(name)?
            .filter(|u| self.user_shown(u))
            .map(|u| self.passwd(u))
            .into_iter()
            .collect())
    }

    pub fn passwd_by_id(&self, id: u32) -> Result<Vec<Passwd>> {
        Ok(self
            .store
            .posix_user_by_id(id)?
            .filter(|u| self.user_shown(u))
            .map(|u| self.passwd(u))
            .into_iter()
            .collect())
    }

    pub fn passwd_all(&self) -> authbridge_store::Result<Vec<Passwd>> {
        Ok(self
            .store
            .posix_users()?
            .into_iter()
            .filter(|u| self.user_shown(u))
            .map(|u| self.passwd(u))
            .collect())
    }

    /// A real group of that name first; else the user private group.
    pub fn group_by_name(&self, name: &str) -> Result<Vec<Group>> {
        if let Some(g) = self.store.posix_group(name)? {
            return Ok(self.shown_group(g).into_iter().collect());
        }
        Ok(self
            .store
            .posix_user(name)?
            .filter(|u| self.private_group_shown(u))
            .map(Self::private_group)
            .into_iter()
            .collect())
    }

    pub fn group_by_id(&self, id: u32) -> Result<Vec<Group>> {
        // Users and groups draw from one sequence: at most one of these exists.
        if let Some(g) = self.store.posix_group_by_id(id)? {
            return Ok(self.shown_group(g).into_iter().collect());
        }
        Ok(self
            .store
            .posix_user_by_id(id)?
            .filter(|u| self.private_group_shown(u))
            .map(Self::private_group)
            .into_iter()
            .collect())
    }

    /// Every group, or the store's error (a private group must never stand
    /// in for a store group of that name the store failed to list).
    pub fn group_all(&self) -> authbridge_store::Result<Vec<Group>> {
        let groups = self.store.posix_groups()?;
        let taken: std::collections::HashSet<String> =
            groups.iter().map(|g| g.name.to_lowercase()).collect();
        let mut all: Vec<Group> = groups
            .into_iter()
            .filter_map(|g| self.shown_group(g))
            .collect();
        all.extend(
            self.store
                .posix_users()?
                .into_iter()
                .filter(|u| !taken.contains(&u.name.to_lowercase()))
                .filter(|u| self.private_group_shown(u))
                .map(Self::private_group),
        );
        all.sort_by_key(|g| g.gid);
        Ok(all)
    }

    /// The groups a user is a member of, as initgroups wants them: none for a
    /// user not shown, and only groups that are exported.
    pub fn group_ids_of(&self, name: &str) -> Result<Vec<u32>> {
        if self.names.check_user(name).is_err() {
            return Ok(vec![]);
        }
        Ok(self
            .store
            .posix_groups_of(name)?
            .into_iter()
            .filter(|(group, id)| self.group_shown(group, *id))
            .map(|(_, id)| id)
            .collect())
    }
}
