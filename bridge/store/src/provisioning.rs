//! What the OCS Provisioning API needs beyond accounts and groups: subadmin
//! rights, quota and language, the on/off state of authbridge's optional modules,
//! and single-use password-set tokens.

use crate::Result;

pub trait ProvisioningStore {
    /// Makes `uid` a subadmin of `gid`; false when it already was.
    fn add_subadmin(&self, gid: &str, uid: &str) -> Result<bool>;
    /// False when `uid` was not a subadmin of `gid`.
    fn remove_subadmin(&self, gid: &str, uid: &str) -> Result<bool>;
    fn subadmin_groups(&self, uid: &str) -> Result<Vec<String>>;
    fn group_subadmins(&self, gid: &str) -> Result<Vec<String>>;
    fn set_quota(&self, uid: &str, quota: Option<&str>) -> Result<()>;
    fn set_language(&self, uid: &str, language: Option<&str>) -> Result<()>;
    /// Whether a welcome mail is still owed to `uid`.
    fn set_welcome_pending(&self, uid: &str, pending: bool) -> Result<()>;
    /// None when the module was never switched (its default applies).
    fn app_enabled(&self, id: &str) -> Result<Option<bool>>;
    fn set_app_enabled(&self, id: &str, enabled: bool) -> Result<()>;
    /// Stores a token hash for `uid`, valid until `expires` (unix seconds).
    fn add_password_token(&self, uid: &str, hash: &[u8], expires: i64) -> Result<()>;
    /// The token's user, if it exists and has not expired; the token is deleted
    /// either way (single use).
    fn take_password_token(&self, hash: &[u8], now: i64) -> Result<Option<String>>;
    /// The token's user if valid now, without using it up (to show the form).
    fn peek_password_token(&self, hash: &[u8], now: i64) -> Result<Option<String>>;
}
