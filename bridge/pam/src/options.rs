//! The options on the pam.d line: `socket=PATH`, `timeout=SECONDS`, `debug`,
//! `use_first_pass`, `try_first_pass`, `twofactor=optional|required|off`.

use authbridge_proto::TwoFactorMode;

use std::ffi::CStr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub socket: PathBuf,
    /// How long the daemon may take to answer (it bounds its own backends).
    pub timeout: Duration,
    pub debug: bool,
    pub use_first_pass: bool,
    pub try_first_pass: bool,
    /// When to ask for a second factor after the password (default: optional,
    /// for users who set one up or are under enforcement).
    pub twofactor: TwoFactorMode,
    /// Options this module does not know, reported to syslog once per call.
    pub unknown: Vec<String>,
}

pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

impl Options {
    pub fn parse(args: &[&CStr]) -> Options {
        let mut options = Options {
            socket: PathBuf::new(),
            timeout: DEFAULT_TIMEOUT,
            debug: false,
            use_first_pass: false,
            try_first_pass: false,
            twofactor: TwoFactorMode::Optional,
            unknown: vec![],
        };
        let mut socket = None;
        for arg in args {
            let arg = arg.to_string_lossy();
            match arg.split_once('=') {
                Some(("socket", path)) if !path.is_empty() => socket = Some(PathBuf::from(path)),
                Some(("timeout", secs)) => match secs.parse::<u64>() {
                    Ok(s) if s > 0 => options.timeout = Duration::from_secs(s),
                    _ => options.unknown.push(arg.into_owned()),
                },
                Some(("twofactor", mode)) => match mode {
                    "optional" => options.twofactor = TwoFactorMode::Optional,
                    "required" => options.twofactor = TwoFactorMode::Required,
                    "off" => options.twofactor = TwoFactorMode::Off,
                    // A mistyped mode must not weaken anything: the strictest.
                    _ => {
                        options.twofactor = TwoFactorMode::Required;
                        options.unknown.push(arg.into_owned());
                    }
                },
                None if arg == "debug" => options.debug = true,
                None if arg == "use_first_pass" => options.use_first_pass = true,
                None if arg == "try_first_pass" => options.try_first_pass = true,
                _ => options.unknown.push(arg.into_owned()),
            }
        }
        options.socket = socket.unwrap_or_else(authbridge_proto::system_socket);
        options
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_read_and_strangers_kept_for_the_log() {
        let args = [
            c"socket=/tmp/a.sock",
            c"timeout=3",
            c"debug",
            c"try_first_pass",
            c"timeout=zero",
            c"frobnicate",
        ];
        let o = Options::parse(&args);
        assert_eq!(o.socket, PathBuf::from("/tmp/a.sock"));
        assert_eq!(o.timeout, Duration::from_secs(3));
        assert!(o.debug && o.try_first_pass && !o.use_first_pass);
        assert_eq!(
            o.unknown,
            vec!["timeout=zero".to_string(), "frobnicate".into()]
        );
        assert_eq!(o.twofactor, TwoFactorMode::Optional, "the default");
    }

    #[test]
    fn twofactor_modes_and_a_mistyped_one_is_the_strictest() {
        for (arg, mode) in [
            (c"twofactor=off", TwoFactorMode::Off),
            (c"twofactor=required", TwoFactorMode::Required),
            (c"twofactor=optional", TwoFactorMode::Optional),
        ] {
            assert_eq!(Options::parse(&[arg]).twofactor, mode);
        }
        let o = Options::parse(&[c"twofactor=of"]);
        assert_eq!(o.twofactor, TwoFactorMode::Required);
        assert_eq!(o.unknown, vec!["twofactor=of".to_string()]);
    }
}
