//! The command line's definitions: every flag and subcommand, apart from what
//! runs them (as ripgrep keeps `flags/defs.rs` apart from its runner). The
//! families' own arguments are in `user`, `group` and `tokens`.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

use crate::output::Format;

#[derive(Parser)]
#[command(
    name = "authbridge",
    version = crate::VERSION,
    about = "Checks passwords against IMAP, SMB and FTP servers"
)]
pub struct Cli {
    /// Config file [default: /etc/authbridge/config.toml]
    #[arg(long, global = true, env = "AUTHBRIDGE_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Where the store and the secret key live [default: the config's data_dir,
    /// else /var/lib/authbridge for root and ./authbridge-data otherwise]
    #[arg(long, global = true, env = "AUTHBRIDGE_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,

    /// The account store: postgresql://USER@HOST/DB (shared by several hosts)
    /// or sqlite:PATH [default: the config's [store] url, else authbridge.sqlite
    /// in the data directory]; a password belongs in AUTHBRIDGE_STORE or the
    /// config, not here, where `ps` shows it
    #[arg(
        long,
        global = true,
        env = "AUTHBRIDGE_STORE",
        value_name = "URL",
        hide_env_values = true
    )]
    pub store: Option<String>,

    /// The daemon's socket [default: the config's [daemon] socket, else as
    /// `serve` says]; the NSS cache file lives beside it, and commands that
    /// change users or groups mark it stale
    #[arg(long, global = true, env = "AUTHBRIDGE_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Check a user's password against the configured backends, in order.
    ///
    /// The password is read from the terminal without echo, or with
    /// --password-from-env from AUTHBRIDGE_PASSWORD; never from the command line.
    ///
    /// Exit codes: 0 accepted, 1 rejected, 2 unavailable (no backend accepted
    /// and at least one could not be asked), 3 configuration or usage error.
    #[command(verbatim_doc_comment)]
    Check {
        /// The login to check
        user: String,
        /// Read the password from the AUTHBRIDGE_PASSWORD environment variable
        #[arg(long)]
        password_from_env: bool,
    },
    /// Manage users (occ's user commands). Exit codes: 0 done, 1 failed.
    User {
        #[command(subcommand)]
        command: crate::user::UserCommand,
    },
    /// Manage groups (occ's group commands). Exit codes: 0 done, 1 failed.
    Group {
        #[command(subcommand)]
        command: crate::group::GroupCommand,
    },
    /// Manage second factors (occ's twofactorauth commands). Exit codes: 0 done, 1 failed.
    #[command(name = "twofactorauth")]
    TwoFactorAuth {
        #[command(subcommand)]
        command: crate::twofactor::TwoFactorCommand,
    },
    /// Run the daemon that answers the PAM and NSS modules.
    ///
    /// Listens on [daemon] socket (default /run/authbridge/authbridge.sock for the
    /// system store in /var/lib/authbridge, DATA_DIR/authbridge.sock for any other). SIGHUP reloads the config, SIGTERM
    /// stops after the requests in flight. Log level from AUTHBRIDGE_LOG (default info).
    /// Exit codes: 0 stopped by a signal, 3 configuration error, 1 runtime failure.
    #[command(verbatim_doc_comment)]
    Serve {
        /// Serve the OCS API and /auth/check on this address [default: [http] listen,
        /// else 127.0.0.1:8080]
        #[arg(long, value_name = "ADDR:PORT")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Check the set-up: config, backends, store, daemon, PAM and NSS wiring.
    ///
    /// One line per check, ✔ or ✘, and for each ✘ what to do. Backends are
    /// reached as a login would reach them (TCP, TLS with the configured trust,
    /// the greeting), without credentials. Reads and connects; changes nothing.
    /// Exit codes: 0 every check passed, 1 a check failed.
    #[command(verbatim_doc_comment)]
    Doctor {
        /// The PAM configuration directory
        #[arg(long, value_name = "DIR", default_value = "/etc/pam.d")]
        pam_dir: PathBuf,
        /// The name service switch file
        #[arg(long, value_name = "PATH", default_value = authbridge::nsswitch::DEFAULT_PATH)]
        nsswitch: PathBuf,
        #[arg(long, value_enum, default_value_t)]
        output: Format,
    },
    /// Wire the NSS module into /etc/nsswitch.conf, or take it out.
    ///
    /// `enable` puts `authbridge` right after `files` on the passwd and group
    /// lines (the host's own accounts stay first); `disable` removes it. Nothing
    /// else in the file changes; the new file replaces the old in one rename.
    /// Exit codes: 0 done (or already so), 1 the file cannot be changed.
    #[command(verbatim_doc_comment)]
    Nss {
        #[command(subcommand)]
        command: NssCommand,
    },
    /// Work with the account store itself.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Write the man pages or a shell's completions, for packaging.
    ///
    /// Exit codes: 0 written, 1 the pages could not be written.
    #[command(verbatim_doc_comment)]
    Generate {
        #[command(subcommand)]
        what: Generate,
    },
    /// The SMB child process (started by authbridge itself; reads binary frames on stdin).
    #[cfg(feature = "smb")]
    #[command(hide = true)]
    SmbChild,
}

#[derive(Subcommand)]
pub enum ConfigCommand {
    /// Print the authbridge TOML equivalent of a Nextcloud config.php's `user_backends`.
    ///
    /// Whatever cannot be converted as it stands is named on standard error.
    /// Exit codes: 0 converted, 3 the file cannot be read or has no user_backends.
    #[command(name = "import-nextcloud", verbatim_doc_comment)]
    ImportNextcloud {
        /// Path to Nextcloud's config/config.php
        config_php: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum NssCommand {
    /// Add `authbridge` after `files` on the passwd and group lines.
    Enable {
        #[arg(long, value_name = "PATH", default_value = authbridge::nsswitch::DEFAULT_PATH)]
        file: PathBuf,
    },
    /// Remove `authbridge` from the passwd and group lines.
    Disable {
        #[arg(long, value_name = "PATH", default_value = authbridge::nsswitch::DEFAULT_PATH)]
        file: PathBuf,
    },
}

#[derive(Subcommand)]
pub enum StoreCommand {
    /// Copy every table of one store into another (SQLite to PostgreSQL or
    /// back), then read the target back and compare row counts and a SHA-256
    /// digest of the contents with the source's.
    ///
    /// Stop the daemons that use either store first: rows written during the
    /// copy may be missed. The copy is one transaction in the target: on any
    /// failure the target is as it was. A target that holds data is refused
    /// unless --replace is given, which empties it first.
    /// Exit codes: 0 copied and verified, 1 refused or failed.
    #[command(verbatim_doc_comment)]
    Copy {
        /// postgresql://USER@HOST/DB or sqlite:PATH (AUTHBRIDGE_COPY_FROM keeps a
        /// password out of `ps`)
        #[arg(
            long,
            env = "AUTHBRIDGE_COPY_FROM",
            value_name = "STORE",
            hide_env_values = true
        )]
        from: String,
        /// postgresql://USER@HOST/DB or sqlite:PATH, a new SQLite file is made
        /// (AUTHBRIDGE_COPY_TO keeps a password out of `ps`)
        #[arg(
            long,
            env = "AUTHBRIDGE_COPY_TO",
            value_name = "STORE",
            hide_env_values = true
        )]
        to: String,
        /// Empty the target first, whatever it holds
        #[arg(long)]
        replace: bool,
    },
}

#[derive(Subcommand)]
pub enum Generate {
    /// Write authbridge(8) and a page per subcommand into DIR.
    Man {
        /// An existing directory
        dir: PathBuf,
    },
    /// Print the completion script for SHELL on standard output.
    Completion {
        #[arg(value_enum)]
        shell: authbridge_clidocs::Shell,
    },
}

/// occ's list options, shared by `user list` and `group list`.
#[derive(Args)]
pub struct Listing {
    /// Only entries containing this
    pub search: Option<String>,
    #[arg(short, long, default_value_t = 500)]
    pub limit: usize,
    #[arg(short, long, default_value_t = 0)]
    pub offset: usize,
    /// Show each entry's details
    #[arg(short, long)]
    pub info: bool,
    #[arg(long, value_enum, default_value_t)]
    pub output: Format,
}

/// occ's spellings (`user:list`, `group:adduser`, `user:auth-tokens:add`)
/// become this CLI's words (`user list` ...). Only the subcommand itself is
/// rewritten: the first argument that is not an option or an option's value,
/// and only when its parts name a command this CLI has. Nothing after it is
/// touched, so a value such as `--display-name "user:x:-g:admin"` stays one
/// argument (it would otherwise smuggle options into the command line).
pub fn occ_spelling(args: impl IntoIterator<Item = std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let mut args: Vec<std::ffi::OsString> = args.into_iter().collect();
    // The global options that take a value (the rest are flags).
    let takes_value = ["--config", "--data-dir", "--store", "--socket"];
    let mut at = 1;
    while at < args.len() {
        let arg = args[at].to_string_lossy();
        if takes_value.contains(&arg.as_ref()) {
            at += 2;
        } else if arg.starts_with('-') {
            at += 1;
        } else {
            break;
        }
    }
    let Some(spelled) = args.get(at).and_then(|a| a.to_str()).map(str::to_owned) else {
        return args;
    };
    let parts: Vec<&str> = spelled.split(':').collect();
    if parts.len() < 2 {
        return args;
    }
    // Every part must be a subcommand of the one before.
    let mut command = Cli::command();
    for part in &parts {
        match command.find_subcommand(part) {
            Some(sub) => command = sub.clone(),
            None => return args,
        }
    }
    args.splice(at..=at, parts.iter().map(std::ffi::OsString::from));
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(args: &[&str]) -> Vec<String> {
        occ_spelling(args.iter().map(std::ffi::OsString::from))
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn occ_spellings_become_subcommands() {
        assert_eq!(words(&["ab", "user:list"]), ["ab", "user", "list"]);
        assert_eq!(
            words(&["ab", "--config", "c.toml", "user:auth-tokens:add", "ann"]),
            [
                "ab",
                "--config",
                "c.toml",
                "user",
                "auth-tokens",
                "add",
                "ann"
            ]
        );
        assert_eq!(
            words(&["ab", "group:adduser", "g", "user:x"]),
            ["ab", "group", "adduser", "g", "user:x"]
        );
    }

    #[test]
    fn nothing_but_the_subcommand_is_rewritten() {
        // Found by review: a value that looks like an occ spelling was split
        // into options ("-g admin") before.
        let smuggled = [
            "ab",
            "user",
            "add",
            "--display-name",
            "user:mallory:-g:admin",
            "x",
        ];
        assert_eq!(words(&smuggled), smuggled);
        // An option's value in the subcommand's place is not the subcommand.
        let config = ["ab", "--config", "user:list", "user", "list"];
        assert_eq!(words(&config), config);
        // Parts that name no command are left for clap to refuse.
        assert_eq!(words(&["ab", "user:-g:admin"]), ["ab", "user:-g:admin"]);
        assert_eq!(words(&["ab", "user:nosuch"]), ["ab", "user:nosuch"]);
    }
}
