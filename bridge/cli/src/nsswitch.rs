//! `authbridge nss enable|disable`: adds or removes the `authbridge` source on
//! the passwd and group lines of /etc/nsswitch.conf, as SSSD's authselect
//! profiles place `sss`: right after `files`, so the host's own accounts are
//! always found first and no store user can shadow one. Every other line of the
//! file stays as it was; the new file replaces the old in one rename.
//!
//! A line is read as glibc reads it: sources, each optionally followed by an
//! action group `[STATUS=action ...]`, which may hold spaces (`[ NOTFOUND =
//! return ]`) and may touch its source (`files[NOTFOUND=return]`). A file this
//! code cannot read that way is refused, never rewritten: a line glibc cannot
//! parse fails every lookup on the host, root's included.

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
    #[error("line {line}: an action group `[` of the {database} line is not closed")]
    Unclosed { database: &'static str, line: usize },
    #[error(
        "lines {first} and {second} both set {database} (glibc keeps one of them): merge them into one first"
    )]
    Duplicate {
        database: &'static str,
        first: usize,
        second: usize,
    },
}

/// What an edit did to one database's line.
#[derive(Debug, PartialEq, Eq)]
pub struct Change {
    pub database: &'static str,
    /// The sources before and after (equal: nothing to do).
    pub before: String,
    pub after: String,
}

/// A line's sources and action groups, in order (a group kept as written).
type Tokens = Vec<String>;

fn is_action(token: &str) -> bool {
    token.starts_with('[')
}

/// Splits the part of a line after `DB:` into sources and action groups.
fn tokens(sources: &str) -> Option<Tokens> {
    let mut out = Vec::new();
    let mut rest = sources.trim_start();
    while !rest.is_empty() {
        if rest.starts_with('[') {
            let end = rest.find(']')?;
            out.push(rest[..=end].to_owned());
            rest = &rest[end + 1..];
        } else {
            let end = rest
                .find(|c: char| c.is_whitespace() || c == '[')
                .unwrap_or(rest.len());
            out.push(rest[..end].to_owned());
            rest = &rest[end..];
        }
        rest = rest.trim_start();
    }
    Some(out)
}

/// The file with `authbridge` right after `files` (and the action group that
/// belongs to it) on the passwd and group lines; a missing line becomes
/// `DB: files authbridge`.
pub fn enable(text: &str) -> Result<(String, Vec<Change>), EditError> {
    edit(text, &|database, line, sources: &Tokens| {
        if sources.iter().any(|s| s == SOURCE) {
            return Ok(sources.clone());
        }
        let files = sources
            .iter()
            .position(|s| s == "files")
            .ok_or(EditError::NoFiles { database, line })?;
        let mut at = files + 1;
        if sources.get(at).is_some_and(|s| is_action(s)) {
            at += 1;
        }
        let mut new = sources.clone();
        new.insert(at, SOURCE.to_owned());
        Ok(new)
    })
}

/// The file without the `authbridge` source (and its action group).
pub fn disable(text: &str) -> Result<(String, Vec<Change>), EditError> {
    edit(text, &|_, _, sources: &Tokens| {
        let mut new = Vec::new();
        let mut iter = sources.iter().peekable();
        while let Some(s) = iter.next() {
            if s == SOURCE {
                if iter.peek().is_some_and(|next| is_action(next)) {
                    iter.next();
                }
                continue;
            }
            new.push(s.clone());
        }
        Ok(new)
    })
}

/// Whether glibc asks authbridge for passwd and group after `files`, and if
/// not, why not (for `authbridge doctor`).
pub fn wired(text: &str) -> Result<(), String> {
    let lines = database_lines(text).map_err(|e| e.to_string())?;
    for (index, database) in DATABASES.iter().enumerate() {
        let Some((_, sources)) = &lines[index] else {
            return Err(format!("no {database} line"));
        };
        let files = sources.iter().position(|s| s == "files");
        let ours = sources.iter().position(|s| s == SOURCE);
        match (files, ours) {
            (_, None) => return Err(format!("{database} does not ask authbridge")),
            (None, Some(_)) => return Err(format!("{database} has no `files`")),
            (Some(f), Some(a)) if a < f => {
                return Err(format!("{database} asks authbridge before files"));
            }
            (Some(f), Some(a)) => {
                // `files [NOTFOUND=return]`: a name files does not know stops there.
                let stops = sources[f + 1..a].iter().any(|s| {
                    let action: String = s.chars().filter(|c| !c.is_whitespace()).collect();
                    action.to_ascii_uppercase().contains("NOTFOUND=RETURN")
                });
                if stops {
                    return Err(format!(
                        "{database}: files [NOTFOUND=return] keeps authbridge from being asked"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A passwd or group line: which, its sources, and a trailing comment.
fn parse(line: &str) -> Option<(usize, &'static str, &str, Option<&str>)> {
    let (body, comment) = match line.find('#') {
        Some(at) => (&line[..at], Some(line[at..].trim_end())),
        None => (line, None),
    };
    let (name, rest) = body.split_once(':')?;
    let index = DATABASES.iter().position(|d| *d == name.trim())?;
    Some((index, DATABASES[index], rest, comment))
}

/// For each of [`DATABASES`]: its line number and sources, if the file has one.
#[allow(clippy::type_complexity)]
fn database_lines(text: &str) -> Result<[Option<(usize, Tokens)>; 2], EditError> {
    let mut found: [Option<(usize, Tokens)>; 2] = [None, None];
    for (n, line) in text.lines().enumerate() {
        let Some((index, database, rest, _)) = parse(line) else {
            continue;
        };
        if let Some((first, _)) = &found[index] {
            return Err(EditError::Duplicate {
                database,
                first: *first,
                second: n + 1,
            });
        }
        let sources = tokens(rest).ok_or(EditError::Unclosed {
            database,
            line: n + 1,
        })?;
        found[index] = Some((n + 1, sources));
    }
    Ok(found)
}

type Rule<'a> = dyn Fn(&'static str, usize, &Tokens) -> Result<Tokens, EditError> + 'a;

/// Applies `rule` to the sources of each of [`DATABASES`]' lines; appends a
/// line for a database the file does not name (glibc would use `files`).
fn edit(text: &str, rule: &Rule<'_>) -> Result<(String, Vec<Change>), EditError> {
    let lines = database_lines(text)?;
    let mut out = String::with_capacity(text.len() + 64);
    let mut changes = Vec::new();
    for (n, line) in text.split_inclusive('\n').enumerate() {
        let Some((index, database, _, comment)) = parse(line) else {
            out.push_str(line);
            continue;
        };
        let Some((_, sources)) = &lines[index] else {
            unreachable!("every database line was read above")
        };
        let new = rule(database, n + 1, sources)?;
        if &new == sources {
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
        if lines[index].is_some() {
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
    // What is written must read back as glibc will read it.
    database_lines(&out)?;
    Ok((out, changes))
}

/// Reads `path`, applies `change`, and when anything changed writes the result
/// beside it (a name of its own, the old file's mode and owner), syncs it,
/// renames it over, and syncs the directory. A symbolic link is refused: the
/// file is someone else's (authselect's, say), and a rename would replace the
/// link rather than edit what it points to.
pub fn rewrite(
    path: &Path,
    change: impl FnOnce(&str) -> Result<(String, Vec<Change>), EditError>,
) -> Result<Vec<Change>, String> {
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
    let shown = path.display();
    let meta = std::fs::symlink_metadata(path).map_err(|e| format!("{shown}: {e}"))?;
    if meta.file_type().is_symlink() {
        return Err(format!(
            "{shown} is a symbolic link (managed by authselect or the like): add `authbridge` after `files` where it points, by hand"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let (new, changes) = change(&text).map_err(|e| format!("{shown}: {e}"))?;
    if new == text {
        return Ok(changes);
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let temp = dir.join(format!(".{name}.authbridge-{}", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temp)
        .map_err(|e| format!("{}: {e}", temp.display()))?;
    // From here the temporary file is ours: removed on any failure.
    let written = (|| {
        file.write_all(new.as_bytes())?;
        std::os::unix::fs::fchown(&file, Some(meta.uid()), Some(meta.gid()))?;
        file.set_permissions(std::fs::Permissions::from_mode(meta.mode() & 0o7777))?;
        file.sync_all()?;
        std::fs::rename(&temp, path)?;
        std::fs::File::open(dir)?.sync_all()
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
        assert_eq!(wired(&new), Ok(()));
        assert!(wired(DEBIAN).is_err());
        // Twice is once; disabling gives the file back byte for byte.
        assert_eq!(enable(&new).unwrap().0, new);
        assert_eq!(disable(&new).unwrap().0, DEBIAN);
    }

    #[test]
    fn action_groups_stay_whole_with_their_source() {
        // glibc allows spaces inside a group, and a group touching its source.
        let text = "passwd: files [NOTFOUND=continue TRYAGAIN=continue] ldap\ngroup: files[ UNAVAIL = continue ] ldap\n";
        let (new, _) = enable(text).unwrap();
        assert_eq!(
            new,
            "passwd: files [NOTFOUND=continue TRYAGAIN=continue] authbridge ldap\ngroup: files [ UNAVAIL = continue ] authbridge ldap\n"
        );
        assert_eq!(wired(&new), Ok(()));
        let with_action = "passwd: files authbridge [UNAVAIL=return TRYAGAIN=continue] ldap # c\ngroup: files authbridge\n";
        assert_eq!(
            disable(with_action).unwrap().0,
            "passwd: files ldap # c\ngroup: files\n"
        );
        // A group never closed: refused, the file left alone.
        assert_eq!(
            enable("passwd: files [NOTFOUND=return\ngroup: files\n"),
            Err(EditError::Unclosed {
                database: "passwd",
                line: 1
            })
        );
        assert_eq!(
            enable("passwd: files\ngroup: compat\n"),
            Err(EditError::NoFiles {
                database: "group",
                line: 2
            })
        );
    }

    #[test]
    fn where_authbridge_is_placed_decides_whether_it_is_wired() {
        let wired_at =
            |passwd: &str| wired(&format!("passwd: {passwd}\ngroup: files authbridge\n"));
        assert_eq!(wired_at("files authbridge"), Ok(()));
        assert!(
            wired_at("authbridge files")
                .unwrap_err()
                .contains("before files")
        );
        assert!(
            wired_at("files [NOTFOUND=return] authbridge")
                .unwrap_err()
                .contains("NOTFOUND")
        );
        assert!(wired_at("files [ notfound = return ] authbridge").is_err());
        assert!(wired_at("files ldap").unwrap_err().contains("does not ask"));
    }

    #[test]
    fn a_missing_line_is_added_and_a_database_set_twice_is_refused() {
        let (new, _) = enable("hosts: files dns").unwrap();
        assert_eq!(
            new,
            "hosts: files dns\npasswd:         files authbridge\ngroup:          files authbridge\n"
        );
        assert_eq!(
            enable("passwd: files\npasswd: files ldap\ngroup: files\n"),
            Err(EditError::Duplicate {
                database: "passwd",
                first: 1,
                second: 2
            })
        );
        // A commented-out line is no line.
        let commented = "#passwd: files authbridge\npasswd: files\ngroup: files\n";
        assert_eq!(
            enable(commented).unwrap().0,
            "#passwd: files authbridge\npasswd: files authbridge\ngroup: files authbridge\n"
        );
    }

    #[test]
    fn a_rewrite_keeps_mode_refuses_links_and_leaves_no_temporary_file() {
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
        let link = dir.path().join("link.conf");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        assert!(
            rewrite(&link, disable)
                .unwrap_err()
                .contains("symbolic link")
        );
        assert!(
            std::fs::read_to_string(&path)
                .unwrap()
                .contains("authbridge")
        );
    }
}
