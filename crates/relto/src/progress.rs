//! A small progress bar on standard error, drawn only when it is a terminal.

use std::io::{IsTerminal, Write};
use std::time::Instant;

pub struct Progress {
    total: usize,
    done: usize,
    started: Instant,
    visible: bool,
}

impl Progress {
    pub fn new(total: usize, quiet: bool) -> Self {
        Self {
            total,
            done: 0,
            started: Instant::now(),
            visible: !quiet && std::io::stderr().is_terminal(),
        }
    }

    pub fn advance(&mut self, n: usize) {
        self.done += n;
        if !self.visible {
            return;
        }
        let width = 30;
        let filled = (self.done * width).checked_div(self.total).unwrap_or(width);
        let rate = self.done as f64 / self.started.elapsed().as_secs_f64().max(1e-6);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {}/{} objects, {:.0}/s",
            "#".repeat(filled.min(width)),
            " ".repeat(width - filled.min(width)),
            self.done,
            self.total,
            rate
        );
        let _ = err.flush();
    }

    pub fn finish(&self) {
        if self.visible {
            eprintln!();
        }
    }
}
