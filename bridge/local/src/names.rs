//! The system's names come first (SSSD's `filter_users` / `filter_groups`, and
//! more): a user name the host's own passwd file knows, or one the deny list names,
//! is never created, recorded or authenticated by authbridge; a group the host's
//! group file knows, the deny list names, or authbridge's own `admin` role is never
//! exported over NSS, where sudoers or polkit might trust it.
//!
//! The files are read directly, not through NSS: NSS would include authbridge's
//! own module. They are read again when they change (size, mtime or inode);
//! the daemon's policy ([`Names::watching`]) looks at them only after inotify
//! reported a change (see `file_watch`).

use crate::file_watch::FileWatch;
use authbridge_core::canonical_uid;
use serde::Deserialize;
use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The role group of authbridge's OCS API: never a system group.
pub const ADMIN_GROUP: &str = "admin";

/// `[names]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NameSettings {
    /// User names never created, recorded or authenticated (besides every name in
    /// `passwd_file`).
    pub deny_users: Vec<String>,
    /// Group names never exported over NSS (besides every name in `group_file`).
    pub deny_groups: Vec<String>,
    /// The host's own databases (NSS `files`).
    pub passwd_file: PathBuf,
    pub group_file: PathBuf,
}

impl Default for NameSettings {
    fn default() -> Self {
        NameSettings {
            deny_users: vec!["root".into()],
            // Groups that grant administration on Debian, Ubuntu, Fedora and their
            // container and virtualisation tools.
            deny_groups: [
                "root",
                "wheel",
                "sudo",
                "adm",
                "admin",
                "shadow",
                "disk",
                "docker",
                "lxd",
                "libvirt",
                "systemd-journal",
                "staff",
            ]
            .map(String::from)
            .to_vec(),
            passwd_file: PathBuf::from("/etc/passwd"),
            group_file: PathBuf::from("/etc/group"),
        }
    }
}

/// The host's passwd or group file cannot be read: the policy would know too
/// little to be safe, so authbridge does not start.
#[derive(Debug, thiserror::Error)]
#[error("cannot read {path} ([names] passwd_file / group_file): {source}")]
pub struct NamesError {
    pub path: PathBuf,
    pub source: std::io::Error,
}

/// Why a name may not be an authbridge user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameRefusal {
    #[error(
        "the name {name:?} belongs to a system account ({file}); authbridge never creates, records or authenticates it"
    )]
    System { name: String, file: String },
    #[error(
        "the name {0:?} is on the deny list ([names] deny_users); authbridge never creates, records or authenticates it"
    )]
    Denied(String),
}

/// Why a group is kept out of NSS (it may still exist for the OCS API).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupHidden {
    #[error(
        "the group {name:?} also exists on this system ({file}), so it is never exported over NSS"
    )]
    System { name: String, file: String },
    #[error(
        "the group {0:?} is on the deny list ([names] deny_groups), so it is never exported over NSS"
    )]
    Denied(String),
    #[error(
        "the group \"admin\" is authbridge's administrator role and is never exported over NSS"
    )]
    Role,
    #[error(
        "the group {0:?} has a name /etc/group could not hold (a colon, a comma, white space, a leading + or -, or digits only), so it is never exported over NSS"
    )]
    Unportable(String),
}

/// A name `getent group` could print and tools could parse back: no field or
/// list separators, no white space, no NIS compat marker, not a number.
fn fits_a_group_line(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(['+', '-'])
        && !name.chars().all(|c| c.is_ascii_digit())
        && !name.chars().any(|c| {
            c == ':' || c == ',' || c.is_whitespace() || authbridge_store::hidden_character(c)
        })
}

/// Names and ids of one colon-separated database, as last read.
#[derive(Default)]
struct Entries {
    stamp: Option<(u64, i64, i64, u64)>,
    /// The watch's count of changes when the stamp was taken.
    looked_at: Option<u64>,
    names: HashSet<String>,
    ids: HashSet<u32>,
}

/// One of the host's files, re-read when it changes.
struct SystemFile {
    path: PathBuf,
    entries: Mutex<Entries>,
    /// When set, the file is looked at only after a change was reported.
    watch: Option<FileWatch>,
}

impl SystemFile {
    fn new(path: PathBuf, watched: bool) -> Self {
        let watch = if watched { FileWatch::new(&path) } else { None };
        SystemFile {
            path,
            entries: Mutex::new(Entries::default()),
            watch,
        }
    }

    /// Looks `check` up in a fresh view of the file. A file that cannot be read
    /// counts as knowing nothing new: the deny lists still hold, and the last view
    /// read stays.
    fn with<T>(&self, check: impl FnOnce(&Entries) -> T) -> T {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        // Taken before looking: a change reported meanwhile is looked at next time.
        let generation = self.watch.as_ref().and_then(FileWatch::generation);
        if generation.is_some() && generation == entries.looked_at {
            return check(&entries);
        }
        // A look that failed is tried again next time, whatever the watch says.
        entries.looked_at = None;
        if let Ok(meta) = std::fs::metadata(&self.path) {
            let stamp = (meta.ino(), meta.mtime(), meta.mtime_nsec(), meta.len());
            // A change the watch reported is read even if the stamp looks the same
            // (a rewrite of the same length within one timestamp tick).
            if entries.stamp == Some(stamp) && generation.is_none() {
                entries.looked_at = generation;
            } else if let Ok(text) = std::fs::read_to_string(&self.path) {
                *entries = Entries {
                    stamp: Some(stamp),
                    looked_at: generation,
                    ..parse(&text)
                };
            }
        }
        check(&entries)
    }

    fn knows_name(&self, name: &str) -> bool {
        let folded = canonical_uid(name);
        self.with(|e| e.names.contains(&folded))
    }

    /// Reads the file now; an error names it.
    fn readable(&self) -> Result<(), NamesError> {
        std::fs::read_to_string(&self.path)
            .map(|_| ())
            .map_err(|source| NamesError {
                path: self.path.clone(),
                source,
            })
    }

    fn knows_id(&self, id: u32) -> bool {
        self.with(|e| e.ids.contains(&id))
    }

    fn shown(&self) -> String {
        self.path.display().to_string()
    }
}

/// `name:password:id:...` lines; comments, blank lines and NIS `+`/`-` entries
/// are skipped. Names are folded as authbridge folds uids (NFC, lower case):
/// ids are unique regardless of case, so `Root` must not pass where `root` is
/// refused.
fn parse(text: &str) -> Entries {
    let mut entries = Entries::default();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(['+', '-']) {
            continue;
        }
        let mut fields = line.split(':');
        let Some(name) = fields.next().filter(|n| !n.is_empty()) else {
            continue;
        };
        entries.names.insert(canonical_uid(name));
        if let Some(id) = fields.nth(1).and_then(|f| f.parse().ok()) {
            entries.ids.insert(id);
        }
    }
    entries
}

/// The names policy, built from `[names]`.
pub struct Names {
    deny_users: HashSet<String>,
    deny_groups: HashSet<String>,
    passwd: SystemFile,
    group: SystemFile,
}

impl Names {
    /// A policy that looks at the files on every question (short-lived tools).
    pub fn new(settings: &NameSettings) -> Names {
        Names::build(settings, false)
    }

    /// A policy that looks at the files only after inotify reported a change to
    /// them (the daemon: no `stat` per login). Falls back to looking every time
    /// where a file cannot be watched.
    pub fn watching(settings: &NameSettings) -> Names {
        Names::build(settings, true)
    }

    fn build(settings: &NameSettings, watched: bool) -> Names {
        let fold = |list: &[String]| list.iter().map(|n| canonical_uid(n)).collect();
        Names {
            deny_users: fold(&settings.deny_users),
            deny_groups: fold(&settings.deny_groups),
            passwd: SystemFile::new(settings.passwd_file.clone(), watched),
            group: SystemFile::new(settings.group_file.clone(), watched),
        }
    }

    /// Both files can be read (checked at start-up and on reload).
    pub fn check_files(&self) -> Result<(), NamesError> {
        self.passwd.readable()?;
        self.group.readable()
    }

    /// May `uid` be an authbridge user (created, recorded on first login,
    /// authenticated)? Compared in its canonical form (NFC, lower case), the
    /// form every lookup uses; `root` is refused whatever the deny list says.
    pub fn check_user(&self, uid: &str) -> Result<(), NameRefusal> {
        let canonical = canonical_uid(uid);
        if canonical == "root" || self.deny_users.contains(&canonical) {
            return Err(NameRefusal::Denied(uid.to_owned()));
        }
        if self.passwd.knows_name(uid) {
            return Err(NameRefusal::System {
                name: uid.to_owned(),
                file: self.passwd.shown(),
            });
        }
        Ok(())
    }

    /// May a group named `gid` (a store group, or a user's private group) be
    /// exported over NSS?
    pub fn check_export(&self, gid: &str) -> Result<(), GroupHidden> {
        if gid.eq_ignore_ascii_case(ADMIN_GROUP) {
            return Err(GroupHidden::Role);
        }
        if !fits_a_group_line(gid) {
            return Err(GroupHidden::Unportable(gid.to_owned()));
        }
        if self.deny_groups.contains(&canonical_uid(gid)) {
            return Err(GroupHidden::Denied(gid.to_owned()));
        }
        if self.group.knows_name(gid) {
            return Err(GroupHidden::System {
                name: gid.to_owned(),
                file: self.group.shown(),
            });
        }
        Ok(())
    }

    /// Is this number a uid of the passwd file or a gid of the group file?
    pub fn system_id(&self, id: u32) -> bool {
        self.passwd.knows_id(id) || self.group.knows_id(id)
    }
}

impl Default for Names {
    fn default() -> Self {
        Names::new(&NameSettings::default())
    }
}

impl std::fmt::Debug for Names {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Names")
            .field("passwd", &self.passwd.path)
            .field("group", &self.group.path)
            .finish()
    }
}

/// For tests and tools: a policy over other files than the host's.
pub fn names_over(passwd: &Path, group: &Path) -> Names {
    Names::new(&NameSettings {
        passwd_file: passwd.to_owned(),
        group_file: group.to_owned(),
        ..NameSettings::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(passwd: &str, group: &str) -> (tempfile::TempDir, Names) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("passwd"), passwd).unwrap();
        std::fs::write(dir.path().join("group"), group).unwrap();
        let names = names_over(&dir.path().join("passwd"), &dir.path().join("group"));
        (dir, names)
    }

    #[test]
    fn system_users_and_the_deny_list_are_refused_in_any_case() {
        let (_dir, names) = files(
            "# comment\ndaemon:x:1:1::/:/bin/sh\n+nis\n\nbob:x:1000:1000::/home/bob:/bin/sh\n",
            "",
        );
        assert!(matches!(
            names.check_user("Daemon"),
            Err(NameRefusal::System { .. })
        ));
        assert!(matches!(
            names.check_user("BOB"),
            Err(NameRefusal::System { .. })
        ));
        assert_eq!(
            names.check_user("ROOT"),
            Err(NameRefusal::Denied("ROOT".into()))
        );
        assert_eq!(names.check_user("alice"), Ok(()));
        // "+nis" is a NIS include, not a user.
        assert_eq!(names.check_user("nis"), Ok(()));
        assert!(names.system_id(1000));
        assert!(!names.system_id(1001));
    }

    #[test]
    fn system_groups_the_deny_list_and_the_admin_role_are_never_exported() {
        let (_dir, names) = files("", "users:x:100:\nplugdev:x:46:alice\n");
        assert!(matches!(
            names.check_export("Users"),
            Err(GroupHidden::System { .. })
        ));
        assert_eq!(names.check_export("Admin"), Err(GroupHidden::Role));
        assert_eq!(
            names.check_export("sudo"),
            Err(GroupHidden::Denied("sudo".into()))
        );
        assert_eq!(names.check_export("physics"), Ok(()));
        assert_eq!(names.check_export("España"), Ok(()));
        for odd in ["a:b", "a,b", "two words", "+nis", "-x", "1234", "tab\t"] {
            assert_eq!(
                names.check_export(odd),
                Err(GroupHidden::Unportable(odd.into())),
                "{odd}"
            );
        }
        assert!(names.system_id(46));
    }

    #[test]
    fn names_compare_in_their_canonical_form_and_root_is_always_refused() {
        let (_dir, names) = files("kevin:x:1000:1000::/:/bin/sh\n", "");
        // U+212A KELVIN SIGN folds to "k": the same account as "kevin".
        assert!(names.check_user("\u{212a}evin").is_err());
        let no_list = Names::new(&NameSettings {
            deny_users: vec![],
            ..NameSettings::default()
        });
        assert!(no_list.check_user("Root").is_err());
    }

    #[test]
    fn unreadable_system_files_are_an_error_not_an_empty_list() {
        let names = names_over(Path::new("/nonexistent/passwd"), Path::new("/etc/group"));
        let e = names.check_files().unwrap_err();
        assert!(e.to_string().contains("/nonexistent/passwd"), "{e}");
    }

    #[test]
    fn a_changed_file_is_read_again() {
        let (dir, names) = files("", "");
        assert_eq!(names.check_user("carol"), Ok(()));
        // A different length is enough to notice, even within one mtime tick.
        std::fs::write(dir.path().join("passwd"), "carol:x:1002:1002::/:/bin/sh\n").unwrap();
        assert!(names.check_user("carol").is_err());
    }

    /// The watching thread reports a change a moment after it is made.
    fn eventually(check: impl FnMut() -> bool) -> bool {
        authbridge_testsupport::eventually(std::time::Duration::from_secs(10), check)
    }

    #[test]
    fn a_watching_policy_sees_files_replaced_written_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let (passwd, group) = (dir.path().join("passwd"), dir.path().join("group"));
        std::fs::write(&passwd, "").unwrap();
        std::fs::write(&group, "").unwrap();
        let names = Names::watching(&NameSettings {
            passwd_file: passwd.clone(),
            group_file: group.clone(),
            ..NameSettings::default()
        });
        assert!(names.passwd.watch.is_some() && names.group.watch.is_some());
        assert_eq!(names.check_user("carol"), Ok(()));
        // As useradd does: a new file renamed over the old one.
        let new = dir.path().join("passwd+");
        std::fs::write(&new, "carol:x:1002:1002::/:/bin/sh\n").unwrap();
        std::fs::rename(&new, &passwd).unwrap();
        assert!(eventually(|| names.check_user("carol").is_err()));
        // Written in place, as vipw may.
        std::fs::write(&passwd, "dave:x:1003:1003::/:/bin/sh\n").unwrap();
        assert!(eventually(|| names.check_user("dave").is_err()));
        assert_eq!(names.check_user("carol"), Ok(()));
        assert_eq!(names.check_export("physics"), Ok(()));
        std::fs::write(&group, "physics:x:2000:\n").unwrap();
        assert!(eventually(|| names.check_export("physics").is_err()));
        // Removed: the last view read stays, as for an unwatched file.
        std::fs::remove_file(&passwd).unwrap();
        std::fs::write(dir.path().join("other"), "").unwrap();
        assert!(names.check_user("dave").is_err());
        // Back again with other contents.
        std::fs::write(&passwd, "erin:x:1004:1004::/:/bin/sh\n").unwrap();
        assert!(eventually(|| names.check_user("erin").is_err()));
        assert_eq!(names.check_user("dave"), Ok(()));
    }

    #[test]
    fn a_policy_over_a_symlinked_file_looks_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("passwd.real");
        std::fs::write(&real, "").unwrap();
        let link = dir.path().join("passwd");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let names = Names::watching(&NameSettings {
            passwd_file: link,
            group_file: real.clone(),
            ..NameSettings::default()
        });
        assert!(names.passwd.watch.is_none());
        assert_eq!(names.check_user("carol"), Ok(()));
        std::fs::write(&real, "carol:x:1002:1002::/:/bin/sh\n").unwrap();
        // No waiting: an unwatched file is looked at on every question.
        assert!(names.check_user("carol").is_err());
    }
}
