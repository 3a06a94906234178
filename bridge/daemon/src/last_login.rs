//! Which accounts had their last login recorded lately: every accepted login
//! moves it, but at most once a minute per account, and the logins in between
//! cost a map lookup instead of a store read (a PAM login is a few dozen
//! microseconds; a read would be a noticeable share of it).

use std::collections::HashMap;
use std::sync::Mutex;

pub struct LastLogins {
    /// Canonical uid → when its last login was last recorded (Unix seconds).
    noted: Mutex<HashMap<String, i64>>,
    max_entries: usize,
    interval: i64,
}

impl LastLogins {
    pub fn new(max_entries: usize, interval_secs: i64) -> LastLogins {
        LastLogins {
            noted: Mutex::new(HashMap::new()),
            max_entries,
            interval: interval_secs,
        }
    }

    /// Is `uid`'s login at `now` to be recorded? Says yes at most once per
    /// interval per account (and takes it as done). A full map starts over,
    /// which costs a store read per account, never a missed record.
    pub fn due(&self, uid: &str, now: i64) -> bool {
        let mut noted = self.noted.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(&at) = noted.get(uid)
            && now.saturating_sub(at) < self.interval
        {
            return false;
        }
        if noted.len() >= self.max_entries && !noted.contains_key(uid) {
            noted.clear();
        }
        noted.insert(uid.to_owned(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_interval_per_account_and_bounded() {
        let l = LastLogins::new(2, 60);
        assert!(l.due("ann", 1000));
        assert!(!l.due("ann", 1059));
        assert!(l.due("ann", 1060));
        assert!(l.due("bob", 1060));
        // Full: a third account starts the map over; nobody is skipped wrongly.
        assert!(l.due("cat", 1061));
        assert!(l.due("ann", 1062));
        assert!(!l.due("cat", 1062));
    }
}
