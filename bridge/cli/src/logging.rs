//! Where log lines go and how they look: text for a terminal or the journal,
//! or one JSON object per line for log shippers (`[log] format = "json"`).

use serde::Deserialize;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// `key=value` fields; control characters escaped as Rust escapes them.
    #[default]
    Text,
    /// One JSON object per line, the fields at the top level.
    Json,
}

/// The config file's `[log]` section.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// Read at start: a changed format takes a restart, not a SIGHUP.
    pub format: LogFormat,
}

/// Sets up logging to standard error, at `default_level` unless AUTHBRIDGE_LOG
/// says otherwise. Text on a standard error that is the journal's (systemd
/// says so in JOURNAL_STREAM) goes to journald natively instead, each decision
/// field a journal field of its own (`AUTHBRIDGE_LOGIN`, `AUTHBRIDGE_VERDICT`…).
pub fn init(default_level: &str, format: LogFormat) {
    use authbridge_daemon::log_format::{self, Sink};
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_env("AUTHBRIDGE_LOG")
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level))
    };
    if format == LogFormat::Text
        && stderr_is_the_journal()
        && let Ok(journal) = tracing_journald::layer()
    {
        log_format::set(Sink::Journal);
        let journal = journal
            .with_field_prefix(Some("AUTHBRIDGE".to_owned()))
            .with_syslog_identifier("authbridge".to_owned());
        tracing_subscriber::registry()
            .with(filter())
            .with(journal)
            .init();
        return;
    }
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter());
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => {
            log_format::set(Sink::Json);
            builder.json().flatten_event(true).init()
        }
    }
}

/// systemd connects a service's standard error to the journal and names that
/// stream in JOURNAL_STREAM as DEVICE:INODE (systemd.exec(5)); a standard
/// error redirected elsewhere since (a file, a pipe) does not match.
fn stderr_is_the_journal() -> bool {
    use std::os::fd::AsFd;
    let Some(named) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(stat) = device_and_inode(std::io::stderr().as_fd()) else {
        return false;
    };
    named.to_str() == Some(&format!("{}:{}", stat.0, stat.1))
}

/// (device, inode) of an open file.
fn device_and_inode(fd: std::os::fd::BorrowedFd<'_>) -> std::io::Result<(u64, u64)> {
    use std::os::fd::AsRawFd;
    let mut stat = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat writes a whole stat into the buffer it is given, on a
    // descriptor borrowed for the call.
    if unsafe { libc::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: fstat succeeded, so the struct is initialised.
    let stat = unsafe { stat.assume_init() };
    Ok((stat.st_dev, stat.st_ino))
}
