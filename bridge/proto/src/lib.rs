//! The socket protocol between `authbridge serve` and its thin clients, the PAM and
//! NSS modules.
//!
//! A frame is a 4-byte big-endian length followed by that many bytes: one version
//! byte, then a [postcard](https://docs.rs/postcard) encoded [`Request`] or
//! [`Response`]. One request, one response, in order, on a connection. This crate
//! uses only blocking std I/O, so the modules load no async runtime into the
//! programs that link them (sshd, login, every `ls -l`).

mod client;
mod frame;
mod locate;
mod messages;
mod peer;

pub use client::{Client, ClientError};
pub use frame::{FrameError, MAX_FRAME, VERSION, decode, encode, read_frame, write_frame};
pub use locate::{SOCKET_ENV, SYSTEM_CONFIG, socket_from_config, system_socket};
pub use messages::{
    AccountStatus, AuthAnswer, AuthRequest, AuthStatus, BAD_REQUEST, Group, Passwd, PasswordChange,
    PasswordOwner, Request, Response, Secret, Step, Ticket, TwoFactorMode,
};
pub use peer::{PeerCred, peer_cred};

/// The socket of a system-wide daemon.
/// Set in the daemon's own environment; the NSS module answers "unavailable"
/// when it sees it, so the daemon's own user lookups never come back to itself
/// (SSSD's `_SSS_LOOPS`).
pub const LOOP_GUARD: &std::ffi::CStr = c"_AUTHBRIDGE_LOOPS";

pub const DEFAULT_SOCKET: &str = "/run/authbridge/authbridge.sock";
