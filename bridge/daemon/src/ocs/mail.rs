//! The welcome mail from the OCS API: a password link, unless the module is off.

use super::Ctx;

pub async fn send_welcome(ctx: &Ctx, uid: &str) -> Result<(), String> {
    if !ctx.switches().enabled("welcome_mail") {
        return Err("the welcome_mail module is disabled".into());
    }
    let engine = ctx.ocs.service.engine();
    crate::mail::send_password_link(engine.mail.as_ref(), ctx.store(), uid, &ctx.ocs.base_url)
        .await
        .map_err(|e| e.to_string())
}
