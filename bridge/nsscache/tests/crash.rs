//! A publisher killed at any point (SIGKILL, as a crash or the OOM killer would)
//! never leaves a file a reader takes for valid but torn: the published file is
//! always one whole snapshot, or the previous one.

use authbridge_nsscache::{FILE_NAME, Mapping, Snapshot, encode, publish};
use authbridge_proto::Passwd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const CHILD_DIR: &str = "AUTHBRIDGE_NSSCACHE_CRASH_DIR";
const USERS: u32 = 20_000;

/// A snapshot in which every entry carries its round: a torn file would mix rounds.
fn snapshot(round: u32) -> Vec<u8> {
    let passwd: Vec<Passwd> = (0..USERS)
        .map(|i| Passwd {
            name: format!("user{i}"),
            uid: 100_000 + i,
            gid: 100_000 + i,
            gecos: format!("round {round}"),
            dir: format!("/home/user{i}"),
            shell: "/bin/sh".into(),
        })
        .collect();
    encode(&Snapshot {
        generation: u64::from(round),
        expires: u64::MAX,
        passwd: &passwd,
        groups: &[],
        initgroups: &[],
    })
    .unwrap()
}

#[test]
#[ignore = "the publisher that the crash test below starts and kills"]
fn publisher_child() {
    let dir = std::env::var_os(CHILD_DIR).expect("run by the crash test");
    let rounds: Vec<Vec<u8>> = (0..2).map(snapshot).collect();
    std::fs::write(Path::new(&dir).join("ready"), b"").unwrap();
    for round in 0.. {
        publish(Path::new(&dir), &rounds[round % 2], || true).unwrap();
    }
}

fn euid() -> Option<u32> {
    // SAFETY: geteuid cannot fail.
    Some(unsafe { libc::geteuid() })
}

/// The published file, if there is one, is a whole snapshot of one round.
fn check_whole(dir: &Path) -> bool {
    let path = dir.join(FILE_NAME);
    if !path.exists() {
        return false;
    }
    // The killed publisher may have marked it stale; mapping checks all else.
    let bytes = std::fs::read(&path).unwrap();
    let view = authbridge_nsscache::View::parse(&bytes).expect("a whole file");
    assert_eq!(view.passwd_count(), USERS as usize);
    let round = view.passwd_at(0).unwrap().gecos;
    for i in 0..USERS as usize {
        let p = view.passwd_at(i).expect("every record intact");
        assert_eq!(p.gecos, round, "one snapshot, not a mix");
    }
    let probe = view.passwd_by_name("user12345").unwrap();
    assert_eq!(probe.uid, 112_345);
    true
}

#[test]
fn a_publisher_killed_at_random_points_never_leaves_a_torn_file() {
    let dir = tempfile::tempdir().unwrap();
    let exe = std::env::current_exe().unwrap();
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    let mut whole = 0;
    for _ in 0..25 {
        let mut child = Command::new(&exe)
            .args(["--exact", "publisher_child", "--ignored", "--nocapture"])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ready = dir.path().join("ready");
        assert!(
            authbridge_testsupport::eventually(Duration::from_secs(60), || ready.exists()),
            "the publisher did not start"
        );
        std::fs::remove_file(&ready).expect("the publisher started");
        // xorshift: a different point of the write each time, the same every run.
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        std::thread::sleep(Duration::from_micros(500 + seed % 20_000));
        child.kill().unwrap();
        child.wait().unwrap();
        if check_whole(dir.path()) {
            whole += 1;
        }
    }
    assert!(whole >= 20, "a file was published in most rounds: {whole}");
    // Leftovers of killed publishers are cleaned; the file maps as usual.
    authbridge_nsscache::clean_leftovers(dir.path()).unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != FILE_NAME && n != "nss.cache.lock" && n != "ready")
        .collect();
    assert!(names.is_empty(), "{names:?}");
    let started = Instant::now();
    publish(dir.path(), &snapshot(9), || true).unwrap();
    let m = Mapping::open(&dir.path().join(FILE_NAME), euid(), 1).unwrap();
    assert_eq!(m.view().passwd_by_uid(100_007).unwrap().gecos, "round 9");
    assert!(started.elapsed() < Duration::from_secs(30));
}
