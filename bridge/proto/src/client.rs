//! The blocking client the PAM and NSS modules use: bounded in time everywhere, so
//! a daemon that is down or stuck costs a login or an `ls -l` at most the timeout.

use socket2::{Domain, SockAddr, Socket, Type};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::frame::{FrameError, decode, encode, read_frame, write_frame};
use crate::peer::peer_cred;
use crate::{Request, Response};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot reach the authbridge daemon at {path}: {source}")]
    Connect {
        path: String,
        source: std::io::Error,
    },
    #[error("the daemon at {path} did not accept the connection within {ms} ms")]
    ConnectTimeout { path: String, ms: u128 },
    #[error(
        "the process behind {path} runs as uid {uid}, not as root or uid {own}; refusing to talk to it"
    )]
    UntrustedPeer { path: String, uid: u32, own: u32 },
    #[error(transparent)]
    Frame(#[from] FrameError),
}

pub struct Client {
    stream: UnixStream,
}

impl Client {
    /// Connects within `timeout` and checks that the daemon runs as root or as this
    /// process's own euid (the embedded default runs unprivileged as its user).
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, ClientError> {
        let shown = || path.display().to_string();
        let connect_err = |source| ClientError::Connect {
            path: shown(),
            source,
        };
        let socket =
            Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None).map_err(connect_err)?;
        let addr = SockAddr::unix(path).map_err(connect_err)?;
        // A unix connect blocks when the listener's backlog is full; nonblocking, it
        // answers EAGAIN instead, which is retried until the deadline.
        socket.set_nonblocking(true).map_err(connect_err)?;
        let deadline = Instant::now() + timeout;
        loop {
            match socket.connect(&addr) {
                Ok(()) => break,
                Err(e) if e.raw_os_error() == Some(libc::EAGAIN) => {
                    if Instant::now() >= deadline {
                        return Err(ClientError::ConnectTimeout {
                            path: shown(),
                            ms: timeout.as_millis(),
                        });
                    }
                    std::thread::sleep(Duration::from_millis(2));
                }
                Err(e) => return Err(connect_err(e)),
            }
        }
        socket.set_nonblocking(false).map_err(connect_err)?;
        let stream: UnixStream = socket.into();
        let remaining = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        stream
            .set_read_timeout(Some(remaining))
            .map_err(connect_err)?;
        stream
            .set_write_timeout(Some(remaining))
            .map_err(connect_err)?;
        let peer = peer_cred(&stream).map_err(connect_err)?;
        // SAFETY: geteuid has no failure mode and touches no memory.
        let own = unsafe { libc::geteuid() };
        if peer.uid != 0 && peer.uid != own {
            return Err(ClientError::UntrustedPeer {
                path: shown(),
                uid: peer.uid,
                own,
            });
        }
        Ok(Client { stream })
    }

    /// Sets how long each later read or write may block.
    pub fn set_timeout(&self, timeout: Duration) -> std::io::Result<()> {
        self.stream.set_read_timeout(Some(timeout))?;
        self.stream.set_write_timeout(Some(timeout))
    }

    pub fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        write_frame(&mut self.stream, &encode(request)?)?;
        let body = read_frame(&mut self.stream)?;
        Ok(decode(&body)?)
    }

    /// One request on this connection, then done: the write side is shut after
    /// the request, so the daemon sees the hang-up with the frame and can answer
    /// and close at once, without waiting for more.
    pub fn call_once(mut self, request: &Request) -> Result<Response, ClientError> {
        write_frame(&mut self.stream, &encode(request)?)?;
        // Only a hint to the daemon: an old one that ignores it reads EOF later.
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let body = read_frame(&mut self.stream)?;
        Ok(decode(&body)?)
    }

    /// Connect, ask once, and hang up.
    pub fn ask(path: &Path, timeout: Duration, request: &Request) -> Result<Response, ClientError> {
        Client::connect(path, timeout)?.call_once(request)
    }
}
