//! One partition's share of the processor: the window counts of its own tickets, the raw
//! tickets it read, and its place in the stream. It is what moves, whole, from one instance
//! of a consumer group to another (a Kafka Streams task, in effect), through its checkpoint.
//!
//! A partition reads its records block by block: a block is the [`BLOCK`] stream positions
//! between two heartbeats, which the producer sends to every partition. Before it windows a
//! block, it tells the other partitions, in a [`Block`], where its latest event time rose
//! within it. It then windows its own tickets of the block against every partition's latest
//! event time, position by position. So each partition sees, at every position, the
//! watermark of CONVENTIONS.md (the minimum over all partitions) that one consumer reading
//! the whole topic would see: each closes the same windows at the same moment, and a
//! window's count is the sum of the partitions' shares ([`merge_windows`]).
//!
//! Checkpoints are cut at the end of a block where an hour of windows became complete. The
//! decision rests on the watermark alone, so every partition cuts at the same block, wherever
//! it runs.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::generate::Ticket;
use super::stream::{StreamError, HEARTBEAT_EVERY};
use super::window::{priority_index, Closed, Windows, SIZE_MS, SLIDE_MS};

/// Stream positions per block: the heartbeats' spacing.
pub const BLOCK: u64 = HEARTBEAT_EVERY;

const HOUR_MS: i64 = 3_600_000;

/// Where one partition's latest event time rose, at a stream position.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rise {
    /// The position of the ticket that raised it.
    pub seq: u64,
    /// The partition's latest event time from then on.
    pub max_event_ms: i64,
    /// That ticket's arrival: when a window this rise closes came out.
    pub arrival_ms: i64,
}

/// What a partition tells the others about one block of the stream.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Block {
    /// The partition.
    pub partition: i32,
    /// The block: positions `block × BLOCK ..` the next block's.
    pub block: u64,
    /// Every rise of its latest event time within the block, in position order.
    pub rises: Vec<Rise>,
    /// Its tickets in the block.
    pub tickets: u64,
    /// The sum of their positions: with the count, the partitions' shares must make up the
    /// block exactly (a lost or doubled record shows here).
    pub seq_sum: u64,
    /// When its end marker closed this block: the stream's length and the marker's arrival.
    pub end: Option<(u64, i64)>,
}

/// One partition's checkpoint: everything its task needs to go on, wherever it runs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartitionState {
    /// The partition.
    pub partition: i32,
    /// Its windows: counts of its own tickets; the latest event time of every partition.
    pub windows: Windows,
    /// Its closed windows of hours not written yet.
    pub pending: Vec<Closed>,
    /// Hours (start ms) already written.
    pub written_upto_hour_ms: Option<i64>,
    /// The next record to read (the heartbeat that opens `next_block`); `None`: the start.
    pub next_offset: Option<i64>,
    /// The next block to window.
    pub next_block: u64,
    /// Its tickets windowed so far.
    pub tickets: u64,
    /// Checkpoints cut so far, this one included.
    pub checkpoints: u64,
    /// Whether its end marker was windowed.
    pub finished: bool,
}

impl PartitionState {
    /// A partition at the start of a topic of `partitions` partitions.
    pub fn new(partition: i32, partitions: i32, lateness_ms: i64) -> PartitionState {
        PartitionState {
            partition,
            windows: Windows::new(partitions, lateness_ms),
            ..PartitionState::default()
        }
    }

    /// Its checkpoint's object name.
    pub fn file(partition: i32) -> String {
        format!("checkpoints/partition={partition}.json")
    }

    /// The object keeping the checkpoint its latest one replaced.
    pub fn previous_file(partition: i32) -> String {
        format!("checkpoints/partition={partition}.previous.json")
    }
}

/// A record of a partition, as the task takes it.
#[derive(Debug)]
pub enum Record {
    /// A ticket and its arrival (the record's timestamp).
    Ticket(Box<Ticket>, i64),
    /// A batch of tickets, each arriving at its own `arrival_ms`.
    Tickets(Vec<Ticket>),
    /// The producer had sent every ticket before this position.
    Heartbeat(u64),
    /// The producer's end marker: the stream's length, and the marker's arrival.
    End(u64, i64),
}

/// What closed the block being read.
#[derive(Debug, Clone, Copy)]
enum Closing {
    /// The next block's heartbeat, at this offset (read again as its opener on a restart).
    Heartbeat(i64),
    /// The end marker, at this offset: the stream's length and its arrival.
    End(i64, u64, i64),
}

/// What a task hands to the writer at a checkpoint.
#[derive(Debug)]
pub struct Cut {
    /// The partition.
    pub partition: i32,
    /// The block at whose end it was cut: the same for every partition.
    pub block: u64,
    /// Its share of the complete hours' windows (maybe none).
    pub windows_by_hour: BTreeMap<i64, Vec<Closed>>,
    /// The raw tickets it read since its last cut, with partition and offset.
    pub raw: Vec<(Ticket, i32, i64)>,
    /// Its state once the cut is written.
    pub state: PartitionState,
    /// At the end of the stream: its share of the late counts.
    pub late: Option<BTreeMap<i64, [i64; 4]>>,
}

/// Blocks a task reads ahead of the one it windows, at most: their [`Block`]s are published
/// as soon as read, so that between members of a group the round trip of a block through
/// the broker overlaps the windowing instead of stopping it.
pub const READ_AHEAD: usize = 8;

/// A block read whole, waiting to be windowed.
struct Read {
    /// Its tickets: ticket, priority index, arrival, offset.
    tickets: Vec<(Ticket, usize, i64, i64)>,
    closing: Closing,
}

/// One partition's task: its state, and the blocks it read ahead of it.
pub struct Task {
    /// What its checkpoint holds, as of the last block windowed.
    pub state: PartitionState,
    /// The block being read, and whether its opening heartbeat was read.
    reading: u64,
    opened: bool,
    /// Its tickets so far.
    tickets: Vec<(Ticket, usize, i64, i64)>,
    /// The partition's latest event time as of what was read.
    read_max: Option<i64>,
    /// Blocks read whole and not windowed yet, from `state.next_block` on.
    read: std::collections::VecDeque<Read>,
    /// Their [`Block`]s, not handed out yet.
    unpublished: Vec<Block>,
    /// The end marker was read.
    read_to_end: bool,
    /// Raw tickets since the last cut.
    raw: Vec<(Ticket, i32, i64)>,
    /// Tickets this task windowed in this run.
    pub tickets_this_run: u64,
    /// Windows it closed in this run.
    pub closed_this_run: usize,
}

impl Task {
    /// A task going on from `state` (a checkpoint, or a fresh state).
    pub fn new(state: PartitionState) -> Task {
        Task {
            reading: state.next_block,
            opened: false,
            tickets: Vec::new(),
            read_max: state.windows.max_event_ms.get(&state.partition).copied(),
            read: std::collections::VecDeque::new(),
            unpublished: Vec::new(),
            read_to_end: state.finished,
            state,
            raw: Vec::new(),
            tickets_this_run: 0,
            closed_this_run: 0,
        }
    }

    /// Whether it takes records now: not past its end, nor [`READ_AHEAD`] blocks ahead.
    pub fn wants_records(&self) -> bool {
        !self.read_to_end && self.read.len() < READ_AHEAD
    }

    /// Whether the next block to window is read whole (it waits for the others' then).
    pub fn has_read_next(&self) -> bool {
        !self.read.is_empty()
    }

    fn block_range(&self) -> std::ops::Range<u64> {
        let first = self.reading * BLOCK;
        first..first + BLOCK
    }

    /// Takes the record at `offset`. Records before the checkpoint's offset are already
    /// accounted for (a group's committed offset may lag its checkpoint) and are skipped.
    pub fn feed(&mut self, record: Record, offset: i64) -> Result<(), String> {
        if self.state.next_offset.is_some_and(|next| offset < next) {
            return Ok(());
        }
        let range = self.block_range();
        match record {
            Record::Heartbeat(seq) if !self.opened => {
                if seq != range.start {
                    return Err(format!(
                        "heartbeat of position {seq} where block {} opens at {}",
                        self.reading, range.start
                    ));
                }
                self.opened = true;
            }
            Record::Heartbeat(seq) => {
                if seq != range.end {
                    return Err(format!(
                        "heartbeat of position {seq} where block {} closes at {}",
                        self.reading, range.end
                    ));
                }
                // That heartbeat also opens the next block.
                self.close_block(Closing::Heartbeat(offset));
            }
            Record::End(total, arrival) => {
                self.close_block(Closing::End(offset, total, arrival));
                self.read_to_end = true;
            }
            Record::Ticket(ticket, arrival) => {
                self.take_ticket(*ticket, arrival, offset, &range)?
            }
            Record::Tickets(tickets) => {
                for ticket in tickets {
                    let arrival = ticket.arrival_ms;
                    self.take_ticket(ticket, arrival, offset, &range)?;
                }
            }
        }
        Ok(())
    }

    /// A ticket of the block being read, in order, with its priority known.
    fn take_ticket(
        &mut self,
        ticket: Ticket,
        arrival: i64,
        offset: i64,
        range: &std::ops::Range<u64>,
    ) -> Result<(), String> {
        let after = self.tickets.last().map(|t| t.0.seq);
        if !self.opened || !range.contains(&ticket.seq) || after >= Some(ticket.seq) {
            return Err(format!(
                "ticket {} at position {} does not belong in block {} ({}..{}) after position {after:?}",
                ticket.ticket_id, ticket.seq, self.reading, range.start, range.end
            ));
        }
        let priority = priority_index(&ticket.priority).ok_or_else(|| {
            format!(
                "ticket {}: unknown priority {}",
                ticket.ticket_id, ticket.priority
            )
        })?;
        self.tickets.push((ticket, priority, arrival, offset));
        Ok(())
    }

    /// The block being read is whole: its [`Block`] is computed, and reading goes on with
    /// the next.
    fn close_block(&mut self, closing: Closing) {
        let tickets = std::mem::take(&mut self.tickets);
        let mut rises = Vec::new();
        for (t, _, arrival, _) in &tickets {
            if self.read_max.is_none_or(|m| t.created_at_ms > m) {
                self.read_max = Some(t.created_at_ms);
                rises.push(Rise {
                    seq: t.seq,
                    max_event_ms: t.created_at_ms,
                    arrival_ms: *arrival,
                });
            }
        }
        self.unpublished.push(Block {
            partition: self.state.partition,
            block: self.reading,
            rises,
            tickets: tickets.len() as u64,
            seq_sum: tickets.iter().map(|t| t.0.seq).sum(),
            end: match closing {
                Closing::End(_, total, arrival) => Some((total, arrival)),
                Closing::Heartbeat(_) => None,
            },
        });
        self.read.push_back(Read { tickets, closing });
        self.reading += 1;
    }

    /// Whether blocks were read whole since the last [`Task::take_blocks`].
    pub fn has_blocks(&self) -> bool {
        !self.unpublished.is_empty()
    }

    /// The [`Block`]s of the blocks read whole since the last call, in block order.
    pub fn take_blocks(&mut self) -> Vec<Block> {
        std::mem::take(&mut self.unpublished)
    }

    /// Windows the block read, given every partition's [`Block`] for it (its own included,
    /// in partition order), and says whether a checkpoint is cut at its end.
    pub fn window_block(&mut self, blocks: &[&Block]) -> Result<Option<Cut>, StreamError> {
        let Read { tickets, closing } = self.read.pop_front().expect("the block was read whole");
        let k = self.state.next_block;
        let last = check_block(k, blocks)?;
        let p = self.state.partition;
        // Every position of the block in order: this partition's tickets, and the others'
        // rises (a position is one ticket, of one partition).
        enum Step<'t> {
            Own(&'t (Ticket, usize, i64, i64)),
            Rise(i32, &'t Rise),
        }
        let mut steps: Vec<(u64, Step)> = tickets.iter().map(|t| (t.0.seq, Step::Own(t))).collect();
        for b in blocks.iter().filter(|b| b.partition != p) {
            steps.extend(b.rises.iter().map(|r| (r.seq, Step::Rise(b.partition, r))));
        }
        steps.sort_unstable_by_key(|s| s.0);
        let w = &mut self.state.windows;
        for (_, step) in steps {
            let closed = match step {
                Step::Own((t, priority, arrival, _)) => {
                    w.event(p, t.created_at_ms, *priority, *arrival)
                }
                Step::Rise(q, r) => w.advance(q, r.max_event_ms, r.arrival_ms),
            };
            self.closed_this_run += closed.len();
            self.state.pending.extend(closed);
        }
        if last {
            let end_arrival = blocks
                .iter()
                .filter_map(|b| b.end)
                .map(|e| e.1)
                .max()
                .unwrap_or(0);
            for q in 0..w.partitions {
                let closed = w.end(q, end_arrival);
                self.closed_this_run += closed.len();
                self.state.pending.extend(closed);
            }
        }
        let count = tickets.len() as u64;
        self.state.tickets += count;
        self.tickets_this_run += count;
        self.raw
            .extend(tickets.into_iter().map(|(t, _, _, offset)| (t, p, offset)));
        self.state.next_block += 1;
        match closing {
            Closing::Heartbeat(offset) => {
                // That heartbeat opens the next block: a restart reads it again as such.
                self.state.next_offset = Some(offset);
            }
            Closing::End(offset, _, _) => {
                self.state.next_offset = Some(offset + 1);
                self.state.finished = true;
            }
        }
        let upto = if last {
            Some(i64::MAX)
        } else {
            complete_hours(&self.state)
        };
        Ok(upto.map(|upto| self.cut(k, upto, last)))
    }

    /// Takes the complete hours' windows and the raw tickets out of the state.
    fn cut(&mut self, block: u64, upto_hour_ms: i64, last: bool) -> Cut {
        let state = &mut self.state;
        let mut by_hour: BTreeMap<i64, Vec<Closed>> = BTreeMap::new();
        let mut keep = Vec::new();
        for c in state.pending.drain(..) {
            let hour = c.start_ms.div_euclid(HOUR_MS) * HOUR_MS;
            if hour <= upto_hour_ms {
                by_hour.entry(hour).or_default().push(c);
            } else {
                keep.push(c);
            }
        }
        state.pending = keep;
        if upto_hour_ms != i64::MAX {
            state.written_upto_hour_ms = Some(upto_hour_ms);
        }
        state.checkpoints += 1;
        Cut {
            partition: state.partition,
            block,
            windows_by_hour: by_hour,
            raw: std::mem::take(&mut self.raw),
            state: state.clone(),
            late: last.then(|| state.windows.late.clone()),
        }
    }
}

/// Checks that the partitions' shares make up block `k` exactly; says whether it is the
/// stream's last.
fn check_block(k: u64, blocks: &[&Block]) -> Result<bool, StreamError> {
    let ends: Vec<u64> = blocks.iter().filter_map(|b| b.end.map(|e| e.0)).collect();
    let first = k * BLOCK;
    let expected = match ends.first() {
        None => BLOCK,
        Some(&total) => {
            if ends.len() != blocks.len() || ends.iter().any(|&t| t != total) || total < first {
                return Err(StreamError::Block {
                    block: k,
                    problem: format!(
                        "the partitions' end markers disagree on where the stream ends: {:?}",
                        blocks
                            .iter()
                            .map(|b| (b.partition, b.end.map(|e| e.0)))
                            .collect::<Vec<_>>()
                    ),
                });
            }
            (total - first).min(BLOCK)
        }
    };
    let tickets: u64 = blocks.iter().map(|b| b.tickets).sum();
    let seq_sum: u64 = blocks.iter().map(|b| b.seq_sum).sum();
    let expected_sum: u64 = (first..first + expected).sum();
    if tickets != expected || seq_sum != expected_sum {
        return Err(StreamError::Block {
            block: k,
            problem: format!(
                "the partitions hold {tickets} tickets (positions summing to {seq_sum}) where the block has {expected} (summing to {expected_sum}): a record is missing or doubled, or the topic holds another stream"
            ),
        });
    }
    Ok(!ends.is_empty())
}

/// The start of the last hour whose windows are all closed, if later than what is written.
/// It rests on the watermark alone, which every partition sees alike at a block's end.
fn complete_hours(state: &PartitionState) -> Option<i64> {
    let watermark = state.windows.watermark()?;
    // Every window starting before hour H + 1 has closed once the watermark passes the end
    // of the last of them: (H + 1) − slide + size.
    let complete_before = (watermark - SIZE_MS + SLIDE_MS).div_euclid(HOUR_MS) * HOUR_MS;
    let upto = complete_before - HOUR_MS;
    state
        .written_upto_hour_ms
        .is_none_or(|w| upto > w)
        .then_some(upto)
}

/// The partitions' shares of one cut's windows, summed window by window: a window closed
/// at one moment in every partition that holds it, so the moments must agree.
pub fn merge_windows(
    shares: &[BTreeMap<i64, Vec<Closed>>],
) -> Result<BTreeMap<i64, Vec<Closed>>, String> {
    let mut by_start: BTreeMap<i64, Closed> = BTreeMap::new();
    for share in shares {
        for c in share.values().flatten() {
            match by_start.get_mut(&c.start_ms) {
                None => {
                    by_start.insert(c.start_ms, c.clone());
                }
                Some(sum) => {
                    if sum.closed_at_arrival_ms != c.closed_at_arrival_ms {
                        return Err(format!(
                            "window {} closed at {} in one partition and at {} in another",
                            c.start_ms, sum.closed_at_arrival_ms, c.closed_at_arrival_ms
                        ));
                    }
                    for (s, n) in sum.counts.iter_mut().zip(c.counts) {
                        *s += n;
                    }
                }
            }
        }
    }
    let mut by_hour: BTreeMap<i64, Vec<Closed>> = BTreeMap::new();
    for (start, c) in by_start {
        by_hour
            .entry(start.div_euclid(HOUR_MS) * HOUR_MS)
            .or_default()
            .push(c);
    }
    Ok(by_hour)
}

/// Counts per window start and priority (the partitions' shares of open windows, or of
/// late counts), summed.
pub fn sum_counts<'m>(
    shares: impl IntoIterator<Item = &'m BTreeMap<i64, [i64; 4]>>,
) -> BTreeMap<i64, [i64; 4]> {
    let mut out: BTreeMap<i64, [i64; 4]> = BTreeMap::new();
    for share in shares {
        for (start, counts) in share {
            let sum = out.entry(*start).or_insert([0; 4]);
            for (s, n) in sum.iter_mut().zip(counts) {
                *s += n;
            }
        }
    }
    out
}

/// The partitions' windows as one: their counts and counters summed, the watermark's
/// inputs (the same in every partition) kept.
pub fn merge_states(states: &[&PartitionState]) -> Windows {
    let windows = || states.iter().map(|s| &s.windows);
    let total = |counter: fn(&Windows) -> i64| windows().map(counter).sum();
    let first = windows().next().cloned().unwrap_or_default();
    Windows {
        open: sum_counts(windows().map(|w| &w.open)),
        late: sum_counts(windows().map(|w| &w.late)),
        on_time_events: total(|w| w.on_time_events),
        late_events: total(|w| w.late_events),
        added: total(|w| w.added),
        added_late: total(|w| w.added_late),
        ..first
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chapters::indutech::text::Text;
    use proptest::prelude::*;

    fn ticket(seq: u64, created: i64, priority: &str) -> Ticket {
        Ticket {
            seq,
            ticket_id: format!("T{seq}").into(),
            client_id: format!("C{}", seq % 7).into(),
            created_at_ms: created,
            arrival_ms: 0,
            request: Text::default(),
            request_type: "Bug".into(),
            priority: priority.into(),
        }
    }

    /// One consumer windowing every ticket in stream order, as the processor did before it
    /// was split by partition: the reference.
    fn whole(
        tickets: &[(i32, Ticket, i64)],
        partitions: i32,
        lateness: i64,
    ) -> (Vec<Closed>, Windows) {
        let mut w = Windows::new(partitions, lateness);
        let mut closed = Vec::new();
        for (p, t, arrival) in tickets {
            closed.extend(w.event(
                *p,
                t.created_at_ms,
                priority_index(&t.priority).unwrap(),
                *arrival,
            ));
        }
        let end = tickets.last().map_or(0, |t| t.2);
        for p in 0..partitions {
            closed.extend(w.end(p, end));
        }
        (closed, w)
    }

    /// The same tickets through one task per partition, block by block.
    fn split(
        tickets: &[(i32, Ticket, i64)],
        partitions: i32,
        lateness: i64,
    ) -> (Vec<Closed>, Windows) {
        let mut tasks: Vec<Task> = (0..partitions)
            .map(|p| Task::new(PartitionState::new(p, partitions, lateness)))
            .collect();
        let mut offsets = vec![0i64; partitions as usize];
        let mut feed = |tasks: &mut Vec<Task>, p: i32, r: Record| {
            tasks[p as usize].feed(r, offsets[p as usize]).unwrap();
            offsets[p as usize] += 1;
        };
        let n = tickets.len() as u64;
        let blocks = n.div_ceil(BLOCK);
        let mut cuts: Vec<Vec<Cut>> = vec![];
        for k in 0..blocks {
            for p in 0..partitions {
                if k == 0 {
                    feed(&mut tasks, p, Record::Heartbeat(0));
                }
            }
            for (p, t, arrival) in tickets.iter().filter(|t| t.1.seq / BLOCK == k) {
                feed(
                    &mut tasks,
                    *p,
                    Record::Ticket(Box::new(t.clone()), *arrival),
                );
            }
            let end = tickets.last().map_or(0, |t| t.2);
            for p in 0..partitions {
                let r = if k + 1 == blocks {
                    Record::End(n, end)
                } else {
                    Record::Heartbeat((k + 1) * BLOCK)
                };
                feed(&mut tasks, p, r);
            }
            let summaries: Vec<Block> = tasks.iter_mut().flat_map(|t| t.take_blocks()).collect();
            let refs: Vec<&Block> = summaries.iter().collect();
            let block_cuts: Vec<Cut> = tasks
                .iter_mut()
                .filter_map(|t| t.window_block(&refs).unwrap())
                .collect();
            assert!(
                block_cuts.is_empty() || block_cuts.len() == partitions as usize,
                "every partition cuts at the same block"
            );
            if !block_cuts.is_empty() {
                cuts.push(block_cuts);
            }
        }
        let mut closed = Vec::new();
        for block_cuts in &cuts {
            let shares: Vec<_> = block_cuts
                .iter()
                .map(|c| c.windows_by_hour.clone())
                .collect();
            closed.extend(merge_windows(&shares).unwrap().into_values().flatten());
        }
        assert!(tasks
            .iter()
            .all(|t| t.state.finished && t.state.pending.is_empty()));
        let states: Vec<&PartitionState> = tasks.iter().map(|t| &t.state).collect();
        (closed, merge_states(&states))
    }

    proptest! {
        /// Split by partition, the windows close as they do for one consumer of the whole
        /// topic: the same windows, counts, moments, late counts and counters.
        #[test]
        fn partition_tasks_window_as_one_consumer_does(
            events in prop::collection::vec((0i32..4, 0i64..4_000_000, 0usize..4, 0i64..300_000), 1..2600),
            partitions in 1i32..5,
            lateness in 0i64..120_000,
        ) {
            let mut tickets: Vec<(i32, Ticket, i64)> = events
                .iter()
                .map(|(p, t, pr, delay)| (p % partitions, ticket(0, *t, super::super::window::PRIORITIES[*pr]), t + delay))
                .collect();
            tickets.sort_by_key(|t| t.2);
            for (seq, t) in tickets.iter_mut().enumerate() {
                t.1.seq = seq as u64;
            }
            let (mut one, w_one) = whole(&tickets, partitions, lateness);
            let (split_closed, w_split) = split(&tickets, partitions, lateness);
            one.sort_by_key(|c| c.start_ms);
            prop_assert_eq!(split_closed, one);
            prop_assert_eq!(w_split.late, w_one.late);
            prop_assert_eq!((w_split.on_time_events, w_split.late_events, w_split.added, w_split.added_late),
                (w_one.on_time_events, w_one.late_events, w_one.added, w_one.added_late));
        }
    }

    #[test]
    fn a_block_short_of_a_ticket_is_refused() {
        let b = |p, tickets, seq_sum| Block {
            partition: p,
            block: 0,
            rises: vec![],
            tickets,
            seq_sum,
            end: None,
        };
        let (a, c) = (b(0, 600, (0..600).sum()), b(1, 399, (600..999).sum()));
        let error = check_block(0, &[&a, &c]).unwrap_err().to_string();
        assert!(error.contains("999 tickets"), "{error}");
        let c = b(1, 400, (600..1000).sum());
        assert!(!check_block(0, &[&a, &c]).unwrap(), "not the last block");
    }
}
