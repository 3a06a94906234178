//! Codes from an independent implementation, Debian's `oathtool`, are accepted:
//! the current step's, the previous and the next; an older one and a replay are
//! refused.

use authbridge_local::SecretKey;
use authbridge_store::{NewUser, SqliteStore, Store};
use authbridge_twofactor::{CodeCheck, DEFAULT_ISSUER, Provider, TwoFactor, totp};
use std::process::Command;
use std::sync::Arc;

/// `oathtool --totp` for the base32 secret at unix time `at`.
fn oathtool(secret: &str, at: i64) -> String {
    let out = Command::new("oathtool")
        .args(["--totp", "--base32", secret, "--now"])
        .arg(format!("@{at}"))
        .output()
        .expect("oathtool (apt-get install oathtool)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn codes_made_by_oathtool_are_accepted_once_within_one_step() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(SqliteStore::open(&dir.path().join("s.sqlite")).unwrap());
    store
        .create_user(
            &NewUser {
                uid: "alice".into(),
                backend: "Database".into(),
                ..NewUser::default()
            },
            1,
        )
        .unwrap();
    let key = SecretKey::load_or_create(&dir.path().join("key")).unwrap();
    let tf = TwoFactor::new(store.clone(), &key, DEFAULT_ISSUER);
    let setup = tf.set_up_totp("alice", true, 1).unwrap();
    let secret = setup.secret_base32.as_str();

    // A fixed "now" in the middle of a step; oathtool is asked for other times.
    let now = 1_900_000_015;
    let step = totp::STEP_SECONDS;
    let older = oathtool(secret, now - 2 * step);
    let previous = oathtool(secret, now - step);
    let current = oathtool(secret, now);
    let next = oathtool(secret, now + step);
    let accepted = CodeCheck::Accepted(Provider::Totp);

    assert_eq!(
        tf.verify("alice", &older, now).unwrap(),
        CodeCheck::Rejected,
        "two steps old"
    );
    assert_eq!(
        tf.verify("alice", &previous, now).unwrap(),
        accepted,
        "previous step"
    );
    assert_eq!(
        tf.verify("alice", &previous, now).unwrap(),
        CodeCheck::Replayed
    );
    assert_eq!(
        tf.verify("alice", &current, now).unwrap(),
        accepted,
        "current step"
    );
    assert_eq!(
        tf.verify("alice", &current, now).unwrap(),
        CodeCheck::Replayed
    );
    assert_eq!(
        tf.verify("alice", &next, now).unwrap(),
        accepted,
        "next step"
    );
    assert_eq!(
        tf.verify("alice", &previous, now).unwrap(),
        CodeCheck::Replayed,
        "an older step after a newer one"
    );
    let wrong = format!("{:06}", (current.parse::<u32>().unwrap() + 1) % 1_000_000);
    if wrong != next && wrong != previous {
        assert_eq!(
            tf.verify("alice", &wrong, now + step).unwrap(),
            CodeCheck::Rejected
        );
    }
}
