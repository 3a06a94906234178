//! A budget for log lines a flood could produce (refused attempts): at most so
//! many per second; the rest are counted and reported in one line when the next
//! second starts, so the journal stays readable and bounded under attack.

use std::sync::Mutex;

pub struct LogBudget {
    per_second: u32,
    state: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    second: i64,
    used: u32,
    suppressed: u64,
}

/// What to do with one line.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Write it; first say how many lines the last full window suppressed.
    Write {
        suppressed_before: u64,
    },
    Suppress,
}

impl LogBudget {
    pub fn new(per_second: u32) -> Self {
        LogBudget {
            per_second,
            state: Mutex::new(Window::default()),
        }
    }

    pub fn take(&self, now_ms: i64) -> Verdict {
        let mut w = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let second = now_ms.div_euclid(1000);
        let mut suppressed_before = 0;
        if second != w.second {
            suppressed_before = std::mem::take(&mut w.suppressed);
            w.second = second;
            w.used = 0;
        }
        if w.used < self.per_second {
            w.used += 1;
            Verdict::Write { suppressed_before }
        } else {
            w.suppressed += 1;
            Verdict::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn past_the_budget_lines_are_counted_and_reported_once() {
        let budget = LogBudget::new(2);
        let write = |n| Verdict::Write {
            suppressed_before: n,
        };
        assert_eq!(budget.take(1_000), write(0));
        assert_eq!(budget.take(1_100), write(0));
        assert_eq!(budget.take(1_200), Verdict::Suppress);
        assert_eq!(budget.take(1_999), Verdict::Suppress);
        assert_eq!(budget.take(2_000), write(2));
        assert_eq!(budget.take(2_001), write(0));
    }
}
