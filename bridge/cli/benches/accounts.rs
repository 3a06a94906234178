//! Account-store figures, each against a baseline measured in the same run:
//!
//!     cargo bench -p authbridge --bench accounts
//!
//! 1. app-password validations per second with 10,000 app passwords stored, on
//!    one thread, against HMAC-SHA256 of the same passwords alone;
//! 2. milliseconds per argon2id hash and verification of a local password;
//! 3. `authbridge user list` (the real binary, default limit 500) over 100,000
//!    users, against `authbridge --version` (process start alone).

use authbridge_core::{Authenticator, Credentials, SecretString, Verdict};
use authbridge_local::{
    AppPasswords, SecretKey, generate_app_password, hash_password, verify_password,
};
use authbridge_store::{AppPasswordStore, NewUser, SqliteStore, Store};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    let store = Arc::new(SqliteStore::open(&data.join("authbridge.sqlite")).unwrap());
    let key = Arc::new(SecretKey::load_or_create(&data.join("secret.key")).unwrap());

    // 1. App passwords.
    let mut tokens = Vec::new();
    for u in 0..100 {
        let uid = format!("tok{u:03}");
        store
            .create_user(
                &NewUser {
                    uid: uid.clone(),
                    backend: "Database".into(),
                    ..NewUser::default()
                },
                0,
            )
            .unwrap();
        for _ in 0..100 {
            let t = generate_app_password();
            store
                .add_app_password(&uid, "bench", &key.hash(&t), 0)
                .unwrap();
            tokens.push((uid.clone(), t));
        }
    }
    let creds: Vec<Credentials> = tokens
        .iter()
        .map(|(u, t)| Credentials::new(u, SecretString::from(t.clone())).unwrap())
        .collect();
    // The clock stands still, so last_activity is written once per token, not per check.
    let auth = AppPasswords::new(store.clone(), Arc::clone(&key), || 0);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let rounds = 200_000;
    let started = Instant::now();
    rt.block_on(async {
        for i in 0..rounds {
            let c = &creds[(i * 7919) % creds.len()];
            assert!(matches!(auth.authenticate(c).await, Verdict::Accepted(_)));
        }
    });
    let validate = started.elapsed();
    let started = Instant::now();
    let mut sink = 0u8;
    for i in 0..rounds {
        sink ^= key.hash(&tokens[(i * 7919) % tokens.len()].1)[0];
    }
    let hmac_only = started.elapsed();
    std::hint::black_box(sink);
    let per_sec = |d: Duration| rounds as f64 / d.as_secs_f64();
    println!("app-password validation, 10,000 stored, 1 thread, {rounds} checks");
    println!("  validations/s          {:>12.0}", per_sec(validate));
    println!("  HMAC-SHA256 alone /s   {:>12.0}", per_sec(hmac_only));
    println!(
        "  cost ratio vs HMAC     {:>12.1}x",
        validate.as_secs_f64() / hmac_only.as_secs_f64()
    );

    // 2. argon2id.
    let hashes: Vec<Duration> = (0..9)
        .map(|_| {
            let t = Instant::now();
            std::hint::black_box(hash_password("quartz-lantern-88"));
            t.elapsed()
        })
        .collect();
    let phc = hash_password("quartz-lantern-88");
    let verifies: Vec<Duration> = (0..9)
        .map(|_| {
            let t = Instant::now();
            assert!(verify_password("quartz-lantern-88", &phc));
            t.elapsed()
        })
        .collect();
    let (m, t, p) = authbridge_local::HASH_PARAMS;
    println!(
        "local password (argon2id m={}MiB t={t} p={p}), median of 9",
        m / 1024
    );
    println!("  hash ms                {:>12.1}", ms(median(hashes)));
    println!("  verify ms              {:>12.1}", ms(median(verifies)));

    // 3. user list over 100,000 users, through the real binary.
    let started = Instant::now();
    for i in 0..100_000 {
        store
            .create_user(
                &NewUser {
                    uid: format!("user{i:06}"),
                    display_name: Some(format!("User {i}")),
                    backend: "Database".into(),
                    ..NewUser::default()
                },
                0,
            )
            .unwrap();
    }
    let filled = started.elapsed();
    drop(auth);
    let run = |args: &[&str]| {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_authbridge"))
            .arg("--config")
            .arg(dir.path().join("none.toml"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed()
    };
    let list: Vec<Duration> = (0..15).map(|_| run(&["user", "list"])).collect();
    let search: Vec<Duration> = (0..15)
        .map(|_| run(&["user", "list", "user0999", "--limit", "50"]))
        .collect();
    let baseline: Vec<Duration> = (0..15).map(|_| run(&["--version"])).collect();
    println!(
        "authbridge user list over 100,000 users (filled in {:.1} s), median of 15",
        filled.as_secs_f64()
    );
    println!(
        "  user list (500) ms     {:>12.1}",
        ms(median(list.clone()))
    );
    println!("  user list search ms    {:>12.1}", ms(median(search)));
    println!(
        "  --version ms           {:>12.1}",
        ms(median(baseline.clone()))
    );
    println!(
        "  ratio list/--version   {:>12.1}x",
        ms(median(list)) / ms(median(baseline))
    );
}
