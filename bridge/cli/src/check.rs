//! `authbridge check USER`.

use authbridge_core::{Credentials, Outcome, SecretString, Verdict};
use authbridge_local::Gate;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use crate::chains::{external_chain, full_chain};
use crate::config;
use crate::failure::Failure;

/// Exit codes of the verdicts (a configuration error is the usual 3).
const ACCEPTED: u8 = 0;
const REJECTED: u8 = 1;
const UNAVAILABLE: u8 = 2;

pub fn run(
    config_path: PathBuf,
    config_given: bool,
    location: &crate::accounts::Location,
    user: &str,
    password_from_env: bool,
) -> Result<ExitCode, Failure> {
    // Without --config, a missing default file means "no external backends":
    // local users and app passwords still work on the embedded default.
    let loaded = if config_given || config_path.exists() {
        Some(config::load(&config_path).map_err(Failure::config)?)
    } else {
        None
    };
    // Every configuration error is found before anything is written.
    let external = external_chain(&config_path, loaded.as_ref().map(|(f, t)| (f, t.as_str())))
        .map_err(Failure::config)?;
    let accounts = crate::accounts::open(&config_path, loaded.as_ref().map(|(f, _)| f), location)
        .map_err(|e| Failure::config(format!("{e:#}")))?;
    let chain = full_chain(&accounts, &external, true);
    // Asked only once the configuration is known to be good.
    let password = read_password(password_from_env)?;
    // Refused before any network I/O: CR, LF, NUL or empty parts.
    let credentials = match Credentials::new(user, password) {
        Ok(c) => c,
        Err(e) => {
            println!("rejected: {e}");
            return Ok(ExitCode::from(REJECTED));
        }
    };
    let gate = Gate::new(
        chain,
        Arc::clone(&accounts.store),
        authbridge_core::clock::now,
        Arc::clone(&accounts.names),
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::config(format!("cannot start the async runtime: {e}")))?;
    let decision = runtime.block_on(gate.authenticate(&credentials));
    for attempt in &decision.attempts {
        println!(
            "{}: {} ({} ms)",
            attempt.backend,
            attempt.verdict,
            attempt.elapsed.as_millis()
        );
    }
    let code = match decision.outcome {
        Outcome::Accepted {
            backend, uid, kind, ..
        } => {
            println!("accepted by {backend} ({kind}) as {uid}");
            // `check` tries the password only; say so when a login needs more.
            let twofactor = authbridge_twofactor::TwoFactor::new(
                Arc::clone(&accounts.store),
                &accounts.key,
                &accounts.twofactor.issuer,
            );
            if matches!(
                twofactor.requirement(&uid),
                Ok(authbridge_twofactor::Requirement::Code
                    | authbridge_twofactor::Requirement::Enrol)
            ) {
                println!("note: the password only; a login of {uid} also needs a second factor");
            }
            ACCEPTED
        }
        Outcome::Rejected => {
            println!("rejected");
            REJECTED
        }
        Outcome::Unavailable => {
            let down = decision
                .attempts
                .iter()
                .filter(|a| matches!(a.verdict, Verdict::Unavailable { .. }))
                .count();
            println!("unavailable: no backend accepted and {down} could not be asked");
            UNAVAILABLE
        }
    };
    Ok(ExitCode::from(code))
}

fn read_password(from_env: bool) -> Result<SecretString, Failure> {
    if from_env {
        return std::env::var("AUTHBRIDGE_PASSWORD")
            .map(SecretString::from)
            .map_err(|_| {
                Failure::config(
                    "--password-from-env: AUTHBRIDGE_PASSWORD is not set (or not UTF-8)",
                )
            });
    }
    rpassword::prompt_password("Password: ")
        .map(SecretString::from)
        .map_err(|e| {
            Failure::config(format!(
                "cannot read the password from the terminal ({e}); use --password-from-env"
            ))
        })
}
