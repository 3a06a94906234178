//! The daemon's figures, each against a baseline measured in the same run:
//!
//!     cargo bench -p authbridge --bench daemon
//!
//! 1. PAM authenticate (real libpam, pam_authbridge.so, the daemon, an app
//!    password) against a bare unix-socket round trip of the same frame sizes
//!    (connect, write, read, close: what the module does around the daemon's work);
//! 2. getpwnam through libnss_authbridge.so.2 against getpwnam of a user in the
//!    passwd file (both through nss_wrapper, which loads the module);
//! 3. app-password authentications per second through the daemon with 64
//!    concurrent clients (one connection per request, as the PAM module does, and
//!    persistent connections), against the same validations in-process.
//!
//! pam_wrapper and nss_wrapper must be preloaded: the bench re-executes itself
//! with LD_PRELOAD set.

use authbridge_proto::{AuthRequest, AuthStatus, Client, Request, Response, encode};
use authbridge_testsupport::{Daemon, module};
use libc::{c_char, c_int, c_void};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_authbridge");
const PRELOAD: &str =
    "/usr/lib/x86_64-linux-gnu/libpam_wrapper.so /usr/lib/x86_64-linux-gnu/libnss_wrapper.so";

#[repr(C)]
struct PamMessage {
    style: c_int,
    msg: *const c_char,
}

#[repr(C)]
struct PamResponse {
    resp: *mut c_char,
    retcode: c_int,
}

type ConvFn =
    extern "C" fn(c_int, *mut *const PamMessage, *mut *mut PamResponse, *mut c_void) -> c_int;

#[repr(C)]
struct PamConv {
    conv: ConvFn,
    appdata: *mut c_void,
}

#[link(name = "pam")]
unsafe extern "C" {
    fn pam_start(
        service: *const c_char,
        user: *const c_char,
        conv: *const PamConv,
        pamh: *mut *mut c_void,
    ) -> c_int;
    fn pam_authenticate(pamh: *mut c_void, flags: c_int) -> c_int;
    fn pam_set_item(pamh: *mut c_void, item: c_int, value: *const c_void) -> c_int;
    fn pam_end(pamh: *mut c_void, status: c_int) -> c_int;
}

/// Answers every prompt with the password in appdata (libpam frees the replies).
extern "C" fn answer(
    n: c_int,
    _msgs: *mut *const PamMessage,
    out: *mut *mut PamResponse,
    appdata: *mut c_void,
) -> c_int {
    // SAFETY: libpam's contract: out receives n malloc'd responses.
    unsafe {
        let replies =
            libc::calloc(n as usize, std::mem::size_of::<PamResponse>()) as *mut PamResponse;
        for i in 0..n as usize {
            (*replies.add(i)).resp = libc::strdup(appdata as *const c_char);
        }
        *out = replies;
    }
    0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Per-call latencies of `f`, after a warm-up.
fn time_calls(n: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..n / 10 {
        f();
    }
    let mut v: Vec<Duration> = (0..n)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .collect();
    v.sort();
    v
}

/// Per-call latencies of each of `calls`, after a warm-up: every round calls
/// each once, in an order shuffled per round (a call pays for whatever the call
/// before it left running or let go idle, so no path may always follow the
/// same one), each call after `gap` of idleness when one is given.
fn time_interleaved<const N: usize>(
    n: usize,
    calls: [&dyn Fn(); N],
    gap: Option<Duration>,
) -> [Vec<Duration>; N] {
    for _ in 0..n / 10 {
        calls.iter().for_each(|f| f());
    }
    let mut times: [Vec<Duration>; N] = std::array::from_fn(|_| Vec::with_capacity(n));
    let mut order: [usize; N] = std::array::from_fn(|i| i);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for _ in 0..n {
        // Fisher-Yates with xorshift: reproducible, and good enough for an order.
        for i in (1..N).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            order.swap(i, (state % (i as u64 + 1)) as usize);
        }
        for &j in &order {
            if let Some(gap) = gap {
                std::thread::sleep(gap);
            }
            let t = Instant::now();
            calls[j]();
            times[j].push(t.elapsed());
        }
    }
    times.iter_mut().for_each(|v| v.sort());
    times
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}

fn report(name: &str, v: &[Duration]) -> f64 {
    let p50 = us(percentile(v, 0.5));
    println!(
        "  {name:<44} p50 {p50:>8.1} µs   p99 {:>8.1} µs",
        us(percentile(v, 0.99))
    );
    p50
}

/// A server that answers every frame of `request_len` bytes with `answer_len` bytes.
fn echo_server(path: &Path, answer_len: usize) -> Arc<AtomicBool> {
    let listener = UnixListener::bind(path).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let stopped = Arc::clone(&stop);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stopped.load(Ordering::Relaxed) {
                return;
            }
            let mut s = stream.unwrap();
            let mut prefix = [0u8; 4];
            while s.read_exact(&mut prefix).is_ok() {
                let mut body = vec![0u8; u32::from_be_bytes(prefix) as usize];
                s.read_exact(&mut body).unwrap();
                let mut reply = (answer_len as u32).to_be_bytes().to_vec();
                reply.resize(4 + answer_len, 7);
                s.write_all(&reply).unwrap();
            }
        }
    });
    stop
}

/// A user (with its uid) and a group (with its gid, one of the user's) to look up.
struct Lookups {
    user: CString,
    uid: u32,
    group: CString,
    gid: u32,
}

impl Lookups {
    fn new(user: &str, uid: u32, group: &str, gid: u32) -> Lookups {
        Lookups {
            user: CString::new(user).unwrap(),
            uid,
            group: CString::new(group).unwrap(),
            gid,
        }
    }

    fn args(&self) -> Vec<String> {
        vec![
            self.user.to_str().unwrap().to_owned(),
            self.uid.to_string(),
            self.group.to_str().unwrap().to_owned(),
            self.gid.to_string(),
        ]
    }
}

const LOOKUP_NAMES: [&str; 4] = ["getpwnam", "getpwuid", "getgrnam", "initgroups"];

/// p50 of getpwnam, getpwuid, getgrnam, getgrouplist, in µs (NaN: not measured).
fn time_lookups(l: &Lookups, n: usize, initgroups: bool) -> [f64; 4] {
    let pw = time_calls(n, || {
        // SAFETY: a NUL-terminated name; the result is only tested for null.
        assert!(
            !unsafe { libc::getpwnam(l.user.as_ptr()) }.is_null(),
            "getpwnam"
        );
    });
    let uid = time_calls(n, || {
        // SAFETY: as above.
        assert!(!unsafe { libc::getpwuid(l.uid) }.is_null(), "getpwuid");
    });
    let gr = time_calls(n, || {
        // SAFETY: as above.
        assert!(
            !unsafe { libc::getgrnam(l.group.as_ptr()) }.is_null(),
            "getgrnam"
        );
    });
    if !initgroups {
        let [a, b, c] = [&pw, &uid, &gr].map(|v| us(percentile(v, 0.5)));
        return [a, b, c, f64::NAN];
    }
    let list = time_calls(n, || {
        let mut groups = [0 as libc::gid_t; 64];
        let mut count = groups.len() as c_int;
        // SAFETY: a buffer of `count` gids.
        let rc =
            unsafe { libc::getgrouplist(l.user.as_ptr(), l.uid, groups.as_mut_ptr(), &mut count) };
        assert!(
            rc >= 1 && groups[..count as usize].contains(&l.gid),
            "initgroups"
        );
    });
    [&pw, &uid, &gr, &list].map(|v| us(percentile(v, 0.5)))
}

/// Child mode: `nss-child USER UID GROUP GID` prints the four p50s.
fn nss_child(args: &[String]) {
    let l = Lookups::new(
        &args[0],
        args[1].parse().unwrap(),
        &args[2],
        args[3].parse().unwrap(),
    );
    let initgroups = args.get(4).is_none_or(|a| a != "no-initgroups");
    for (name, p50) in LOOKUP_NAMES
        .iter()
        .zip(time_lookups(&l, 20_000, initgroups))
    {
        println!("{name} {p50}");
    }
}

/// Runs `command` (this bench in child mode) and reads its four p50s.
fn child_figures(mut command: std::process::Command, l: &Lookups, initgroups: bool) -> [f64; 4] {
    command.args(l.args());
    if !initgroups {
        command.arg("no-initgroups");
    }
    let out = command.env("AUTHBRIDGE_BENCH_CHILD", "1").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    LOOKUP_NAMES.map(|name| {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name}: {text}{}", String::from_utf8_lossy(&out.stderr)))
    })
}

/// This bench as a child through nss_wrapper (`module`: with the authbridge module).
fn under_nss_wrapper(work: &Path, socket: &Path, module: bool) -> std::process::Command {
    let mut c = std::process::Command::new(std::env::current_exe().unwrap());
    c.arg("nss-child")
        .env("LD_PRELOAD", PRELOAD)
        .env("NSS_WRAPPER_PASSWD", work.join("passwd"))
        .env("NSS_WRAPPER_GROUP", work.join("group"))
        .env("AUTHBRIDGE_SOCKET", socket)
        .env_remove("NSS_WRAPPER_MODULE_SO_PATH")
        .env_remove("NSS_WRAPPER_MODULE_FN_PREFIX");
    if module {
        // nss_wrapper answers getgrouplist by enumerating every group of every
        // source instead of calling the module's initgroups_dyn: initgroups is
        // measured under the real glibc only.
        c.env(
            "NSS_WRAPPER_MODULE_SO_PATH",
            work.join("libnss_authbridge.so.2"),
        )
        .env("NSS_WRAPPER_MODULE_FN_PREFIX", "authbridge");
    }
    c
}

/// This bench as a child under the real glibc, in a private mount namespace
/// whose /etc/nsswitch.conf says `SOURCES` for passwd and group, and whose
/// /etc/passwd and /etc/group are the system's plus the bench's files entries
/// (`filesuser`, `filesgroup`, the 200-member `bigfiles`); glibc finds the
/// module through LD_LIBRARY_PATH.
fn under_glibc(work: &Path, socket: &Path, sources: &str) -> std::process::Command {
    let conf = work.join(format!("nsswitch-{}.conf", sources.replace(' ', "-")));
    std::fs::write(
        &conf,
        format!("passwd: {sources}\ngroup: {sources}\nshadow: files\n"),
    )
    .unwrap();
    for name in ["passwd", "group"] {
        let system = std::fs::read_to_string(format!("/etc/{name}")).unwrap();
        let ours: String = std::fs::read_to_string(work.join(name))
            .unwrap()
            .lines()
            .filter(|l| !l.starts_with("root:"))
            .map(|l| format!("{l}\n"))
            .collect();
        std::fs::write(
            work.join(format!("{name}-glibc")),
            format!("{system}{ours}"),
        )
        .unwrap();
    }
    let mut c = std::process::Command::new("unshare");
    c.args(["--mount", "--propagation", "private", "sh", "-c"])
        .arg(concat!(
            r#"mount --bind "$0" /etc/nsswitch.conf && mount --bind "$1" /etc/passwd"#,
            r#" && mount --bind "$2" /etc/group && shift 2 && exec "$@""#
        ))
        .arg(&conf)
        .arg(work.join("passwd-glibc"))
        .arg(work.join("group-glibc"))
        .arg(std::env::current_exe().unwrap())
        .arg("nss-child")
        .env_remove("LD_PRELOAD")
        .env("LD_LIBRARY_PATH", work)
        .env("AUTHBRIDGE_SOCKET", socket);
    c
}

fn wait_for_cache(socket: &Path) {
    let cache = authbridge_nsscache::cache_path(socket);
    let deadline = Instant::now() + Duration::from_secs(120);
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    while authbridge_nsscache::Mapping::open(&cache, Some(0), now()).is_err() {
        assert!(Instant::now() < deadline, "no NSS cache published");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn show(label: &str, module: &[f64; 4], files: &[f64; 4]) -> f64 {
    println!("  {label}");
    let mut worst: f64 = 0.0;
    for ((name, m), f) in LOOKUP_NAMES.iter().zip(module).zip(files) {
        if m.is_nan() {
            println!(
                "    {name:<11} (nss_wrapper enumerates every group instead; see the glibc case)"
            );
            continue;
        }
        let ratio = m / f;
        worst = worst.max(ratio);
        println!(
            "    {name:<11} module p50 {m:>7.2} µs   files p50 {f:>7.2} µs   ratio {ratio:>5.2}×"
        );
    }
    worst
}

/// The uid and a gid of a store user, asked through the module (nss_wrapper).
fn ids_of(work: &Path, socket: &Path, user: &str, group: &str) -> (u32, u32) {
    let out = under_nss_wrapper(work, socket, true)
        .arg0_getent()
        .args(["passwd", user])
        .output()
        .unwrap();
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let uid = line.split(':').nth(2).expect(user).parse().unwrap();
    let mut c = under_nss_wrapper(work, socket, true);
    let out = c.arg0_getent().args(["group", group]).output().unwrap();
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    (uid, line.split(':').nth(2).expect(group).parse().unwrap())
}

trait Getent {
    fn arg0_getent(&mut self) -> &mut Self;
}

impl Getent for std::process::Command {
    /// The same environment, running getent instead of the bench.
    fn arg0_getent(&mut self) -> &mut Self {
        let mut getent = std::process::Command::new("getent");
        for (k, v) in self.get_envs() {
            match v {
                Some(v) => getent.env(k, v),
                None => getent.env_remove(k),
            };
        }
        *self = getent;
        self
    }
}

fn nss_bench(small: &Daemon, work: &Path) {
    let members: Vec<String> = (0..200).map(|i| format!("member{i}")).collect();
    std::fs::write(
        work.join("passwd"),
        "root:x:0:0:root:/root:/bin/bash\nfilesuser:x:1500:1500::/home/f:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        work.join("group"),
        format!(
            "root:x:0:\nfilesuser:x:1500:\nfilesgroup:x:1501:filesuser\nbigfiles:x:1502:filesuser,{}\n",
            members.join(",")
        ),
    )
    .unwrap();
    std::fs::copy(
        module(BIN, "libnss_authbridge.so"),
        work.join("libnss_authbridge.so.2"),
    )
    .unwrap();
    let files_user = Lookups::new("filesuser", 1500, "filesgroup", 1501);
    let files_wrapped = child_figures(
        under_nss_wrapper(work, &small.socket, false),
        &files_user,
        true,
    );
    let files_big_group = child_figures(
        under_nss_wrapper(work, &small.socket, false),
        &Lookups::new("filesuser", 1500, "bigfiles", 1502),
        false,
    );
    // The real glibc reads /etc/passwd and /etc/group for each lookup.
    let files_glibc = child_figures(under_glibc(work, &small.socket, "files"), &files_user, true);
    let files_glibc_big_group = child_figures(
        under_glibc(work, &small.socket, "files"),
        &Lookups::new("filesuser", 1500, "bigfiles", 1502),
        true,
    );

    small.cli(&["group", "add", "physics"], None);
    small.cli(&["group", "adduser", "physics", "alice"], None);
    wait_for_cache(&small.socket);
    let (uid, gid) = ids_of(work, &small.socket, "alice", "physics");
    let alice = Lookups::new("alice", uid, "physics", gid);
    println!("2. NSS through libnss_authbridge.so.2 (its memory-mapped cache) vs the files");
    let mut worst = [0.0f64; 4];
    worst[0] = show(
        "1 store user, nss_wrapper (module) vs nss_wrapper's files",
        &child_figures(under_nss_wrapper(work, &small.socket, true), &alice, false),
        &files_wrapped,
    );
    worst[1] = show(
        "1 store user, real glibc: `files authbridge` vs `files` alone",
        &child_figures(
            under_glibc(work, &small.socket, "files authbridge"),
            &alice,
            true,
        ),
        &files_glibc,
    );

    // The same with 100,000 users in 500 groups of 200, seeded into the store directly.
    let mut big = Daemon::start(BIN, "[nss]\nid_max = 999999\n");
    big.stop();
    let seeded = Instant::now();
    {
        let mut db =
            rusqlite::Connection::open(big.dir.path().join("data/authbridge.sqlite")).unwrap();
        let tx = db.transaction().unwrap();
        for g in 0..500 {
            let name = format!("group{g:03}");
            tx.execute("INSERT INTO groups (gid, created) VALUES (?1, 0)", [&name])
                .unwrap();
        }
        tx.execute(
            "INSERT INTO groups (gid, created) VALUES ('physics', 0)",
            [],
        )
        .unwrap();
        for i in 0..100_000 {
            let uid = format!("user{i:06}");
            tx.execute(
                "INSERT INTO users (uid, display_name, backend, created) VALUES (?1, ?2, 'IMAP', 0)",
                [&uid, &format!("Bench User {i}")],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO memberships (gid, uid) VALUES (?1, ?2)",
                [&format!("group{:03}", i % 500), &uid],
            )
            .unwrap();
        }
        tx.execute(
            "INSERT INTO memberships (gid, uid) VALUES ('physics', 'user054321')",
            [],
        )
        .unwrap();
        tx.commit().unwrap();
    }
    println!(
        "  (seeded 100,000 users in {:.1} s)",
        seeded.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    big.restart();
    wait_for_cache(&big.socket);
    let size = std::fs::metadata(authbridge_nsscache::cache_path(&big.socket))
        .unwrap()
        .len();
    println!(
        "  (cache file for 100,000 users: {:.1} MiB, published {:.1} s after the start)",
        size as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64()
    );
    let (uid, gid) = ids_of(work, &big.socket, "user054321", "physics");
    let user = Lookups::new("user054321", uid, "physics", gid);
    worst[2] = show(
        "100,000 store users, nss_wrapper (module) vs nss_wrapper's files",
        &child_figures(under_nss_wrapper(work, &big.socket, true), &user, false),
        &files_wrapped,
    );
    worst[3] = show(
        "100,000 store users, real glibc: `files authbridge` vs `files` alone",
        &child_figures(
            under_glibc(work, &big.socket, "files authbridge"),
            &user,
            true,
        ),
        &files_glibc,
    );
    let (_, big_gid) = ids_of(work, &big.socket, "user054321", "group321");
    let group321 = Lookups::new("user054321", uid, "group321", big_gid);
    let wrapped = child_figures(under_nss_wrapper(work, &big.socket, true), &group321, false);
    let glibc = child_figures(
        under_glibc(work, &big.socket, "files authbridge"),
        &group321,
        true,
    );
    println!("  getgrnam of a 200-member group:");
    println!(
        "    nss_wrapper  module p50 {:>7.2} µs   files p50 {:>7.2} µs   ratio {:>5.2}×",
        wrapped[2],
        files_big_group[2],
        wrapped[2] / files_big_group[2]
    );
    println!(
        "    real glibc   module p50 {:>7.2} µs   files p50 {:>7.2} µs   ratio {:>5.2}×",
        glibc[2],
        files_glibc_big_group[2],
        glibc[2] / files_glibc_big_group[2]
    );
    println!(
        "  worst ratio per case: {:.2}×, {:.2}×, {:.2}×, {:.2}× (target ≤ 2×)\n",
        worst[0], worst[1], worst[2], worst[3]
    );
}

fn main() {
    if std::env::var_os("AUTHBRIDGE_BENCH_CHILD").is_none() {
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args(std::env::args_os().skip(1))
            .env("AUTHBRIDGE_BENCH_CHILD", "1")
            .env("LD_PRELOAD", PRELOAD)
            .status()
            .unwrap();
        std::process::exit(status.code().unwrap_or(1));
    }
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "nss-child") {
        nss_child(&args[at + 1..]);
        return;
    }
    // Child mode: `echo-child PATH ANSWER_LEN` serves echo_server until killed.
    if let Some(at) = args.iter().position(|a| a == "echo-child") {
        let _stop = echo_server(Path::new(&args[at + 1]), args[at + 2].parse().unwrap());
        loop {
            std::thread::park();
        }
    }
    // `cargo bench --bench daemon -- pam` runs one part (pam, nss, throughput).
    let only: Option<String> = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let part = |name: &str| only.as_deref().is_none_or(|o| o == name);
    let d = Daemon::start(BIN, "");
    d.cli(
        &["user", "add", "--password-from-env", "alice"],
        Some("Alice-pass-123"),
    );
    let out = d.cli(&["user", "auth-tokens", "add", "alice"], None);
    let token = String::from_utf8_lossy(&out.stdout)
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    let work = tempfile::tempdir().unwrap();

    if part("pam") {
        // 1. PAM authenticate vs a bare round trip of the same sizes.
        let services = work.path().join("pam.d");
        std::fs::create_dir(&services).unwrap();
        let pam_module = module(BIN, "libpam_authbridge.so");
        std::fs::write(
            services.join("abbench"),
            format!(
                "auth required {} socket={}\n",
                pam_module.display(),
                d.socket.display()
            ),
        )
        .unwrap();
        // SAFETY: single-threaded so far; pam_wrapper reads these at pam_start.
        unsafe {
            std::env::set_var("PAM_WRAPPER", "1");
            std::env::set_var("PAM_WRAPPER_SERVICE_DIR", &services);
        }
        let password = CString::new(token.clone()).unwrap();
        let conv = PamConv {
            conv: answer,
            appdata: password.as_ptr() as *mut c_void,
        };
        let mut pamh: *mut c_void = std::ptr::null_mut();
        // SAFETY: valid strings and conversation for the handle's lifetime.
        let rc = unsafe { pam_start(c"abbench".as_ptr(), c"alice".as_ptr(), &conv, &mut pamh) };
        assert_eq!(rc, 0, "pam_start");
        // As sshd calls it: PAM_RHOST set (the throttle counts the remote host);
        // without it, as su: the module says its real uid.
        const PAM_RHOST: c_int = 4;
        let authenticate = |rhost: Option<&std::ffi::CStr>| {
            let value = rhost.map_or(std::ptr::null(), |h| h.as_ptr().cast());
            // SAFETY: the handle from pam_start; libpam copies the string.
            let rc = unsafe { pam_set_item(pamh, PAM_RHOST, value) };
            assert_eq!(rc, 0, "pam_set_item");
            // SAFETY: the handle from pam_start.
            let rc = unsafe { pam_authenticate(pamh, 0) };
            assert_eq!(rc, 0, "pam_authenticate");
        };

        let request = encode(&Request::Authenticate(AuthRequest {
            service: "abbench".into(),
            user: "alice".into(),
            password: token.clone().into(),
            rhost: None,
        }))
        .unwrap();
        let answer_len = encode(&Response::Auth(authbridge_proto::AuthAnswer {
            status: AuthStatus::Accepted,
            uid: Some("alice".into()),
        }))
        .unwrap()
        .len();
        let echo_path = work.path().join("echo.sock");
        let stop = echo_server(&echo_path, answer_len);
        // The same server in a process of its own, as the daemon is.
        let echo_process_path = work.path().join("echo-process.sock");
        let mut echo_process = std::process::Command::new(std::env::current_exe().unwrap())
            .arg("echo-child")
            .arg(&echo_process_path)
            .arg(answer_len.to_string())
            .env("AUTHBRIDGE_BENCH_CHILD", "1")
            .spawn()
            .unwrap();
        while UnixStream::connect(&echo_process_path).is_err() {
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut frame = (request.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&request);
        let round_trip = |path: &Path| {
            let mut s = UnixStream::connect(path).unwrap();
            s.write_all(&frame).unwrap();
            let mut reply = vec![0u8; 4 + answer_len];
            s.read_exact(&mut reply).unwrap();
        };
        let bare_call = || round_trip(&echo_path);
        let bare_process_call = || round_trip(&echo_process_path);
        let direct_request = Request::Authenticate(AuthRequest {
            service: "abbench".into(),
            user: "alice".into(),
            password: token.clone().into(),
            rhost: None,
        });
        let direct_call = || {
            // As the modules ask: one request, then the write side shut.
            match Client::ask(&d.socket, Duration::from_secs(5), &direct_request).unwrap() {
                Response::Auth(a) if a.status == AuthStatus::Accepted => {}
                other => panic!("{other:?}"),
            }
        };
        // Interleaved call by call, so that whatever else the machine does
        // weighs on the baseline as on the paths it is compared with.
        let calls: [&dyn Fn(); 5] = [
            &|| authenticate(None),
            &|| authenticate(Some(c"192.0.2.7")),
            &direct_call,
            &bare_call,
            &bare_process_call,
        ];
        // Back to back, and with the machine idle before each call (logins come
        // one at a time: every one then starts with cold caches and sleeping
        // CPUs, the bare round trip's as much as the daemon's).
        let back_to_back = time_interleaved(2000, calls, None);
        let after_idle = time_interleaved(2000, calls, Some(Duration::from_micros(300)));
        let _ = echo_process.kill();
        let _ = echo_process.wait();
        // SAFETY: as above.
        unsafe { pam_end(pamh, 0) };
        stop.store(true, Ordering::Relaxed);
        let _ = UnixStream::connect(&echo_path);
        println!(
            "1. PAM authenticate (app password) vs a bare unix-socket round trip of {} + {answer_len} bytes",
            frame.len()
        );
        for (regime, [pam, pam_rhost, direct, bare, bare_process]) in [
            ("back to back, in shuffled order", back_to_back),
            ("each after 300 µs idle", after_idle),
        ] {
            println!("  {regime}:");
            let a = report("pam_authenticate through the daemon (as su)", &pam);
            let r = report("the same with PAM_RHOST (as sshd)", &pam_rhost);
            report("the same request without libpam", &direct);
            let b = report("bare round trip (connect, write, read)", &bare);
            let p = report("the same, server in another process", &bare_process);
            println!(
                "  ratio {:.2}× as su, {:.2}× as sshd against the in-process server (target ≤ 2×)",
                a / b,
                r / b
            );
            println!(
                "  ratio {:.2}× as su, {:.2}× as sshd against the server in another process",
                a / p,
                r / p
            );
        }
        println!();
    }
    if part("nss") {
        // 2. NSS lookups through the module (its memory-mapped cache) vs the
        //    same lookups answered from nss_wrapper's files alone.
        nss_bench(&d, work.path());
    }
    if part("throughput") {
        // 3. Throughput with 64 concurrent clients.
        let clients = 64;
        let window = Duration::from_secs(5);
        let run = |persistent: bool| -> f64 {
            let done = Arc::new(AtomicU64::new(0));
            let until = Instant::now() + window;
            let threads: Vec<_> = (0..clients)
                .map(|i| {
                    let (socket, token, done) =
                        (d.socket.clone(), token.clone(), Arc::clone(&done));
                    std::thread::spawn(move || {
                        let request = Request::Authenticate(AuthRequest {
                            service: "bench".into(),
                            user: "alice".into(),
                            password: token.into(),
                            rhost: Some(format!("client-{i}")),
                        });
                        let mut conn = None;
                        while Instant::now() < until {
                            if conn.is_none() || !persistent {
                                conn =
                                    Some(Client::connect(&socket, Duration::from_secs(5)).unwrap());
                            }
                            match conn.as_mut().unwrap().call(&request).unwrap() {
                                Response::Auth(a) if a.status == AuthStatus::Accepted => {}
                                other => panic!("{other:?}"),
                            }
                            done.fetch_add(1, Ordering::Relaxed);
                        }
                    })
                })
                .collect();
            for t in threads {
                t.join().unwrap();
            }
            done.load(Ordering::Relaxed) as f64 / window.as_secs_f64()
        };
        let per_request = run(false);
        let persistent = run(true);
        // Baseline: the same validation in-process, one thread per core.
        let in_process = {
            use authbridge_core::Authenticator;
            let store = Arc::new(
                authbridge_store::SqliteStore::open(&d.dir.path().join("data/authbridge.sqlite"))
                    .unwrap(),
            );
            let key = Arc::new(
                authbridge_local::SecretKey::load_or_create(&d.dir.path().join("data/secret.key"))
                    .unwrap(),
            );
            let apps = authbridge_local::AppPasswords::new(store, key, || 0);
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let creds = authbridge_core::Credentials::new("alice", token.clone().into()).unwrap();
            let started = Instant::now();
            let mut n = 0u64;
            while started.elapsed() < Duration::from_secs(2) {
                assert!(matches!(
                    rt.block_on(apps.authenticate(&creds)),
                    authbridge_core::Verdict::Accepted(_)
                ));
                n += 1;
            }
            n as f64 / started.elapsed().as_secs_f64()
        };
        println!(
            "3. app-password authentications per second, {clients} concurrent clients, {window:?} each"
        );
        println!(
            "  connection per request (as the PAM module)   {per_request:>10.0}/s  (target ≥ 20,000/s)"
        );
        println!("  persistent connections                       {persistent:>10.0}/s");
        println!("  baseline: the same check in-process, 1 thread {in_process:>9.0}/s");
        println!(
            "  ratio daemon (per request) / in-process: {:.2}",
            per_request / in_process
        );
    }
}
