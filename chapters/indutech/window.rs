//! Event-time sliding windows: 1 minute long, sliding every 30 seconds, counting tickets per
//! priority. The watermark is the minimum over partitions of the latest event time seen in
//! each, minus the allowed lateness; a window closes when the watermark passes its end. An
//! event for a window already closed is late: counted for that window, never added to it,
//! never dropped silently. The stream's counts plus the late counts equal a batch count of
//! every ticket, window by window: the chapter checks exactly that.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Window length, milliseconds.
pub const SIZE_MS: i64 = 60_000;
/// Window slide, milliseconds: a window starts every 30 s.
pub const SLIDE_MS: i64 = 30_000;

/// The four priorities, in the order tables show them.
pub const PRIORITIES: [&str; 4] = ["Basse", "Moyenne", "Haute", "Critique"];

/// Index of a priority in [`PRIORITIES`].
pub fn priority_index(p: &str) -> Option<usize> {
    PRIORITIES.iter().position(|x| *x == p)
}

/// The starts of the windows holding an event at `t` (ms): the two multiples of the slide in
/// `(t − size, t]`.
pub fn window_starts(t: i64) -> [i64; 2] {
    let last = t.div_euclid(SLIDE_MS) * SLIDE_MS;
    [last - SLIDE_MS, last]
}

/// A closed window's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Closed {
    /// The window's start, UTC milliseconds.
    pub start_ms: i64,
    /// Tickets per priority, in [`PRIORITIES`] order.
    pub counts: [i64; 4],
    /// Arrival time (ms) of the event whose watermark closed the window, or of the end of the
    /// stream: with the window's end, how long after it the result came out.
    pub closed_at_arrival_ms: i64,
}

/// The windowing state: what a checkpoint saves.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Windows {
    /// How long after a window's end a late event is still counted in it, milliseconds.
    pub lateness_ms: i64,
    /// Latest event time seen per partition (absent: nothing yet).
    pub max_event_ms: BTreeMap<i32, i64>,
    /// Partitions whose end-of-stream marker has been read: they no longer hold the
    /// watermark back.
    pub ended: BTreeMap<i32, bool>,
    /// Partitions of the topic (each holds the watermark back until it ends).
    pub partitions: i32,
    /// Open windows by start.
    pub open: BTreeMap<i64, [i64; 4]>,
    /// Late events per window start and priority.
    pub late: BTreeMap<i64, [i64; 4]>,
    /// Events late for none of their windows.
    pub on_time_events: i64,
    /// Events late for at least one of their windows.
    pub late_events: i64,
    /// (event, window) pairs counted in an open window.
    pub added: i64,
    /// (event, window) pairs counted late.
    pub added_late: i64,
}

impl Windows {
    /// An empty state for a topic of `partitions` partitions.
    pub fn new(partitions: i32, lateness_ms: i64) -> Windows {
        Windows {
            lateness_ms,
            partitions,
            ..Windows::default()
        }
    }

    /// The watermark: min over partitions of their latest event time, minus the lateness;
    /// `None` while some partition has shown nothing (and not ended).
    pub fn watermark(&self) -> Option<i64> {
        let mut min: Option<i64> = None;
        let mut all_ended = true;
        for p in 0..self.partitions {
            if self.ended.get(&p).copied().unwrap_or(false) {
                continue;
            }
            all_ended = false;
            let m = *self.max_event_ms.get(&p)?;
            min = Some(min.map_or(m, |x: i64| x.min(m)));
        }
        if all_ended {
            return Some(i64::MAX);
        }
        min.map(|m| m - self.lateness_ms)
    }

    /// The watermark only grows (each partition's latest event time only grows, and an
    /// ended partition stops counting), so a window is closed exactly when the current
    /// watermark has passed its end, whether or not it ever held an event.
    fn is_closed(watermark: Option<i64>, start: i64) -> bool {
        watermark.is_some_and(|w| start.saturating_add(SIZE_MS) <= w)
    }

    /// One event (partition, event time, priority) arriving at `arrival_ms`. Returns the
    /// windows it closed, in start order.
    pub fn event(
        &mut self,
        partition: i32,
        event_ms: i64,
        priority: usize,
        arrival_ms: i64,
    ) -> Vec<Closed> {
        let mut was_late = false;
        // Read once for both windows: nothing below changes it before `close`.
        let watermark = self.watermark();
        for start in window_starts(event_ms) {
            if Self::is_closed(watermark, start) {
                self.late.entry(start).or_insert([0; 4])[priority] += 1;
                self.added_late += 1;
                was_late = true;
            } else {
                self.open.entry(start).or_insert([0; 4])[priority] += 1;
                self.added += 1;
            }
        }
        if was_late {
            self.late_events += 1;
        } else {
            self.on_time_events += 1;
        }
        let seen = self.max_event_ms.entry(partition).or_insert(event_ms);
        *seen = (*seen).max(event_ms);
        self.close(arrival_ms)
    }

    /// Another partition's latest event time rose to `max_event_ms`, by a ticket that arrived
    /// at `arrival_ms` and is counted where that partition's windows are. Returns the windows
    /// the rise closed, in start order.
    pub fn advance(&mut self, partition: i32, max_event_ms: i64, arrival_ms: i64) -> Vec<Closed> {
        let seen = self.max_event_ms.entry(partition).or_insert(max_event_ms);
        *seen = (*seen).max(max_event_ms);
        self.close(arrival_ms)
    }

    /// The end-of-stream marker of `partition`.
    pub fn end(&mut self, partition: i32, arrival_ms: i64) -> Vec<Closed> {
        self.ended.insert(partition, true);
        self.close(arrival_ms)
    }

    /// Closes every open window whose end the watermark has passed.
    fn close(&mut self, arrival_ms: i64) -> Vec<Closed> {
        let Some(watermark) = self.watermark() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        while let Some((&start, _)) = self.open.first_key_value() {
            if start.saturating_add(SIZE_MS) > watermark {
                break;
            }
            let counts = self.open.remove(&start).expect("present");
            out.push(Closed {
                start_ms: start,
                counts,
                closed_at_arrival_ms: arrival_ms,
            });
        }
        out
    }
}

/// Batch recomputation: every ticket counted in both its windows, with no notion of time.
pub fn batch_counts(events: impl IntoIterator<Item = (i64, usize)>) -> BTreeMap<i64, [i64; 4]> {
    let mut out: BTreeMap<i64, [i64; 4]> = BTreeMap::new();
    for (t, p) in events {
        for start in window_starts(t) {
            out.entry(start).or_insert([0; 4])[p] += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn an_event_belongs_to_two_windows() {
        assert_eq!(window_starts(95_000), [60_000, 90_000]);
        assert_eq!(window_starts(60_000), [30_000, 60_000]);
        assert_eq!(window_starts(59_999), [0, 30_000]);
    }

    #[test]
    fn a_window_closes_when_every_partition_has_passed_its_end_plus_lateness() {
        let mut w = Windows::new(2, 10_000);
        assert!(w.event(0, 5_000, 0, 5_000).is_empty());
        // Partition 1 has shown nothing: no watermark yet.
        assert!(w.event(0, 200_000, 0, 200_000).is_empty());
        let closed = w.event(1, 100_000, 1, 200_001);
        // watermark = min(200 s, 100 s) − 10 s = 90 s: windows [−30, 30) and [0, 60) close.
        assert_eq!(
            closed.iter().map(|c| c.start_ms).collect::<Vec<_>>(),
            [-30_000, 0]
        );
        // An event at 10 s is now late for both of its windows.
        w.event(1, 10_000, 2, 200_002);
        assert_eq!(w.late[&0][2], 1);
        assert_eq!(w.late_events, 1);
    }

    proptest! {
        /// Whatever the disorder: stream counts + late counts = batch counts, window by window.
        #[test]
        fn stream_plus_late_equals_batch(events in prop::collection::vec((0i32..3, 0i64..1_000_000, 0usize..4, 0i64..200_000), 0..400), lateness in 0i64..120_000) {
            let mut arrivals: Vec<(i64, i32, i64, usize)> = events.iter().map(|(p, t, pr, delay)| (t + delay, *p, *t, *pr)).collect();
            arrivals.sort();
            let mut w = Windows::new(3, lateness);
            let mut stream: BTreeMap<i64, [i64; 4]> = BTreeMap::new();
            let mut emit = |closed: Vec<Closed>| -> Result<(), TestCaseError> {
                for c in closed {
                    prop_assert!(!stream.contains_key(&c.start_ms), "a window closes once");
                    stream.insert(c.start_ms, c.counts);
                }
                Ok(())
            };
            for (arrival, p, t, pr) in &arrivals {
                emit(w.event(*p, *t, *pr, *arrival))?;
            }
            let end = arrivals.last().map_or(0, |a| a.0);
            for p in 0..3 {
                emit(w.end(p, end))?;
            }
            prop_assert!(w.open.is_empty());
            let batch = batch_counts(arrivals.iter().map(|a| (a.2, a.3)));
            let mut windows: Vec<i64> = batch.keys().chain(stream.keys()).chain(w.late.keys()).copied().collect();
            windows.sort();
            windows.dedup();
            for start in windows {
                for p in 0..4 {
                    let s = stream.get(&start).map_or(0, |c| c[p]);
                    let l = w.late.get(&start).map_or(0, |c| c[p]);
                    let b = batch.get(&start).map_or(0, |c| c[p]);
                    prop_assert_eq!(s + l, b, "window {} priority {}", start, p);
                }
            }
        }
    }
}
