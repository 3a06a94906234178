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
use std::ffi::{CStr, CString};
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
        let pam = time_calls(2000, || {
            // SAFETY: the handle from pam_start.
            let rc = unsafe { pam_authenticate(pamh, 0) };
            assert_eq!(rc, 0, "pam_authenticate");
        });
        // SAFETY: as above.
        unsafe { pam_end(pamh, 0) };

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
        let mut frame = (request.len() as u32).to_be_bytes().to_vec();
        frame.extend_from_slice(&request);
        let bare = time_calls(2000, || {
            let mut s = UnixStream::connect(&echo_path).unwrap();
            s.write_all(&frame).unwrap();
            let mut reply = vec![0u8; 4 + answer_len];
            s.read_exact(&mut reply).unwrap();
        });
        stop.store(true, Ordering::Relaxed);
        let _ = UnixStream::connect(&echo_path);
        println!(
            "1. PAM authenticate (app password) vs a bare unix-socket round trip of {} + {answer_len} bytes",
            frame.len()
        );
        let direct_request = Request::Authenticate(AuthRequest {
            service: "abbench".into(),
            user: "alice".into(),
            password: token.clone().into(),
            rhost: None,
        });
        let direct = time_calls(2000, || {
            let mut c = Client::connect(&d.socket, Duration::from_secs(5)).unwrap();
            match c.call(&direct_request).unwrap() {
                Response::Auth(a) if a.status == AuthStatus::Accepted => {}
                other => panic!("{other:?}"),
            }
        });
        let a = report("pam_authenticate through the daemon", &pam);
        report("the same request without libpam", &direct);
        let b = report("bare round trip (connect, write, read)", &bare);
        println!("  ratio {:.2}× (target ≤ 2×)\n", a / b);
    }
    if part("nss") {
        // 2. getpwnam: the module vs the passwd file.
        std::fs::write(
            work.path().join("passwd"),
            "root:x:0:0:root:/root:/bin/bash\nfilesuser:x:1500:1500::/home/f:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(work.path().join("group"), "root:x:0:\n").unwrap();
        let nss_module = work.path().join("libnss_authbridge.so.2");
        std::fs::copy(module(BIN, "libnss_authbridge.so"), &nss_module).unwrap();
        // SAFETY: nss_wrapper reads these at its first lookup, still single-threaded here.
        unsafe {
            std::env::set_var("NSS_WRAPPER_PASSWD", work.path().join("passwd"));
            std::env::set_var("NSS_WRAPPER_GROUP", work.path().join("group"));
            std::env::set_var("NSS_WRAPPER_MODULE_SO_PATH", &nss_module);
            std::env::set_var("NSS_WRAPPER_MODULE_FN_PREFIX", "authbridge");
            std::env::set_var("AUTHBRIDGE_SOCKET", &d.socket);
        }
        let lookup = |name: &CStr| {
            // SAFETY: a NUL-terminated name; the result is only tested for null.
            let p = unsafe { libc::getpwnam(name.as_ptr()) };
            assert!(!p.is_null(), "getpwnam {name:?}");
        };
        let via_module = time_calls(5000, || lookup(c"alice"));
        let via_files = time_calls(5000, || lookup(c"filesuser"));
        println!("2. getpwnam through libnss_authbridge.so.2 vs a user in the passwd file");
        let a = report("getpwnam(alice) via the daemon", &via_module);
        let b = report("getpwnam(filesuser) from the file", &via_files);
        println!("  ratio {:.1}×", a / b);
        let missing = work.path().join("gone.sock");
        // SAFETY: still the only thread touching the environment.
        unsafe { std::env::set_var("AUTHBRIDGE_SOCKET", &missing) };
        let down = time_calls(200, || {
            // SAFETY: as above; a miss is expected.
            let p = unsafe { libc::getpwnam(c"alice".as_ptr()) };
            assert!(p.is_null());
        });
        report("getpwnam(alice) with the daemon down", &down);
        println!();
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
