//! Where a run's time goes in the document store: every call a [`super::DocStore`] makes is
//! timed under its kind (`start`, `connect`, `insert`, `aggregate`, `count`, …), process-wide,
//! so that `bench` can say which part of a chapter's time is the server's and which is ours.
//! The time is the caller's wait: the server's work plus the wire and the driver, which are
//! small beside a Python server's work per document.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Calls of one kind and the time waited on them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// How many calls.
    pub calls: u64,
    /// The time waited on them, summed (calls of two chapters at once both count).
    pub time: Duration,
}

static TALLY: Mutex<BTreeMap<&'static str, Tally>> = Mutex::new(BTreeMap::new());

/// Runs `work`, counting its time under `kind`.
pub fn timed<T>(kind: &'static str, work: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let out = work();
    let elapsed = started.elapsed();
    let mut tally = TALLY.lock().unwrap_or_else(|p| p.into_inner());
    let entry = tally.entry(kind).or_default();
    entry.calls += 1;
    entry.time += elapsed;
    out
}

/// Every kind's tally so far.
pub fn snapshot() -> BTreeMap<&'static str, Tally> {
    TALLY.lock().unwrap_or_else(|p| p.into_inner()).clone()
}

/// What was tallied after `before` was taken (kinds with no new call left out).
pub fn since(before: &BTreeMap<&'static str, Tally>) -> BTreeMap<&'static str, Tally> {
    snapshot()
        .into_iter()
        .filter_map(|(kind, now)| {
            let was = before.get(kind).copied().unwrap_or_default();
            (now.calls > was.calls).then(|| {
                (
                    kind,
                    Tally {
                        calls: now.calls - was.calls,
                        time: now.time.saturating_sub(was.time),
                    },
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_counts_only_what_followed() {
        timed("test-kind-a", || ());
        let before = snapshot();
        timed("test-kind-a", || {
            std::thread::sleep(Duration::from_millis(5))
        });
        timed("test-kind-b", || ());
        let after = since(&before);
        assert_eq!(after["test-kind-a"].calls, 1);
        assert!(after["test-kind-a"].time >= Duration::from_millis(5));
        assert_eq!(after["test-kind-b"].calls, 1);
    }
}
