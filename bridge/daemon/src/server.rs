//! The unix socket: accept, read frames, answer, log. SIGTERM stops accepting and
//! lets requests in flight finish; SIGHUP reloads the config between requests.
//!
//! The socket is open to every local user (0666), so what one peer may hold is
//! bounded: a whole frame must arrive within `frame_timeout`, one unprivileged uid
//! holds at most `max_connections_per_uid` connections, and unprivileged peers
//! together never take the share of `max_connections` kept for root and the
//! daemon's own uid — PAM keeps answering while someone hoards connections.

use authbridge_proto::{FrameError, PeerCred, Request, Response, decode};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;
use tokio::task::JoinSet;
use zeroize::Zeroizing;

use crate::log_budget::{self, LogBudget};
use crate::service::{Answered, Service};

/// Requests are small (a login and two passwords at most); anything bigger is hostile.
const MAX_REQUEST: usize = 64 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unprivileged_uid_gets_its_share_and_root_keeps_the_reserve() {
        let open = Arc::new(Connections::default());
        // 16 places: 14 for unprivileged peers together, 5 for one uid.
        let nobody: Vec<_> = (0..5)
            .filter_map(|_| open.admit(65534, false, 16, 5))
            .collect();
        assert_eq!(nobody.len(), 5);
        assert!(open.admit(65534, false, 16, 5).is_none(), "its own limit");
        let others: Vec<_> = (0..20)
            .filter_map(|n| open.admit(1000 + n, false, 16, 5))
            .collect();
        assert_eq!(others.len(), 9, "unprivileged peers leave an eighth");
        let root: Vec<_> = (0..5).filter_map(|_| open.admit(0, true, 16, 5)).collect();
        assert_eq!(root.len(), 2, "root gets the reserved places");
        drop(nobody);
        assert!(
            open.admit(65534, false, 16, 5).is_some(),
            "places come back"
        );
    }
}

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
    #[error("cannot start the accepting thread: {0}")]
    Thread(std::io::Error),
}

pub struct Server {
    listener: std::os::unix::net::UnixListener,
    path: PathBuf,
    service: Arc<Service>,
}

/// The accepting thread's side: it blocks in accept(2), so a one-shot client
/// wakes exactly one thread, as with a bare server, and is answered inline when
/// it can be (see `inline`); a connection that must wait goes to the runtime.
struct Acceptor {
    listener: std::os::unix::net::UnixListener,
    service: Arc<Service>,
    open: Arc<Connections>,
    /// How long accepting may wait for first frames (see `inline`).
    inline_wait: crate::inline::WaitBudget,
    /// Where connections that continue on the async path are sent.
    to_runtime: tokio::sync::mpsc::UnboundedSender<Continued>,
    stopping: Arc<std::sync::atomic::AtomicBool>,
    descriptors: usize,
}

/// A connection the accepting thread began and the runtime finishes. The channel
/// carrying these is bounded by the connection places: each holds its `Slot`.
struct Continued {
    stream: std::os::unix::net::UnixStream,
    rest: crate::inline::Rest,
    ahead: crate::inline::ReadAhead,
    peer: PeerCred,
    slot: Slot,
}

/// Connections open now, per uid and in total.
#[derive(Default)]
struct Connections {
    counts: std::sync::Mutex<Counts>,
    refusals_logged: std::sync::OnceLock<LogBudget>,
}

#[derive(Default)]
struct Counts {
    total: usize,
    per_uid: std::collections::HashMap<u32, usize>,
}

/// One admitted connection; its place is given back when it drops.
struct Slot {
    open: Arc<Connections>,
    uid: u32,
}

impl Drop for Slot {
    fn drop(&mut self) {
        crate::metrics::global().connection_closed();
        let mut counts = self.open.counts();
        counts.total -= 1;
        if let Some(n) = counts.per_uid.get_mut(&self.uid) {
            *n -= 1;
            if *n == 0 {
                counts.per_uid.remove(&self.uid);
            }
        }
    }
}

impl Connections {
    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A place for a peer of `uid`, or None when its limits are reached.
    fn admit(
        self: &Arc<Self>,
        uid: u32,
        privileged: bool,
        max: usize,
        per_uid: usize,
    ) -> Option<Slot> {
        let mut counts = self.counts();
        // Root and the daemon's uid may use every place; others leave an eighth.
        let limit = if privileged { max } else { max - max / 8 };
        let mine = counts.per_uid.get(&uid).copied().unwrap_or(0);
        if counts.total >= limit || (!privileged && mine >= per_uid) {
            return None;
        }
        counts.total += 1;
        *counts.per_uid.entry(uid).or_default() += 1;
        crate::metrics::global().connection_opened();
        Some(Slot {
            open: Arc::clone(self),
            uid,
        })
    }

    fn log_refusal(&self, uid: u32) {
        crate::metrics::global().connection_refused();
        let budget = self.refusals_logged.get_or_init(|| LogBudget::new(5));
        match budget.take(crate::clock::now_ms()) {
            log_budget::Verdict::Suppress => {}
            log_budget::Verdict::Write { suppressed_before } => tracing::warn!(
                peer_uid = uid,
                suppressed_before,
                "connection refused: the peer holds too many connections"
            ),
        }
    }
}

/// Descriptors kept for everything but socket connections: the store, the HTTP
/// listener and its clients' share, backend connections, the SMB child.
const DESCRIPTORS_KEPT: usize = 256;

/// How many socket connections the open-file limit leaves room for: the cap in
/// the config never promises more than the process can open.
fn descriptor_budget() -> usize {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return usize::MAX;
    }
    (limit.rlim_cur as usize)
        .saturating_sub(DESCRIPTORS_KEPT)
        .max(16)
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
        let bound = |source| ServeError::Bind {
            path: shown.clone(),
            source,
        };
        let listener = std::os::unix::net::UnixListener::bind(path).map_err(bound)?;
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
        let (to_runtime, mut continued) = tokio::sync::mpsc::unbounded_channel();
        let stopping = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let Server {
            listener,
            path,
            service,
        } = self;
        // The same listening socket, to wake the accepting thread at the end.
        let waker = listener.try_clone().map_err(ServeError::Thread)?;
        let acceptor = Acceptor {
            listener,
            service: Arc::clone(&service),
            open: Arc::new(Connections::default()),
            inline_wait: Default::default(),
            to_runtime,
            stopping: Arc::clone(&stopping),
            descriptors: descriptor_budget(),
        };
        let runtime = tokio::runtime::Handle::current();
        let accepting = std::thread::Builder::new()
            .name("accept".into())
            .spawn(move || {
                // The inline path's request timeout needs the runtime's clock.
                let _runtime = runtime.enter();
                acceptor.serve();
            })
            .map_err(ServeError::Thread)?;
        tracing::info!(socket = %path.display(), "listening");
        loop {
            tokio::select! {
                Some(c) = continued.recv() => {
                    spawn_continued(&mut connections, c, &service, &stop_rx);
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
                _ = hup.recv() => match service.reload() {
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
        stopping.store(true, std::sync::atomic::Ordering::SeqCst);
        // Ends the accepting thread's accept(2) with EINVAL, whatever became of
        // the socket's path; the thread sees the flag and closes the listener.
        // SAFETY: `waker` is a descriptor of the listening socket, open until here.
        unsafe { libc::shutdown(std::os::fd::AsRawFd::as_raw_fd(&waker), libc::SHUT_RDWR) };
        let _ = tokio::task::spawn_blocking(move || accepting.join()).await;
        drop(waker);
        let _ = std::fs::remove_file(&path);
        // What the thread handed over before it stopped is served too.
        continued.close();
        while let Some(c) = continued.recv().await {
            spawn_continued(&mut connections, c, &service, &stop_rx);
        }
        let _ = stop_tx.send(true);
        let grace = service.request_timeout() + Duration::from_secs(1);
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

/// Serves on the runtime a connection the accepting thread began.
fn spawn_continued(
    connections: &mut JoinSet<()>,
    c: Continued,
    service: &Arc<Service>,
    stop: &watch::Receiver<bool>,
) {
    let stream = match c
        .stream
        .set_nonblocking(true)
        .and_then(|()| UnixStream::from_std(c.stream))
    {
        Ok(stream) => stream,
        Err(e) => {
            tracing::warn!("cannot serve a connection: {e}");
            return;
        }
    };
    let frame_timeout = service.engine().daemon.frame_timeout;
    let incoming = Incoming {
        stream,
        ahead: c.ahead,
        taken: 0,
    };
    connections.spawn(continue_connection(
        incoming,
        c.rest,
        c.peer,
        c.slot,
        Arc::clone(service),
        stop.clone(),
        frame_timeout,
    ));
}

impl Acceptor {
    /// Accepts until the daemon stops.
    fn serve(self) {
        use std::sync::atomic::Ordering;
        loop {
            let accepted = self.listener.accept();
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            match accepted {
                Ok((stream, _)) => {
                    // A bug met by one request must not end accepting for all:
                    // the connection closes, the thread goes on (its shared state
                    // sits behind mutexes that recover from a panic).
                    let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                        self.accepted(stream)
                    }));
                    if served.is_err() {
                        tracing::error!("a request panicked; its connection is closed");
                    }
                }
                // EMFILE and friends: back off a little instead of spinning.
                Err(e) => {
                    tracing::warn!("accept failed: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        }
    }

    /// One accepted connection: refused past its peer's limits, answered inline
    /// when it can be, else handed to the runtime.
    fn accepted(&self, stream: std::os::unix::net::UnixStream) {
        let peer = match authbridge_proto::peer_cred(&stream) {
            Ok(peer) => peer,
            Err(e) => {
                tracing::warn!("peer credentials unavailable, closing: {e}");
                return;
            }
        };
        let engine = self.service.engine();
        let settings = &engine.daemon;
        let Some(slot) = self.open.admit(
            peer.uid,
            self.service.is_privileged(peer.uid),
            settings.max_connections.min(self.descriptors),
            settings.max_connections_per_uid,
        ) else {
            self.open.log_refusal(peer.uid);
            return;
        };
        match crate::inline::try_answer(
            &stream,
            &self.listener,
            MAX_REQUEST,
            &self.inline_wait,
            &self.service,
            peer,
        ) {
            crate::inline::Outcome::Done => {}
            crate::inline::Outcome::Continue(rest, ahead) => {
                // Fails only when the runtime is stopping: the connection closes.
                let _ = self.to_runtime.send(Continued {
                    stream,
                    rest,
                    ahead,
                    peer,
                    slot,
                });
            }
        }
    }
}

/// Finishes what the inline path began, then serves the connection as usual.
async fn continue_connection(
    mut incoming: Incoming,
    rest: crate::inline::Rest,
    peer: PeerCred,
    slot: Slot,
    service: Arc<Service>,
    stop: watch::Receiver<bool>,
    frame_timeout: Duration,
) {
    use crate::inline::Rest;
    let unwritten = match rest {
        Rest::Fresh | Rest::Next => None,
        // The decision line (dropped here) before the answer, as on this path
        // always: see `DecisionLine`.
        Rest::Answer(answer) => Some(crate::inline::frame_of(&answer.await.response)),
        Rest::Write(left) => Some(left),
    };
    if let Some(bytes) = unwritten {
        match tokio::time::timeout(frame_timeout, incoming.stream.write_all(&bytes)).await {
            Ok(Ok(())) => {}
            _ => return,
        }
    }
    connection(incoming, peer, slot, service, stop, frame_timeout).await;
}

/// A connection's stream after the bytes the accepting thread read ahead.
struct Incoming {
    stream: UnixStream,
    ahead: crate::inline::ReadAhead,
    taken: usize,
}

impl Incoming {
    /// Fills `buf`, from the bytes read ahead first.
    async fn read_exact(&mut self, buf: &mut [u8]) -> std::io::Result<()> {
        let from_ahead = (self.ahead.len() - self.taken).min(buf.len());
        buf[..from_ahead].copy_from_slice(&self.ahead[self.taken..self.taken + from_ahead]);
        self.taken += from_ahead;
        if self.taken == self.ahead.len() && !self.ahead.is_empty() {
            // Used up: wiped and freed now, not when the connection closes.
            self.ahead = Zeroizing::new(Vec::new());
            self.taken = 0;
        }
        self.stream.read_exact(&mut buf[from_ahead..]).await?;
        Ok(())
    }
}

/// Reads one frame; `None` when the peer hung up cleanly between frames.
async fn read_request(
    stream: &mut Incoming,
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
    stream.write_all(&crate::inline::frame_of(response)).await?;
    Ok(())
}

/// The answer to one decoded (or undecodable) request, within `request_timeout`.
pub(crate) async fn answer(
    service: Arc<Service>,
    request: Result<Request, FrameError>,
    peer: PeerCred,
) -> Answered {
    let deadline = tokio::time::Instant::now() + service.request_timeout();
    within(deadline, peer, untimed_answer(service, request, peer)).await
}

/// The answer with no time limit: for the inline path's one poll, which puts
/// one around it only if it has to wait (see `within`).
pub(crate) async fn untimed_answer(
    service: Arc<Service>,
    request: Result<Request, FrameError>,
    peer: PeerCred,
) -> Answered {
    match request {
        Ok(request) => service.handle(request, &peer).await,
        Err(e) => {
            let refusal = format!("{}: {e}", authbridge_proto::BAD_REQUEST);
            Answered::now(Response::Error(refusal))
        }
    }
}

/// `answer` by `deadline`, or the request's refusal once it has passed.
pub(crate) async fn within(
    deadline: tokio::time::Instant,
    peer: PeerCred,
    answer: impl Future<Output = Answered>,
) -> Answered {
    match tokio::time::timeout_at(deadline, answer).await {
        Ok(answered) => answered,
        Err(_) => {
            tracing::warn!(
                peer_uid = peer.uid,
                peer_pid = peer.pid,
                "request timed out"
            );
            Answered::now(Response::Error("the request timed out".into()))
        }
    }
}

async fn connection(
    mut stream: Incoming,
    peer: PeerCred,
    _slot: Slot,
    service: Arc<Service>,
    mut stop: watch::Receiver<bool>,
    frame_timeout: Duration,
) {
    loop {
        let body = tokio::select! {
            // The whole frame, from the moment the daemon waits for it: an idle or
            // trickling peer gives its place back.
            read = tokio::time::timeout(frame_timeout, read_request(&mut stream)) => match read {
                Ok(read) => read,
                Err(_) => {
                    tracing::debug!(peer_uid = peer.uid, peer_pid = peer.pid, "no whole frame in time, closing");
                    return;
                }
            },
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
        // The decision line (dropped here) before the answer: see `DecisionLine`.
        let response = answer(Arc::clone(&service), decode::<Request>(&body), peer)
            .await
            .response;
        // A peer that does not read its answers gives its place back too.
        if !matches!(
            tokio::time::timeout(frame_timeout, write_response(&mut stream.stream, &response))
                .await,
            Ok(Ok(()))
        ) {
            return;
        }
    }
}
