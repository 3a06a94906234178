//! The `[[backend]] type = "smb"` section: user_external's server argument, plus
//! the optional share and workgroup, the port, the queue bound and timeouts.

use authbridge_core::Timeouts;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmbConfig {
    pub host: String,
    pub port: Option<u16>,
    /// Share whose root is stat'ed to prove the credentials (required: through
    /// libsmbclient, listing shares loses the server's error).
    pub share: String,
    /// Workgroup or domain the accounts belong to.
    #[serde(alias = "domain")]
    pub workgroup: Option<String>,
    /// Checks waiting for the SMB child at most; more are unavailable at once.
    pub queue: Option<usize>,
    #[serde(default, with = "humantime_serde")]
    pub connect_timeout: Option<Duration>,
    #[serde(default, with = "humantime_serde")]
    pub timeout: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmbSettings {
    pub host: String,
    pub port: u16,
    pub share: String,
    pub workgroup: String,
    pub queue: usize,
    pub timeouts: Timeouts,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmbConfigError {
    #[error("`host` must be a bare host name or address (no smb://, no path)")]
    Host,
    #[error("`port` must be from 1 to 65535")]
    Port,
    #[error("`share` must be a share name, without slashes (e.g. \"homes\")")]
    Share,
    #[error("`queue` must be from 1 to 10000")]
    Queue,
}

impl SmbConfig {
    pub fn resolve(&self) -> Result<SmbSettings, SmbConfigError> {
        let host = self.host.trim();
        if host.is_empty() || host.contains(['/', '\\', ' ']) {
            return Err(SmbConfigError::Host);
        }
        if self.port == Some(0) {
            return Err(SmbConfigError::Port);
        }
        let share = self.share.trim().to_owned();
        if share.is_empty() || share.contains(['/', '\\']) {
            return Err(SmbConfigError::Share);
        }
        let queue = self.queue.unwrap_or(32);
        if !(1..=10_000).contains(&queue) {
            return Err(SmbConfigError::Queue);
        }
        Ok(SmbSettings {
            host: host.to_owned(),
            port: self.port.unwrap_or(445),
            share,
            workgroup: self.workgroup.clone().unwrap_or_default(),
            queue,
            timeouts: Timeouts::with_overrides(self.connect_timeout, self.timeout),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(host: &str) -> SmbConfig {
        SmbConfig {
            host: host.into(),
            port: None,
            share: "homes".into(),
            workgroup: None,
            queue: None,
            connect_timeout: None,
            timeout: None,
        }
    }

    #[test]
    fn defaults() {
        let s = config("fileserver").resolve().unwrap();
        assert_eq!((s.port, s.queue, s.share.as_str()), (445, 32, "homes"));
    }

    #[test]
    fn refuses_urls_paths_and_bad_numbers() {
        assert_eq!(
            config("smb://x").resolve().unwrap_err(),
            SmbConfigError::Host
        );
        assert_eq!(config("").resolve().unwrap_err(), SmbConfigError::Host);
        let mut c = config("x");
        c.share = "a/b".into();
        assert_eq!(c.resolve().unwrap_err(), SmbConfigError::Share);
        c.share = "".into();
        assert_eq!(c.resolve().unwrap_err(), SmbConfigError::Share);
        let mut c = config("x");
        c.queue = Some(0);
        assert_eq!(c.resolve().unwrap_err(), SmbConfigError::Queue);
        let mut c = config("x");
        c.port = Some(0);
        assert_eq!(c.resolve().unwrap_err(), SmbConfigError::Port);
    }
}
