//! Progress on stderr while chapters run. On a terminal, one spinner per chapter (indicatif,
//! under one `MultiProgress` so parallel chapters do not draw over each other) saying what
//! it is doing; elsewhere (CI logs, a pipe), one plain line when a chapter starts and one when
//! it ends. Wall-clock times appear here and in `bench`, never in the book.

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A cheap handle the engine gives each chapter; `step` says what is happening now.
#[derive(Clone)]
pub struct Progress {
    bar: ProgressBar,
    /// The chapter's name in the lines; `None` draws nothing at all.
    prefix: Option<String>,
    started: Instant,
}

/// The spinners of every chapter running in this process, drawn together.
fn terminal() -> Option<&'static MultiProgress> {
    static BARS: OnceLock<Option<MultiProgress>> = OnceLock::new();
    BARS.get_or_init(|| {
        std::io::stderr()
            .is_terminal()
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()))
    })
    .as_ref()
}

impl Progress {
    /// Progress of one chapter on stderr: a spinner on a terminal, plain lines elsewhere.
    pub fn stderr(prefix: &str) -> Progress {
        let bar = match terminal() {
            Some(bars) => {
                let bar = bars.add(ProgressBar::new_spinner());
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {prefix:.bold} {msg} ({elapsed})")
                        .expect("valid template"),
                );
                bar.set_prefix(prefix.to_string());
                bar
            }
            None => ProgressBar::hidden(),
        };
        Progress {
            bar,
            prefix: Some(prefix.to_string()),
            started: Instant::now(),
        }
    }

    /// A progress that never draws (tests, benchmarks).
    pub fn hidden() -> Progress {
        Progress {
            bar: ProgressBar::hidden(),
            prefix: None,
            started: Instant::now(),
        }
    }

    /// Says what the chapter does now.
    pub fn step(&self, message: &str) {
        self.bar.set_message(message.to_string());
    }

    /// Says that the chapter starts (plain line off a terminal; the spinner says it on one).
    pub fn start(&self) {
        match (&self.prefix, terminal()) {
            (Some(_), Some(_)) => self.bar.enable_steady_tick(Duration::from_millis(120)),
            (Some(prefix), None) => eprintln!("{prefix}: running"),
            (None, _) => {}
        }
    }

    /// Ends the spinner, leaving one line: `{prefix}: {outcome} after N s`.
    pub fn end(&self, outcome: &str) {
        if let Some(prefix) = &self.prefix {
            let line = format!(
                "{prefix}: {outcome} ({:.1} s)",
                self.started.elapsed().as_secs_f64()
            );
            match terminal() {
                Some(bars) => {
                    let _ = bars.println(line);
                }
                None => eprintln!("{line}"),
            }
        }
        self.bar.finish_and_clear();
    }

    /// Ends the line (or stops the spinner).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Prints a step's wall time (since `since`, which is reset) when `AUDITBOOK_PROFILE` is set:
/// for `bench` and for finding slow steps, never for the book.
pub fn profile(chapter: &str, step: &str, since: &mut std::time::Instant) {
    if std::env::var_os("AUDITBOOK_PROFILE").is_some() {
        eprintln!(
            "profile\t{chapter}\t{step}\t{:.3}",
            since.elapsed().as_secs_f64() * 1000.0
        );
    }
    *since = std::time::Instant::now();
}
