//! `authbridge user ...`: the arguments (what each command runs is in `user`).

use clap::{Args, Subcommand};
use std::path::PathBuf;

use crate::defs::Listing;
use crate::output::Format;
use crate::tokens::{TokenAdd, TokenCommand};

#[derive(Subcommand)]
pub enum UserCommand {
    /// Add a local user (the `Database` backend)
    Add(UserAdd),
    /// Delete a user, with their memberships, subadmin rights and app passwords
    Delete { uid: String },
    /// Disable a user: every way in fails from the next check on
    Disable { uid: String },
    /// Enable a disabled user
    Enable { uid: String },
    /// Show a user's details
    Info {
        uid: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// List users (SEARCH matches the id, display name or e-mail)
    List {
        #[command(flatten)]
        listing: Listing,
        /// Only disabled users
        #[arg(long)]
        disabled: bool,
    },
    /// Show when a user last logged in
    Lastseen {
        uid: Option<String>,
        /// All users
        #[arg(long)]
        all: bool,
    },
    /// Count users per backend, active and disabled
    Report,
    /// Read and change a user's settings (per app)
    Setting {
        uid: String,
        app: Option<String>,
        key: Option<String>,
        value: Option<String>,
        /// Delete the setting APP KEY
        #[arg(long, conflicts_with = "value")]
        delete: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Read and change a user's profile fields
    Profile {
        uid: String,
        field: Option<String>,
        value: Option<String>,
        /// Delete FIELD
        #[arg(long, conflicts_with = "value")]
        delete: bool,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Manage a user's app passwords
    #[command(name = "auth-tokens", subcommand)]
    AuthTokens(TokenCommand),
    /// (deprecated) alias for `user auth-tokens add`
    #[command(name = "add-app-password")]
    AddAppPassword(TokenAdd),
    /// Mail the user a single-use link to set their password (the welcome mail).
    ///
    /// With --reset-password the current password stops working at once (app
    /// passwords stay): the link is the way back in. Needs [mail] in the config.
    #[command(verbatim_doc_comment)]
    Welcome {
        uid: String,
        #[arg(long)]
        reset_password: bool,
    },
    /// Set or delete a user's uploaded avatar (PNG or JPEG)
    #[command(subcommand)]
    Avatar(AvatarCommand),
    /// occ's user:clear-avatar-cache: here no generated avatar is ever stored
    ///
    /// The daemon draws generated avatars on request and keeps them in memory
    /// only, keyed by display name, so a renamed user's is drawn anew; there is
    /// nothing on disk to clear. Uploaded avatars stay.
    #[command(name = "clear-avatar-cache", verbatim_doc_comment)]
    ClearAvatarCache,
    /// occ's user:sync-account-data: what each external account's own backend
    /// tells of it without a password.
    ///
    /// The groups it derives (IMAP's group_domain) are joined; each account
    /// that changed is printed as "UID - updated". An account is never moved
    /// to another backend (a server that knows the same name is another
    /// person), never renamed; local accounts are left alone.
    #[command(name = "sync-account-data", verbatim_doc_comment)]
    SyncAccountData {
        #[arg(long)]
        limit: Option<usize>,
        #[arg(long, default_value_t = 0)]
        offset: usize,
    },
    /// Set or clear a local user's password
    Resetpassword {
        uid: String,
        /// Read the password from OC_PASS
        #[arg(long)]
        password_from_env: bool,
        /// Clear the password (asks for confirmation on standard input)
        #[arg(long, conflicts_with = "password_from_env")]
        no_password: bool,
    },
}

#[derive(Subcommand)]
pub enum AvatarCommand {
    /// Store FILE as UID's avatar, served at /index.php/avatar/UID/SIZE.
    ///
    /// PNG or JPEG, at most 5 MiB and 4096x4096 pixels. What is stored is the
    /// square in the middle of the image, at most 512x512, re-encoded in its
    /// own format (metadata is not kept).
    #[command(verbatim_doc_comment)]
    Set { uid: String, file: PathBuf },
    /// Delete UID's uploaded avatar (the generated one is served again)
    Delete { uid: String },
}

#[derive(Args)]
pub struct UserAdd {
    pub uid: String,
    /// Read the password from OC_PASS
    #[arg(long)]
    pub password_from_env: bool,
    /// Set a random password that is never shown (with --email, a welcome mail is owed)
    #[arg(long, conflicts_with = "password_from_env")]
    pub generate_password: bool,
    #[arg(long)]
    pub display_name: Option<String>,
    /// Groups to join, created when missing (repeatable)
    #[arg(short, long = "group")]
    pub group: Vec<String>,
    #[arg(long)]
    pub email: Option<String>,
    /// An account of an external backend, known before its first login (sshd looks
    /// users up before it authenticates them); its password stays on that server
    #[arg(long, value_enum, conflicts_with_all = ["password_from_env", "generate_password"])]
    pub backend: Option<External>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
pub enum External {
    Imap,
    Smb,
    Ftp,
}

impl External {
    pub fn name(self) -> &'static str {
        use authbridge_core::BackendKind;
        match self {
            External::Imap => BackendKind::Imap.as_str(),
            External::Smb => BackendKind::Smb.as_str(),
            External::Ftp => BackendKind::Ftp.as_str(),
        }
    }
}
