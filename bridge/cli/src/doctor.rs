//! `authbridge doctor`: is this machine's set-up sound? One line per check, ✔
//! or ✘, and for each ✘ what to do — in the spirit of `sssctl config-check`
//! and `domain-status`. Reads and connects; never writes, never sends a
//! password.

use authbridge::config::{self, BackendSection, ConfigFile};
use authbridge::nsswitch;
use authbridge_core::{UnavailableKind, Verdict};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Where the Debian package (and the README's install lines) put the modules.
pub const PAM_MODULE: &str = "/usr/lib/x86_64-linux-gnu/security/pam_authbridge.so";
pub const NSS_MODULE: &str = "/usr/lib/x86_64-linux-gnu/libnss_authbridge.so.2";

/// One check's result.
#[derive(Debug, serde::Serialize)]
pub struct Check {
    pub check: String,
    pub ok: bool,
    pub detail: String,
    /// What to do about a ✘.
    pub hint: Option<String>,
}

fn pass(check: impl Into<String>, detail: impl Into<String>) -> Check {
    Check {
        check: check.into(),
        ok: true,
        detail: detail.into(),
        hint: None,
    }
}

fn fail(check: impl Into<String>, detail: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        check: check.into(),
        ok: false,
        detail: detail.into(),
        hint: Some(hint.into()),
    }
}

/// What the checks look at.
pub struct Setup {
    pub config_path: PathBuf,
    pub config_given: bool,
    pub location: crate::accounts::Location,
    pub socket: Option<PathBuf>,
    pub pam_dir: PathBuf,
    pub nsswitch: PathBuf,
}

pub fn run(setup: &Setup) -> Vec<Check> {
    let mut checks = Vec::new();
    let config = check_config(setup, &mut checks);
    let file = config.as_ref().map(|(f, _)| f);
    if let Some((file, text)) = &config {
        check_backends(&setup.config_path, file, text, &mut checks);
    }
    let dir = setup.location.data_dir(file);
    check_data_dir(&dir, &mut checks);
    check_store(setup, file, &dir, &mut checks);
    let socket = crate::serve::socket_path(
        setup.socket.clone(),
        file.and_then(|f| f.daemon.socket.clone()),
        dir.path(),
    );
    checks.push(check_daemon(&socket));
    checks.extend(check_pam(&setup.pam_dir));
    checks.extend(check_nss(&setup.nsswitch));
    checks
}

fn check_config(setup: &Setup, checks: &mut Vec<Check>) -> Option<(ConfigFile, String)> {
    let path = &setup.config_path;
    if !path.exists() && !setup.config_given {
        checks.push(pass(
            "config",
            format!("{}: none; defaults, no external backends", path.display()),
        ));
        return None;
    }
    match config::load(path) {
        Ok((file, text)) => {
            checks.push(pass(
                "config",
                format!("{}: {} backend(s)", path.display(), file.backend.len()),
            ));
            Some((file, text))
        }
        Err(e) => {
            checks.push(fail(
                "config",
                e.to_string(),
                "fix the line named; `authbridge serve` refuses to start with it",
            ));
            None
        }
    }
}

/// Each backend reached as a login would reach it, without credentials.
fn check_backends(path: &Path, file: &ConfigFile, text: &str, checks: &mut Vec<Check>) {
    // Each backend built once, as the daemon builds it. A section it would
    // refuse fails the whole step, in the daemon's own words (file and line).
    let mut prepared = Vec::new();
    for section in &file.backend {
        match prepare(section.get_ref()) {
            Ok(backend) => prepared.push(backend),
            Err((_, verdict)) => {
                let located = config::build_chain(path, file, text, &|| {
                    Ok((PathBuf::from("/nonexistent"), Vec::new()))
                })
                .err()
                .map_or_else(|| explain(&verdict).0, |e| e.to_string());
                checks.push(fail("backends", located, "fix the line named"));
                return;
            }
        }
    }
    for (name, job) in prepared {
        let started = Instant::now();
        let probed = within(job, PROBE_LIMIT);
        let took = started.elapsed();
        checks.push(match probed {
            Ok(what) => pass(format!("backend {name}"), format!("{what} ({})", ms(took))),
            Err(verdict) => {
                let (detail, hint) = explain(&verdict);
                fail(format!("backend {name}"), detail, hint)
            }
        });
    }
}

/// No probe takes longer than this, whatever a server does (the libraries'
/// reads have per-read timeouts: a server sending a byte at a time would
/// otherwise hold the doctor).
const PROBE_LIMIT: Duration = Duration::from_secs(30);

type Probe = Box<dyn FnOnce() -> Result<String, Verdict> + Send>;

/// `job` on a thread of its own, waited for at most `limit` (a thread still
/// waiting on a server then is left to its own timeouts).
fn within(job: Probe, limit: Duration) -> Result<String, Verdict> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(job());
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| {
        Err(Verdict::unavailable(
            UnavailableKind::Timeout,
            format!("no answer within {} s", limit.as_secs()),
        ))
    })
}

/// The backend's name and its probe, or why there is none.
fn prepare(section: &BackendSection) -> Result<(String, Probe), (String, Verdict)> {
    let broken = |name: String, e: String| {
        (
            name,
            Verdict::unavailable(UnavailableKind::Misconfigured, e),
        )
    };
    match section {
        BackendSection::Imap(c) => {
            let settings = c
                .resolve()
                .map_err(|e| broken("imap".into(), e.to_string()))?;
            let name = format!("imap:{}:{}", settings.host, settings.port);
            let backend = authbridge_imap::ImapBackend::new(settings)
                .map_err(|e| broken(name.clone(), e.to_string()))?;
            Ok((name, Box::new(move || backend.probe())))
        }
        BackendSection::Ftp(c) => {
            let settings = c
                .resolve()
                .map_err(|e| broken("ftp".into(), e.to_string()))?;
            let name = format!("ftp:{}:{}", settings.host, settings.port);
            let backend = authbridge_ftp::FtpBackend::new(settings)
                .map_err(|e| broken(name.clone(), e.to_string()))?;
            Ok((name, Box::new(move || backend.probe())))
        }
        #[cfg(feature = "smb")]
        BackendSection::Smb(c) => {
            let settings = c
                .resolve()
                .map_err(|e| broken("smb".into(), e.to_string()))?;
            let name = format!("smb:{}:{}", settings.host, settings.port);
            Ok((
                name,
                Box::new(move || {
                    let deadline = authbridge_core::Deadline::start(settings.timeouts);
                    authbridge_smb::probe(&settings.host, settings.port, deadline)
                }),
            ))
        }
    }
}

/// The failure in words, and what to do about it.
fn explain(verdict: &Verdict) -> (String, String) {
    let Verdict::Unavailable { kind, detail } = verdict else {
        return (
            format!("{verdict:?}"),
            "report this: a probe sends no password".into(),
        );
    };
    let hint = match kind {
        UnavailableKind::Connect | UnavailableKind::Timeout => {
            "is the server up, and reachable from here? Check `host` and `port`, DNS and firewalls"
        }
        UnavailableKind::Tls => {
            "TLS failed: if the server's certificate is signed by a private CA, set `ca_file` to \
             that CA; check that `host` is the name in the certificate and `sslmode` matches the port"
        }
        UnavailableKind::Protocol => {
            "the server does not speak this protocol on that port: check `port` and `sslmode`"
        }
        UnavailableKind::Misconfigured | UnavailableKind::Overloaded => {
            "fix the backend's section as the message says"
        }
    };
    (detail.clone(), hint.into())
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

/// Private to its owner: the store holds password hashes, the key makes app
/// passwords.
fn check_data_dir(dir: &authbridge_store::DataDir, checks: &mut Vec<Check>) {
    let path = dir.path();
    let shown = path.display();
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            checks.push(fail(
                "data directory",
                format!("{shown}: {e}"),
                "created by the first `authbridge` command or `authbridge serve` (the package makes /var/lib/authbridge)",
            ));
            return;
        }
    };
    let mode = meta.permissions().mode() & 0o777;
    checks.push(if mode & 0o077 == 0 {
        pass("data directory", format!("{shown}: mode {mode:04o}"))
    } else {
        fail(
            "data directory",
            format!("{shown}: mode {mode:04o}, open to others"),
            format!("chmod 700 {shown}"),
        )
    });
    let key = dir.secret_key_path();
    checks.push(match std::fs::metadata(&key) {
        Ok(m) if m.permissions().mode() & 0o077 == 0 && m.uid() == meta.uid() => pass(
            "secret key",
            format!(
                "{}: mode {:04o}",
                key.display(),
                m.permissions().mode() & 0o777
            ),
        ),
        Ok(m) => fail(
            "secret key",
            format!(
                "{}: mode {:04o}, owner uid {}",
                key.display(),
                m.permissions().mode() & 0o777,
                m.uid()
            ),
            format!(
                "chmod 600 {} (owned by the data directory's owner)",
                key.display()
            ),
        ),
        Err(e) => fail(
            "secret key",
            format!("{}: {e}", key.display()),
            "created with the store by the first `authbridge` command",
        ),
    });
}

/// The socket: there, open to every local user (lookups are), and answering.
fn check_daemon(socket: &Path) -> Check {
    let shown = socket.display();
    let meta = match std::fs::symlink_metadata(socket) {
        Ok(m) => m,
        Err(e) => {
            return fail(
                "daemon",
                format!("{shown}: {e}"),
                "start it: systemctl enable --now authbridge",
            );
        }
    };
    if !meta.file_type().is_socket() {
        return fail(
            "daemon",
            format!("{shown} is not a socket"),
            "remove it and restart the daemon",
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode != 0o666 {
        return fail(
            "daemon",
            format!(
                "{shown}: mode {mode:04o}, not 0666: NSS lookups and users' own PAM calls cannot connect"
            ),
            "restart the daemon, which makes its socket 0666 (`systemctl restart authbridge`); do not chmod it by hand",
        );
    }
    let started = Instant::now();
    let lookup = authbridge_proto::Request::PasswdById(u32::MAX);
    match authbridge_proto::Client::ask(socket, Duration::from_secs(2), &lookup) {
        Ok(_) => pass(
            "daemon",
            format!("{shown}: answers ({})", ms(started.elapsed())),
        ),
        Err(e) => fail(
            "daemon",
            format!("{shown}: {e}"),
            "the daemon does not answer: `systemctl status authbridge` and its journal",
        ),
    }
}

/// A module where libpam or glibc looks for it.
fn installed(check: &str, path: &str) -> Check {
    if Path::new(path).exists() {
        pass(check, path)
    } else {
        fail(
            check,
            format!("{path}: missing"),
            "install the package (or the module by hand, as the README shows)",
        )
    }
}

fn check_pam(pam_dir: &Path) -> Vec<Check> {
    let module = installed("PAM module", PAM_MODULE);
    let auth = pam_dir.join("common-auth");
    let wired = match std::fs::read_to_string(&auth) {
        Ok(text)
            if text
                .lines()
                .any(|l| !l.trim_start().starts_with('#') && l.contains("pam_authbridge.so")) =>
        {
            pass(
                "PAM stack",
                format!("{}: pam_authbridge.so", auth.display()),
            )
        }
        Ok(_) => fail(
            "PAM stack",
            format!("{}: no pam_authbridge.so", auth.display()),
            "pam-auth-update --enable authbridge",
        ),
        Err(e) => fail(
            "PAM stack",
            format!("{}: {e}", auth.display()),
            "pam-auth-update --enable authbridge",
        ),
    };
    vec![module, wired]
}

fn check_nss(path: &Path) -> Vec<Check> {
    let module = installed("NSS module", NSS_MODULE);
    let wired = match std::fs::read_to_string(path) {
        Ok(text) => match nsswitch::wired(&text) {
            Ok(()) => pass(
                "NSS switch",
                format!(
                    "{}: passwd and group ask authbridge after files",
                    path.display()
                ),
            ),
            Err(why) => fail(
                "NSS switch",
                format!("{}: {why}", path.display()),
                "authbridge nss enable (it puts authbridge right after files)",
            ),
        },
        Err(e) => fail(
            "NSS switch",
            format!("{}: {e}", path.display()),
            "authbridge nss enable",
        ),
    };
    vec![module, wired]
}

/// Control characters a server sent (a greeting, capabilities) escaped: they
/// must not drive the administrator's terminal.
fn printable(text: &str) -> String {
    text.chars()
        .flat_map(|c| match c.is_control() {
            true => c.escape_default().collect::<Vec<_>>(),
            false => vec![c],
        })
        .collect()
}

/// One line per check; a ✘ line's hint indented below it.
pub fn render_text(checks: &[Check]) -> String {
    let mut out = String::new();
    for c in checks {
        let mark = if c.ok { "✔" } else { "✘" };
        out.push_str(&format!("{mark} {}: {}\n", c.check, printable(&c.detail)));
        if let Some(hint) = &c.hint {
            out.push_str(&format!("    → {hint}\n"));
        }
    }
    out
}

/// The store's schema, read without writing: SQLite's file or PostgreSQL.
fn check_store(
    setup: &Setup,
    file: Option<&crate::config::ConfigFile>,
    dir: &authbridge_store::DataDir,
    checks: &mut Vec<Check>,
) {
    let location = match setup.location.store(file, dir) {
        Ok(location) => location,
        Err(e) => {
            checks.push(fail(
                "store",
                format!("{e:#}"),
                "[store] url (or --store) takes postgresql://HOST/DB or sqlite:PATH",
            ));
            return;
        }
    };
    let postgres = file
        .map(|f| f.store.postgres())
        .unwrap_or_else(|| crate::config::StoreSection::default().postgres());
    let store = location.describe();
    checks.push(match location.schema(&postgres) {
        Ok((found, known)) if found == known => pass("store", format!("{store}: schema {found}")),
        Ok((found, known)) if found < known => fail(
            "store",
            format!("{store}: schema {found}, this authbridge knows {known}"),
            "restart the daemon (`systemctl restart authbridge`): it migrates the store",
        ),
        Ok((found, known)) => fail(
            "store",
            format!("{store}: schema {found}, newer than this authbridge ({known})"),
            "install the authbridge that wrote it",
        ),
        Err(authbridge_store::StoreError::Unavailable(e)) => fail(
            "store",
            format!("{store}: {e}"),
            "start PostgreSQL, or check [store] url, ca_file and the network",
        ),
        Err(e) => fail(
            "store",
            format!("{store}: {e}"),
            "created by the first `authbridge` command or `authbridge serve`",
        ),
    });
}

#[cfg(test)]
mod tests {
    #[test]
    fn what_a_server_sent_cannot_drive_the_terminal() {
        assert_eq!(
            super::printable("OK \u{1b}[2J ready\r"),
            "OK \\u{1b}[2J ready\\r"
        );
    }
}
