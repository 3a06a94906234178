//! `authbridge nss enable|disable`: adds or removes the `authbridge` source on
//! the passwd and group lines of /etc/nsswitch.conf, as SSSD's authselect
//! profiles place `sss`: right after `files`, so the host's own accounts are
//! always found first and no store user can shadow one. Every other byte of the
//! file stays as it was; the new file replaces the old in one rename.

use std::path::Path;

pub const DEFAULT_PATH: &str = "/etc/nsswitch.conf";
/// The databases the module answers (initgroups goes through `group`).
pub const DATABASES: [&str; 2] = ["passwd", "group"];
const SOURCE: &str = "authbridge";

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EditError {
    #[error(
        "line {line}: the {database} line has no `files` source; authbridge goes right after it, so add `files` first (or place `authbridge` by hand)"
    )]
    NoFiles { database: &'static str, line: usize },
}

/// What an edit did to one database's line.
#[derive(Debug, PartialEq, Eq)]
pub struct Change {
    pub database: &'static str,
    /// The sources before and after (equal: nothing to do).
    pub before: String,
    pub after: String,
}

/// The file with `authbridge` right after `files` on the passwd and group
/// lines (a missing line becomes `DB: files authbridge`).
pub fn enable(text: &str) -> Result<(String, Vec<Change>), EditError> {
    edit(text, &|database, line, sources: &[String]| {
        if sources.iter().any(|s| s == SOURCE) {
            return Ok(sources.to_vec());
        }
        let files = sources
            .iter()
            .position(|s| s == "files")
            .ok_or(EditError::NoFiles { database, line })?;
        // After `files` and the `[...]` actions that belong to it.
        let mut at = files + 1;
        while sources.get(at).is_some_and(|s| s.starts_with('[')) {
            at += 1;
        }
        let mut new = sources.to_vec();
        new.insert(at, SOURCE.to_owned());
        Ok(new)
    })
}

/// The file without the `authbridge` source (and its `[...]` actions).
pub fn disable(text: &str) -> (String, Vec<Change>) {
    let edited = edit(text, &|_, _, sources: &[String]| {
        let mut new = Vec::new();
        let mut skipping = false;
        for s in sources {
            if s == SOURCE {
                skipping = true;
                continue;
            }
            if skipping && s.starts_with('[') {
                continue;
            }
            skipping = false;
            new.push(s.clone());
        }
        Ok(new)
    });
    // Removing never fails.
    edited.unwrap_or_else(|_| (text.to_owned(), Vec::new()))
}

type Rule<'a> = dyn Fn(&'static str, usize, &[String]) -> Result<Vec<String>, EditError> + 'a;

/// Applies `rule` to the sources of each of [`DATABASES`]' lines; appends a
/// line for a database the file does not name (glibc would use `files`).
fn edit(text: &str, rule: &Rule<'_>) -> Result<(String, Vec<Change>), EditError> {
    let mut out = String::with_capacity(text.len() + 64);
    let mut changes = Vec::new();
    let mut seen = [false; DATABASES.len()];
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let Some((index, database, sources, comment)) = parse(line) else {
            out.push_str(line);
            continue;
        };
        // glibc reads the first line of a database and ignores the rest.
        if seen[index] {
            out.push_str(line);
            continue;
        }
        seen[index] = true;
        let new = rule(database, n + 1, &sources)?;
        if new == sources {
            out.push_str(line);
        } else {
            let head = &line[..line.find(':').map_or(0, |c| c + 1)];
            let gap: String = line[head.len()..]
                .chars()
                .take_while(|c| *c == ' ' || *c == '\t')
                .collect();
            out.push_str(&format!("{head}{gap}{}", new.join(" ")));
            if let Some(comment) = comment {
                out.push_str(&format!(" {comment}"));
            }
            if line.ends_with('\n') {
                out.push('\n');
            }
        }
        changes.push(Change {
            database,
            before: sources.join(" "),
            after: new.join(" "),
        });
    }
    for (index, database) in DATABASES.iter().enumerate() {
        if seen[index] {
            continue;
        }
        let sources = vec!["files".to_owned()];
        let new = rule(database, 0, &sources)?;
        if new != sources {
            if !out.is_empty() && !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!(
                "{database}:{}{}\n",
                " ".repeat(15usize.saturating_sub(database.len())),
                new.join(" ")
            ));
        }
        changes.push(Change {
            database,
            before: String::new(),
            after: new.join(" "),
        });
    }
    Ok((out, changes))
}

/// A passwd or group line: which, its sources, and a trailing comment.
fn parse(line: &str) -> Option<(usize, &'static str, Vec<String>, Option<&str>)> {
    let (body, comment) = match line.find('#') {
        Some(at) => (&line[..at], Some(line[at..].trim_end())),
        None => (line, None),
    };
    let (name, rest) = body.split_once(':')?;
    let name = name.trim();
    let index = DATABASES.iter().position(|d| *d == name)?;
    let sources = rest.split_whitespace().map(str::to_owned).collect();
    Some((index, DATABASES[index], sources, comment))
}

/// Reads `path`, applies `change`, and when anything changed writes the result
/// beside it with the old file's mode and owner, then renames it over.
pub fn rewrite(
    path: &Path,
    change: impl FnOnce(&str) -> Result<(String, Vec<Change>), EditError>,
) -> Result<Vec<Change>, String> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let (new, changes) = change(&text).map_err(|e| format!("{shown}: {e}"))?;
    if new == text {
        return Ok(changes);
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    let temp = path.with_extension("conf.authbridge-new");
    let written = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(new.as_bytes())?;
        std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()))?;
        file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        return Err(format!("{shown}: {e}"));
    }
    Ok(changes)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEBIAN: &str = "# /etc/nsswitch.conf\n\npasswd:         files systemd\ngroup:          files systemd\nshadow:         files systemd\n\nhosts:          files dns\n";

    #[test]
    fn authbridge_goes_right_after_files_and_nothing_else_moves() {
        let (new, changes) = enable(DEBIAN).unwrap();
        assert_eq!(
            new,
            "# /etc/nsswitch.conf\n\npasswd:         files authbridge systemd\ngroup:          files authbridge systemd\nshadow:         files systemd\n\nhosts:          files dns\n"
        );
        assert_eq!(changes[0].before, "files systemd");
        assert_eq!(changes[0].after, "files authbridge systemd");
        // Twice is once; disabling gives the file back byte for byte.
        assert_eq!(enable(&new).unwrap().0, new);
        assert_eq!(disable(&new).0, DEBIAN);
    }

    #[test]
    fn actions_of_files_stay_with_files_and_comments_stay() {
        let text = "passwd:\tfiles [NOTFOUND=return] ldap # local first\ngroup: compat\n";
        assert_eq!(
            enable(text),
            Err(EditError::NoFiles {
                database: "group",
                line: 2
            })
        );
        let text = "passwd:\tfiles [NOTFOUND=continue] ldap # local first\ngroup: files\n";
        let (new, _) = enable(text).unwrap();
        assert_eq!(
            new,
            "passwd:\tfiles [NOTFOUND=continue] authbridge ldap # local first\ngroup: files authbridge\n"
        );
        let with_action =
            "passwd: files authbridge [UNAVAIL=return] ldap\ngroup: files authbridge\n";
        assert_eq!(disable(with_action).0, "passwd: files ldap\ngroup: files\n");
    }

    #[test]
    fn a_missing_line_is_added_and_only_the_first_line_of_a_database_counts() {
        let (new, _) = enable("hosts: files dns").unwrap();
        assert_eq!(
            new,
            "hosts: files dns\npasswd:         files authbridge\ngroup:          files authbridge\n"
        );
        let twice = "passwd: files\npasswd: files ldap\ngroup: files\n";
        assert_eq!(
            enable(twice).unwrap().0,
            "passwd: files authbridge\npasswd: files ldap\ngroup: files authbridge\n"
        );
        // A commented-out line is no line.
        let commented = "#passwd: files authbridge\npasswd: files\ngroup: files\n";
        assert_eq!(
            enable(commented).unwrap().0,
            "#passwd: files authbridge\npasswd: files authbridge\ngroup: files authbridge\n"
        );
    }

    #[test]
    fn a_rewrite_keeps_mode_and_leaves_no_temporary_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nsswitch.conf");
        std::fs::write(&path, DEBIAN).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        rewrite(&path, enable).unwrap();
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("files authbridge systemd")
        );
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
