//! The unix socket: accept, read frames, answer, log. SIGTERM stops accepting and
//! lets requests in flight finish; SIGHUP reloads the config between requests.

use authbridge_proto::{FrameError, PeerCred, Request, Response, decode, encode};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::service::Service;

/// Requests are small (a login and two passwords at most); anything bigger is hostile.
const MAX_REQUEST: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot create {path}: {source}")]
    SocketDir {
        path: String,
        source: std::io::Error,
    },
    #[error("another authbridge daemon is already answering on {0}")]
    InUse(String),
    #[error("cannot listen on {path}: {source}")]
    Bind {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot install the signal handlers: {0}")]
    Signals(std::io::Error),
}

pub struct Server {
    listener: UnixListener,
    path: PathBuf,
    service: Arc<Service>,
}

impl Server {
    /// Binds the socket (mode 0666: every local program may look users up; what
    /// each peer may do is decided per request from SO_PEERCRED).
    pub fn bind(path: &Path, service: Arc<Service>) -> Result<Server, ServeError> {
        let shown = path.display().to_string();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|source| ServeError::SocketDir {
                path: dir.display().to_string(),
                source,
            })?;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
        }
        if path.exists() {
            // A live daemon answers; a stale file from a crash does not.
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(ServeError::InUse(shown));
            }
            let _ = std::fs::remove_file(path);
        }
        let listener = UnixListener::bind(path).map_err(|source| ServeError::Bind {
            path: shown.clone(),
            source,
        })?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666)).map_err(
            |source| ServeError::Bind {
                path: shown,
                source,
            },
        )?;
        Ok(Server {
            listener,
            path: path.to_owned(),
            service,
        })
    }

    /// Serves until SIGTERM or SIGINT.
    pub async fn run(self) -> Result<(), ServeError> {
        let mut term = signal(SignalKind::terminate()).map_err(ServeError::Signals)?;
        let mut int = signal(SignalKind::interrupt()).map_err(ServeError::Signals)?;
        let mut hup = signal(SignalKind::hangup()).map_err(ServeError::Signals)?;
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        tracing::info!(socket = %self.path.display(), "listening");
        loop {
            tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        let service = Arc::clone(&self.service);
                        let stop = stop_rx.clone();
                        connections.spawn(connection(stream, service, stop));
                    }
                    // EMFILE and friends: back off a little instead of spinning.
                    Err(e) => {
                        tracing::warn!("accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = hup.recv() => match self.service.reload() {
                    Ok(()) => tracing::info!("configuration reloaded"),
                    Err(e) => tracing::error!("reload failed, keeping the running configuration: {e}"),
                },
                _ = term.recv() => break,
                _ = int.recv() => break,
            }
        }
        tracing::info!(
            in_flight = connections.len(),
            "stopping: no new connections"
        );
        let _ = std::fs::remove_file(&self.path);
        drop(self.listener);
        let _ = stop_tx.send(true);
        let grace = self.service.request_timeout() + Duration::from_secs(1);
        if tokio::time::timeout(grace, async {
            while connections.join_next().await.is_some() {}
        })
        .await
        .is_err()
        {
            tracing::warn!(
                left = connections.len(),
                "requests still running after the grace period"
            );
            connections.abort_all();
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Reads one frame; `None` when the peer hung up cleanly between frames.
async fn read_request(
    stream: &mut UnixStream,
) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, FrameError> {
    let mut prefix = [0u8; 4];
    match stream.read_exact(&mut prefix).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_REQUEST {
        return Err(FrameError::TooLarge(len));
    }
    let mut body = zeroize::Zeroizing::new(vec![0u8; len]);
    stream.read_exact(&mut body).await?;
    Ok(Some(body))
}

async fn write_response(stream: &mut UnixStream, response: &Response) -> Result<(), FrameError> {
    let body = encode(response)?;
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    stream.write_all(&frame).await?;
    Ok(())
}

async fn connection(
    mut stream: UnixStream,
    service: Arc<Service>,
    mut stop: watch::Receiver<bool>,
) {
    let peer = match stream.peer_cred() {
        Ok(c) => PeerCred {
            pid: c.pid().unwrap_or(0),
            uid: c.uid(),
            gid: c.gid(),
        },
        Err(e) => {
            tracing::warn!("peer credentials unavailable, closing: {e}");
            return;
        }
    };
    loop {
        let body = tokio::select! {
            read = read_request(&mut stream) => read,
            // Idle between requests when the daemon stops: just close.
            _ = stop.changed() => return,
        };
        let body = match body {
            Ok(Some(body)) => body,
            Ok(None) => return,
            Err(e) => {
                tracing::debug!(peer_pid = peer.pid, "connection dropped: {e}");
                return;
            }
        };
        let response = match decode::<Request>(&body) {
            Ok(request) => {
                match tokio::time::timeout(
                    service.request_timeout(),
                    service.handle(request, &peer),
                )
                .await
                {
                    Ok(response) => response,
                    Err(_) => {
                        tracing::warn!(
                            peer_uid = peer.uid,
                            peer_pid = peer.pid,
                            "request timed out"
                        );
                        Response::Error("the request timed out".into())
                    }
                }
            }
            Err(e) => Response::Error(format!("bad request: {e}")),
        };
        if write_response(&mut stream, &response).await.is_err() {
            return;
        }
    }
}
