//! occ's user and group commands through the real binary, on a store in a
//! temporary data directory; every output is an insta snapshot.

use std::path::Path;
use std::process::{Command, Stdio};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        Env {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn data(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// authbridge on this env's config and data directory, with no terminal and
    /// none of the password variables set.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_authbridge"));
        cmd.arg("--config")
            .arg(self.dir.path().join("config.toml"))
            .arg("--data-dir")
            .arg(self.data())
            .args(args)
            .stdin(Stdio::null())
            .env_remove("OC_PASS")
            .env_remove("NC_PASS")
            .env_remove("AUTHBRIDGE_PASSWORD");
        cmd
    }

    /// Runs authbridge; returns "exit N" and what it printed, for a snapshot.
    fn run(&self, args: &[&str], oc_pass: Option<&str>) -> String {
        let mut cmd = self.cmd(args);
        if let Some(p) = oc_pass {
            cmd.env("OC_PASS", p);
        }
        let out = cmd.output().unwrap();
        // The temporary directory differs per run; snapshots show it as [DIR].
        format!(
            "exit {}\n--- stdout\n{}--- stderr\n{}",
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .replace(self.dir.path().to_str().unwrap(), "[DIR]")
        // occ's cloud_id names this machine: shown as [HOST].
        .replace(&format!("@{}\n", host()), "@[HOST]\n")
        .replace(&format!("@{}\"", host()), "@[HOST]\"")
    }

    fn add(&self, uid: &str, extra: &[&str]) -> String {
        let mut args = vec!["user", "add", "--password-from-env"];
        args.extend_from_slice(extra);
        args.push(uid);
        self.run(&args, Some("quartz-lantern-88"))
    }
}

fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .unwrap()
        .trim()
        .to_owned()
}

/// `authbridge check` with the env's config (an empty one unless a test wrote one).
fn check(env: &Env, user: &str, password: &str) -> i32 {
    let config = env.dir.path().join("config.toml");
    if !config.exists() {
        std::fs::write(&config, "").unwrap();
    }
    env.cmd(&["check", "--password-from-env", user])
        .env("AUTHBRIDGE_PASSWORD", password)
        .output()
        .unwrap()
        .status
        .code()
        .unwrap()
}

#[test]
fn user_add_list_info_and_groups() {
    let env = Env::new();
    insta::assert_snapshot!(
        "add",
        env.add(
            "layla",
            &[
                "--display-name",
                "Layla Smith",
                "-g",
                "users",
                "-g",
                "db-admins",
                "--email",
                "layla@example.tld"
            ]
        )
    );
    env.add("fred", &["--display-name", "Fred Jones"]);
    insta::assert_snapshot!("list", env.run(&["user", "list"], None));
    insta::assert_snapshot!(
        "list_limit_offset",
        env.run(&["user", "list", "--limit", "1", "--offset", "1"], None)
    );
    insta::assert_snapshot!(
        "list_json",
        env.run(&["user", "list", "--output", "json"], None)
    );
    insta::assert_snapshot!("info", env.run(&["user", "info", "layla"], None));
    insta::assert_snapshot!(
        "info_json_pretty",
        env.run(&["user", "info", "layla", "--output", "json_pretty"], None)
    );
    // occ's spelling works too.
    assert_eq!(
        env.run(&["user:info", "layla"], None),
        env.run(&["user", "info", "layla"], None)
    );
    insta::assert_snapshot!("group_list", env.run(&["group", "list"], None));
    insta::assert_snapshot!("group_info", env.run(&["group", "info", "users"], None));
    insta::assert_snapshot!("report", env.run(&["user", "report"], None));
    insta::assert_snapshot!(
        "lastseen_all",
        env.run(&["user", "lastseen", "--all"], None)
    );
}

#[test]
fn bad_input_is_refused_with_a_message() {
    let env = Env::new();
    insta::assert_snapshot!("bad_uid", env.add("bad/uid", &[]));
    insta::assert_snapshot!("long_uid", env.add(&"x".repeat(65), &[]));
    insta::assert_snapshot!("outer_space", env.add(" lead", &[]));
    insta::assert_snapshot!(
        "weak_password",
        env.run(
            &["user", "add", "--password-from-env", "weak"],
            Some("password")
        )
    );
    insta::assert_snapshot!(
        "no_oc_pass",
        env.run(&["user", "add", "--password-from-env", "nopass"], None)
    );
    insta::assert_snapshot!("no_terminal", env.run(&["user", "add", "noterm"], None));
    env.add("layla", &[]);
    insta::assert_snapshot!("duplicate", env.add("LAYLA", &[]));
    insta::assert_snapshot!("unknown_user", env.run(&["user", "info", "nobody"], None));
    insta::assert_snapshot!(
        "unknown_group",
        env.run(&["group", "adduser", "nosuch", "layla"], None)
    );
    insta::assert_snapshot!("admin_group", env.run(&["group", "delete", "admin"], None));
    // Nothing half-done: the refused users do not exist.
    insta::assert_snapshot!("after_refusals", env.run(&["user", "list"], None));
}

#[test]
fn local_passwords_disable_and_delete_take_effect_at_once() {
    let env = Env::new();
    env.add("layla", &["-g", "team"]);
    assert_eq!(check(&env, "layla", "quartz-lantern-88"), 0);
    assert_eq!(check(&env, "layla", "quartz-lantern-89"), 1);
    env.run(&["user", "disable", "layla"], None);
    assert_eq!(
        check(&env, "layla", "quartz-lantern-88"),
        1,
        "disabled: refused at once"
    );
    env.run(&["user", "enable", "layla"], None);
    assert_eq!(check(&env, "layla", "quartz-lantern-88"), 0);
    insta::assert_snapshot!(
        "resetpassword",
        env.run(
            &["user", "resetpassword", "--password-from-env", "layla"],
            Some("violet-harbour-21")
        )
    );
    assert_eq!(
        check(&env, "layla", "quartz-lantern-88"),
        1,
        "old password gone"
    );
    assert_eq!(check(&env, "layla", "violet-harbour-21"), 0);
    insta::assert_snapshot!("delete", env.run(&["user", "delete", "layla"], None));
    assert_eq!(check(&env, "layla", "violet-harbour-21"), 1);
    insta::assert_snapshot!(
        "group_after_delete",
        env.run(&["group", "list", "team"], None)
    );
}

#[test]
fn two_processes_adding_users_at_once_both_land() {
    let env = Env::new();
    env.run(&["group", "list"], None); // creates the store
    let add_many = |prefix: &str| {
        for i in 0..15 {
            let uid = format!("{prefix}{i}");
            let status = env
                .cmd(&["user", "add", "--password-from-env", "-g", "shared", &uid])
                .env("OC_PASS", "quartz-lantern-88")
                .stdout(Stdio::null())
                .status()
                .unwrap();
            assert!(status.success());
        }
    };
    std::thread::scope(|s| {
        s.spawn(|| add_many("a"));
        s.spawn(|| add_many("b"));
    });
    let out = env
        .cmd(&["group", "list", "shared", "--output", "json"])
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["shared"].as_array().unwrap().len(), 30, "{json}");
}

#[test]
fn data_dir_holds_the_store() {
    let env = Env::new();
    env.add("layla", &[]);
    assert!(env.data().join("authbridge.sqlite").exists());
    assert!(Path::new(&env.data()).is_dir());
}

fn token_from(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("app password: "))
        .expect("an app password line")
        .to_owned()
}

#[test]
fn app_password_lifecycle_through_the_cli() {
    let env = Env::new();
    env.add("layla", &[]);
    let out = env.run(
        &["user", "auth-tokens", "add", "--name", "laptop", "layla"],
        None,
    );
    assert!(out.starts_with("exit 0"), "{out}");
    let token = token_from(&out);
    assert_eq!(token.len(), 29, "{token}");
    assert_eq!(check(&env, "layla", &token), 0);

    let listed = env.run(&["user", "auth-tokens", "list", "layla"], None);
    insta::assert_snapshot!("token_list", mask_times(&listed));
    assert!(listed.contains("| id | name   | lastActivity"), "{listed}");
    assert!(
        listed.contains("| 1  | laptop |") && listed.contains("| permanent | filesystem |"),
        "{listed}"
    );
    assert!(!listed.contains(&token), "the secret is never shown again");
    let json = env.run(
        &["user", "auth-tokens", "list", "layla", "--output", "json"],
        None,
    );
    assert!(
        json.contains("\"name\":\"laptop\"") && json.contains("\"type\":\"permanent\""),
        "{json}"
    );

    env.run(&["user", "disable", "layla"], None);
    assert_eq!(
        check(&env, "layla", &token),
        1,
        "disabled: the app password fails at once"
    );
    env.run(&["user", "enable", "layla"], None);
    assert_eq!(check(&env, "layla", &token), 0);

    insta::assert_snapshot!(
        "token_delete_unknown",
        env.run(&["user", "auth-tokens", "delete", "layla", "99"], None)
    );
    assert!(
        env.run(&["user", "auth-tokens", "delete", "layla", "1"], None)
            .starts_with("exit 0")
    );
    assert_eq!(check(&env, "layla", &token), 1, "deleted: refused at once");

    // With --password-from-env the login password (NC_PASS) must be right.
    let with_nc_pass = |password: &str| {
        env.cmd(&["user", "auth-tokens", "add", "--password-from-env", "layla"])
            .env("NC_PASS", password)
            .output()
            .unwrap()
    };
    let refused = with_nc_pass("not-her-password");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("is not layla's"));
    let proven = with_nc_pass("quartz-lantern-88");
    assert_eq!(proven.status.code(), Some(0));
    let proven = token_from(&String::from_utf8_lossy(&proven.stdout));
    assert_eq!(check(&env, "layla", &proven), 0);

    let old = token_from(&env.run(
        &["user", "add-app-password", "--name", "old", "layla"],
        None,
    ));
    assert_eq!(check(&env, "layla", &old), 0);
    insta::assert_snapshot!(
        "token_delete_before",
        env.run(
            &[
                "user",
                "auth-tokens",
                "delete",
                "layla",
                "--last-used-before",
                "2999-01-01"
            ],
            None
        )
    );
    assert_eq!(check(&env, "layla", &old), 1);
    assert_eq!(check(&env, "layla", &proven), 1);
    insta::assert_snapshot!(
        "token_bad_date",
        env.run(
            &[
                "user",
                "auth-tokens",
                "delete",
                "layla",
                "--last-used-before",
                "yesterday"
            ],
            None
        )
    );
}

#[test]
fn settings_and_profile() {
    let env = Env::new();
    env.add(
        "layla",
        &[
            "--display-name",
            "Layla Smith",
            "--email",
            "layla@example.tld",
        ],
    );
    env.run(&["user", "setting", "layla", "core", "lang", "en"], None);
    env.run(
        &[
            "user",
            "setting",
            "layla",
            "theming",
            "background",
            "kaleidoscope",
        ],
        None,
    );
    // Kept on the account: a login moves it, nobody sets it.
    insta::assert_snapshot!(
        "setting_last_login",
        env.run(
            &[
                "user",
                "setting",
                "layla",
                "login",
                "lastLogin",
                "1465910968"
            ],
            None
        )
    );
    insta::assert_snapshot!("setting_all", env.run(&["user", "setting", "layla"], None));
    insta::assert_snapshot!(
        "setting_app",
        env.run(&["user", "setting", "layla", "core"], None)
    );
    insta::assert_snapshot!(
        "setting_one",
        env.run(&["user", "setting", "layla", "core", "lang"], None)
    );
    env.run(
        &["user", "setting", "layla", "core", "lang", "--delete"],
        None,
    );
    insta::assert_snapshot!(
        "setting_gone",
        env.run(&["user", "setting", "layla", "core", "lang"], None)
    );

    env.run(&["user", "profile", "layla", "address", "Berlin"], None);
    env.run(&["user", "profile", "layla", "pronouns", "they/them"], None);
    insta::assert_snapshot!("profile_all", env.run(&["user", "profile", "layla"], None));
    env.run(&["user", "profile", "layla", "address", "Stuttgart"], None);
    insta::assert_snapshot!(
        "profile_one",
        env.run(&["user", "profile", "layla", "address"], None)
    );
    env.run(&["user", "profile", "layla", "address", "--delete"], None);
    env.run(
        &["user", "profile", "layla", "displayname", "Layla S."],
        None,
    );
    insta::assert_snapshot!(
        "profile_after",
        env.run(&["user", "profile", "layla", "--output", "json"], None)
    );
    insta::assert_snapshot!(
        "profile_unknown_user",
        env.run(&["user", "profile", "nobody"], None)
    );
}

#[test]
fn a_password_reset_revokes_app_passwords_only_when_configured() {
    let env = Env::new();
    env.add("layla", &[]);
    let token = token_from(&env.run(&["user", "auth-tokens", "add", "layla"], None));
    env.run(
        &["user", "resetpassword", "--password-from-env", "layla"],
        Some("violet-harbour-21"),
    );
    assert_eq!(
        check(&env, "layla", &token),
        0,
        "off by default: the app password survives"
    );

    std::fs::write(
        env.dir.path().join("config.toml"),
        "revoke_app_passwords_on_reset = true\n",
    )
    .unwrap();
    let out = env.run(
        &["user", "resetpassword", "--password-from-env", "layla"],
        Some("amber-orchard-35"),
    );
    assert!(out.contains("Revoked 1 app password(s) of layla"), "{out}");
    assert_eq!(check(&env, "layla", &token), 1);
}

#[test]
fn group_and_state_commands_print_what_occ_prints() {
    let env = Env::new();
    env.add("layla", &[]);
    insta::assert_snapshot!("group_add", env.run(&["group", "add", "milliways"], None));
    insta::assert_snapshot!(
        "group_add_again",
        env.run(&["group", "add", "milliways"], None)
    );
    insta::assert_snapshot!(
        "group_adduser",
        env.run(&["group", "adduser", "milliways", "layla"], None)
    );
    insta::assert_snapshot!(
        "group_list_info",
        env.run(&["group", "list", "milli", "--info"], None)
    );
    insta::assert_snapshot!(
        "group_removeuser",
        env.run(&["group", "removeuser", "milliways", "layla"], None)
    );
    insta::assert_snapshot!(
        "group_removeuser_again",
        env.run(&["group", "removeuser", "milliways", "layla"], None)
    );
    insta::assert_snapshot!(
        "group_delete",
        env.run(&["group", "delete", "milliways"], None)
    );
    insta::assert_snapshot!("user_disable", env.run(&["user", "disable", "layla"], None));
    insta::assert_snapshot!(
        "list_disabled",
        env.run(&["user", "list", "--disabled"], None)
    );
    insta::assert_snapshot!("user_enable", env.run(&["user", "enable", "layla"], None));
    insta::assert_snapshot!(
        "lastseen_never",
        env.run(&["user", "lastseen", "layla"], None)
    );
}

#[test]
fn generated_passwords_are_never_printed_and_a_welcome_mail_is_pending() {
    let env = Env::new();
    insta::assert_snapshot!(
        "generate_password",
        env.run(
            &[
                "user",
                "add",
                "--generate-password",
                "--email",
                "layla@example.tld",
                "layla"
            ],
            None
        )
    );
}

#[test]
fn clearing_a_password_needs_confirmation() {
    let env = Env::new();
    env.add("layla", &[]);
    let clear = |answer: &str| {
        let mut child = env
            .cmd(&["user", "resetpassword", "--no-password", "layla"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(answer.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    assert_eq!(clear("n\n").0, 1);
    assert_eq!(
        check(&env, "layla", "quartz-lantern-88"),
        0,
        "declined: password kept"
    );
    let (code, out) = clear("y\n");
    assert_eq!(
        (code, out.as_str()),
        (0, "Successfully reset password for layla\n")
    );
    assert_eq!(
        check(&env, "layla", "quartz-lantern-88"),
        1,
        "no password: no local login"
    );
}

#[test]
fn the_policy_comes_from_the_config() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("config.toml"),
        "[password_policy]\nmin_length = 12\nrequire_mixed_case = true\nrequire_digit = true\nrequire_special = true\n",
    )
    .unwrap();
    insta::assert_snapshot!("policy_from_config", env.add("layla", &[]));
    let strong = env.run(
        &["user", "add", "--password-from-env", "layla"],
        Some("Quartz-Lantern-88"),
    );
    assert!(strong.starts_with("exit 0"), "{strong}");
    std::fs::write(
        env.dir.path().join("config.toml"),
        "[password_policy]\nmin_lenght = 12\n",
    )
    .unwrap();
    insta::assert_snapshot!("policy_typo", env.add("other", &[]));
}

/// lastActivity is "now"; snapshots show it as [TIME].
fn mask_times(text: &str) -> String {
    text.lines()
        .map(|line| {
            line.split('|')
                .map(|cell| {
                    let t = cell.trim();
                    if t.len() == 25 && t.ends_with("+00:00") && t.as_bytes()[10] == b'T' {
                        cell.replace(t, &format!("{:<25}", "[TIME]"))
                    } else {
                        cell.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn sync_account_data_records_what_the_backends_tell_without_a_password() {
    let env = Env::new();
    std::fs::write(
        env.dir.path().join("config.toml"),
        "[[backend]]\ntype = \"imap\"\nhost = \"127.0.0.1\"\nport = 1\nsslmode = \"none\"\nallow_plaintext = true\ndomain = \"example.org\"\ngroup_domain = true\n",
    )
    .unwrap();
    for (uid, backend) in [
        ("alice", "imap"),
        ("bob", "ftp"),
        ("dave@other.org", "imap"),
    ] {
        let out = env.run(&["user", "add", "--backend", backend, uid], None);
        assert!(out.starts_with("exit 0"), "{out}");
    }
    env.add("carol", &[]);
    let out = env.run(&["user:sync-account-data"], None);
    // alice joins the domain's group. bob stays the FTP server's: the mail
    // server's bob is another person (found by review: he was handed over).
    // dave's domain is not served; carol is local and left alone.
    assert!(out.starts_with("exit 0"), "{out}");
    assert!(out.contains("alice - updated\n"), "{out}");
    assert!(
        out.contains("bob - no configured FTP backend serves it"),
        "{out}"
    );
    assert!(
        out.contains("dave@other.org - no configured IMAP backend serves it"),
        "{out}"
    );
    assert!(!out.contains("carol"), "{out}");
    let info = env.run(&["user", "info", "bob", "--output", "json"], None);
    assert!(info.contains("\"backend\":\"FTP\""), "{info}");
    assert!(info.contains("\"groups\":[]"), "{info}");
    let info = env.run(&["user", "info", "alice", "--output", "json"], None);
    assert!(info.contains("\"groups\":[\"example.org\"]"), "{info}");
    // Nothing left to do.
    let again = env.run(&["user", "sync-account-data", "--limit", "10"], None);
    assert!(!again.contains("updated"), "{again}");
}
