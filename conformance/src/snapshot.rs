//! insta snapshots of each case's normalised answers, one folder per target, so a
//! later run against the same target shows a diff when an answer changed.
//!
//! Files are insta's own (`.snap`, readable by `cargo insta review`): read with
//! `insta::Snapshot::from_file`, written here in the same layout. (insta's own
//! writer decides from process-wide environment variables whether to write;
//! a harness that always decides for itself must not depend on them.)

use crate::client::Variant;
use crate::result::{CaseReport, Finding, Outcome};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Snapshots cannot be kept for this target.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotSetupError {
    #[error("target name {0:?}: use a plain name such as staging")]
    TargetName(String),
    #[error(transparent)]
    Folder(#[from] crate::report::FileError),
}

/// The `source` insta records: the file that wrote the snapshot.
const SOURCE: &str = "conformance/src/snapshot.rs";

pub struct Snapshots {
    dir: PathBuf,
    target: String,
    accept: bool,
    refuse_new: bool,
    /// One writer at a time per folder.
    write: Mutex<()>,
}

#[derive(Debug)]
pub(crate) enum SnapshotOutcome {
    Same,
    /// There was none (or `--accept`): this answer is now the snapshot.
    Recorded,
    /// None recorded, and recording is not allowed here (CI).
    Missing,
    /// A unified diff, recorded snapshot first.
    Changed(String),
    Error(String),
}

impl Snapshots {
    /// Snapshots for `target` under `root/target`. With `accept`, changed answers
    /// replace their snapshots; without it, missing snapshots are still recorded
    /// unless `refuse_new` (as insta does on CI).
    pub fn new(
        root: &Path,
        target: &str,
        accept: bool,
        refuse_new: bool,
    ) -> Result<Snapshots, SnapshotSetupError> {
        if target.is_empty() || target.contains(['/', '\\']) || target.starts_with('.') {
            return Err(SnapshotSetupError::TargetName(target.to_owned()));
        }
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).map_err(|source| crate::report::FileError {
            path: dir.clone(),
            source,
        })?;
        Ok(Snapshots {
            dir,
            target: target.to_owned(),
            accept,
            refuse_new,
            write: Mutex::new(()),
        })
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    /// `users__add__102-exists@v1-xml`
    fn name(id: &str, variant: Variant) -> String {
        format!(
            "{}@{}",
            id.replace('/', "__"),
            variant.to_string().replace(' ', "-")
        )
    }

    /// Compares the case of `report` with its snapshot, `contents` being its
    /// answers now: a changed or missing snapshot fails it, one that cannot be
    /// read or written is a warning.
    pub(crate) fn judge(&self, report: &mut CaseReport, contents: &str) {
        match self.check(&report.id, report.variant, contents) {
            SnapshotOutcome::Same => {}
            SnapshotOutcome::Recorded => report.reason = "snapshot recorded".into(),
            SnapshotOutcome::Changed(diff) => {
                report.outcome = Outcome::Fail;
                report.findings.push(Finding::fail(
                    "snapshot",
                    format!("the answer recorded for target {}", self.target),
                    format!("a different answer (run with --accept to record it):\n{diff}"),
                ));
            }
            SnapshotOutcome::Missing => {
                report.outcome = Outcome::Fail;
                report.findings.push(Finding::fail(
                    "snapshot",
                    format!("a snapshot recorded for target {}", self.target),
                    "none (record it with --accept, or INSTA_UPDATE=always, and commit it)",
                ));
            }
            SnapshotOutcome::Error(e) => report.findings.push(Finding::warning(
                "snapshot",
                "a readable and writable snapshot",
                e,
            )),
        }
    }

    pub(crate) fn check(&self, id: &str, variant: Variant, contents: &str) -> SnapshotOutcome {
        let name = Self::name(id, variant);
        let path = self.dir.join(format!("{name}.snap"));
        let recorded = if path.exists() {
            match insta::Snapshot::from_file(&path) {
                Ok(s) => s.as_text().map(|t| t.to_string()),
                Err(e) => return SnapshotOutcome::Error(format!("{}: {e}", path.display())),
            }
        } else {
            None
        };
        let contents = contents.trim_end();
        match recorded {
            Some(old) if old.trim_end() == contents => SnapshotOutcome::Same,
            Some(old) if !self.accept => {
                let diff = similar::TextDiff::from_lines(old.trim_end(), contents)
                    .unified_diff()
                    .context_radius(2)
                    .header("recorded", "now")
                    .to_string();
                let (then, now) = (expected_in(&old), expected_in(contents));
                SnapshotOutcome::Changed(if then == now {
                    diff
                } else {
                    format!(
                        "recorded by a run with --expect {then}, compared in one with --expect {now}: give each its own --target\n{diff}"
                    )
                })
            }
            None if self.refuse_new && !self.accept => SnapshotOutcome::Missing,
            _ => match self.record(&name, contents) {
                Ok(()) => SnapshotOutcome::Recorded,
                Err(e) => SnapshotOutcome::Error(e),
            },
        }
    }

    /// Writes the snapshot as insta lays it out (a metadata header, then the
    /// contents), through a temporary file renamed into place: a reader never
    /// sees half a snapshot.
    fn record(&self, name: &str, contents: &str) -> Result<(), String> {
        let _one = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.dir.join(format!("{name}.snap"));
        let partial = self.dir.join(format!(".{name}.snap.partial"));
        let text = format!("---\nsource: {SOURCE}\n---\n{contents}\n");
        std::fs::write(&partial, text)
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(|e| format!("cannot write the snapshot {}: {e}", path.display()))
    }
}

/// Whose answers the run that recorded `contents` expected: a run held to
/// Nextcloud's says so in its header (`# expect nextcloud: …`).
fn expected_in(contents: &str) -> &'static str {
    let header = contents.lines().take_while(|l| l.starts_with('#'));
    if header
        .into_iter()
        .any(|l| l.starts_with("# expect nextcloud:"))
    {
        "nextcloud"
    } else {
        "documented"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_snapshots_read_back_through_insta_and_compare_as_same() {
        let root = tempfile::tempdir().unwrap();
        let snapshots = Snapshots::new(root.path(), "local", false, false).unwrap();
        let contents = "# a case\nGET /ocs/v2.php/cloud/users\n\n<ocs>\n  <meta/>\n</ocs>";
        let variant = Variant::all()[0];
        assert!(matches!(
            snapshots.check("users/list", variant, contents),
            SnapshotOutcome::Recorded
        ));
        let path = root
            .path()
            .join("local")
            .join(format!("{}.snap", Snapshots::name("users/list", variant)));
        let read = insta::Snapshot::from_file(&path).unwrap();
        assert_eq!(read.as_text().unwrap().to_string(), contents);
        assert!(matches!(
            snapshots.check("users/list", variant, contents),
            SnapshotOutcome::Same
        ));
        assert!(matches!(
            snapshots.check("users/list", variant, "something else"),
            SnapshotOutcome::Changed(_)
        ));
        let nextcloud = "# a case\n# expect nextcloud: as documented\nGET /ocs/v2.php/cloud/users";
        match snapshots.check("users/list", variant, nextcloud) {
            SnapshotOutcome::Changed(diff) => assert!(
                diff.starts_with("recorded by a run with --expect documented, compared in one with --expect nextcloud"),
                "{diff}"
            ),
            other => panic!("{other:?}"),
        }
        let strict = Snapshots::new(root.path(), "local", false, true).unwrap();
        assert!(matches!(
            strict.check("users/other", variant, contents),
            SnapshotOutcome::Missing
        ));
    }
}
