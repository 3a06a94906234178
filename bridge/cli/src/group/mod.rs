//! `authbridge group ...`: occ's group commands on the store.

mod defs;

pub use defs::GroupCommand;

use anyhow::{Result, bail};
use authbridge_core::clock;
use authbridge_store::AccountStore;
use serde_json::{Map, Value, json};

use crate::accounts::Accounts;
use crate::defs::Listing;
use crate::output;

pub fn run(accounts: &Accounts, command: GroupCommand) -> Result<()> {
    let store: &dyn AccountStore = &*accounts.store;
    match command {
        GroupCommand::Add { gid } => {
            store.create_group(&gid, clock::now())?;
            println!("Created group \"{gid}\"");
            if let Err(hidden) = accounts.names.check_export(&gid) {
                println!("Note: {hidden}");
            }
        }
        GroupCommand::Adduser { gid, uid } => {
            if !store.add_member(&gid, &uid)? {
                println!("{uid} is already a member of {gid}");
            }
        }
        GroupCommand::Removeuser { gid, uid } => {
            if !store.remove_member(&gid, &uid)? {
                bail!("{uid} is not a member of {gid}");
            }
        }
        GroupCommand::Delete { gid } => {
            store.delete_group(&gid)?;
            println!("Group \"{gid}\" was removed");
        }
        GroupCommand::Info { gid, output } => {
            // occ's layout: id, display name, backends (members: `group list --info`).
            let display = store
                .group_display_name(&gid)?
                .unwrap_or_else(|| gid.clone());
            let v = json!({"groupID": gid, "displayName": display, "backends": ["Database"]});
            output::print(output, &v);
        }
        GroupCommand::List {
            listing:
                Listing {
                    search,
                    limit,
                    offset,
                    info,
                    output,
                },
        } => {
            let mut m = Map::new();
            for gid in store.groups(search.as_deref(), limit, offset)? {
                let members = store.members(&gid)?;
                let v = if info {
                    let display = store
                        .group_display_name(&gid)?
                        .unwrap_or_else(|| gid.clone());
                    json!({"displayName": display, "backends": ["Database"], "users": members})
                } else {
                    json!(members)
                };
                m.insert(gid, v);
            }
            output::print(output, &Value::Object(m));
        }
    }
    Ok(())
}
