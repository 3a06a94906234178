//! `pam_authbridge.so`: a thin client of the authbridge daemon.
//!
//! No backend protocol, no store and no async runtime in here: every hook asks the
//! daemon one question over its unix socket, within `timeout=`, and maps the answer
//! to a PAM code. Before a password is sent, the client checks that the process at
//! the other end runs as root or as this process's own uid (SO_PEERCRED).
//!
//! | daemon says            | authenticate          | acct_mgmt          |
//! |------------------------|-----------------------|--------------------|
//! | accepted / active      | PAM_SUCCESS           | PAM_SUCCESS        |
//! | rejected / throttled   | PAM_AUTH_ERR          |                    |
//! | disabled               | PAM_AUTH_ERR          | PAM_ACCT_EXPIRED   |
//! | unknown user           | PAM_USER_UNKNOWN      | PAM_USER_UNKNOWN   |
//! | unavailable, no daemon | PAM_AUTHINFO_UNAVAIL  | PAM_AUTHINFO_UNAVAIL |
//!
//! Every hook answers PAM_USER_UNKNOWN for root and the names in /etc/passwd
//! without asking the daemon: those accounts are pam_unix's.

mod hooks;
mod options;
mod pam;
mod system;

pub use hooks::AuthbridgePam;
