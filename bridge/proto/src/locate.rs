//! Where the modules find the daemon: `AUTHBRIDGE_SOCKET` (read with secure_getenv,
//! so setuid programs ignore it), else `[daemon] socket` in the system config, else
//! the default path.

use serde::Deserialize;
use std::ffi::CStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

pub const SYSTEM_CONFIG: &str = "/etc/authbridge/config.toml";
pub const SOCKET_ENV: &CStr = c"AUTHBRIDGE_SOCKET";

#[derive(Deserialize, Default)]
struct Partial {
    #[serde(default)]
    daemon: PartialDaemon,
}

#[derive(Deserialize, Default)]
struct PartialDaemon {
    socket: Option<PathBuf>,
}

/// `[daemon] socket` from a config file; None when absent or unreadable (the
/// daemon reports a broken config; a module only needs this one key).
pub fn socket_from_config(path: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(path).ok()?;
    toml::from_str::<Partial>(&text).ok()?.daemon.socket
}

unsafe extern "C" {
    // glibc ≥ 2.17; the libc crate does not bind it.
    fn secure_getenv(name: *const libc::c_char) -> *mut libc::c_char;
}

fn secure_env(name: &CStr) -> Option<PathBuf> {
    // SAFETY: name is NUL-terminated; the result is copied before any other
    // environment call could change it.
    let value = unsafe { secure_getenv(name.as_ptr()) };
    if value.is_null() {
        return None;
    }
    // SAFETY: non-null results of secure_getenv are NUL-terminated strings.
    let bytes = unsafe { CStr::from_ptr(value) }.to_bytes();
    (!bytes.is_empty()).then(|| PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
}

pub fn system_socket() -> PathBuf {
    secure_env(SOCKET_ENV)
        .or_else(|| socket_from_config(Path::new(SYSTEM_CONFIG)))
        .unwrap_or_else(|| PathBuf::from(crate::DEFAULT_SOCKET))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_key_is_read_from_a_full_config_and_nothing_else_matters() {
        let dir = std::env::temp_dir().join(format!("ab-locate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let config = dir.join("config.toml");
        std::fs::write(
            &config,
            "data_dir = \"/var/lib/x\"\n[daemon]\nsocket = \"/run/x/y.sock\"\ncached_auth_timeout = \"60s\"\n\n[[backend]]\ntype = \"imap\"\nhost = \"h\"\n",
        )
        .unwrap();
        assert_eq!(
            socket_from_config(&config),
            Some(PathBuf::from("/run/x/y.sock"))
        );
        std::fs::write(&config, "[daemon]\nrequest_timeout = \"5s\"\n").unwrap();
        assert_eq!(socket_from_config(&config), None);
        std::fs::write(&config, "not toml at all [").unwrap();
        assert_eq!(socket_from_config(&config), None);
        assert_eq!(socket_from_config(&dir.join("missing.toml")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
