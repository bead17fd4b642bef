//! Progress on stderr for long work (indicatif). Quiet when stderr is not a terminal, so CI
//! logs and piped output stay clean.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A cheap handle the engine gives each chapter; `step` says what is happening now.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// A spinner on stderr when it is a terminal; hidden otherwise.
    pub fn stderr(prefix: &str) -> Progress {
        let target = if std::io::stderr().is_terminal() {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} ({elapsed})").expect("valid template"));
        bar.set_prefix(prefix.to_string());
        bar.enable_steady_tick(Duration::from_millis(120));
        Progress { bar }
    }

    /// A progress that never draws (tests, benchmarks).
    pub fn hidden() -> Progress {
        Progress { bar: ProgressBar::hidden() }
    }

    pub fn step(&self, message: &str) {
        self.bar.set_message(message.to_string());
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Prints a step's wall time (since `since`, which is reset) when `AUDITBOOK_PROFILE` is set:
/// for `bench` and for finding slow steps, never for the book.
pub fn profile(chapter: &str, step: &str, since: &mut std::time::Instant) {
    if std::env::var_os("AUDITBOOK_PROFILE").is_some() {
        eprintln!("profile\t{chapter}\t{step}\t{:.3}", since.elapsed().as_secs_f64() * 1000.0);
    }
    *since = std::time::Instant::now();
}
