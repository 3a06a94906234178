//! Where today's Nextcloud answers differently from its documentation, the two
//! profiles `[ocs] compat` chooses between: `nextcloud` (the default: scripts
//! written against a real server work unchanged) and `documented` (the codes
//! the Provisioning API documents). Every such difference is one field here;
//! `bridge/daemon/OCS-DIFFERENCES.md` is the same table for readers. The
//! Nextcloud column was read from its source (apps/provisioning_api,
//! lib/private/AppFramework/OCS), not measured against a running server.

pub use crate::settings::Compat;

/// The answers that differ between the profiles.
#[derive(Debug)]
pub struct Profile {
    /// A v1 request the caller's role does not allow: 997 ("unauthorised", as
    /// documented) or 403 (Nextcloud since 22: `OCSForbiddenException`,
    /// rendered by `V1Response` with HTTP 200).
    pub v1_forbidden: u32,
    /// A user the caller may not administer, or (to anyone but an admin, so that
    /// nobody learns who exists) one that does not exist: 403, or 998 with an
    /// empty message as Nextcloud's `UsersController` answers.
    pub no_rights_over_user: u32,
    /// `GET /cloud/users/{id}`, an admin asking for a user that does not exist:
    /// 998, or 404 (`OCSNotFoundException('User does not exist')`).
    pub get_missing_user: u32,
    /// `PUT /cloud/users/{id}` for a user that does not exist (admins): 101, or 998.
    pub edit_missing_user: u32,
    /// `PUT /cloud/users/{id}` with a key the caller may not set: 102, or 113.
    pub edit_key_not_allowed: u32,
    /// `PUT /cloud/users/{id}`, quota or manager of oneself (a non-admin): 403
    /// (forbidden), or 113 like any key not allowed.
    pub edit_own_quota: u32,
    /// `PUT /cloud/users/{id}` phone: kept as written, or checked and stored in
    /// international form as Nextcloud's `AccountManager` does (with no default
    /// region configured, only `+` numbers pass).
    pub phone_e164: bool,
    /// `POST /cloud/users` whose invitation mail cannot be sent: 109 and the
    /// user is not created, or created all the same and the failure logged
    /// (Nextcloud since the invitation became a background mail).
    pub add_user_fails_with_its_mail: bool,
    /// `PUT /cloud/users/{id}` with a value that does not pass: 102, or 101
    /// (Nextcloud 30+, nextcloud/server#47846).
    pub edit_bad_value: u32,
    /// `PUT /cloud/users/{id}` password of an account whose password authbridge
    /// does not keep: 102, or 112 ("not supported by the backend").
    pub edit_password_elsewhere: u32,
    /// `DELETE /cloud/users/{id}` for a user that does not exist (admins): 101, or 998.
    pub delete_missing_user: u32,
    /// `GET /cloud/users/{id}/subadmins` for a user that does not exist: 101, or
    /// 404 (`OCSNotFoundException` in `getUserSubAdminGroupsData`).
    pub subadmins_of_missing_user: u32,
    /// `DELETE /cloud/users/{id}/subadmins` naming a group that does not exist:
    /// 102, or 101.
    pub demote_in_missing_group: u32,
    /// `GET /cloud/groups/{id}` for a group that does not exist: 998, or 404.
    pub members_of_missing_group: u32,
    /// `POST /cloud/users` with a `subadmin[]` group that does not exist: 104, or 109.
    pub add_user_subadmin_group_missing: u32,
    /// `POST /cloud/users` with `subadmin[]` from a caller who may not appoint
    /// subadmins: 105, or 403 (`OCSForbiddenException`).
    pub add_user_subadmin_not_allowed: u32,
    /// A parameter the endpoint does not read (`POST /cloud/users`,
    /// `PUT /cloud/users/{id}`, `POST /cloud/groups`): refused as invalid input,
    /// or ignored (Nextcloud's dispatcher passes only the parameters a method
    /// declares).
    pub refuses_unknown_parameters: bool,
    /// The XML media type: `text/xml` (the documents' examples) or
    /// `application/xml` (AppFramework's `BaseResponse`).
    pub xml_content_type: &'static str,
}

pub const DOCUMENTED: Profile = Profile {
    v1_forbidden: 997,
    no_rights_over_user: 403,
    get_missing_user: 998,
    edit_missing_user: 101,
    edit_key_not_allowed: 102,
    edit_own_quota: 403,
    phone_e164: false,
    add_user_fails_with_its_mail: true,
    edit_bad_value: 102,
    edit_password_elsewhere: 102,
    delete_missing_user: 101,
    subadmins_of_missing_user: 101,
    demote_in_missing_group: 102,
    members_of_missing_group: 998,
    add_user_subadmin_group_missing: 104,
    add_user_subadmin_not_allowed: 105,
    refuses_unknown_parameters: true,
    xml_content_type: "text/xml; charset=UTF-8",
};

pub const NEXTCLOUD: Profile = Profile {
    v1_forbidden: 403,
    no_rights_over_user: 998,
    get_missing_user: 404,
    edit_missing_user: 998,
    edit_key_not_allowed: 113,
    edit_own_quota: 113,
    phone_e164: true,
    add_user_fails_with_its_mail: false,
    edit_bad_value: 101,
    edit_password_elsewhere: 112,
    delete_missing_user: 998,
    subadmins_of_missing_user: 404,
    demote_in_missing_group: 101,
    members_of_missing_group: 404,
    add_user_subadmin_group_missing: 109,
    add_user_subadmin_not_allowed: 403,
    refuses_unknown_parameters: false,
    xml_content_type: "application/xml; charset=utf-8",
};

pub fn profile(compat: Compat) -> &'static Profile {
    match compat {
        Compat::Nextcloud => &NEXTCLOUD,
        Compat::Documented => &DOCUMENTED,
    }
}
