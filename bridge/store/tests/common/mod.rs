//! What the store's test files share.

use authbridge_store::NewUser;

/// A local user in these groups, its password hash a stand-in (nothing here
/// verifies it).
pub fn local(uid: &str, groups: &[&str]) -> NewUser {
    NewUser {
        uid: uid.into(),
        backend: "Database".into(),
        password_hash: Some("$argon2id$stand-in".into()),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        ..NewUser::default()
    }
}
