//! The blocking client the PAM and NSS modules use: bounded in time everywhere, so
//! a daemon that is down or stuck costs a login or an `ls -l` at most its
//! timeouts (every wait is bounded: the connect by the connect timeout, each
//! read of the answer by the answer timeout).

use socket2::{Domain, SockAddr, Socket, Type};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};
use zeroize::Zeroizing;

use crate::frame::{FrameError, MAX_FRAME, decode, encode, write_frame};
use crate::peer::peer_cred;
use crate::{Request, Response};

/// What the first read of an answer asks for: every answer but an enumeration
/// fits, so one read usually takes it whole.
const FIRST_READ: usize = 512;

/// Reads one answer. Nothing follows an answer before the next request, so a
/// read past its frame means a confused peer.
fn read_answer(
    stream: &mut UnixStream,
    deadline: Instant,
) -> Result<Zeroizing<Vec<u8>>, FrameError> {
    use std::io::{ErrorKind, Read};
    let mut first = Zeroizing::new([0u8; FIRST_READ]);
    let mut got = 0;
    while got < 4 {
        match stream.read(&mut first[got..]) {
            Ok(0) => return Err(std::io::Error::from(ErrorKind::UnexpectedEof).into()),
            Ok(n) => got += n,
            // A signal: again, while the answer's time lasts.
            Err(e) if e.kind() == ErrorKind::Interrupted && Instant::now() < deadline => {}
            Err(e) => return Err(e.into()),
        }
    }
    let len = u32::from_be_bytes([first[0], first[1], first[2], first[3]]) as usize;
    if len > MAX_FRAME {
        return Err(FrameError::TooLarge(len));
    }
    if got > 4 + len {
        return Err(FrameError::Trailing(got - 4 - len));
    }
    let mut body = Zeroizing::new(vec![0u8; len]);
    body[..got - 4].copy_from_slice(&first[4..got]);
    stream.read_exact(&mut body[got - 4..])?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn later() -> Instant {
        Instant::now() + Duration::from_secs(5)
    }

    fn framed(body: &[u8]) -> Vec<u8> {
        let mut f = (body.len() as u32).to_be_bytes().to_vec();
        f.extend_from_slice(body);
        f
    }

    #[test]
    fn an_answer_is_read_whole_small_large_or_in_pieces() {
        use std::io::Write;
        let large = vec![7u8; 3 * FIRST_READ];
        for body in [&b"small"[..], &large[..], &[][..]] {
            let (mut daemon, mut client) = UnixStream::pair().unwrap();
            daemon.write_all(&framed(body)).unwrap();
            assert_eq!(&read_answer(&mut client, later()).unwrap()[..], body);
        }
        // The prefix split across writes, the body late.
        let (mut daemon, mut client) = UnixStream::pair().unwrap();
        let writer = std::thread::spawn(move || {
            let frame = framed(b"late");
            for part in [&frame[..2], &frame[2..5], &frame[5..]] {
                daemon.write_all(part).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        assert_eq!(&read_answer(&mut client, later()).unwrap()[..], b"late");
        writer.join().unwrap();
    }

    #[test]
    fn bytes_past_the_answer_and_a_hang_up_are_errors() {
        use std::io::Write;
        let (mut daemon, mut client) = UnixStream::pair().unwrap();
        let mut two = framed(b"one");
        two.extend_from_slice(&framed(b"two"));
        daemon.write_all(&two).unwrap();
        assert!(matches!(
            read_answer(&mut client, later()),
            Err(FrameError::Trailing(7))
        ));
        let (mut daemon, mut client) = UnixStream::pair().unwrap();
        daemon.write_all(&framed(b"cut")[..5]).unwrap();
        drop(daemon);
        assert!(matches!(
            read_answer(&mut client, later()),
            Err(FrameError::Io(_))
        ));
        let (mut daemon, mut client) = UnixStream::pair().unwrap();
        daemon.write_all(&u32::MAX.to_be_bytes()).unwrap();
        assert!(matches!(
            read_answer(&mut client, later()),
            Err(FrameError::TooLarge(_))
        ));
    }

    #[test]
    fn a_full_backlog_is_a_connect_timeout_not_a_hang() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("full.sock");
        let listener = Socket::new(Domain::UNIX, Type::STREAM, None).unwrap();
        listener.bind(&SockAddr::unix(&path).unwrap()).unwrap();
        // Room for one connection that is never accepted.
        listener.listen(0).unwrap();
        let _first = Client::connect(&path, Duration::from_secs(5)).unwrap();
        let mut outcomes = Vec::new();
        for _ in 0..3 {
            match Client::connect(&path, Duration::from_millis(100)) {
                Err(ClientError::ConnectTimeout { ms, .. }) => outcomes.push(ms),
                Err(other) => panic!("{other}"),
                Ok(_) => panic!("connected to a full backlog"),
            }
        }
        assert_eq!(outcomes, [100, 100, 100]);
    }
}

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
    /// How long one read may wait (the socket's SO_RCVTIMEO); an answer's reads
    /// together are given twice that before a signal stops restarting them.
    answer_timeout: Duration,
}

impl Client {
    /// Connects within `timeout` and checks that the daemon runs as root or as this
    /// process's own euid (the embedded default runs unprivileged as its user).
    pub fn connect(path: &Path, timeout: Duration) -> Result<Client, ClientError> {
        Client::connect_with(path, timeout, timeout)
    }

    /// As `connect`, each later read waiting at most `answer_timeout` (writes of
    /// a request, which a fresh connection takes at once, `connect_timeout`).
    pub fn connect_with(
        path: &Path,
        connect_timeout: Duration,
        answer_timeout: Duration,
    ) -> Result<Client, ClientError> {
        let timeout = connect_timeout;
        let shown = || path.display().to_string();
        let connect_err = |source| ClientError::Connect {
            path: shown(),
            source,
        };
        let socket =
            Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None).map_err(connect_err)?;
        let addr = SockAddr::unix(path).map_err(connect_err)?;
        // Both timeouts before connecting: a unix connect waits only while the
        // listener's backlog is full, and then no longer than the send timeout
        // (EAGAIN after it). Each later read and write has the same bound.
        socket
            .set_read_timeout(Some(answer_timeout))
            .map_err(connect_err)?;
        socket
            .set_write_timeout(Some(timeout))
            .map_err(connect_err)?;
        let deadline = Instant::now() + timeout;
        loop {
            match socket.connect(&addr) {
                Ok(()) => break,
                // Nothing happened yet (a signal while waiting for room): again.
                Err(e)
                    if e.kind() == std::io::ErrorKind::Interrupted && Instant::now() < deadline => {
                }
                Err(e)
                    if e.raw_os_error() == Some(libc::EAGAIN)
                        || e.kind() == std::io::ErrorKind::Interrupted =>
                {
                    return Err(ClientError::ConnectTimeout {
                        path: shown(),
                        ms: timeout.as_millis(),
                    });
                }
                Err(e) => return Err(connect_err(e)),
            }
        }
        let stream: UnixStream = socket.into();
        let peer = peer_cred(&stream).map_err(connect_err)?;
        if peer.uid != 0 {
            // SAFETY: geteuid has no failure mode and touches no memory.
            let own = unsafe { libc::geteuid() };
            if peer.uid != own {
                return Err(ClientError::UntrustedPeer {
                    path: shown(),
                    uid: peer.uid,
                    own,
                });
            }
        }
        Ok(Client {
            stream,
            answer_timeout,
        })
    }

    /// Sets how long each later read or write may block.
    pub fn set_timeout(&mut self, timeout: Duration) -> std::io::Result<()> {
        self.stream.set_read_timeout(Some(timeout))?;
        self.stream.set_write_timeout(Some(timeout))?;
        self.answer_timeout = timeout;
        Ok(())
    }

    pub fn call(&mut self, request: &Request) -> Result<Response, ClientError> {
        write_frame(&mut self.stream, &encode(request)?)?;
        let body = read_answer(&mut self.stream, Instant::now() + 2 * self.answer_timeout)?;
        Ok(decode(&body)?)
    }

    /// One request on this connection, then done: the write side is shut after
    /// the request, so the daemon sees the hang-up with the frame and can answer
    /// and close at once, without waiting for more.
    pub fn call_once(mut self, request: &Request) -> Result<Response, ClientError> {
        write_frame(&mut self.stream, &encode(request)?)?;
        // Only a hint to the daemon: an old one that ignores it reads EOF later.
        let _ = self.stream.shutdown(std::net::Shutdown::Write);
        let body = read_answer(&mut self.stream, Instant::now() + 2 * self.answer_timeout)?;
        Ok(decode(&body)?)
    }

    /// Connect, ask once, and hang up.
    pub fn ask(path: &Path, timeout: Duration, request: &Request) -> Result<Response, ClientError> {
        Client::connect(path, timeout)?.call_once(request)
    }
}
