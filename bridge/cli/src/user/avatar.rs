//! `authbridge user avatar set|delete` and `user clear-avatar-cache`: uploaded
//! avatars, which Nextcloud takes as a multipart `POST /index.php/avatar/`
//! and authbridge takes here (the daemon only serves and deletes them).

use anyhow::{Context, Result, bail};
use authbridge_core::clock;
use authbridge_daemon::{ImageKind, prepare_upload};
use authbridge_store::{AccountStore, Avatar};
use std::io::Read;
use std::path::Path;

use super::defs::AvatarCommand;

/// Larger files are refused unread (the limit the image checks apply).
const MAX_FILE_BYTES: u64 = 5 * 1024 * 1024;

pub(super) fn run(store: &dyn AccountStore, command: AvatarCommand) -> Result<()> {
    match command {
        AvatarCommand::Set { uid, file } => set(store, &uid, &file),
        AvatarCommand::Delete { uid } => {
            let user = store.user(&uid)?;
            match store.delete_avatar(&user.uid)? {
                true => println!("The avatar of \"{}\" was deleted", user.uid),
                false => println!("\"{}\" has no uploaded avatar", user.uid),
            }
            Ok(())
        }
    }
}

fn set(store: &dyn AccountStore, uid: &str, file: &Path) -> Result<()> {
    let user = store.user(uid)?;
    let mut bytes = Vec::new();
    std::fs::File::open(file)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .with_context(|| format!("cannot read {}", file.display()))?;
    let prepared = match prepare_upload(&bytes) {
        Ok(prepared) => prepared,
        Err(e) => bail!("{} cannot be an avatar: {e}", file.display()),
    };
    store.set_avatar(
        &user.uid,
        &Avatar {
            image: prepared.image,
            mime: prepared.kind.mime().into(),
        },
        clock::now(),
    )?;
    let format = match prepared.kind {
        ImageKind::Png => "PNG",
        ImageKind::Jpeg => "JPEG",
    };
    let (width, height) = prepared.original;
    println!(
        "The avatar of \"{}\" was set: a {width}x{height} {format}, stored as {side}x{side}",
        user.uid,
        side = prepared.side
    );
    Ok(())
}

/// occ's `user:clear-avatar-cache` deletes generated avatar files. authbridge
/// never writes them: the daemon keeps what it drew in memory, keyed by the
/// display name, so there is nothing to clear and no stale image to fear.
pub(super) fn clear_cache() {
    println!("Clearing avatar cache has started");
    println!(
        "Generated avatars are never stored: the daemon draws them on request and keeps them \
         in memory only, keyed by display name, so a changed name is drawn anew. Uploaded \
         avatars stay (authbridge user avatar delete UID removes one)."
    );
    println!("Cleared avatar cache successfully");
}
