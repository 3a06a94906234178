//! `authbridge`: the command line of the authentication bridge.

mod accounts;
mod chains;
mod check;
mod defs;
mod doctor;
mod failure;
mod group;
mod output;
mod progress;
mod serve;
mod tokens;
mod twofactor;
mod user;

use authbridge::{config, import, logging};
use clap::Parser;
use std::path::Path;
use std::process::ExitCode;

use crate::defs::{Cli, Command, ConfigCommand, Generate, NssCommand, StoreCommand};

/// The version `--version` shows: the package's, and the commit it was built from.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("AUTHBRIDGE_GIT_COMMIT"),
    ")"
);
use crate::failure::Failure;

fn main() -> ExitCode {
    let cli = Cli::parse_from(defs::occ_spelling(std::env::args_os()));
    // The daemon logs every decision, in the format its config asks for, and
    // sets up logging once it has read that; the commands log only what goes wrong.
    if !matches!(cli.command, Command::Serve { .. }) {
        logging::init("warn", logging::LogFormat::Text);
    }
    match try_main(cli) {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("authbridge: {failure}");
            ExitCode::from(failure.exit_code())
        }
    }
}

/// Runs the command; its verdict as an exit code (`check`), or why it failed.
fn try_main(cli: Cli) -> Result<ExitCode, Failure> {
    let config_given = cli.config.is_some();
    let config_path = config::path_or_default(cli.config);
    let location = accounts::Location {
        data_dir: cli.data_dir,
        store: cli.store,
    };
    match cli.command {
        Command::Check {
            user,
            password_from_env,
        } => {
            return check::run(
                config_path,
                config_given,
                &location,
                &user,
                password_from_env,
            );
        }
        Command::Serve { listen } => {
            serve::run(config_path, config_given, &location, cli.socket, listen)?
        }
        Command::User { command } => {
            accounts::with_store(&config_path, &location, cli.socket, |a| {
                user::run(a, command)
            })?
        }
        Command::Group { command } => {
            accounts::with_store(&config_path, &location, cli.socket, |a| {
                group::run(a, command)
            })?
        }
        Command::TwoFactorAuth { command } => {
            accounts::with_store(&config_path, &location, cli.socket, |a| {
                twofactor::run(a, command)
            })?
        }
        Command::Config {
            command: ConfigCommand::ImportNextcloud { config_php },
        } => import_nextcloud(&config_php)?,
        Command::Generate { what } => generate(what)?,
        Command::Store {
            command: StoreCommand::Copy { from, to, replace },
        } => copy_store(&config_path, &from, &to, replace)?,
        Command::Nss { command } => nss(command)?,
        Command::Doctor {
            pam_dir,
            nsswitch,
            output,
        } => {
            let setup = doctor::Setup {
                config_path,
                config_given,
                location,
                socket: cli.socket,
                pam_dir,
                nsswitch,
            };
            let checks = doctor::run(&setup);
            match output {
                output::Format::Plain => print!("{}", doctor::render_text(&checks)),
                output::Format::Json => println!(
                    "{}",
                    serde_json::to_string(&checks).map_err(Failure::failed)?
                ),
                output::Format::JsonPretty => {
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&checks).map_err(Failure::failed)?
                    )
                }
            }
            if checks.iter().any(|c| !c.ok) {
                return Ok(ExitCode::from(1));
            }
        }
        #[cfg(feature = "smb")]
        Command::SmbChild => return Ok(ExitCode::from(authbridge_smb::child_main() as u8)),
    }
    Ok(ExitCode::SUCCESS)
}

/// Edits nsswitch.conf; says what each line became.
fn nss(command: NssCommand) -> Result<(), Failure> {
    use authbridge::nsswitch;
    let (file, changes) = match command {
        NssCommand::Enable { file } => {
            let changes = nsswitch::rewrite(&file, nsswitch::enable);
            (file, changes)
        }
        NssCommand::Disable { file } => {
            let changes = nsswitch::rewrite(&file, nsswitch::disable);
            (file, changes)
        }
    };
    for change in changes.map_err(Failure::failed)? {
        let how = if change.before == change.after {
            "unchanged".to_owned()
        } else {
            format!("was: {}", change.before)
        };
        println!(
            "{}: {}: {} ({how})",
            file.display(),
            change.database,
            change.after
        );
    }
    Ok(())
}

/// `store copy`: both stores opened (and migrated) with the config's
/// `[store]` pool and time settings, every table copied and checked.
fn copy_store(config_path: &Path, from: &str, to: &str, replace: bool) -> Result<(), Failure> {
    use authbridge_store::StoreLocation;
    let config = config::load_optional(config_path).map_err(Failure::config)?;
    let mut postgres = config
        .map(|c| c.store.postgres())
        .unwrap_or_else(|| config::StoreSection::default().postgres());
    // A copy moves every row in one transaction: give it time.
    postgres.timeout = authbridge_store::PostgresSettings::COPY_TIMEOUT;
    let (from, to) = (
        StoreLocation::parse(from).map_err(Failure::config)?,
        StoreLocation::parse(to).map_err(Failure::config)?,
    );
    if from == to {
        return Err(Failure::config("--from and --to name the same store"));
    }
    let open = |location: &StoreLocation| {
        location
            .open(&postgres)
            .map_err(|e| Failure::failed(format!("{}: {e}", location.describe())))
    };
    let (source, target) = (open(&from)?, open(&to)?);
    let report = authbridge_store::copy::copy(&*source, &*target, replace)
        .map_err(|e| Failure::failed(format!("{} -> {}: {e}", from.describe(), to.describe())))?;
    for (table, rows) in &report.counts {
        println!("{table}: {rows} rows");
    }
    println!(
        "copied {} -> {}; contents verified, SHA-256 {}",
        from.describe(),
        to.describe(),
        report.digest
    );
    Ok(())
}

fn generate(what: Generate) -> Result<(), Failure> {
    let command = <Cli as clap::CommandFactory>::command();
    match what {
        Generate::Man { dir } => {
            authbridge_clidocs::write_man_pages(command, "8", &dir)
                .map_err(|e| Failure::failed(format!("{}: {e}", dir.display())))?;
        }
        Generate::Completion { shell } => {
            let script = authbridge_clidocs::completion(command, shell);
            match std::io::Write::write_all(&mut std::io::stdout(), &script) {
                // A reader that stopped early (`| head`) wanted no more.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return Err(Failure::failed(format!("standard output: {e}")));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Prints the TOML; what could not be carried over is named on standard error.
fn import_nextcloud(path: &Path) -> Result<(), Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::config(format!("cannot read {}: {e}", path.display())))?;
    let converted = import::convert(&text)
        .map_err(|message| Failure::config(format!("{}: {message}", path.display())))?;
    print!("{}", converted.toml);
    for note in &converted.notes {
        eprintln!("authbridge: {}: {note}", path.display());
    }
    Ok(())
}
