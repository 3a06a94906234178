//! The welcome mail from the OCS API: a password link, unless the module is off.

use super::Ctx;
use crate::mail::MailError;

pub async fn send_welcome(ctx: &Ctx, uid: &str) -> Result<(), MailError> {
    if !ctx
        .switches()
        .enabled(crate::modules::ModuleId::WelcomeMail)
    {
        return Err(MailError::ModuleDisabled);
    }
    let engine = ctx.ocs.service.engine();
    crate::mail::send_password_link(engine.mail.as_ref(), ctx.store(), uid, &ctx.ocs.base_url).await
}
