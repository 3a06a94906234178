//! Checks of generated man pages and completion scripts with the real tools:
//! man-db's `man -l` (groff underneath) and bash.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Renders every page in `pages` with `man -l`, groff's warnings on: each must
/// render without a warning, with NAME and SYNOPSIS sections, and every page
/// of `program` it names (`program-sub(N)`) must be among `pages`.
pub fn check_man_pages(program: &str, pages: &[PathBuf]) {
    assert!(!pages.is_empty(), "no pages");
    let names: Vec<String> = pages
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for page in pages {
        let out = Command::new("man")
            .args(["-l", "--warnings=w"])
            .arg(page)
            .env("MANWIDTH", "80")
            .env("LC_ALL", "C.UTF-8")
            .stdin(Stdio::null())
            .output()
            .expect("man (apt-get install man-db groff-base)");
        let text = String::from_utf8_lossy(&out.stdout);
        let warnings = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {warnings}", page.display());
        assert!(warnings.trim().is_empty(), "{}: {warnings}", page.display());
        for section in ["NAME", "SYNOPSIS"] {
            assert!(
                text.lines().any(|l| l.trim_end() == section),
                "{} has no {section} section:\n{text}",
                page.display()
            );
        }
        // The header and footer lines repeat the page's own name, squeezed
        // when it is long: only the body's references count.
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        let body = lines[1..lines.len().saturating_sub(1)].join("\n");
        for named in pages_named(&body, program) {
            assert!(
                names.contains(&named),
                "{} names {named}, which is not among the pages",
                page.display()
            );
        }
    }
}

/// `program-sub(8)` references in rendered text, as file names (`program-sub.8`).
fn pages_named(text: &str, program: &str) -> Vec<String> {
    let prefix = format!("{program}-");
    text.split(|c: char| c.is_whitespace() || c == ',')
        .filter_map(|word| {
            let word = word.trim_start_matches(|c: char| !c.is_alphanumeric());
            let (name, rest) = word.split_once('(')?;
            let (section, _) = rest.split_once(')')?;
            (name.starts_with(&prefix)
                && !section.is_empty()
                && section.chars().all(|c| c.is_ascii_digit()))
            .then(|| format!("{name}.{section}"))
        })
        .collect()
}

/// Loads a bash completion script into a fresh bash and asks bash what it
/// would complete `program` with: the script must define it.
pub fn check_bash_completion(program: &str, script: &Path) {
    let out = Command::new("bash")
        .arg("--norc")
        .arg("-c")
        .arg(format!("source \"$1\" && complete -p {program}"))
        .arg("bash")
        .arg(script)
        .stdin(Stdio::null())
        .output()
        .expect("bash");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && said.starts_with("complete ")
            && said.contains(" -F _")
            && said.trim_end().ends_with(&format!(" {program}")),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[cfg(test)]
mod tests {
    #[test]
    fn references_to_sibling_pages_are_found_and_others_ignored() {
        let text = "SEE ALSO\n  authbridge-user-add(8), authbridge(8), pam(8) and authbridge-x(1).";
        assert_eq!(
            super::pages_named(text, "authbridge"),
            ["authbridge-user-add.8", "authbridge-x.1"]
        );
    }
}
