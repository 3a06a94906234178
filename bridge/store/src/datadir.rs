//! The data directory: everything authbridge writes lives here (the store, the
//! secret key, later the daemon's socket).

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir(PathBuf);

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot create data directory {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "data directory {path} belongs to uid {owner}, not to uid {me} that runs authbridge; \
         it holds password hashes and keys: give it to this user (chown) or choose another --data-dir"
    )]
    Owner { path: PathBuf, owner: u32, me: u32 },
    #[error("cannot make data directory {path} private (mode 0700): {source}")]
    Mode {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The data directory of a system-wide installation (root's default).
pub const SYSTEM_DATA_DIR: &str = "/var/lib/authbridge";

impl DataDir {
    /// `--data-dir` / `AUTHBRIDGE_DATA_DIR` (given), else the config's setting,
    /// else `/var/lib/authbridge` for root and `./authbridge-data` otherwise.
    pub fn resolve(given: Option<PathBuf>, from_config: Option<PathBuf>, is_root: bool) -> DataDir {
        DataDir(given.or(from_config).unwrap_or_else(|| {
            if is_root {
                PathBuf::from(SYSTEM_DATA_DIR)
            } else {
                PathBuf::from("authbridge-data")
            }
        }))
    }

    /// Whether this is the system-wide installation's directory.
    pub fn is_system(&self) -> bool {
        self.0 == Path::new(SYSTEM_DATA_DIR)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    /// Creates the directory (mode 0700: it holds password hashes and the key).
    /// Creates the directory (0700), or makes an existing one 0700: it holds the
    /// password hashes and the app-password key. One owned by another user is
    /// refused rather than used.
    pub fn ensure(&self) -> Result<(), DataDirError> {
        use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.0)
            .map_err(|source| DataDirError::Create {
                path: self.0.clone(),
                source,
            })?;
        let meta = std::fs::metadata(&self.0).map_err(|source| DataDirError::Create {
            path: self.0.clone(),
            source,
        })?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() != me {
            return Err(DataDirError::Owner {
                path: self.0.clone(),
                owner: meta.uid(),
                me,
            });
        }
        if meta.permissions().mode() & 0o077 != 0 {
            std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o700)).map_err(
                |source| DataDirError::Mode {
                    path: self.0.clone(),
                    source,
                },
            )?;
        }
        Ok(())
    }

    pub fn store_path(&self) -> PathBuf {
        self.0.join("authbridge.sqlite")
    }

    pub fn secret_key_path(&self) -> PathBuf {
        self.0.join("secret.key")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence() {
        let given = Some(PathBuf::from("/a"));
        let config = Some(PathBuf::from("/b"));
        assert_eq!(
            DataDir::resolve(given.clone(), config.clone(), true).path(),
            Path::new("/a")
        );
        assert_eq!(
            DataDir::resolve(None, config, false).path(),
            Path::new("/b")
        );
        assert_eq!(
            DataDir::resolve(None, None, true).path(),
            Path::new("/var/lib/authbridge")
        );
        assert_eq!(
            DataDir::resolve(None, None, false).path(),
            Path::new("authbridge-data")
        );
    }
}
