//! The import's progress bar on standard error (indicatif draws it only on a terminal).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress(ProgressBar);

impl Progress {
    pub fn new(total: usize, quiet: bool) -> Self {
        let bar = ProgressBar::with_draw_target(
            Some(total as u64),
            if quiet {
                ProgressDrawTarget::hidden()
            } else {
                ProgressDrawTarget::stderr()
            },
        );
        if let Ok(style) =
            ProgressStyle::with_template("[{bar:30}] {pos}/{len} objects, {per_sec}, {eta} left")
        {
            bar.set_style(style.progress_chars("#>-"));
        }
        Self(bar)
    }

    pub fn advance(&mut self, n: usize) {
        self.0.inc(n as u64);
    }

    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}
