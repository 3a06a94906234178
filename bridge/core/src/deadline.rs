//! Connect and overall timeouts, shared by every network backend.
//!
//! The protocol crates we build on (imap, suppaftp, libsmbclient) are blocking. A
//! check therefore runs on a blocking thread with socket timeouts derived from one
//! [`Deadline`], and the async caller stops waiting at that same deadline, so no
//! check ever takes longer than its configured overall timeout.

use std::io;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use crate::{UnavailableKind, Verdict};

/// Per-backend limits (`connect_timeout`, `timeout` in the config, e.g. `"5s"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

fn default_connect() -> Duration {
    Duration::from_secs(5)
}

fn default_overall() -> Duration {
    Duration::from_secs(10)
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_timeout: default_connect(),
            timeout: default_overall(),
        }
    }
}

impl Timeouts {
    /// The defaults, with whatever a config section set.
    pub fn with_overrides(connect_timeout: Option<Duration>, timeout: Option<Duration>) -> Self {
        let defaults = Timeouts::default();
        Timeouts {
            connect_timeout: connect_timeout.unwrap_or(defaults.connect_timeout),
            timeout: timeout.unwrap_or(defaults.timeout),
        }
    }
}

/// The moment a check must be finished by.
#[derive(Debug, Clone, Copy)]
pub struct Deadline {
    at: Instant,
    connect_timeout: Duration,
}

impl Deadline {
    pub fn start(timeouts: Timeouts) -> Self {
        Deadline {
            at: Instant::now() + timeouts.timeout,
            connect_timeout: timeouts.connect_timeout,
        }
    }

    /// Time left, or a timed-out error once it has run out.
    pub fn remaining(&self) -> io::Result<Duration> {
        let left = self.at.saturating_duration_since(Instant::now());
        if left.is_zero() {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "overall timeout reached",
            ))
        } else {
            Ok(left)
        }
    }

    /// Resolves `host` and connects to the first address that answers, each attempt
    /// bounded by the connect timeout and the time left. The socket's read and write
    /// timeouts are set to the time left, so a server that accepts and then stays
    /// silent cannot hold the check past the deadline.
    pub fn connect_tcp(&self, host: &str, port: u16) -> io::Result<TcpStream> {
        let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
        let mut last_err = io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} resolves to no address"),
        );
        for addr in addrs {
            let budget = self.remaining()?.min(self.connect_timeout);
            match TcpStream::connect_timeout(&addr, budget) {
                Ok(stream) => {
                    let left = self.remaining()?;
                    stream.set_read_timeout(Some(left))?;
                    stream.set_write_timeout(Some(left))?;
                    stream.set_nodelay(true)?;
                    return Ok(stream);
                }
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }
}

/// Maps a socket-level error to the right kind of unavailability.
pub fn io_unavailable(context: &str, err: &io::Error) -> Verdict {
    let kind = match err.kind() {
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock => UnavailableKind::Timeout,
        io::ErrorKind::ConnectionRefused
        | io::ErrorKind::NotFound
        | io::ErrorKind::HostUnreachable
        | io::ErrorKind::NetworkUnreachable
        | io::ErrorKind::AddrNotAvailable => UnavailableKind::Connect,
        _ => UnavailableKind::Protocol,
    };
    Verdict::unavailable(kind, format!("{context}: {err}"))
}

/// Runs a blocking check on tokio's blocking pool and stops waiting for it at the
/// overall timeout. The closure gets the [`Deadline`] to derive its socket timeouts
/// from, so the thread itself also gives up at about the same moment.
pub async fn run_blocking<F>(timeouts: Timeouts, check: F) -> Verdict
where
    F: FnOnce(Deadline) -> Verdict + Send + 'static,
{
    let deadline = Deadline::start(timeouts);
    let task = tokio::task::spawn_blocking(move || check(deadline));
    match tokio::time::timeout(timeouts.timeout, task).await {
        Ok(Ok(verdict)) => verdict,
        // A panic inside a protocol crate is a failure to get an answer, never an accept.
        Ok(Err(join_error)) => Verdict::unavailable(
            UnavailableKind::Protocol,
            format!("backend check aborted: {join_error}"),
        ),
        Err(_) => Verdict::unavailable(
            UnavailableKind::Timeout,
            format!("no answer within {:?}", timeouts.timeout),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[tokio::test]
    async fn a_check_that_overruns_is_unavailable_at_the_deadline() {
        let timeouts = Timeouts {
            connect_timeout: Duration::from_millis(50),
            timeout: Duration::from_millis(200),
        };
        let started = Instant::now();
        let verdict = run_blocking(timeouts, |_| {
            std::thread::sleep(Duration::from_millis(800));
            Verdict::Rejected(crate::RejectReason::BadCredentials)
        })
        .await;
        assert!(matches!(
            verdict,
            Verdict::Unavailable {
                kind: UnavailableKind::Timeout,
                ..
            }
        ));
        assert!(started.elapsed() < Duration::from_millis(800));
    }

    #[test]
    fn a_silent_server_times_out_the_read() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let deadline = Deadline::start(Timeouts {
            connect_timeout: Duration::from_secs(1),
            timeout: Duration::from_millis(300),
        });
        let mut stream = deadline.connect_tcp("127.0.0.1", port).unwrap();
        let mut buf = [0u8; 8];
        let err = io::Read::read(&mut stream, &mut buf).unwrap_err();
        assert!(matches!(
            io_unavailable("read", &err),
            Verdict::Unavailable {
                kind: UnavailableKind::Timeout,
                ..
            }
        ));
    }

    #[test]
    fn the_connect_timeout_bounds_a_connect_that_gets_no_answer() {
        // A listener that never accepts, with a backlog of 0: once its queue is
        // full, the kernel drops further SYNs and a connect waits for an answer.
        let socket =
            socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
        socket
            .bind(&"127.0.0.1:0".parse::<SocketAddr>().unwrap().into())
            .unwrap();
        socket.listen(0).unwrap();
        let addr = socket.local_addr().unwrap().as_socket().unwrap();
        let mut queued = Vec::new();
        let full =
            (0..16).any(
                |_| match TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
                    Ok(s) => {
                        queued.push(s);
                        false
                    }
                    Err(_) => true,
                },
            );
        assert!(full, "could not fill the accept queue");

        let deadline = Deadline::start(Timeouts {
            connect_timeout: Duration::from_millis(300),
            timeout: Duration::from_secs(5),
        });
        let started = Instant::now();
        let err = deadline.connect_tcp("127.0.0.1", addr.port()).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
    }

    #[test]
    fn defaults_are_five_and_ten_seconds_unless_overridden() {
        let t = Timeouts::with_overrides(None, None);
        assert_eq!(t, Timeouts::default());
        assert_eq!(t.connect_timeout, Duration::from_secs(5));
        assert_eq!(t.timeout, Duration::from_secs(10));
        let t = Timeouts::with_overrides(None, Some(Duration::from_secs(3)));
        assert_eq!(
            (t.connect_timeout, t.timeout),
            (Duration::from_secs(5), Duration::from_secs(3))
        );
    }
}
