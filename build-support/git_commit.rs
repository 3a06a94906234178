// Included by the build scripts of both command lines (`include!`), so that
// `--version` names the commit a binary was built from.
//
// AUTHBRIDGE_GIT_COMMIT set by a packager wins; else `git` asked about the
// source tree; else "unknown commit" (a tarball without .git).

fn git_commit() {
    println!("cargo:rerun-if-env-changed=AUTHBRIDGE_GIT_COMMIT");
    let manifest = std::path::PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").unwrap());
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(&manifest)
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    // A new commit moves HEAD or the branch it names: look again then.
    if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        println!("cargo:rerun-if-changed={dir}/HEAD");
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            println!("cargo:rerun-if-changed={dir}/{branch}");
        }
    }
    let commit = std::env::var("AUTHBRIDGE_GIT_COMMIT")
        .ok()
        .filter(|c| !c.is_empty())
        .or_else(|| {
            let id = git(&["rev-parse", "--short=12", "HEAD"])?;
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"]).is_some();
            Some(if dirty { format!("{id}, modified") } else { id })
        })
        .unwrap_or_else(|| "unknown commit".to_owned());
    println!("cargo:rustc-env=AUTHBRIDGE_GIT_COMMIT={commit}");
}
