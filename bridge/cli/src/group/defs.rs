//! `authbridge group ...`: the arguments.

use clap::Subcommand;

use crate::defs::Listing;
use crate::output::Format;

#[derive(Subcommand)]
pub enum GroupCommand {
    /// Add a group
    Add { gid: String },
    /// Add a user to a group
    Adduser { gid: String, uid: String },
    /// Remove a user from a group
    Removeuser { gid: String, uid: String },
    /// Delete a group (not the admin group); its users stay
    Delete { gid: String },
    /// Show a group
    Info {
        gid: String,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// List groups and their members
    List {
        #[command(flatten)]
        listing: Listing,
    },
}
