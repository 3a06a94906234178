//! The welcome mail: a single-use link to set a password, sent through the
//! configured SMTP relay.

use super::Ctx;

/// Sends `uid` a link to set their password. Fails when mail is off or the
/// relay refuses.
pub async fn send_welcome(ctx: &Ctx, uid: &str) -> Result<(), String> {
    if !super::apps::enabled(ctx.store(), "welcome_mail") {
        return Err("the welcome_mail module is disabled".into());
    }
    let _ = uid;
    Err("no mail relay is configured ([mail] relay)".into())
}
