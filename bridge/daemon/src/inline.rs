//! The socket's fast path: a one-shot client (the PAM and NSS modules connect,
//! send one frame, half-close, read the answer) has usually sent its whole
//! request by the time the daemon accepts. Such a request is read, answered and
//! closed right where it was accepted: no epoll registration, no task, no wake
//! of another thread. Anything else — a frame not all there yet, an answer that
//! needs to wait (a backend over the network), an answer bigger than the socket
//! takes at once, a client that keeps its connection — continues on the async
//! path exactly as if it had gone there from the start.

use authbridge_proto::{PeerCred, Request, Response, decode, encode};
use std::future::Future;
use std::os::unix::net::{UnixListener, UnixStream};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

use crate::service::{Answered, Service};

/// An answer still to come, or still to be written, for the async path.
pub enum Rest {
    /// No whole request read yet: serve the connection from its first frame.
    Fresh,
    /// The request was read; its answer is computed by this future.
    Answer(Pin<Box<dyn Future<Output = Answered> + Send>>),
    /// The answer is known; these bytes of its frame are still to be written.
    Write(Vec<u8>),
    /// Answered in full; more frames may follow (or the hang-up).
    Next,
}

/// Bytes taken off the socket but not yet served: the start of the next
/// frame (or of the first, when it had not all arrived). They may hold a
/// password.
pub type ReadAhead = Zeroizing<Vec<u8>>;

/// What became of an accepted connection here.
pub enum Outcome {
    /// Answered, and the client had already hung up its side: closed.
    Done,
    /// Continue on the async path: what is left of the current exchange, and
    /// the bytes already read past it.
    Continue(Rest, ReadAhead),
}

/// `recv` without blocking; `peek` leaves the bytes queued.
fn recv(stream: &UnixStream, buf: &mut [u8], peek: bool) -> std::io::Result<usize> {
    let flags = libc::MSG_DONTWAIT | if peek { libc::MSG_PEEK } else { 0 };
    // SAFETY: buf is valid for writes of its length.
    let n = unsafe {
        libc::recv(
            std::os::fd::AsRawFd::as_raw_fd(stream),
            buf.as_mut_ptr().cast(),
            buf.len(),
            flags,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(n as usize)
}

/// How long the accepting thread waits for a request that has not arrived yet
/// (a client writes right after its connect returns, so this is microseconds).
const FIRST_FRAME_WAIT_MS: i32 = 1;

/// The accepting thread waits at most this long per second in all: a flood of
/// silent connections costs the accept loop 2 %, then goes the async way.
const WAIT_BUDGET_PER_SECOND: Duration = Duration::from_millis(20);

/// Time spent waiting for first frames, per second.
pub struct WaitBudget {
    window: Mutex<(Instant, Duration)>,
}

impl Default for WaitBudget {
    fn default() -> Self {
        WaitBudget {
            window: Mutex::new((Instant::now(), Duration::ZERO)),
        }
    }
}

impl WaitBudget {
    fn may_wait(&self) -> bool {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        if w.0.elapsed() >= Duration::from_secs(1) {
            *w = (Instant::now(), Duration::ZERO);
        }
        w.1 < WAIT_BUDGET_PER_SECOND
    }

    fn spent(&self, d: Duration) {
        let mut w = self.window.lock().unwrap_or_else(|p| p.into_inner());
        w.1 += d;
    }
}

/// Waits up to `FIRST_FRAME_WAIT_MS` for something to read, within the budget.
fn wait_readable(stream: &UnixStream, budget: &WaitBudget) -> bool {
    if !budget.may_wait() {
        return false;
    }
    let mut fd = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(stream),
        events: libc::POLLIN,
        revents: 0,
    };
    let started = Instant::now();
    // SAFETY: one valid pollfd.
    let ready = unsafe { libc::poll(&mut fd, 1, FIRST_FRAME_WAIT_MS) } == 1;
    budget.spent(started.elapsed());
    ready
}

/// One read covers a usual request (a login, a password and a service name).
const FIRST_LOOK: usize = 1024;

/// The first frame as read off the socket.
enum First {
    /// A whole frame's body, and whatever followed it in the same read.
    Frame(Zeroizing<Vec<u8>>, ReadAhead),
    /// Not all there (or too big): what was read, for the async path.
    Partial(ReadAhead),
}

/// Reads the first frame, if it has arrived or arrives within a moment (and
/// is not too big). The bytes are taken off the socket (one read for a usual
/// request, not a look and a read), so what was read is handed on either way.
fn first_frame(stream: &UnixStream, max: usize, budget: &WaitBudget) -> First {
    let mut look = Zeroizing::new([0u8; FIRST_LOOK]);
    let mut got = recv(stream, &mut *look, false).unwrap_or(0);
    if got == 0 && wait_readable(stream, budget) {
        got = recv(stream, &mut *look, false).unwrap_or(0);
    }
    let read = &look[..got];
    let Some(prefix) = read.first_chunk::<4>() else {
        return First::Partial(Zeroizing::new(read.to_vec()));
    };
    let len = u32::from_be_bytes(*prefix) as usize;
    if len > max {
        // The async path refuses it with the usual error.
        return First::Partial(Zeroizing::new(read.to_vec()));
    }
    let end = 4 + len;
    if got >= end {
        return First::Frame(
            Zeroizing::new(read[4..end].to_vec()),
            Zeroizing::new(read[end..].to_vec()),
        );
    }
    // A bigger request: what else has arrived of it.
    let mut frame = Zeroizing::new(vec![0u8; end]);
    frame[..got].copy_from_slice(read);
    let more = recv(stream, &mut frame[got..], false).unwrap_or(0);
    if got + more < end {
        // Only what arrived goes on (the async path allocates the body itself).
        return First::Partial(Zeroizing::new(frame[..got + more].to_vec()));
    }
    frame.drain(..4);
    First::Frame(frame, Zeroizing::new(Vec::new()))
}

/// Writes what the socket takes now; the rest is returned.
fn write_now(stream: &UnixStream, frame: &[u8]) -> Vec<u8> {
    // SAFETY: frame is valid for reads of its length.
    let n = unsafe {
        libc::send(
            std::os::fd::AsRawFd::as_raw_fd(stream),
            frame.as_ptr().cast(),
            frame.len(),
            libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL,
        )
    };
    frame[usize::try_from(n).unwrap_or(0).min(frame.len())..].to_vec()
}

/// A unix socket's send wakes the reader synchronously: the scheduler puts the
/// client on this CPU, expecting the sender to block now. This thread does not
/// block yet (the decision line, the close, the next accept), so it steps aside
/// and the login goes on at once; with nothing else runnable here, the call
/// returns at once. Measured in `benches/daemon.rs`: a sixth of a PAM login's
/// time through the daemon, when logins come one at a time.
fn let_the_client_run_first() {
    // SAFETY: no arguments; it cannot fail on Linux.
    unsafe { libc::sched_yield() };
}

/// Is another connection waiting to be accepted? Then this thread does not
/// step aside: under load, the accepting thread is what every client waits
/// for (a tenth fewer logins per second with 64 clients when it yields).
fn connection_waiting(listener: &UnixListener) -> bool {
    let mut fd = libc::pollfd {
        fd: std::os::fd::AsRawFd::as_raw_fd(listener),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; no waiting.
    unsafe { libc::poll(&mut fd, 1, 0) == 1 }
}

/// A response as its frame: length prefix and body (both paths write this).
pub fn frame_of(response: &Response) -> Vec<u8> {
    let body = encode(response).unwrap_or_else(|e| {
        encode(&Response::Error(format!("unencodable answer: {e}"))).unwrap_or_default()
    });
    let mut frame = Vec::with_capacity(4 + body.len());
    frame.extend_from_slice(&(body.len() as u32).to_be_bytes());
    frame.extend_from_slice(&body);
    frame
}

/// Serves what can be served without waiting. `listener` is where `stream`
/// was accepted; `max_request` is the async path's frame limit.
pub fn try_answer(
    stream: &UnixStream,
    listener: &UnixListener,
    max_request: usize,
    budget: &WaitBudget,
    service: &Arc<Service>,
    peer: PeerCred,
) -> Outcome {
    let (body, ahead) = match first_frame(stream, max_request, budget) {
        First::Frame(body, ahead) => (body, ahead),
        First::Partial(read) => return Outcome::Continue(Rest::Fresh, read),
    };
    // Polled once without a timer: an answer ready at once needs none (a timer
    // costs a registration with the runtime's clock). One that has to wait gets
    // one, with the deadline counted from here, as on the async path.
    let deadline = tokio::time::Instant::now() + service.request_timeout();
    let mut answer = Box::pin(crate::server::untimed_answer(
        Arc::clone(service),
        decode::<Request>(&body),
        peer,
    ));
    let timed =
        |answer| -> Rest { Rest::Answer(Box::pin(crate::server::within(deadline, peer, answer))) };
    // A store on another host answers over the network, and its calls block
    // until it does: waiting for it here would hold up every accept behind it.
    if service.store().shared_by_hosts() {
        return Outcome::Continue(timed(answer), ahead);
    }
    // One poll: an answer that needs to wait for anything goes to a task, which
    // polls it again with a real waker (the no-op one is forgotten then).
    let answered = match answer
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(answered) => answered,
        Poll::Pending => return Outcome::Continue(timed(answer), ahead),
    };
    let left = write_now(stream, &frame_of(&answered.response));
    if left.is_empty() && !connection_waiting(listener) {
        let_the_client_run_first();
    }
    // The decision line after the answer, before the next accept: see
    // `DecisionLine`.
    drop(answered.line);
    if !left.is_empty() {
        return Outcome::Continue(Rest::Write(left), ahead);
    }
    if !ahead.is_empty() {
        return Outcome::Continue(Rest::Next, ahead);
    }
    // A one-shot client has half-closed already: its hang-up is queued.
    let mut probe = [0u8; 1];
    match recv(stream, &mut probe, true) {
        Ok(0) => Outcome::Done,
        _ => Outcome::Continue(Rest::Next, ahead),
    }
}
