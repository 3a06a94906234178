// Included by the build scripts of both command lines (`include!`), so that
// `--version` names the commit a binary was built from.
//
// AUTHBRIDGE_GIT_COMMIT set by a packager wins; else `git` asked about the
// source tree; else "unknown commit" (a tarball without .git). "modified"
// means tracked files differed from the commit when this script last ran.

fn git_commit() {
    println!("cargo:rerun-if-env-changed=AUTHBRIDGE_GIT_COMMIT");
    let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            // `status` would otherwise refresh the index, taking its lock.
            .arg("--no-optional-locks")
            .arg("-C")
            .arg(&manifest)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    // A new commit moves HEAD or the branch it names (a loose ref, or
    // packed-refs after `git gc`; in a worktree both live in the common dir):
    // look again then. Only paths that exist, or cargo would rerun every time.
    let mut watched = Vec::new();
    if let Some(head) = git(&["rev-parse", "--path-format=absolute", "--git-path", "HEAD"]) {
        watched.push(head);
    }
    if let Some(common) = git(&["rev-parse", "--path-format=absolute", "--git-common-dir"]) {
        watched.push(format!("{common}/packed-refs"));
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(format!("{common}/{branch}"));
        }
    }
    for path in watched {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let commit = match std::env::var("AUTHBRIDGE_GIT_COMMIT") {
        Ok(given) if !given.is_empty() => {
            // It goes into a cargo directive and a version line: one line of
            // plain characters.
            let plain = |c: char| c.is_ascii_alphanumeric() || " ,.+-_~".contains(c);
            assert!(
                given.chars().all(plain),
                "AUTHBRIDGE_GIT_COMMIT may hold letters, digits and \" ,.+-_~\" only: {given:?}"
            );
            given
        }
        _ => git(&["rev-parse", "--short=12", "HEAD"])
            .map(|id| {
                let status = ["status", "--porcelain", "--untracked-files=no"];
                match git(&status) {
                    Some(_) => format!("{id}, modified"),
                    None => id,
                }
            })
            .unwrap_or_else(|| "unknown commit".to_owned()),
    };
    println!("cargo:rustc-env=AUTHBRIDGE_GIT_COMMIT={commit}");
}
