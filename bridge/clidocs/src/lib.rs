//! Man pages and shell completions generated from a program's clap
//! definitions, so that what `--help` says and what `man` says cannot drift
//! apart. Both command lines (authbridge, ocs-conformance) use it through their
//! `generate` subcommand; the Debian package runs it at build time.
//!
//! Pages follow git's layout: `PROGRAM.SECTION` for the program, and
//! `PROGRAM-SUB[-SUB…].SECTION` for every subcommand that is not hidden, so
//! each page named in a SUBCOMMANDS list exists.

use clap::{Command, ValueEnum};
use std::path::{Path, PathBuf};

/// The shells completions are generated for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// The completion script for `shell` of the program `command` describes.
/// (Made in memory: clap_complete panics when its writer fails, and standard
/// output may be a closed pipe.)
pub fn completion(mut command: Command, shell: Shell) -> Vec<u8> {
    let name = command.get_name().to_owned();
    let shell = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    script
}

/// Writes the program's man pages into `dir` (which must exist), in `section`;
/// returns the files written.
pub fn write_man_pages(
    command: Command,
    section: &str,
    dir: &Path,
) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let program = command.get_name().to_owned();
    write_page(&command, &program, &program, section, dir, &mut written)?;
    Ok(written)
}

fn write_page(
    command: &Command,
    page_name: &str,
    typed: &str,
    section: &str,
    dir: &Path,
    written: &mut Vec<PathBuf>,
) -> std::io::Result<()> {
    // The page's own name is what SUBCOMMANDS lists refer to (PROGRAM-SUB);
    // its synopsis shows the command as typed (PROGRAM SUB).
    // No page lists the `help` subcommand clap adds: `--help` is on every page.
    let named = command
        .clone()
        .disable_help_subcommand(true)
        .name(page_name.to_owned())
        .bin_name(typed.to_owned());
    let mut page = Vec::new();
    clap_mangen::Man::new(named)
        .section(section)
        .render(&mut page)?;
    let path = dir.join(format!("{page_name}.{section}"));
    std::fs::write(&path, page)?;
    written.push(path);
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        let sub_page = format!("{page_name}-{}", sub.get_name());
        let sub_typed = format!("{typed} {}", sub.get_name());
        write_page(sub, &sub_page, &sub_typed, section, dir, written)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Arg;

    fn program() -> Command {
        Command::new("prog")
            .about("Does things")
            .subcommand(
                Command::new("user")
                    .about("Users")
                    .subcommand(Command::new("add-all").about("Adds").arg(Arg::new("uid"))),
            )
            .subcommand(Command::new("secret").hide(true))
    }

    #[test]
    fn every_visible_subcommand_gets_a_page_and_hidden_ones_none() {
        let dir = tempfile::tempdir().unwrap();
        let written = write_man_pages(program(), "8", dir.path()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["prog.8", "prog-user.8", "prog-user-add-all.8"]);
        let user = std::fs::read_to_string(dir.path().join("prog-user.8")).unwrap();
        assert!(user.contains(".TH prog-user 8"), "{user}");
        // The list of subcommands names the leaf's page.
        assert!(user.contains("prog\\-user\\-add\\-all(8)"), "{user}");
        // Its synopsis is the command as typed.
        let add = std::fs::read_to_string(dir.path().join("prog-user-add-all.8")).unwrap();
        assert!(add.contains("\\fBprog user add\\-all\\fR"), "{add}");
    }

    #[test]
    fn a_bash_completion_names_the_subcommands() {
        let script = String::from_utf8(completion(program(), Shell::Bash)).unwrap();
        assert!(script.contains("complete -F"), "{script}");
        assert!(script.contains("user"), "{script}");
    }
}
