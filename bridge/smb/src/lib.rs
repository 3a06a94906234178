//! SMB backend: a password is right when an SMB server opens an authenticated
//! session with it (Nextcloud user_external's OC_User_SMB).
//!
//! libsmbclient runs in a child process (see [`child_main`]), fed one request at
//! a time from a bounded queue; guest and anonymous fallback are off, SMB2 is the
//! minimum dialect, and exactly one attempt is made with the password given.

mod child;
mod config;
mod probe;
mod wire;
mod worker;

use async_trait::async_trait;
use authbridge_core::{
    Accepted, Authenticator, BackendKind, Credentials, ExposeSecret, RejectReason, UnavailableKind,
    Verdict, canonical_uid,
};
use std::sync::OnceLock;
use std::time::Instant;
use tokio::sync::{mpsc, oneshot};
use zeroize::Zeroizing;

pub use child::child_main;
pub use config::{SmbConfig, SmbConfigError, SmbSettings};
pub use probe::probe;
use worker::ChildProgram;

use wire::{Request, Status};

pub struct SmbBackend {
    name: String,
    settings: SmbSettings,
    program: ChildProgram,
    /// The child's HOME; removed with the backend.
    _home: tempfile::TempDir,
    /// Started on first use, inside the runtime that uses it.
    queue: OnceLock<mpsc::Sender<worker::Job>>,
}

/// How to start the child process: a program and its arguments (for the
/// `authbridge` binary, itself with the hidden `smb-child` subcommand).
#[derive(Debug, Clone)]
pub struct ChildCommand {
    pub program: std::path::PathBuf,
    pub args: Vec<String>,
}

impl SmbBackend {
    /// Prepares the child's private HOME; the child itself starts on first use.
    pub fn new(settings: SmbSettings, command: ChildCommand) -> std::io::Result<Self> {
        let home = tempfile::Builder::new()
            .prefix("authbridge-smb")
            .tempdir()?;
        std::fs::create_dir(home.path().join(".smb"))?;
        std::fs::write(home.path().join(".smb/smb.conf"), child::CLIENT_CONF)?;
        Ok(SmbBackend {
            name: format!("smb:{}:{}", settings.host, settings.port),
            settings,
            program: ChildProgram {
                program: command.program,
                args: command.args,
                home: home.path().to_owned(),
            },
            _home: home,
            queue: OnceLock::new(),
        })
    }

    fn queue(&self) -> &mpsc::Sender<worker::Job> {
        self.queue.get_or_init(|| {
            worker::start(self.program.clone(), self.settings.queue, self.name.clone())
        })
    }
}

#[async_trait]
impl Authenticator for SmbBackend {
    fn name(&self) -> &str {
        &self.name
    }

    fn kind(&self) -> BackendKind {
        BackendKind::Smb
    }

    fn serves(&self, _login: &str) -> bool {
        true
    }

    /// The login is the account, in its canonical form; no groups.
    fn derive(&self, login: &str) -> Option<authbridge_core::Derived> {
        Some(authbridge_core::Derived {
            uid: authbridge_core::canonical_uid(login),
            groups: Vec::new(),
        })
    }

    async fn authenticate(&self, credentials: &Credentials) -> Verdict {
        let timeout = self.settings.timeouts.timeout;
        let deadline = Instant::now() + timeout;
        let (reply_tx, reply_rx) = oneshot::channel();
        let job = worker::Job {
            request: Request {
                server: self.settings.host.clone(),
                port: self.settings.port,
                share: self.settings.share.clone(),
                workgroup: self.settings.workgroup.clone(),
                user: credentials.login().to_owned(),
                password: Zeroizing::new(credentials.password().expose_secret().to_owned()),
                timeout_ms: self
                    .settings
                    .timeouts
                    .connect_timeout
                    .min(timeout)
                    .as_millis() as u32,
            },
            deadline,
            reply: reply_tx,
        };
        if self.queue().try_send(job).is_err() {
            return Verdict::unavailable(
                UnavailableKind::Overloaded,
                format!(
                    "{} queue is full ({} waiting)",
                    self.name, self.settings.queue
                ),
            );
        }
        let reply = match tokio::time::timeout_at(deadline.into(), reply_rx).await {
            Ok(Ok(Ok(reply))) => reply,
            Ok(Ok(Err(verdict))) => return verdict,
            Ok(Err(_)) => {
                return Verdict::unavailable(UnavailableKind::Protocol, "SMB worker stopped");
            }
            Err(_) => {
                return Verdict::unavailable(
                    UnavailableKind::Timeout,
                    format!("no answer from {} within {timeout:?}", self.name),
                );
            }
        };
        match reply.status {
            Status::Accepted => Verdict::Accepted(Accepted {
                uid: canonical_uid(credentials.login()),
                groups: vec![],
            }),
            Status::Rejected => {
                tracing::info!(backend = %self.name, login = ?credentials.login(), detail = ?reply.message, "SMB server refused the credentials");
                Verdict::Rejected(RejectReason::BadCredentials)
            }
            Status::AccountDisabled => Verdict::Rejected(RejectReason::AccountDisabled),
            Status::AccountLocked => Verdict::Rejected(RejectReason::AccountLocked),
            Status::PasswordExpired => Verdict::Rejected(RejectReason::PasswordExpired),
            Status::Connect => Verdict::unavailable(UnavailableKind::Connect, reply.message),
            Status::Timeout => Verdict::unavailable(UnavailableKind::Timeout, reply.message),
            Status::Failed => Verdict::unavailable(UnavailableKind::Protocol, reply.message),
        }
    }
}
