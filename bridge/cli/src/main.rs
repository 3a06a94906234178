//! `authbridge`: the command line of the authentication bridge.

mod check;
mod config;
mod import;
mod php;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "authbridge",
    version,
    about = "Checks passwords against IMAP, SMB and FTP servers"
)]
struct Cli {
    /// Config file [default: /etc/authbridge/config.toml]
    #[arg(long, global = true, env = "AUTHBRIDGE_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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
    /// Work with configuration files.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// The SMB child process (started by authbridge itself; reads binary frames on stdin).
    #[cfg(feature = "smb")]
    #[command(hide = true)]
    SmbChild,
}

#[derive(Subcommand)]
enum ConfigCommand {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("AUTHBRIDGE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    match cli.command {
        Command::Check {
            user,
            password_from_env,
        } => check::run(
            config::path_or_default(cli.config),
            &user,
            password_from_env,
        ),
        Command::Config {
            command: ConfigCommand::ImportNextcloud { config_php },
        } => import::run(&config_php),
        #[cfg(feature = "smb")]
        Command::SmbChild => ExitCode::from(authbridge_smb::child_main() as u8),
    }
}
