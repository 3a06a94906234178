//! Progress of bulk work on standard error, when standard error is a
//! terminal: a bar over the items, cleared when done. Nothing at all when it is
//! not (a pipe, a file, the journal), and nothing for a handful of items.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// Fewer items than this are done before a bar would be worth reading.
pub const BULK: usize = 100;

pub struct Progress(ProgressBar);

impl Progress {
    /// A bar over `len` items of `what` (e.g. "users").
    pub fn over(len: usize, what: &str) -> Progress {
        if len < BULK || !std::io::stderr().is_terminal() {
            return Progress(ProgressBar::hidden());
        }
        let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{msg} {wide_bar} {pos}/{len} ({eta} left)")
            .unwrap_or_else(|_| ProgressStyle::default_bar());
        bar.set_style(style);
        bar.set_message(what.to_owned());
        Progress(bar)
    }

    pub fn inc(&self) {
        self.0.inc(1);
    }

    /// Writes output while the bar is shown: the bar steps aside for it.
    pub fn suspend<R>(&self, write: impl FnOnce() -> R) -> R {
        self.0.suspend(write)
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
