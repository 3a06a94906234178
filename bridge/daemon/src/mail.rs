//! Password links by mail: a single-use token (only its SHA-256 is stored) that
//! expires, sent through the configured SMTP relay with lettre. Used by the OCS
//! API (welcome on create, `POST .../welcome`) and by `authbridge user welcome`.

use crate::clock::now;
use authbridge_store::AccountStore;
use base64::Engine as _;
use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::time::Duration;

use crate::settings::{MailSecurity, MailSettings};

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("no mail relay is configured ([mail] in the config)")]
    NotConfigured,
    #[error("{uid} has no e-mail address")]
    NoAddress { uid: String },
    #[error("invalid address {0:?}")]
    Address(String),
    #[error("the relay {relay}: {detail}")]
    Relay { relay: String, detail: String },
    #[error("store: {0}")]
    Store(#[from] authbridge_store::StoreError),
    #[error("the welcome_mail module is disabled")]
    ModuleDisabled,
}

/// The stored form of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn transport(settings: &MailSettings) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let relay_err = |detail: String| MailError::Relay {
        relay: format!("{}:{}", settings.relay, settings.port),
        detail,
    };
    let tls = match settings.security {
        MailSecurity::None => Tls::None,
        security => {
            let mut params = TlsParameters::builder(settings.relay.clone());
            if let Some(ca) = &settings.ca_file {
                let pem =
                    std::fs::read(ca).map_err(|e| relay_err(format!("{}: {e}", ca.display())))?;
                let cert = Certificate::from_pem(&pem).map_err(|e| relay_err(e.to_string()))?;
                params = params.add_root_certificate(cert);
            }
            let params = params.build().map_err(|e| relay_err(e.to_string()))?;
            if security == MailSecurity::Tls {
                Tls::Wrapper(params)
            } else {
                Tls::Required(params)
            }
        }
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.relay)
        .port(settings.port)
        .tls(tls)
        .timeout(Some(Duration::from_secs(20)));
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// Issues a fresh single-use link for `uid` and mails it. The token is stored
/// first and deleted again when the relay refuses, so no live link exists that
/// nobody received.
pub async fn send_password_link(
    settings: Option<&MailSettings>,
    store: &dyn AccountStore,
    uid: &str,
    base_url: &str,
) -> Result<(), MailError> {
    let settings = settings.ok_or(MailError::NotConfigured)?;
    let user = store.user(uid)?;
    let address = user
        .email
        .clone()
        .filter(|e| !e.is_empty())
        .ok_or_else(|| MailError::NoAddress {
            uid: uid.to_owned(),
        })?;
    let to: Mailbox = address
        .parse()
        .map_err(|_| MailError::Address(address.clone()))?;
    let from: Mailbox = settings
        .from
        .parse()
        .map_err(|_| MailError::Address(settings.from.clone()))?;
    let token = new_token();
    let hash = token_hash(&token);
    store.add_password_token(
        &user.uid,
        &hash,
        now() + settings.link_lifetime.as_secs() as i64,
    )?;
    let base = settings
        .base_url
        .as_deref()
        .unwrap_or(base_url)
        .trim_end_matches('/');
    let link = format!("{base}/password/set?token={token}");
    let hours = settings.link_lifetime.as_secs() / 3600;
    let body = format!(
        "Hello {name},\n\nan account \"{uid}\" is ready for you. Set your password here:\n\n{link}\n\n\
         The link works once and for {hours} hours.\n",
        name = user.display_name.as_deref().unwrap_or(&user.uid),
        uid = user.uid,
    );
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(format!("Your account {}: set your password", user.uid))
        .header(ContentType::TEXT_PLAIN)
        .body(body)
        .map_err(|e| MailError::Address(e.to_string()))?;
    let sent = transport(settings)?.send(message).await;
    if let Err(e) = sent {
        let _ = store.take_password_token(&hash, now());
        return Err(MailError::Relay {
            relay: format!("{}:{}", settings.relay, settings.port),
            detail: e.to_string(),
        });
    }
    if user.welcome_pending
        && let Err(e) = store.set_welcome_pending(&user.uid, false)
    {
        tracing::warn!(uid = ?user.uid, "mailed, but the pending welcome stays marked: {e}");
    }
    tracing::info!(uid = ?user.uid, "password link mailed");
    Ok(())
}
