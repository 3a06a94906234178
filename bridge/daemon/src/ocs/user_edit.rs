//! `PUT /cloud/users/{id}` (one key, one value) and
//! `PUT /cloud/users/{id}/{collection}` (the additional addresses): which keys
//! the user themself and their managers may set, as Nextcloud's `editUser`
//! allows them, and the checks each value passes.

use authbridge_core::SecretString;
use authbridge_store::{LOCAL_BACKEND, StoreError, User};
use std::collections::HashMap;

use super::envelope::{FORBIDDEN, Reply};
use super::user_data::{ADDITIONAL_MAIL, PROFILE_TEXT, additional_mail, scope_key};
use super::{Ctx, fields};

/// Who asks: the user themself, and whether an admin.
#[derive(Debug, Clone, Copy)]
pub struct Editor {
    pub own: bool,
    pub admin: bool,
}

/// Properties with a scope the user may set for themself.
const SCOPED: [&str; 15] = [
    "displayname",
    "email",
    "avatar",
    "phone",
    "address",
    "website",
    "twitter",
    "fediverse",
    "organisation",
    "role",
    "headline",
    "biography",
    "profile_enabled",
    "pronouns",
    "birthdate",
];

/// May this editor set `key`? Scopes are the user's own business; quota and
/// manager are their managers' (an admin editing themself included).
pub fn permitted(key: &str, editor: Editor) -> bool {
    let common = matches!(
        key,
        "display"
            | "displayname"
            | "email"
            | "additional_mail"
            | "password"
            | "language"
            | "locale"
            | "notify_email"
            | "profile_enabled"
            | "pronouns"
            | "birthdate"
    ) || PROFILE_TEXT.contains(&key);
    let scope = key
        .strip_suffix("Scope")
        .is_some_and(|property| SCOPED.contains(&property));
    let managerial = matches!(key, "quota" | "manager");
    common || (scope && editor.own) || (managerial && (!editor.own || editor.admin))
}

fn profile_map(ctx: &Ctx, uid: &str) -> Result<HashMap<String, String>, Reply> {
    Ok(ctx.store().profile(uid)?.into_iter().collect())
}

/// A profile value; an empty one removes it.
fn set_profile(ctx: &Ctx, uid: &str, key: &str, value: &str) -> Result<(), StoreError> {
    match value.is_empty() {
        true => ctx.store().delete_profile(uid, key).map(|_| ()),
        false => ctx.store().set_profile(uid, key, value),
    }
}

fn set_additional(
    ctx: &Ctx,
    uid: &str,
    addresses: &[String],
    scopes: &[String],
) -> Result<(), StoreError> {
    let json = |list: &[String]| serde_json::to_string(list).unwrap_or_else(|_| "[]".into());
    set_profile(ctx, uid, ADDITIONAL_MAIL, &json(addresses))?;
    set_profile(ctx, uid, &scope_key(ADDITIONAL_MAIL), &json(scopes))
}

/// One more additional address: valid, not the primary one, not there yet.
fn add_additional(ctx: &Ctx, user: &User, address: &str, bad: u32) -> Result<(), Reply> {
    let address = address.trim().to_lowercase();
    if address.is_empty() {
        return Err(Reply::fail(bad, "Invalid additional_mail: empty"));
    }
    fields::email(&address, bad)?;
    let (mut addresses, mut scopes) = additional_mail(&profile_map(ctx, &user.uid)?);
    let primary = user.email.as_deref().unwrap_or("").to_lowercase();
    if address == primary || addresses.contains(&address) {
        return Err(Reply::fail(
            bad,
            format!("{address} is already one of the user's addresses"),
        ));
    }
    // Bounded: the list is one profile value read on every user lookup.
    if addresses.len() >= 32 {
        return Err(Reply::fail(bad, "at most 32 additional addresses"));
    }
    addresses.push(address);
    scopes.push(super::user_data::default_scope(ADDITIONAL_MAIL).to_owned());
    set_additional(ctx, &user.uid, &addresses, &scopes)?;
    Ok(())
}

/// Sets `key` to `value` for `user`; `permitted` was asked before.
pub async fn apply(ctx: &Ctx, user: &User, key: &str, value: &str) -> Result<(), Reply> {
    let bad = ctx.profile().edit_bad_value;
    let store = ctx.store();
    let uid = user.uid.as_str();
    let stored = match key {
        "display" | "displayname" => {
            fields::text(value, bad)?;
            store.set_display_name(uid, Some(value).filter(|v| !v.is_empty()))
        }
        "email" => {
            fields::email(value, bad)?;
            store.set_email(uid, Some(value).filter(|v| !v.is_empty()))
        }
        "additional_mail" => return add_additional(ctx, user, value, bad),
        "notify_email" => {
            let (addresses, _) = additional_mail(&profile_map(ctx, uid)?);
            let value = value.trim().to_lowercase();
            let known = user.email.as_deref().map(str::to_lowercase).as_ref() == Some(&value)
                || addresses.contains(&value);
            if !value.is_empty() && !known {
                return Err(Reply::fail(
                    bad,
                    "Invalid notify_email: not one of the user's addresses",
                ));
            }
            set_profile(ctx, uid, key, &value)
        }
        "phone" if ctx.profile().phone_e164 => {
            set_profile(ctx, uid, key, &fields::phone(value, bad)?)
        }
        "website" => {
            fields::website(value, bad)?;
            set_profile(ctx, uid, key, value)
        }
        "twitter" => set_profile(ctx, uid, key, &fields::twitter(value, bad)?),
        "fediverse" => set_profile(ctx, uid, key, &fields::fediverse(value, bad)?),
        "phone" | "address" | "organisation" | "role" | "headline" | "biography" | "pronouns" => {
            fields::text(value, bad)?;
            set_profile(ctx, uid, key, value)
        }
        "birthdate" => {
            if !fields::birthdate(value) {
                return Err(Reply::fail(bad, "Invalid birthdate: YYYY-MM-DD expected"));
            }
            set_profile(ctx, uid, key, value)
        }
        "profile_enabled" => set_profile(ctx, uid, key, fields::flag(value, bad)?),
        "locale" => {
            if !value.is_empty() && !fields::locale(value) {
                return Err(Reply::fail(bad, format!("Invalid locale {value:?}")));
            }
            set_profile(ctx, uid, key, value)
        }
        "language" => {
            if !fields::language(value) {
                return Err(Reply::fail(bad, format!("Invalid language {value:?}")));
            }
            store.set_language(uid, Some(value))
        }
        "quota" => match fields::quota(value) {
            Some(q) => store.set_quota(uid, Some(&q)),
            None => return Err(Reply::fail(bad, format!("Invalid quota value: {value}"))),
        },
        "manager" => {
            // A user the caller could not look up is refused as one that does
            // not exist (found by review: the difference told who exists).
            let manager = match store.user(value) {
                _ if value.is_empty() => String::new(),
                Ok(m) if ctx.caller.admin || m.uid == ctx.caller.uid || ctx.manages(&m.uid)? => {
                    m.uid
                }
                Ok(_) | Err(StoreError::NoSuchUser(_) | StoreError::InvalidUid(_)) => {
                    return Err(Reply::fail(bad, format!("Invalid manager {value:?}")));
                }
                Err(e) => return Err(e.into()),
            };
            set_profile(ctx, uid, key, &manager)
        }
        "password" => return set_password(ctx, user, value).await,
        scoped => {
            let property = scoped.strip_suffix("Scope").unwrap_or(scoped);
            let scope = fields::scope(value, bad)?;
            // Nextcloud keeps the name and the address findable on this server.
            if matches!(property, "displayname" | "email") && scope == "v2-private" {
                return Err(Reply::fail(bad, "Invalid scope"));
            }
            set_profile(ctx, uid, scoped, scope)
        }
    };
    stored.map_err(|e| match e {
        StoreError::NoSuchUser(_) => {
            Reply::fail(ctx.profile().edit_missing_user, "User does not exist")
        }
        e => Reply::store_refusal(bad, &e),
    })
}

async fn set_password(ctx: &Ctx, user: &User, value: &str) -> Result<(), Reply> {
    if user.backend != LOCAL_BACKEND {
        return Err(Reply::fail(
            ctx.profile().edit_password_elsewhere,
            format!(
                "the password of {} lives on the {} server; change it there",
                user.uid, user.backend
            ),
        ));
    }
    if let Err(e) = authbridge_core::usable_password(value) {
        return Err(Reply::fail(107, e.to_string()));
    }
    if let Some(hint) = super::users::policy_hint(ctx, value) {
        return Err(Reply::fail(107, hint));
    }
    let hash = authbridge_local::hash_password_bounded(SecretString::from(value.to_owned()))
        .await
        .map_err(|busy| Reply::fail(ctx.profile().edit_bad_value, busy.to_string()))?;
    ctx.ocs
        .service
        .reset_password(&user.uid, &hash)
        .map_err(|e| Reply::store_refusal(ctx.profile().edit_bad_value, &e))
}

/// A device credential must not take the account over: neither the login
/// password nor the address its reset links go to.
pub fn needs_login_password(ctx: &Ctx, editor: Editor, key: &str) -> Option<Reply> {
    (editor.own && ctx.caller.by_app_password && matches!(key, "password" | "email")).then(|| {
        Reply::fail(
            FORBIDDEN,
            format!("Changing your own {key} needs your login password, not an app password"),
        )
    })
}

/// `PUT /cloud/users/{id}/additional_mail` (key: the address to replace, value:
/// the new one; an empty value removes) and `…/additional_mailScope` (key: the
/// address, value: its scope; the user themself only). 103 for any other
/// collection, as Nextcloud.
pub fn edit_collection(
    ctx: &Ctx,
    user: &User,
    editor: Editor,
    collection: &str,
    key: &str,
    value: &str,
) -> Result<(), Reply> {
    let bad = ctx.profile().edit_bad_value;
    let (mut addresses, mut scopes) = additional_mail(&profile_map(ctx, &user.uid)?);
    let key = key.trim().to_lowercase();
    match collection {
        "additional_mail" => {
            if let Some(at) = addresses.iter().position(|a| *a == key) {
                addresses.remove(at);
                scopes.remove(at);
                set_additional(ctx, &user.uid, &addresses, &scopes)?;
            }
            match value.is_empty() {
                true => Ok(()),
                false => add_additional(ctx, user, value, bad),
            }
        }
        "additional_mailScope" if editor.own => {
            let Some(at) = addresses.iter().position(|a| *a == key) else {
                return Err(Reply::fail(
                    102,
                    format!("{key} is not an additional address"),
                ));
            };
            scopes[at] = fields::scope(value, 102)?.to_owned();
            set_additional(ctx, &user.uid, &addresses, &scopes)?;
            Ok(())
        }
        _ => Err(Reply::fail(
            103,
            format!("{collection} cannot be edited this way"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_are_the_users_own_and_quota_their_managers() {
        let own = Editor {
            own: true,
            admin: false,
        };
        let manager = Editor {
            own: false,
            admin: false,
        };
        let admin_self = Editor {
            own: true,
            admin: true,
        };
        assert!(permitted("phoneScope", own) && !permitted("phoneScope", manager));
        assert!(!permitted("quota", own) && permitted("quota", manager));
        assert!(permitted("quota", admin_self) && permitted("manager", admin_self));
        assert!(permitted("biography", own) && permitted("biography", manager));
        assert!(!permitted("colour", own) && !permitted("colourScope", own));
        assert!(!permitted("Scope", own) && !permitted("idScope", own));
    }
}
