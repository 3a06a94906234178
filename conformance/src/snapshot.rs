//! insta snapshots of each case's normalised answers, one folder per target, so a
//! later run against the same target shows a diff when an answer changed.
//!
//! Files are insta's own (`.snap`, readable by `cargo insta review`): read with
//! `insta::Snapshot::from_file` and written by `insta::assert_snapshot!` with
//! updates forced (see [`Snapshots::new`]).

use crate::client::Variant;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

pub struct Snapshots {
    dir: PathBuf,
    target: String,
    accept: bool,
    refuse_new: bool,
    /// insta's settings are per thread and its writes are not atomic per folder.
    write: Mutex<()>,
}

#[derive(Debug)]
pub enum SnapshotOutcome {
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
    ///
    /// Sets insta's environment for this process: call before any thread starts.
    pub fn new(
        root: &Path,
        target: &str,
        accept: bool,
        refuse_new: bool,
    ) -> Result<Snapshots, String> {
        if target.is_empty() || target.contains(['/', '\\']) || target.starts_with('.') {
            return Err(format!(
                "target name {target:?}: use a plain name such as staging"
            ));
        }
        let dir = root.join(target);
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        // SAFETY: called before the runtime and the trials start their threads.
        unsafe {
            std::env::set_var("INSTA_UPDATE", "always");
            std::env::set_var("INSTA_FORCE_PASS", "1");
            std::env::set_var("INSTA_OUTPUT", "none");
            std::env::set_var("INSTA_WORKSPACE_ROOT", &dir);
        }
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

    pub fn check(&self, id: &str, variant: Variant, contents: &str) -> SnapshotOutcome {
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
            Some(old) if !self.accept => SnapshotOutcome::Changed(
                similar::TextDiff::from_lines(old.trim_end(), contents)
                    .unified_diff()
                    .context_radius(2)
                    .header("recorded", "now")
                    .to_string(),
            ),
            None if self.refuse_new && !self.accept => SnapshotOutcome::Missing,
            _ => match self.record(&name, contents) {
                Ok(()) => SnapshotOutcome::Recorded,
                Err(e) => SnapshotOutcome::Error(e),
            },
        }
    }

    fn record(&self, name: &str, contents: &str) -> Result<(), String> {
        let _one = self.write.lock().unwrap_or_else(|p| p.into_inner());
        let mut settings = insta::Settings::clone_current();
        settings.set_snapshot_path(&self.dir);
        settings.set_prepend_module_to_snapshot(false);
        settings.set_omit_expression(true);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            settings.bind(|| insta::assert_snapshot!(name, contents));
        }));
        result.map_err(|_| {
            format!(
                "insta could not write the snapshot {name} in {}",
                self.dir.display()
            )
        })
    }
}
