//! Why a command failed, and the exit code each reason maps to: in one place,
//! as ripgrep keeps its own. Text is made only at the edge (`main`).

use authbridge_store::StoreError;
use std::fmt;

/// Exit code: the configuration or the command line is wrong.
pub const CONFIG_ERROR: u8 = 3;
/// Exit code: the command could not do what it was asked.
pub const FAILED: u8 = 1;

#[derive(Debug)]
pub enum Failure {
    /// The configuration is wrong (exit 3): the config file for `check` and
    /// `serve` (the user and group commands report theirs as `Failed`, exit 1,
    /// as they always have), an argument, the password input.
    Config(String),
    /// The work itself failed (exit 1).
    Failed(anyhow::Error),
}

impl Failure {
    pub fn config(message: impl fmt::Display) -> Failure {
        Failure::Config(message.to_string())
    }

    pub fn failed(message: impl fmt::Display) -> Failure {
        Failure::Failed(anyhow::anyhow!("{message}"))
    }

    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Config(_) => CONFIG_ERROR,
            Failure::Failed(_) => FAILED,
        }
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Failure {
        Failure::Failed(e)
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Config(message) => f.write_str(message),
            // An unknown user or group, when that is the whole error, is named as
            // such; with context around it, the context leads.
            Failure::Failed(e) if e.chain().count() > 1 => write!(f, "{e:#}"),
            Failure::Failed(e) => match e.downcast_ref::<StoreError>() {
                Some(StoreError::NoSuchUser(u)) => write!(f, "user {u:?} does not exist"),
                Some(StoreError::NoSuchGroup(g)) => write!(f, "group {g:?} does not exist"),
                _ => write!(f, "{e:#}"),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_exit_code_and_names_what_is_missing() {
        let missing = Failure::from(anyhow::Error::from(StoreError::NoSuchUser("bob".into())));
        assert_eq!(missing.exit_code(), FAILED);
        assert_eq!(missing.to_string(), "user \"bob\" does not exist");
        let context = Failure::from(anyhow::anyhow!("inner").context("outer"));
        assert_eq!(context.to_string(), "outer: inner");
        let wrapped = Failure::from(
            anyhow::Error::from(StoreError::NoSuchUser("admin".into()))
                .context("cannot create the first admin account"),
        );
        assert_eq!(
            wrapped.to_string(),
            "cannot create the first admin account: user \"admin\" does not exist"
        );
        let config = Failure::config("x.toml: no such file");
        assert_eq!(config.exit_code(), CONFIG_ERROR);
        assert_eq!(config.to_string(), "x.toml: no such file");
    }
}
