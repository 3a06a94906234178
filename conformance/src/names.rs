//! Names a run gives what it creates: `ocsct-<start, base 36 seconds>-<random>-`,
//! so that a run removes exactly its own users and groups, and the next run can
//! recognise (and sweep) what a crashed run left.

use rand::Rng;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

pub const MARK: &str = "ocsct-";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunPrefix(String);

impl RunPrefix {
    pub fn new() -> RunPrefix {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let random: String = (0..4)
            .map(|_| char::from_digit(rand::thread_rng().gen_range(0..36), 36).unwrap_or('x'))
            .collect();
        RunPrefix(format!("{MARK}{}-{random}-", base36(secs)))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix of the `seq`-th case of the run (each case its own namespace,
    /// so cases can run in parallel).
    pub fn case(&self, seq: usize) -> String {
        format!("{}{}-", self.0, base36(seq as u64))
    }
}

impl Default for RunPrefix {
    fn default() -> Self {
        RunPrefix::new()
    }
}

fn base36(mut n: u64) -> String {
    let mut digits = Vec::new();
    loop {
        digits.push(char::from_digit((n % 36) as u32, 36).unwrap_or('0'));
        n /= 36;
        if n == 0 {
            break;
        }
    }
    digits.iter().rev().collect()
}

/// When the run that made `id` started, if `id` is one of ours.
pub fn started(id: &str) -> Option<SystemTime> {
    let rest = id.strip_prefix(MARK)?;
    let (time, rest) = rest.split_once('-')?;
    let (random, _) = rest.split_once('-')?;
    if random.len() != 4 || !random.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let secs = u64::from_str_radix(time, 36).ok()?;
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// A strong password for users the run creates (long, mixed, not a common one).
pub fn password() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::thread_rng();
    let body: String = (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect();
    format!("Oc-{body}-7z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_recognises_its_own_names_and_when_they_were_made() {
        let prefix = RunPrefix::new();
        let id = format!("{}frank", prefix.case(41));
        let when = started(&id).expect("ours");
        let age = SystemTime::now().duration_since(when).unwrap();
        assert!(age < Duration::from_secs(5), "{age:?}");
        assert!(started("frank").is_none());
        assert!(started("ocsct-frank").is_none());
        assert!(started("ocsct-zz-toolong-x").is_none());
    }
}
