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
/// says otherwise.
pub fn init(default_level: &str, format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("AUTHBRIDGE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        LogFormat::Json => {
            // Decision lines record their fields as plain strings then: JSON
            // escapes what the text format's Debug quoting would.
            authbridge_daemon::log_format::use_json();
            builder.json().flatten_event(true).init()
        }
    }
}
