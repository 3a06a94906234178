//! What the NSS module shows: users and groups with POSIX ids. The ids come from
//! the store's triggers (see the migration), so every way a row is created gets
//! one and none is ever handed out twice.

use crate::Result;

/// The configured id range, inclusive (`[nss] id_min`, `id_max`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdRange {
    pub min: u32,
    pub max: u32,
}

impl Default for IdRange {
    fn default() -> Self {
        IdRange {
            min: 200_000,
            max: 299_999,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixUser {
    pub name: String,
    pub id: u32,
    pub display_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixGroup {
    pub name: String,
    pub id: u32,
    pub members: Vec<String>,
}

/// Lookups for the NSS side, by name or by number, and enumeration.
pub trait Directory {
    fn set_id_range(&self, range: IdRange) -> Result<()>;
    /// The range ids are handed out from now.
    fn id_range(&self) -> Result<IdRange>;
    fn posix_user(&self, name: &str) -> Result<Option<PosixUser>>;
    fn posix_user_by_id(&self, id: u32) -> Result<Option<PosixUser>>;
    fn posix_users(&self) -> Result<Vec<PosixUser>>;
    fn posix_group(&self, name: &str) -> Result<Option<PosixGroup>>;
    fn posix_group_by_id(&self, id: u32) -> Result<Option<PosixGroup>>;
    fn posix_groups(&self) -> Result<Vec<PosixGroup>>;
    /// The ids of the groups `name` is a member of (not the private group).
    /// The (name, gid) of every group the user is a member of.
    fn posix_groups_of(&self, name: &str) -> Result<Vec<(String, u32)>>;
    /// Moves with every change of what the lookups above answer (store triggers),
    /// whichever process made it.
    fn directory_generation(&self) -> Result<u64>;
}
