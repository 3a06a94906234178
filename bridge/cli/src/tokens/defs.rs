//! `authbridge user auth-tokens ...`: the arguments.

use clap::{Args, Subcommand};

use crate::output::Format;

#[derive(Subcommand)]
pub enum TokenCommand {
    /// Create an app password and print it once
    Add(TokenAdd),
    /// List a user's app passwords
    List {
        uid: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Delete one app password by id, or all last used before a date
    Delete {
        uid: String,
        /// The id shown by `user auth-tokens list`
        #[arg(
            required_unless_present = "last_used_before",
            conflicts_with = "last_used_before"
        )]
        id: Option<i64>,
        /// YYYY-MM-DD (UTC midnight)
        #[arg(long)]
        last_used_before: Option<String>,
    },
}

#[derive(Args)]
pub struct TokenAdd {
    pub uid: String,
    /// A name to recognise it by (e.g. the device)
    #[arg(long, default_value = "cli")]
    pub name: String,
    /// Prove the user's login password first, read from NC_PASS (checked by the
    /// local store or the configured backends, never by another app password)
    #[arg(long)]
    pub password_from_env: bool,
}
