//! `ocs-conformance`: the command line front end.

use clap::{Parser, Subcommand, ValueEnum};
use ocs_conformance::client::{Api, Format, Variant};
use ocs_conformance::fixture::{self, Document, Fixture, Profile};
use ocs_conformance::report::{self, ExpectedFailures};
use ocs_conformance::{CaseReport, Options, Outcome, Runner, Snapshots, Target};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

const CANNOT_RUN: u8 = 2;
const EXIT_CODES: &str = "Exit codes: 0 every required fixture passed; 1 a fixture failed; \
                          2 the run could not start (bad arguments, fixtures, unreachable or \
                          non-OCS target, refused credentials); 130 interrupted (what the run \
                          created is removed first).";
const INTERRUPTED: u8 = 130;

#[derive(Parser)]
#[command(
    name = "ocs-conformance",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (",
        env!("AUTHBRIDGE_GIT_COMMIT"),
        ")"
    ),
    about = "Replays the documented OCS Provisioning API fixtures against an OCS server",
    after_help = EXIT_CODES
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the fixtures against a server.
    #[command(after_help = EXIT_CODES)]
    Run(Box<RunArgs>),
    /// Lists the fixtures, their sources, and the documented codes no request can provoke.
    List {
        #[arg(long, value_name = "DIR")]
        fixtures: Option<PathBuf>,
        /// Only fixtures whose id contains this (repeatable).
        #[arg(long)]
        filter: Vec<String>,
    },
    /// Writes the man pages or a shell's completions, for packaging.
    #[command(subcommand)]
    Generate(Generate),
}

#[derive(Subcommand)]
enum Generate {
    /// Writes ocs-conformance(1) and a page per subcommand into DIR.
    Man {
        /// An existing directory
        dir: PathBuf,
    },
    /// Prints the completion script for SHELL on standard output.
    Completion {
        #[arg(value_enum)]
        shell: authbridge_clidocs::Shell,
    },
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum ApiArg {
    V1,
    V2,
    Both,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum FormatArg {
    Xml,
    Json,
    Both,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum MailArg {
    /// The server delivers mail: welcome mails succeed.
    Works,
    /// The server cannot send mail: sending fails with the documented codes.
    Fails,
}

#[derive(clap::Args)]
struct RunArgs {
    /// The server's root URL (without /ocs), e.g. https://cloud.example.com
    #[arg(long)]
    base_url: String,
    /// An admin account on the server (its users and groups are left alone).
    #[arg(long)]
    admin_user: String,
    /// The environment variable that holds the admin's password (never the password itself).
    #[arg(long, value_name = "VAR")]
    admin_password_env: String,
    /// Only fixtures whose id contains this (repeatable).
    #[arg(long)]
    filter: Vec<String>,
    /// The API versions to ask (/ocs/v1.php, /ocs/v2.php).
    #[arg(long, value_enum, default_value = "both")]
    api: ApiArg,
    /// The answer formats to ask for.
    #[arg(long, value_enum, default_value = "both")]
    format: FormatArg,
    /// Writes a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Writes a JSON report here.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Known deviations of this target: fixture ids, one per line.
    #[arg(long, value_name = "FILE")]
    expected_failures: Option<PathBuf>,
    /// Compares answers with the snapshots recorded for this target.
    #[arg(long, value_name = "NAME")]
    target: Option<String>,
    /// Where the snapshot folders are.
    #[arg(long, value_name = "DIR", default_value = "ocs-conformance-snapshots")]
    snapshot_dir: PathBuf,
    /// Records the answers of this run as the target's snapshots.
    #[arg(long, requires = "target")]
    accept: bool,
    /// Also runs fixtures that switch an app off and on again.
    #[arg(long)]
    allow_global_changes: bool,
    /// The app those fixtures switch (it must be enabled before the run).
    #[arg(long, value_name = "APP", default_value = "files_texteditor")]
    toggle_app: String,
    /// Which version of the documentation to hold the server to.
    #[arg(long, value_enum, default_value = "current")]
    document: Document,
    /// Whose answers to expect: the documented ones, or today's Nextcloud's
    /// where a fixture says it answers otherwise.
    #[arg(long, value_enum, default_value = "documented")]
    expect: Profile,
    /// Whether the server can send mail (fixtures about welcome mails need to know).
    #[arg(long, value_enum)]
    mail: Option<MailArg>,
    #[arg(long, value_name = "DIR")]
    fixtures: Option<PathBuf>,
    /// Seconds to wait for each answer.
    #[arg(long, default_value_t = 30)]
    timeout: u64,
    /// Cases in flight at once.
    #[arg(long, default_value_t = 8)]
    jobs: usize,
    /// Leftovers of earlier runs older than this many minutes are removed first.
    #[arg(long, default_value_t = 60)]
    sweep_after: u64,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::List { fixtures, filter } => list(fixtures, &filter),
        Command::Run(args) => run(*args),
        Command::Generate(what) => generate(what),
    }
}

fn generate(what: Generate) -> ExitCode {
    let command = <Cli as clap::CommandFactory>::command();
    match what {
        Generate::Man { dir } => {
            if let Err(e) = authbridge_clidocs::write_man_pages(command, "1", &dir) {
                return fail(1, &format!("{}: {e}", dir.display()));
            }
        }
        Generate::Completion { shell } => {
            let script = authbridge_clidocs::completion(command, shell);
            match std::io::stdout().write_all(&script) {
                // A reader that stopped early (`| head`) wanted no more.
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    return fail(1, &format!("standard output: {e}"));
                }
                _ => {}
            }
        }
    }
    ExitCode::SUCCESS
}

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("ocs-conformance: {message}");
    ExitCode::from(code)
}

/// Every fixture in `dir` (the shipped ones by default).
fn load_all(dir: &Option<PathBuf>) -> Result<Vec<Fixture>, String> {
    let dir = dir
        .clone()
        .unwrap_or_else(ocs_conformance::default_fixture_dir);
    fixture::load_dir(&dir).map_err(|e| e.to_string())
}

/// The fixtures whose id contains one of `filter` (all without a filter).
fn select(fixtures: &[Fixture], filter: &[String]) -> Result<Vec<Fixture>, String> {
    let selected: Vec<Fixture> = fixtures
        .iter()
        .filter(|f| filter.is_empty() || filter.iter().any(|s| f.id.contains(s.as_str())))
        .cloned()
        .collect();
    if selected.is_empty() {
        return Err(format!("no fixture matches the filter {filter:?}"));
    }
    Ok(selected)
}

fn list(dir: Option<PathBuf>, filter: &[String]) -> ExitCode {
    let fixtures = match load_all(&dir).and_then(|all| select(&all, filter)) {
        Ok(f) => f,
        Err(e) => return fail(CANNOT_RUN, &e),
    };
    let mut out = std::io::stdout().lock();
    for f in &fixtures {
        let mut tags: Vec<String> = f
            .documents
            .iter()
            .map(|d| format!("{d:?}").to_lowercase())
            .collect();
        if f.global {
            tags.push("global".into());
        }
        tags.extend(f.needs.iter().map(|n| format!("needs {n}")));
        if f.nextcloud_differs() {
            tags.push("nextcloud differs".into());
        }
        let _ = writeln!(
            out,
            "{}  ({})\n    {}\n    source: {}",
            f.id,
            tags.join(", "),
            f.title,
            f.source
        );
        if let Some(nextcloud) = &f.nextcloud_source {
            let _ = writeln!(out, "    nextcloud: {nextcloud}");
        }
    }
    let dir = dir.unwrap_or_else(ocs_conformance::default_fixture_dir);
    match fixture::load_unprovokable(&dir) {
        Ok(codes) => {
            let _ = writeln!(
                out,
                "\nDocumented codes no request from outside can provoke:"
            );
            for c in codes {
                let _ = writeln!(
                    out,
                    "{} {}: {}\n    source: {}",
                    c.endpoint, c.statuscode, c.reason, c.source
                );
            }
        }
        Err(e) => return fail(CANNOT_RUN, &e.to_string()),
    }
    let _ = writeln!(out, "\n{} fixtures", fixtures.len());
    ExitCode::SUCCESS
}

fn variants(api: ApiArg, format: FormatArg) -> Vec<Variant> {
    let apis: &[Api] = match api {
        ApiArg::V1 => &[Api::V1],
        ApiArg::V2 => &[Api::V2],
        ApiArg::Both => &[Api::V1, Api::V2],
    };
    let formats: &[Format] = match format {
        FormatArg::Xml => &[Format::Xml],
        FormatArg::Json => &[Format::Json],
        FormatArg::Both => &[Format::Xml, Format::Json],
    };
    Variant::matrix(apis, formats)
}

fn run(args: RunArgs) -> ExitCode {
    let password = match std::env::var(&args.admin_password_env) {
        Ok(p) if !p.is_empty() => p,
        _ => {
            return fail(
                CANNOT_RUN,
                &format!(
                    "the variable {} (--admin-password-env) is not set",
                    args.admin_password_env
                ),
            );
        }
    };
    if !(args.base_url.starts_with("http://") || args.base_url.starts_with("https://")) {
        return fail(
            CANNOT_RUN,
            &format!(
                "--base-url {:?}: give an http:// or https:// URL",
                args.base_url
            ),
        );
    }
    let all = match load_all(&args.fixtures) {
        Ok(all) => all,
        Err(e) => return fail(CANNOT_RUN, &e),
    };
    let fixtures = match select(&all, &args.filter) {
        Ok(f) => f,
        Err(e) => return fail(CANNOT_RUN, &e),
    };
    let expected = match &args.expected_failures {
        Some(path) => match ExpectedFailures::load(path) {
            Ok(e) => e,
            Err(e) => return fail(CANNOT_RUN, &format!("--expected-failures: {e}")),
        },
        None => ExpectedFailures::default(),
    };
    let ids: Vec<&str> = all.iter().map(|f| f.id.as_str()).collect();
    for unknown in expected.unknown(&ids) {
        eprintln!(
            "ocs-conformance: warning: --expected-failures names {unknown:?}, which is no fixture"
        );
    }
    let snapshots = match &args.target {
        Some(name) => match Snapshots::new(&args.snapshot_dir, name, args.accept, false) {
            Ok(s) => Some(Arc::new(s)),
            Err(e) => return fail(CANNOT_RUN, &e.to_string()),
        },
        None => None,
    };
    let target = Target {
        base_url: args.base_url.clone(),
        admin_user: args.admin_user.clone(),
        admin_password: password,
        timeout: Duration::from_secs(args.timeout.max(1)),
        toggle_app: args.toggle_app.clone(),
        sends_mail: args.mail.map(|m| m == MailArg::Works),
    };
    let options = Options {
        variants: variants(args.api, args.format),
        document: args.document,
        expect: args.expect,
        allow_global_changes: args.allow_global_changes,
        concurrency: args.jobs.max(1),
    };
    let runner = match Runner::new(target, options, snapshots) {
        Ok(r) => Arc::new(r),
        Err(e) => return fail(CANNOT_RUN, &e.to_string()),
    };
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => return fail(CANNOT_RUN, &format!("cannot start the async runtime: {e}")),
    };
    runtime.block_on(run_async(runner, fixtures, args, expected))
}

async fn run_async(
    runner: Arc<Runner>,
    fixtures: Vec<Fixture>,
    args: RunArgs,
    expected: ExpectedFailures,
) -> ExitCode {
    if let Err(e) = runner.preflight().await {
        // CI dashboards read the reports: they say why nothing ran.
        let reports = [e.report(args.expect)];
        let written = write_reports(
            &args,
            &runner,
            &reports,
            Duration::ZERO,
            &Default::default(),
        );
        if let Err(problem) = written {
            eprintln!("ocs-conformance: {problem}");
        }
        return fail(CANNOT_RUN, &e.to_string());
    }
    let swept = runner
        .sweep(Duration::from_secs(args.sweep_after * 60))
        .await;
    if swept.users_removed + swept.groups_removed > 0 || !swept.errors.is_empty() {
        eprintln!("ocs-conformance: before the run, {swept} left by earlier runs");
    }
    let total = fixtures.len() * runner.options().variants.len();
    eprintln!(
        "ocs-conformance: {total} cases against {} (run prefix {})",
        args.base_url,
        runner.prefix().as_str()
    );
    let started = Instant::now();
    let done = AtomicUsize::new(0);
    let terminal = std::io::stderr().is_terminal();
    let progress = |r: &CaseReport| {
        let n = done.fetch_add(1, Ordering::Relaxed) + 1;
        if terminal {
            eprint!(
                "\r\x1b[2K[{n:>4}/{total}] {:<14} {}",
                r.outcome.label(),
                r.name()
            );
        } else if n.is_multiple_of(25) || n == total || r.outcome.is_failure() {
            eprintln!("[{n:>4}/{total}] {} {}", r.outcome.label(), r.name());
        }
    };
    let mut sigterm = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        Ok(s) => s,
        Err(e) => return fail(CANNOT_RUN, &format!("cannot watch for SIGTERM: {e}")),
    };
    let outcome = tokio::select! {
        reports = runner.run_all(&fixtures, &progress) => Some(reports),
        _ = tokio::signal::ctrl_c() => None,
        _ = sigterm.recv() => None,
    };
    if terminal {
        eprint!("\r\x1b[2K");
    }
    let Some(mut reports) = outcome else {
        eprintln!("ocs-conformance: interrupted; removing what this run created…");
        let cleanup = runner.cleanup().await;
        eprintln!("ocs-conformance: {cleanup}");
        return ExitCode::from(INTERRUPTED);
    };
    let cleanup = runner.cleanup().await;
    let wall = started.elapsed();
    expected.apply(&mut reports);
    let mut out = std::io::stdout().lock();
    for r in &reports {
        if r.outcome != Outcome::Pass || !r.reason.is_empty() {
            let _ = write!(out, "{}", report::describe(r));
        }
    }
    let _ = write!(out, "\n{}", report::summary(&reports, wall, &cleanup));
    drop(out);
    if let Err(e) = write_reports(&args, &runner, &reports, wall, &cleanup) {
        return fail(CANNOT_RUN, &e);
    }
    ExitCode::from(report::exit_code(&reports))
}

/// The JUnit and JSON reports, where `--junit` and `--json` ask for them.
fn write_reports(
    args: &RunArgs,
    runner: &Runner,
    reports: &[CaseReport],
    wall: Duration,
    cleanup: &ocs_conformance::Cleanup,
) -> Result<(), String> {
    let write = |path: &PathBuf, text: String| {
        std::fs::write(path, text).map_err(|source| {
            report::FileError {
                path: path.clone(),
                source,
            }
            .to_string()
        })
    };
    if let Some(path) = &args.junit {
        let xml = report::junit(reports, wall).map_err(|e| e.to_string())?;
        write(path, xml)?;
    }
    if let Some(path) = &args.json {
        let json = report::json(
            reports,
            &args.base_url,
            runner.prefix().as_str(),
            args.expect,
            wall,
            cleanup,
        );
        write(path, json)?;
    }
    Ok(())
}
