//! Loopback ports for tests, without the race of "bind port 0, close it, hand
//! out the number".
//!
//! A server that runs inside the test process binds port 0 and keeps the socket
//! ([`SilentServer`](crate::SilentServer), [`ClosedPort`]): nothing can take its
//! port in between. Dovecot, smbd, pyftpdlib and aiosmtpd are other processes and
//! must bind a port they are told, so for them two things together:
//!
//! - [`free_port`] takes ports from below the kernel's ephemeral range, which
//!   `bind(0)` and every outgoing connection (the tests make thousands) draw from,
//!   walking them from a start picked at random per process, so that concurrent
//!   test processes walk apart, and skipping ports something holds right now;
//! - each server start checks that the port is held by the server it started (not
//!   merely that something answers there) and, when the server reports the
//!   address in use, starts again on fresh ports, a bounded number of times.
//!
//! The first makes a clash rare; the second turns the remaining one into a retry
//! instead of a test talking to someone else's server.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{Ipv4Addr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Where ports are handed out from: `len` ports from `first`, walked from `start`.
struct Walk {
    first: u32,
    len: u32,
    start: u32,
}

/// The lowest port handed out: below it live well-known and registered services.
const LOWEST: u32 = 10_000;

/// Fewer ports than this outside the ephemeral range and we let the kernel choose.
const ENOUGH: u32 = 2_000;

fn walk() -> Option<&'static Walk> {
    static WALK: OnceLock<Option<Walk>> = OnceLock::new();
    WALK.get_or_init(|| {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").ok()?;
        let mut bounds = range.split_whitespace().map(str::parse::<u32>);
        let (low, high) = (bounds.next()?.ok()?, bounds.next()?.ok()?);
        // The larger of the gaps below and above the ephemeral range.
        let below = (LOWEST, low.saturating_sub(LOWEST));
        let above = (high + 1, 65_536u32.saturating_sub(high + 1));
        let (first, len) = if below.1 >= above.1 { below } else { above };
        (len >= ENOUGH).then(|| Walk {
            first,
            len,
            start: (RandomState::new().hash_one(std::process::id()) % u64::from(len)) as u32,
        })
    })
    .as_ref()
}

/// A loopback port on 127.0.0.1 that nobody holds right now, for a server that
/// another process starts (see the module's notes; a closed port to connect to is
/// [`ClosedPort`], a server in this process binds port 0 itself).
pub fn free_port() -> u16 {
    free_port_on(Ipv4Addr::LOCALHOST)
}

/// [`free_port`] on another loopback address.
pub fn free_port_on(address: Ipv4Addr) -> u16 {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let Some(walk) = walk() else {
        // No room outside the ephemeral range: the kernel's choice, as before.
        return TcpListener::bind((address, 0))
            .and_then(|l| l.local_addr())
            .expect("bind port 0")
            .port();
    };
    for _ in 0..walk.len {
        let step = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = walk.first + (walk.start + step) % walk.len;
        let port = u16::try_from(port).expect("ports end at 65535");
        // Taken when something listens there, or holds it bound without sharing.
        if TcpListener::bind((address, port)).is_ok() {
            return port;
        }
    }
    panic!(
        "no free port on {address} from {} to {}",
        walk.first,
        walk.first + walk.len - 1
    );
}

/// A port on 127.0.0.1 where a connect is refused, held for as long as the value
/// lives: the socket is bound without `SO_REUSEADDR` and never listens, so nobody
/// can bind the port meanwhile and the kernel answers every connect with a reset.
pub struct ClosedPort {
    pub port: u16,
    _socket: OwnedFd,
}

impl ClosedPort {
    pub fn hold() -> ClosedPort {
        // SAFETY: plain socket calls on a descriptor this function owns; the
        // address structures are initialised and passed with their sizes.
        unsafe {
            let fd = libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0);
            assert!(fd >= 0, "socket: {}", std::io::Error::last_os_error());
            let socket = OwnedFd::from_raw_fd(fd);
            let mut addr: libc::sockaddr_in = std::mem::zeroed();
            addr.sin_family = libc::AF_INET as libc::sa_family_t;
            addr.sin_addr.s_addr = u32::from(Ipv4Addr::LOCALHOST).to_be();
            let mut len = std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t;
            let bound = libc::bind(
                socket.as_raw_fd(),
                (&raw const addr).cast::<libc::sockaddr>(),
                len,
            );
            assert_eq!(bound, 0, "bind: {}", std::io::Error::last_os_error());
            let named = libc::getsockname(
                socket.as_raw_fd(),
                (&raw mut addr).cast::<libc::sockaddr>(),
                &mut len,
            );
            assert_eq!(named, 0, "getsockname: {}", std::io::Error::last_os_error());
            ClosedPort {
                port: u16::from_be(addr.sin_port),
                _socket: socket,
            }
        }
    }
}

/// How many times a server is started on fresh ports before giving up.
const START_ATTEMPTS: usize = 4;

/// A start that failed because its port was taken, with what the server said.
pub(crate) struct PortTaken(pub String);

/// Whether a server's output says it could not bind its port.
pub(crate) fn says_port_taken(output: &str) -> bool {
    output.to_lowercase().contains("address already in use")
}

/// Runs `attempt` (which picks fresh ports each time) until it does not fail on
/// a taken port, at most [`START_ATTEMPTS`] times.
pub(crate) fn start_retrying<T>(
    what: &str,
    mut attempt: impl FnMut() -> Result<T, PortTaken>,
) -> T {
    let mut last = String::new();
    for _ in 0..START_ATTEMPTS {
        match attempt() {
            Ok(server) => return server,
            Err(PortTaken(output)) => last = output,
        }
    }
    panic!("{what}: port taken on each of {START_ATTEMPTS} attempts; last:\n{last}");
}

/// Waits until process `pid` itself listens on `address:port` (a listener of
/// anyone else on that port does not count). When the process ends first, its
/// output (from `output`) tells whether the port was taken; any other end or
/// not listening after `limit` panics with that output.
pub(crate) fn wait_until_listening(
    pid: u32,
    address: Ipv4Addr,
    port: u16,
    limit: Duration,
    output: impl Fn() -> String,
) -> Result<(), PortTaken> {
    let outcome = crate::eventually_some(limit, || {
        if listens(pid, address, port) {
            Some(true)
        } else if !alive(pid) {
            Some(false)
        } else {
            None
        }
    });
    match outcome {
        Some(true) => Ok(()),
        Some(false) if says_port_taken(&output()) => Err(PortTaken(output())),
        Some(false) => panic!(
            "process {pid} ended before listening on {address}:{port}:\n{}",
            output()
        ),
        None => panic!(
            "process {pid} does not listen on {address}:{port} after {limit:?}:\n{}",
            output()
        ),
    }
}

/// Running, not a zombie waiting to be reaped.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        !matches!(state, None | Some('Z' | 'X' | 'x'))
    })
}

/// Whether one of `pid`'s descriptors is a TCP socket listening on `address:port`.
fn listens(pid: u32, address: Ipv4Addr, port: u16) -> bool {
    const LISTEN: &str = "0A";
    let Ok(table) = std::fs::read_to_string("/proc/net/tcp") else {
        return false;
    };
    let sockets: Vec<String> = table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (local, state, inode) = (fields.get(1)?, fields.get(3)?, fields.get(9)?);
            let (ip, p) = local.split_once(':')?;
            // The kernel prints the address's bytes as a number in host byte order.
            let ip = Ipv4Addr::from(u32::from_str_radix(ip, 16).ok()?.to_ne_bytes());
            let p = u16::from_str_radix(p, 16).ok()?;
            (*state == LISTEN && p == port && (ip == address || ip.is_unspecified()))
                .then(|| format!("socket:[{inode}]"))
        })
        .collect();
    if sockets.is_empty() {
        return false;
    }
    let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        std::fs::read_link(fd.path())
            .is_ok_and(|target| sockets.iter().any(|s| target.as_os_str() == s.as_str()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpStream;
    use std::process::{Child, Command, Stdio};

    /// A child process, killed and reaped when the test ends however it ends.
    struct Reaped(Child);

    impl Drop for Reaped {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// python3 running `code` (which gets the port as `P`), stderr to `errors`.
    fn python(code: &str, port: u16, errors: &std::path::Path) -> Reaped {
        Reaped(
            Command::new("python3")
                .args(["-c", &format!("P = {port}\n{code}")])
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(errors).unwrap())
                .spawn()
                .expect("python3"),
        )
    }

    const LISTEN_AND_WAIT: &str = "import socket, time\n\
        s = socket.socket()\n\
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n\
        s.bind(('127.0.0.1', P))\n\
        s.listen()\n\
        time.sleep(30)";

    #[test]
    fn free_ports_are_outside_the_ephemeral_range_distinct_and_bindable() {
        let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range").unwrap();
        let bounds: Vec<u16> = range
            .split_whitespace()
            .map(|n| n.parse().unwrap())
            .collect();
        let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
        for &port in &ports {
            assert!(
                !(bounds[0]..=bounds[1]).contains(&port),
                "{port} in {bounds:?}"
            );
            TcpListener::bind(("127.0.0.1", port)).expect("free");
        }
        let mut distinct = ports.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), ports.len(), "{ports:?}");
    }

    #[test]
    fn a_closed_port_refuses_connects_and_cannot_be_taken_while_held() {
        let closed = ClosedPort::hold();
        let err = TcpStream::connect(("127.0.0.1", closed.port)).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{err}");
        // std's listener asks for SO_REUSEADDR, as servers do: still refused.
        assert!(TcpListener::bind(("127.0.0.1", closed.port)).is_err());
        // Not asserted: that the port is free once released. It comes from the
        // ephemeral range, where any outgoing connection on the machine may take
        // it the moment it is free (this failed once in a CI run).
    }

    /// Starts a server that listens on `port` and waits until it does (or says
    /// why it cannot).
    fn listen_and_wait_on(port: u16) -> Result<(), PortTaken> {
        let dir = tempfile::tempdir().unwrap();
        let errors = dir.path().join("stderr");
        let server = python(LISTEN_AND_WAIT, port, &errors);
        wait_until_listening(
            server.0.id(),
            Ipv4Addr::LOCALHOST,
            port,
            Duration::from_secs(10),
            || std::fs::read_to_string(&errors).unwrap_or_default(),
        )
    }

    #[test]
    fn a_server_that_listens_is_waited_for() {
        assert!(listen_and_wait_on(free_port()).is_ok());
    }

    #[test]
    fn a_server_that_finds_its_port_taken_is_reported_for_a_retry() {
        let taken = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port();
        let Err(PortTaken(output)) = listen_and_wait_on(port) else {
            panic!("a taken port went unnoticed");
        };
        assert!(says_port_taken(&output), "{output}");
    }

    #[test]
    #[should_panic(expected = "does not listen")]
    fn someone_elses_listener_on_the_port_does_not_count() {
        let dir = tempfile::tempdir().unwrap();
        let errors = dir.path().join("stderr");
        let foreign = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = foreign.local_addr().unwrap().port();
        // Alive, but not listening anywhere (yet): only this process's own counts.
        let server = python("import time\ntime.sleep(30)", port, &errors);
        let _ = wait_until_listening(
            server.0.id(),
            Ipv4Addr::LOCALHOST,
            port,
            Duration::from_millis(500),
            String::new,
        );
    }

    #[test]
    fn a_start_is_retried_on_a_taken_port_and_no_more_than_so_often() {
        let mut attempts = 0;
        let started = start_retrying("test server", || {
            attempts += 1;
            if attempts < 3 {
                Err(PortTaken("Address already in use".into()))
            } else {
                Ok(attempts)
            }
        });
        assert_eq!(started, 3);
        let always = std::panic::catch_unwind(|| {
            start_retrying("test server", || -> Result<(), PortTaken> {
                Err(PortTaken("Address already in use".into()))
            })
        });
        assert!(always.is_err(), "gives up after {START_ATTEMPTS} attempts");
    }
}
