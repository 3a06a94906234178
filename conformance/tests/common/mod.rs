//! authbridge's own OCS server for the tests: the real `authbridge serve` (built
//! here with cargo, so `cargo test -p ocs-conformance` alone is enough), on a
//! loopback port, with a private store, answering in the `[ocs] compat` profile
//! that matches the expectations it is held to.

#![allow(dead_code)]

pub mod wrong;

use authbridge_testsupport::{Daemon, Smtp};
use ocs_conformance::client::Variant;
use ocs_conformance::fixture::{Document, Profile};
use ocs_conformance::run::{Options, Target};
use std::time::Duration;

pub struct Server {
    pub daemon: Daemon,
    /// The SMTP server it delivers to, when it sends mail.
    pub smtp: Option<Smtp>,
    /// An app password of the first admin (checked with a keyed hash, not argon2id,
    /// so hundreds of admin requests stay cheap).
    pub admin_token: String,
    /// Whose answers it gives (`[ocs] compat`), and so which to expect of it.
    pub expect: Profile,
}

/// The `authbridge` binary, built by cargo for this profile.
pub fn authbridge_binary() -> std::path::PathBuf {
    let build = escargot::CargoBuild::new()
        .package("authbridge")
        .bin("authbridge")
        .manifest_path(concat!(env!("CARGO_MANIFEST_DIR"), "/../Cargo.toml"));
    let mut build = if cfg!(debug_assertions) {
        build
    } else {
        build.release()
    };
    // cargo gives this test the variables of its own package; build scripts that
    // watch them (ring's) would see a change and rebuild, here and again in the
    // next `cargo test`.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        if key.starts_with("CARGO_PKG_")
            || key.starts_with("CARGO_MANIFEST_")
            || key.starts_with("CARGO_BIN_")
            || matches!(
                key.as_str(),
                "CARGO_CRATE_NAME" | "CARGO_PRIMARY_PACKAGE" | "OUT_DIR"
            )
        {
            build = build.env_remove(key);
        }
    }
    build
        .run()
        .unwrap_or_else(|e| panic!("cannot build authbridge: {e}"))
        .path()
        .to_owned()
}

impl Server {
    /// No `[mail]`: welcome mails fail, as the fixtures that need that expect.
    /// The documented profile, as a run expects by default.
    pub fn start() -> Server {
        Self::start_with(&authbridge_binary(), None, Profile::Documented)
    }

    /// Delivering mail to a real SMTP server (aiosmtpd).
    pub fn start_with_mail(binary: &std::path::Path, expect: Profile) -> Server {
        Self::start_with(binary, Some(Smtp::start()), expect)
    }

    /// Answering as `expect` says: `[ocs] compat = "documented"` or `"nextcloud"`.
    pub fn start_with(binary: &std::path::Path, smtp: Option<Smtp>, expect: Profile) -> Server {
        let mut config = format!("[ocs]\ncompat = \"{expect}\"\n");
        if let Some(smtp) = &smtp {
            config.push_str(&format!(
                "[mail]\nrelay = \"127.0.0.1\"\nport = {}\nsecurity = \"none\"\nfrom = \"noreply@example.org\"\n",
                smtp.port
            ));
        }
        let daemon = Daemon::start_http(binary.to_str().unwrap(), &config);
        let out = daemon.cli(
            &[
                "user",
                "auth-tokens",
                "add",
                "--name",
                "conformance",
                "admin",
            ],
            None,
        );
        let admin_token = String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .last()
            .expect("the app password")
            .to_owned();
        Server {
            daemon,
            smtp,
            admin_token,
            expect,
        }
    }

    pub fn target(&self) -> Target {
        self.target_at(&self.daemon.url())
    }

    pub fn target_at(&self, url: &str) -> Target {
        Target {
            base_url: url.to_owned(),
            admin_user: "admin".into(),
            admin_password: self.admin_token.clone(),
            timeout: Duration::from_secs(20),
            toggle_app: "user_ftp".into(),
            sends_mail: Some(self.smtp.is_some()),
        }
    }
}

pub fn all_variants() -> Vec<Variant> {
    Variant::all()
}

/// The whole matrix, holding the server to the documented answers.
pub fn options() -> Options {
    options_for(Profile::Documented)
}

/// The whole matrix, holding the server to `expect`'s answers.
pub fn options_for(expect: Profile) -> Options {
    Options {
        variants: all_variants(),
        document: Document::Current,
        expect,
        allow_global_changes: true,
        concurrency: 8,
    }
}
