//! The system's own accounts are not the daemon's to answer for: a name the
//! host's passwd file knows, or `root`, is refused here before anything is sent
//! (the daemon refuses it too; this holds even against an old daemon or store).
//! The file is read directly: asking NSS would include authbridge's own module.

const PASSWD: &str = "/etc/passwd";

/// Is `user` root or a name in /etc/passwd (compared as authbridge compares
/// ids, ignoring ASCII case)? An unreadable file counts as knowing only root.
pub fn is_system_user(user: &str) -> bool {
    user.eq_ignore_ascii_case("root") || in_passwd(PASSWD, user)
}

/// A larger passwd file is read this far (far beyond any real one).
const PASSWD_LIMIT: u64 = 64 * 1024 * 1024;

fn in_passwd(path: &str, user: &str) -> bool {
    use std::io::Read;
    let Ok(file) = std::fs::File::open(path) else {
        return false;
    };
    // Read until EOF without asking the file's size first (std::fs::read
    // would): this runs on every login, where each system call counts.
    let mut text = Vec::with_capacity(16 * 1024);
    if file.take(PASSWD_LIMIT).read_to_end(&mut text).is_err() {
        return false;
    }
    text.split(|&b| b == b'\n')
        .filter_map(|line| line.split(|&b| b == b':').next())
        .any(|name| {
            !name.starts_with(b"+")
                && !name.starts_with(b"-")
                && !name.starts_with(b"#")
                && name.eq_ignore_ascii_case(user.as_bytes())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_and_passwd_names_are_system_users_in_any_case() {
        let dir = std::env::temp_dir().join(format!("pam-ab-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("passwd");
        std::fs::write(&path, "#x\n+nis\ndaemon:x:1:1::/:/bin/sh\n").unwrap();
        let path = path.to_str().unwrap();
        assert!(in_passwd(path, "Daemon"));
        assert!(!in_passwd(path, "nis"));
        assert!(!in_passwd(path, "alice"));
        assert!(is_system_user("ROOT"));
        assert!(!in_passwd("/nonexistent/passwd", "daemon"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
