//! libnss_authbridge.so.2 through the real glibc (nss_wrapper loads the module
//! without touching /etc/nsswitch.conf), against a real `authbridge serve`.

use authbridge_testsupport::{Daemon, server_dir};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");
const NSS_WRAPPER: &str = "/usr/lib/x86_64-linux-gnu/libnss_wrapper.so";

struct Nss {
    dir: tempfile::TempDir,
    module: PathBuf,
    socket: PathBuf,
}

impl Nss {
    /// nss_wrapper's files hold only root; everything else comes from the module.
    fn new(socket: &Path) -> Nss {
        let dir = server_dir("abnss");
        std::fs::write(
            dir.path().join("passwd"),
            "root:x:0:0:root:/root:/bin/bash\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("group"), "root:x:0:\n").unwrap();
        // glibc loads libnss_NAME.so.2; cargo builds libnss_authbridge.so.
        let module = dir.path().join("libnss_authbridge.so.2");
        std::fs::copy(
            authbridge_testsupport::module(BIN, "libnss_authbridge.so"),
            &module,
        )
        .unwrap();
        let lookup = dir.path().join("lookup");
        let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/nss/lookup.c");
        let built = Command::new("gcc")
            .arg("-o")
            .arg(&lookup)
            .arg(&source)
            .status()
            .unwrap();
        assert!(built.success(), "gcc {}", source.display());
        Nss {
            dir,
            module,
            socket: socket.to_owned(),
        }
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("LD_PRELOAD", NSS_WRAPPER)
            .env("NSS_WRAPPER_PASSWD", self.dir.path().join("passwd"))
            .env("NSS_WRAPPER_GROUP", self.dir.path().join("group"))
            .env("NSS_WRAPPER_MODULE_SO_PATH", &self.module)
            .env("NSS_WRAPPER_MODULE_FN_PREFIX", "authbridge")
            .env("AUTHBRIDGE_SOCKET", &self.socket);
        c
    }

    /// (exit code, stdout)
    fn run(&self, program: &str, args: &[&str]) -> (i32, String) {
        let out = self.command(program).args(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn lookup(&self, args: &[&str]) -> String {
        let program = self.dir.path().join("lookup");
        self.run(program.to_str().unwrap(), args).1
    }
}

fn daemon() -> Daemon {
    let d = Daemon::start(
        BIN,
        "[nss]\nid_min = 500000\nid_max = 500999\nhome = \"/srv/home/%u\"\nshell = \"/bin/zsh\"\n",
    );
    d.cli(
        &[
            "user",
            "add",
            "--password-from-env",
            "-g",
            "physics",
            "alice",
        ],
        Some("Alice-pass-123"),
    );
    d.cli(
        &[
            "user",
            "add",
            "--password-from-env",
            "--display-name",
            "Bob Builder",
            "-g",
            "physics",
            "-g",
            "ops",
            "bob",
        ],
        Some("Bob-pass-12345"),
    );
    d
}

fn id_of(line: &str) -> u32 {
    line.split(':').nth(2).unwrap().parse().unwrap()
}

#[test]
fn getent_and_id_show_store_users_and_groups() {
    let d = daemon();
    let nss = Nss::new(&d.socket);
    let (code, alice) = nss.run("getent", &["passwd", "alice"]);
    assert_eq!(code, 0, "{alice}");
    let alice = alice.trim().to_owned();
    let uid = id_of(&alice);
    assert!((500_000..=500_999).contains(&uid), "{alice}");
    assert_eq!(
        alice,
        format!("alice:*:{uid}:{uid}::/srv/home/alice:/bin/zsh")
    );
    let (_, by_uid) = nss.run("getent", &["passwd", &uid.to_string()]);
    assert_eq!(by_uid.trim(), alice);
    let (_, bob) = nss.run("getent", &["passwd", "bob"]);
    assert!(bob.contains(":Bob Builder:/srv/home/bob:"), "{bob}");

    let (_, physics) = nss.run("getent", &["group", "physics"]);
    assert!(physics.trim().ends_with(":alice,bob"), "{physics}");
    let staff_gid = id_of(physics.trim());
    let (_, by_gid) = nss.run("getent", &["group", &staff_gid.to_string()]);
    assert_eq!(by_gid, physics);
    // Each user has a private group of the same number.
    let (_, private) = nss.run("getent", &["group", &uid.to_string()]);
    assert_eq!(private.trim(), format!("alice:*:{uid}:"));

    let (code, id) = nss.run("id", &["bob"]);
    assert_eq!(code, 0);
    assert!(
        id.contains("(bob) gid=") && id.contains("(physics)") && id.contains("(ops)"),
        "{id}"
    );
    let (_, missing) = nss.run("getent", &["passwd", "nobody-here"]);
    assert_eq!(missing, "");
    assert_eq!(
        nss.run("getent", &["passwd", "nobody-here"]).0,
        2,
        "not found"
    );
}

#[test]
fn enumeration_lists_everyone_once() {
    let d = daemon();
    let nss = Nss::new(&d.socket);
    let (_, all) = nss.run("getent", &["passwd"]);
    let names: Vec<&str> = all.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(names, ["root", "alice", "bob"], "{all}");
    let (_, groups) = nss.run("getent", &["group"]);
    let names: Vec<&str> = groups
        .lines()
        .map(|l| l.split(':').next().unwrap())
        .collect();
    // physics and ops were created with the users; admin, the role, is never exported.
    for expected in ["root", "physics", "ops", "alice", "bob"] {
        assert_eq!(
            names.iter().filter(|n| **n == expected).count(),
            1,
            "{expected} in {groups}"
        );
    }
    assert!(!names.contains(&"admin"), "{groups}");
}

#[test]
fn small_buffers_get_erange_and_big_entries_still_resolve() {
    let d = daemon();
    let long_name = "X".repeat(3000);
    d.cli(
        &[
            "user",
            "add",
            "--password-from-env",
            "--display-name",
            &long_name,
            "carol",
        ],
        Some("Carol-pass-123"),
    );
    for i in 0..100 {
        let member = format!("member{i:03}");
        d.cli(
            &["user", "add", "--password-from-env", "-g", "big", &member],
            Some("Member-pass-123"),
        );
    }
    let nss = Nss::new(&d.socket);
    // The caller's buffer is too small: ERANGE, so that the caller can retry.
    assert_eq!(nss.lookup(&["pw", "alice", "16"]).trim(), "rc=ERANGE");
    let fits = nss.lookup(&["pw", "alice", "4096"]);
    assert!(fits.starts_with("rc=0\nalice:"), "{fits}");
    assert_eq!(nss.lookup(&["gr", "big", "64"]).trim(), "rc=ERANGE");
    let big = nss.lookup(&["gr", "big", "65536"]);
    assert!(big.trim().ends_with(":100"), "{big}");
    // A caller that grows its buffer on ERANGE (Python's pwd and grp start at
    // 1024 bytes and double) gets the whole entry. (getent's getpwnam goes through
    // nss_wrapper's own fixed buffer, so it is not the probe here.)
    let (code, sizes) = nss.run(
        "/usr/bin/python3",
        &["-c", "import pwd,grp; print(len(pwd.getpwnam('carol').pw_gecos), len(grp.getgrnam('big').gr_mem))"],
    );
    assert_eq!((code, sizes.trim()), (0, "3000 100"));
}

#[test]
fn initgroups_grows_the_callers_array() {
    let d = daemon();
    for g in ["g1", "g2", "g3", "g4", "g5"] {
        d.cli(&["group", "add", g], None);
        d.cli(&["group", "adduser", g, "bob"], None);
    }
    let nss = Nss::new(&d.socket);
    let out = nss.lookup(&["grouplist", "bob"]);
    // The private group, staff, ops and g1..g5.
    assert!(out.starts_with("n=8\n"), "{out}");
}

#[test]
fn a_daemon_that_is_down_is_unavail_at_once_and_the_daemon_never_asks_itself() {
    let mut d = daemon();
    let nss = Nss::new(&d.socket);
    // The daemon's own lookups carry the loop guard: the module does not call back.
    let guarded = nss
        .command("getent")
        .args(["passwd", "alice"])
        .env(
            std::ffi::OsStr::from_bytes(authbridge_proto::LOOP_GUARD.to_bytes()),
            "YES",
        )
        .output()
        .unwrap();
    assert_eq!(guarded.status.code(), Some(2));
    assert_eq!(nss.run("getent", &["passwd", "alice"]).0, 0);

    d.stop();
    let started = Instant::now();
    let (code, out) = nss.run("getent", &["passwd", "alice"]);
    let took = started.elapsed();
    assert_eq!((code, out.as_str()), (2, ""));
    // A generous bound that still catches a hang; the figure itself is measured
    // by the benchmark.
    assert!(took < Duration::from_secs(2), "took {took:?}");
    // Root's entry from the files source is still there.
    assert_eq!(nss.run("getent", &["passwd", "root"]).0, 0);
}

#[test]
fn groups_the_system_knows_and_the_admin_role_are_never_exported() {
    let d = daemon();
    // sudo and users are in /etc/group; wheel only on the deny list.
    for gid in ["sudo", "users", "wheel"] {
        d.cli(&["group", "add", gid], None);
        d.cli(&["group", "adduser", gid, "alice"], None);
    }
    d.cli(&["group", "adduser", "admin", "alice"], None);
    let nss = Nss::new(&d.socket);
    for gid in ["sudo", "users", "wheel", "admin"] {
        let (code, out) = nss.run("getent", &["group", gid]);
        assert_eq!(code, 2, "{gid} exported: {out}");
    }
    let (_, all) = nss.run("getent", &["group"]);
    for gid in ["sudo", "users", "wheel", "admin"] {
        assert!(
            !all.lines().any(|l| l.starts_with(&format!("{gid}:"))),
            "{gid} in {all}"
        );
    }
    let (code, id) = nss.run("id", &["alice"]);
    assert_eq!(code, 0, "{id}");
    assert!(id.contains("(physics)"), "{id}");
    for gid in ["sudo", "users", "wheel", "admin"] {
        assert!(!id.contains(&format!("({gid})")), "{gid} in {id}");
    }
}

#[test]
fn names_and_ids_the_system_owns_are_never_answered() {
    // The system's files (given in the config, as a chroot would) own the numbers
    // the first two store users draw: 200001 (a uid) and 200002 (a gid).
    let files = server_dir("absys");
    let passwd = files.path().join("passwd");
    let group = files.path().join("group");
    std::fs::write(
        &passwd,
        "root:x:0:0::/root:/bin/sh\ndaemon:x:1:1::/:/bin/sh\nlocal:x:200001:200001::/:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(&group, "root:x:0:\nlocalgrp:x:200002:\n").unwrap();
    let d = Daemon::start(
        BIN,
        &format!("[names]\npasswd_file = {passwd:?}\ngroup_file = {group:?}\n",),
    );
    for uid in ["clash1", "clash2", "fine"] {
        d.cli(
            &["user", "add", "--password-from-env", uid],
            Some("Some-pass-12345"),
        );
    }
    let nss = Nss::new(&d.socket);
    for key in ["200001", "clash1", "200002", "clash2"] {
        assert_eq!(nss.run("getent", &["passwd", key]).0, 2, "{key}");
        assert_eq!(nss.run("getent", &["group", key]).0, 2, "{key}");
    }
    let (code, fine) = nss.run("getent", &["passwd", "fine"]);
    assert_eq!(code, 0, "{fine}");
    assert_eq!(id_of(fine.trim()), 200003);
    // A store row under a system user's name (an old database) is not shown.
    let db = rusqlite::Connection::open(d.dir.path().join("data/authbridge.sqlite")).unwrap();
    db.execute(
        "INSERT INTO users (uid, backend, created) VALUES ('daemon', 'Database', 0)",
        [],
    )
    .unwrap();
    assert_eq!(nss.run("getent", &["passwd", "daemon"]).0, 2);
    let (_, all) = nss.run("getent", &["passwd"]);
    let names: Vec<&str> = all.lines().map(|l| l.split(':').next().unwrap()).collect();
    assert_eq!(names, ["root", "fine"], "{all}");
}

// --- The memory-mapped cache --------------------------------------------------

fn cache_file(d: &Daemon) -> PathBuf {
    authbridge_nsscache::cache_path(&d.socket)
}

/// Waits until the daemon has published a live cache file (it does at start-up
/// and within a second of a change).
fn wait_for_cache(d: &Daemon) -> authbridge_nsscache::Mapping {
    let open = || {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        authbridge_nsscache::Mapping::open(&cache_file(d), Some(0), now)
    };
    authbridge_testsupport::eventually_some(Duration::from_secs(10), || open().ok())
        .unwrap_or_else(|| panic!("no live NSS cache: {}", open().err().unwrap()))
}

/// SIGSTOP/SIGCONT: a daemon that cannot answer but whose file stays.
/// The daemon stopped (SIGSTOP) until this is dropped, also when an assertion
/// fails meanwhile (a stopped daemon would never take the harness's SIGTERM).
struct Frozen(i32);

impl Drop for Frozen {
    fn drop(&mut self) {
        // SAFETY: a signal to our own child.
        unsafe { libc::kill(self.0, libc::SIGCONT) };
    }
}

/// Stops the daemon and returns once every one of its threads has stopped:
/// kill(2) only queues the signal, and a thread still running could answer.
fn freeze(d: &Daemon) -> Frozen {
    let pid = d.pid() as i32;
    // SAFETY: a signal to our own child.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGSTOP) }, 0);
    let frozen = Frozen(pid);
    let all_stopped = || {
        std::fs::read_dir(format!("/proc/{pid}/task"))
            .unwrap()
            .all(|task| {
                let stat =
                    std::fs::read_to_string(task.unwrap().path().join("stat")).unwrap_or_default();
                // The state follows the parenthesised command name.
                let state = stat.rsplit_once(") ").map(|(_, rest)| rest.as_bytes()[0]);
                matches!(state, Some(b'T' | b't'))
            })
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while !all_stopped() {
        assert!(Instant::now() < deadline, "the daemon did not stop");
        std::thread::sleep(Duration::from_millis(5));
    }
    frozen
}

#[test]
fn lookups_are_answered_from_the_cache_file_while_the_daemon_cannot_answer() {
    let d = daemon();
    let nss = Nss::new(&d.socket);
    let before = nss.run("getent", &["passwd", "alice"]).1;
    let published = wait_for_cache(&d);
    assert!(published.view().passwd_by_name("alice").is_some());
    let meta = std::fs::metadata(cache_file(&d)).unwrap();
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    assert_eq!(meta.permissions().mode() & 0o777, 0o644, "read by all");
    assert_eq!(
        meta.uid(),
        d.socket.metadata().unwrap().uid(),
        "the daemon's"
    );

    // Frozen, the daemon answers nothing: every answer below comes from the file.
    let frozen = freeze(&d);
    let (code, alice) = nss.run("getent", &["passwd", "alice"]);
    assert_eq!((code, alice.as_str()), (0, before.as_str()));
    let uid = id_of(&alice);
    assert_eq!(nss.run("getent", &["passwd", &uid.to_string()]).1, alice);
    let physics = nss.run("getent", &["group", "physics"]).1;
    assert!(physics.trim().ends_with(":alice,bob"), "{physics}");
    let gid = id_of(physics.trim()).to_string();
    assert_eq!(nss.run("getent", &["group", &gid]).1, physics);
    let id = nss.run("id", &["bob"]).1;
    assert!(id.contains("(physics)") && id.contains("(ops)"), "{id}");
    let all = nss.run("getent", &["passwd"]).1;
    assert!(all.contains("alice:") && all.contains("bob:"), "{all}");
    let groups = nss.run("getent", &["group"]).1;
    assert!(
        groups.contains("physics:") && groups.contains("ops:"),
        "{groups}"
    );

    // A change committed now marks the file stale at once: the module stops
    // answering from it and asks the (frozen) daemon, which cannot answer.
    d.cli(&["user", "delete", "bob"], None);
    assert!(!published.is_live(0), "marked stale by the CLI");
    assert_eq!(
        nss.run("getent", &["passwd", "bob"]).0,
        2,
        "not served stale"
    );
    drop(frozen);
    let republished = wait_for_cache(&d);
    assert!(republished.view().passwd_by_name("bob").is_none());
    assert_eq!(nss.run("getent", &["passwd", "bob"]).0, 2);
    assert_eq!(nss.run("getent", &["passwd", "alice"]).1, before);
}

#[test]
fn every_change_of_users_and_groups_is_seen_by_the_very_next_lookup() {
    let mut d = Daemon::start_http(BIN, "[nss]\nid_min = 500000\nid_max = 500999\n");
    let nss = Nss::new(&d.socket);
    let admin = d.admin_password.clone().unwrap();
    for who in ["carol", "dave", "erin"] {
        d.cli(
            &["user", "add", "--password-from-env", "-g", "physics", who],
            Some("Some-pass-12345"),
        );
    }
    wait_for_cache(&d);
    let id = |who: &str| nss.run("id", &[who]).1;
    let ocs = |method: reqwest::Method, path: &str, form: &[(&str, &str)]| {
        let r = reqwest::blocking::Client::new()
            .request(method, format!("{}/ocs/v2.php/cloud/{path}", d.url()))
            .basic_auth("admin", Some(&admin))
            .header("OCS-APIRequest", "true")
            .form(form)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
    };
    // Each step: warm the cache, change, look up at once.
    assert!(id("carol").contains("(physics)"));
    d.cli(&["group", "removeuser", "physics", "carol"], None);
    assert!(!id("carol").contains("(physics)"), "CLI membership");

    assert!(id("dave").contains("(physics)"));
    ocs(
        reqwest::Method::DELETE,
        "users/dave/groups",
        &[("groupid", "physics")],
    );
    assert!(!id("dave").contains("(physics)"), "OCS membership");

    assert_eq!(nss.run("getent", &["passwd", "erin"]).0, 0);
    ocs(reqwest::Method::DELETE, "users/erin", &[]);
    assert_eq!(nss.run("getent", &["passwd", "erin"]).0, 2, "OCS delete");

    wait_for_cache(&d);
    assert_eq!(nss.run("getent", &["group", "physics"]).0, 0);
    d.cli(&["group", "delete", "physics"], None);
    assert_eq!(
        nss.run("getent", &["group", "physics"]).0,
        2,
        "CLI group delete"
    );

    wait_for_cache(&d);
    assert_eq!(nss.run("getent", &["passwd", "carol"]).0, 0);
    d.cli(&["user", "delete", "carol"], None);
    assert_eq!(nss.run("getent", &["passwd", "carol"]).0, 2, "CLI delete");
    d.stop();
}

/// A file of the cache's format that says `alice` is uid 0.
fn forged(generation: u64) -> Vec<u8> {
    let passwd = [authbridge_proto::Passwd {
        name: "alice".into(),
        uid: 0,
        gid: 0,
        gecos: "forged".into(),
        dir: "/root".into(),
        shell: "/bin/sh".into(),
    }];
    authbridge_nsscache::encode(&authbridge_nsscache::Snapshot {
        generation,
        expires: u64::MAX,
        passwd: &passwd,
        groups: &[],
        initgroups: &[],
    })
    .unwrap()
}

#[test]
fn a_damaged_or_foreign_cache_file_is_never_trusted() {
    use std::os::unix::fs::PermissionsExt;
    let d = daemon();
    let nss = Nss::new(&d.socket);
    let truth = nss.run("getent", &["passwd", "alice"]).1;
    assert_eq!(nss.lookup(&["pw", "alice", "1024"]).lines().count(), 2);
    let published = wait_for_cache(&d);
    let path = cache_file(&d);
    let generation = authbridge_nsscache::header(published.bytes())
        .unwrap()
        .generation;
    drop(published);
    // The daemon is frozen while the file is tampered with, so that only the
    // module's checks stand between the file and the answer.
    let frozen = freeze(&d);
    let swap = |bytes: &[u8], mode: u32, owner: Option<u32>| {
        let temp = path.with_extension("forged");
        std::fs::write(&temp, bytes).unwrap();
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(mode)).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(&temp, Some(uid), Some(uid)).unwrap();
        }
        std::fs::rename(&temp, &path).unwrap();
    };
    let cases: [(&str, Vec<u8>, u32, Option<u32>); 5] = [
        (
            "written by another user",
            forged(generation),
            0o644,
            Some(4321),
        ),
        ("writable by all", forged(generation), 0o666, None),
        ("garbage", vec![0x5a; 4096], 0o644, None),
        ("truncated", forged(generation)[..100].to_vec(), 0o644, None),
        (
            "a damaged record",
            {
                let mut b = forged(generation);
                let n = b.len();
                b[n - 3] ^= 0x01; // in the strings
                b
            },
            0o644,
            None,
        ),
    ];
    for (what, bytes, mode, owner) in cases {
        swap(&bytes, mode, owner);
        // glibc's getent and a C caller: never the forged entry, never a crash
        // (the frozen daemon cannot answer, so: not found).
        let (code, out) = nss.run("getent", &["passwd", "alice"]);
        assert!(!out.contains("forged"), "{what}: {out}");
        assert_eq!(code, 2, "{what}: {out}");
        let c = nss.lookup(&["pw", "alice", "1024"]);
        assert!(c.starts_with("rc=") && !c.contains(":0:0:"), "{what}: {c}");
    }
    // Once the daemon runs again it replaces whatever lies there.
    drop(frozen);
    wait_for_cache(&d);
    assert_eq!(nss.run("getent", &["passwd", "alice"]).1, truth);
}

#[test]
fn with_memcache_timeout_zero_there_is_no_file_and_lookups_ask_the_daemon() {
    let d = Daemon::start(BIN, "[nss]\nmemcache_timeout = \"0s\"\n");
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    let nss = Nss::new(&d.socket);
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!cache_file(&d).exists(), "no cache file published");
    assert_eq!(nss.run("getent", &["passwd", "alice"]).0, 0);
}

/// `authbridge nss enable` wires the module for the real glibc (the edited
/// file bind-mounted over /etc/nsswitch.conf in a private mount namespace);
/// `disable` gives the file back as it was and the store's users are gone.
#[test]
fn nss_enable_wires_the_module_for_glibc_and_disable_takes_it_out() {
    let d = daemon();
    let work = server_dir("abnsswitch");
    let conf = work.path().join("nsswitch.conf");
    let original = std::fs::read("/etc/nsswitch.conf").unwrap();
    std::fs::write(&conf, &original).unwrap();
    std::fs::copy(
        authbridge_testsupport::module(BIN, "libnss_authbridge.so"),
        work.path().join("libnss_authbridge.so.2"),
    )
    .unwrap();
    let getent = |key: &str| {
        let out = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(r#"mount --bind "$0" /etc/nsswitch.conf && exec getent passwd "$1""#)
            .arg(&conf)
            .arg(key)
            .env_remove("LD_PRELOAD")
            .env("LD_LIBRARY_PATH", work.path())
            .env("AUTHBRIDGE_SOCKET", &d.socket)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let nss = |verb: &str| {
        let out = Command::new(BIN)
            .args(["nss", verb, "--file"])
            .arg(&conf)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // Not wired: glibc does not know alice.
    assert_eq!(getent("alice").0, 2);

    let said = nss("enable");
    assert!(said.contains(": passwd: files authbridge"), "{said}");
    let text = std::fs::read_to_string(&conf).unwrap();
    let passwd = text.lines().find(|l| l.starts_with("passwd:")).unwrap();
    assert!(
        passwd.split_whitespace().nth(1) == Some("files"),
        "{passwd}"
    );
    let (code, alice) = getent("alice");
    assert_eq!(code, 0, "{text}");
    assert!(alice.starts_with("alice:*:"), "{alice}");
    // The host's own accounts still come from its files, first.
    assert!(getent("root").1.starts_with("root:x:0:0:"));
    // Enabling again changes nothing.
    assert!(nss("enable").contains("(unchanged)"));
    assert_eq!(std::fs::read_to_string(&conf).unwrap(), text);

    nss("disable");
    assert_eq!(std::fs::read(&conf).unwrap(), original);
    assert_eq!(getent("alice").0, 2);
}
