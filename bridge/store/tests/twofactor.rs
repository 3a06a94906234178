//! Second factors as stored: single-use steps and codes, counted attempts,
//! enforcement, on both stores.

use authbridge_store::{BACKUP_CODES, Enforcement};

mod common;
use common::{Opened, plain};

fn a_step_is_accepted_once_and_never_an_older_one(s: &Opened) {
    plain(&**s, "Alice");
    assert!(!s.use_totp_step("alice", 5).unwrap(), "no secret yet");
    s.set_totp_secret("alice", b"sealed", false, 1).unwrap();
    assert!(!s.use_totp_step("alice", 5).unwrap(), "not confirmed yet");
    assert!(!s.second_factors("alice").unwrap().totp);
    assert!(
        !s.confirm_totp("alice", b"other", 4).unwrap(),
        "another secret"
    );
    assert!(s.confirm_totp("alice", b"sealed", 4).unwrap());
    assert!(s.second_factors("ALICE").unwrap().totp);
    assert!(
        !s.use_totp_step("alice", 4).unwrap(),
        "the confirming code's step"
    );
    assert!(s.use_totp_step("alice", 5).unwrap());
    assert!(!s.use_totp_step("alice", 5).unwrap(), "replayed");
    assert!(!s.use_totp_step("alice", 3).unwrap(), "older");
    assert_eq!(s.totp_secret("alice").unwrap().unwrap().last_step, 5);
    assert!(s.delete_totp("alice").unwrap());
    assert!(!s.delete_totp("alice").unwrap());
    assert_eq!(s.totp_secret("alice").unwrap(), None);
}

fn a_new_secret_starts_with_no_used_step(s: &Opened) {
    plain(&**s, "bob");
    s.set_totp_secret("bob", b"one", true, 1).unwrap();
    assert!(s.use_totp_step("bob", 100).unwrap());
    assert!(s.set_totp_secret("bob", b"two", true, 2).unwrap());
    assert!(s.use_totp_step("bob", 50).unwrap());
}

fn a_waiting_secret_never_replaces_a_confirmed_one(s: &Opened) {
    plain(&**s, "bob");
    assert!(s.set_totp_secret("bob", b"w1", false, 1).unwrap());
    assert!(
        s.set_totp_secret("bob", b"w2", false, 2).unwrap(),
        "waiting over waiting"
    );
    assert!(s.confirm_totp("bob", b"w2", 7).unwrap());
    assert!(!s.set_totp_secret("bob", b"w3", false, 3).unwrap());
    let kept = s.totp_secret("bob").unwrap().unwrap();
    assert_eq!((kept.sealed.as_slice(), kept.confirmed), (&b"w2"[..], true));
    assert!(
        s.set_totp_secret("bob", b"admin", true, 4).unwrap(),
        "an administrator's"
    );
}

fn code_attempts_count_up_front_per_user_until_cleared(s: &Opened) {
    plain(&**s, "Eve");
    let never = |_: u32, _: i64| 0;
    assert_eq!(s.code_failures("eve").unwrap(), (0, 0));
    assert_eq!(s.start_code_attempt("eve", 10, &never).unwrap(), Ok(0));
    assert_eq!(s.start_code_attempt("EVE", 20, &never).unwrap(), Ok(1));
    assert_eq!(s.code_failures("eve").unwrap(), (2, 20));
    let after_two = |failures: u32, last: i64| if failures >= 2 { last + 5 - 22 } else { 0 };
    assert_eq!(s.start_code_attempt("eve", 22, &after_two).unwrap(), Err(3));
    assert_eq!(
        s.code_failures("eve").unwrap(),
        (2, 20),
        "a refused attempt is not counted"
    );
    s.clear_code_failures("eve").unwrap();
    assert_eq!(s.code_failures("eve").unwrap(), (0, 0));
}

fn backup_codes_are_single_use_and_replaced_as_a_whole(s: &Opened) {
    plain(&**s, "carol");
    let codes: Vec<[u8; 32]> = (0..BACKUP_CODES as u8).map(|i| [i; 32]).collect();
    s.set_backup_codes("carol", &codes).unwrap();
    let f = s.second_factors("carol").unwrap();
    assert_eq!((f.backup_codes_left, f.backup_codes), (10, 10));
    assert!(s.use_backup_code("carol", &[3; 32]).unwrap());
    assert!(!s.use_backup_code("carol", &[3; 32]).unwrap(), "used");
    assert!(
        !s.use_backup_code("carol", &[99; 32]).unwrap(),
        "never given"
    );
    assert_eq!(s.second_factors("carol").unwrap().backup_codes_left, 9);
    s.set_backup_codes("carol", &[[7; 32]]).unwrap();
    assert!(!s.use_backup_code("carol", &[4; 32]).unwrap(), "replaced");
    assert_eq!(s.cleanup_provider("backup_codes").unwrap(), 1);
    assert_eq!(s.second_factors("carol").unwrap().backup_codes, 0);
    assert_eq!(s.cleanup_provider("u2f").unwrap(), 0);
}

fn second_factors_go_with_the_user(s: &Opened) {
    plain(&**s, "dave");
    s.set_totp_secret("dave", b"x", true, 1).unwrap();
    s.set_backup_codes("dave", &[[1; 32]]).unwrap();
    s.delete_user("dave").unwrap();
    // A new account of the same name inherits nothing.
    plain(&**s, "dave");
    assert_eq!(s.totp_secret("dave").unwrap(), None);
    assert_eq!(s.second_factors("dave").unwrap(), Default::default());
    assert_eq!(s.cleanup_provider("backup_codes").unwrap(), 0);
}

fn enforcement_keeps_its_groups_in_order(s: &Opened) {
    plain(&**s, "erin");
    assert_eq!(s.enforcement().unwrap(), Enforcement::default());
    let on = Enforcement {
        enforced: true,
        groups: vec!["finance".into(), "admin".into()],
        excluded: vec!["service-accounts".into()],
    };
    s.set_enforcement(&on).unwrap();
    assert_eq!(s.enforcement().unwrap(), on);
    assert!(s.second_factors("erin").unwrap().enforcement_on);
    s.set_enforcement(&Enforcement::default()).unwrap();
    assert_eq!(s.enforcement().unwrap(), Enforcement::default());
}

contract!(
    a_step_is_accepted_once_and_never_an_older_one,
    a_new_secret_starts_with_no_used_step,
    a_waiting_secret_never_replaces_a_confirmed_one,
    code_attempts_count_up_front_per_user_until_cleared,
    backup_codes_are_single_use_and_replaced_as_a_whole,
    second_factors_go_with_the_user,
    enforcement_keeps_its_groups_in_order,
);
