//! The pipeline through a Kafka-protocol broker with `rdkafka`: an idempotent producer
//! (acks=all, keyed by client) and a processor that reads every partition with manual offset
//! commits, feeds the windows, and writes Parquet through the sink.
//!
//! The processor merges partitions in arrival order (each record carries its position in the
//! stream, and the producer ends every partition with an end marker): the same tickets are
//! then classified late or on time in every run, whatever the fetch timing, which is what
//! lets the book be reproducible and a restarted run equal an uninterrupted one.
//!
//! State is checkpointed when an hour of windows is complete: the closed windows and the raw
//! tickets since the last checkpoint are written, then the window state with the next offset
//! of every partition, then the offsets are committed to the group. A processor that crashes
//! restarts from that checkpoint and re-reads what followed it.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::generate::Ticket;
use super::payload::Payload;
use super::sink;
use super::window::{priority_index, Closed, Windows, SIZE_MS, SLIDE_MS};
use crate::backends::kafka::{BrokerError, Endpoint};
use crate::backends::objstore::{Storage, StorageError};
use crate::error::Unreachable;

/// What stops the producer or the processor.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    /// The broker did not answer, or went away: the tool could not run.
    #[error("{0}")]
    Unreachable(#[from] Unreachable),
    /// Some tickets never reached the broker.
    #[error("{failed} records were not delivered to {bootstrap}; the first: {first}")]
    Undelivered {
        /// Records not delivered.
        failed: usize,
        /// The brokers they were for.
        bootstrap: String,
        /// The first failure, as librdkafka gave it.
        first: String,
    },
    /// A record on the topic that the producer does not write.
    #[error("topic {topic}, partition {partition} offset {offset}: {problem}")]
    Record {
        /// The topic.
        topic: String,
        /// The partition.
        partition: i32,
        /// The record's offset.
        offset: i64,
        /// What is wrong with it.
        problem: String,
    },
    /// The records are not one whole stream: one is missing, or another stream shares the
    /// topic.
    #[error("ticket {ticket} came as position {got}, expected {expected}: a record is missing or the topic holds another stream")]
    OutOfSequence {
        /// The ticket.
        ticket: String,
        /// The position it came as.
        got: u64,
        /// The position expected next.
        expected: u64,
    },
    /// The checkpoint the sink holds is not one this processor wrote.
    #[error("the checkpoint checkpoints/latest.json")]
    Checkpoint(#[source] serde_json::Error),
    /// A Parquet file could not be encoded.
    #[error("encoding {file}")]
    Parquet {
        /// The file it was for.
        file: String,
        /// What the encoder said.
        #[source]
        source: Box<parquet::errors::ParquetError>,
    },
    /// The broker could not be had, or refused a call.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The sink refused a write or a read.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// The checkpoint writer stopped (its own error is the one reported).
    #[error("the checkpoint writer stopped")]
    WriterStopped,
}

/// A Kafka error on `operation`, at `bootstrap`: the backend's own naming of a refused call.
fn kafka(operation: impl Into<String>, bootstrap: &str) -> impl FnOnce(KafkaError) -> StreamError {
    let failed = crate::backends::kafka::failed(operation, bootstrap);
    move |source| StreamError::Broker(failed(source))
}

/// The broker at `bootstrap` did not answer `operation`: the backend's own naming of it.
fn unreachable(operation: &str, bootstrap: &str) -> impl FnOnce(KafkaError) -> StreamError {
    let out_of_reach = crate::backends::kafka::out_of_reach(operation, bootstrap);
    // Kept as the stream's own `Unreachable`, as callers (and the exit code) expect.
    move |source| match out_of_reach(source) {
        crate::backends::kafka::BrokerError::Unreachable(u) => StreamError::Unreachable(u),
        other => StreamError::Broker(other),
    }
}

/// Names a Parquet encoding failure by the file it was for.
fn parquet(file: &str) -> impl FnOnce(parquet::errors::ParquetError) -> StreamError {
    let file = file.to_string();
    move |source| StreamError::Parquet {
        file,
        source: Box::new(source),
    }
}

/// The key of the end-of-stream marker records.
const END_KEY: &str = "__end_of_stream__";
/// The key of heartbeat records: every [`HEARTBEAT_EVERY`] tickets the producer tells every
/// partition the stream position it has reached, so the merge never waits on a partition
/// that has no ticket for a while (a quiet client key), and the processor stays close to
/// the producer.
const HEARTBEAT_KEY: &str = "__heartbeat__";
/// Tickets between two heartbeats (see [`HEARTBEAT_KEY`]).
pub const HEARTBEAT_EVERY: u64 = 1000;
/// How far the producer may run ahead of the processor on the in-process broker: about
/// 2.5 MB of tickets, where librdkafka's mock keeps 5 MB per partition.
pub const MAX_AHEAD: u64 = 10 * HEARTBEAT_EVERY;

/// Records failed deliveries: librdkafka reports them only through this callback, and a
/// ticket that never reached the broker must fail the run, not vanish.
#[derive(Default)]
struct DeliveryWatch {
    failed: std::sync::atomic::AtomicUsize,
    first: std::sync::Mutex<Option<String>>,
}

impl rdkafka::client::ClientContext for DeliveryWatch {}

impl rdkafka::producer::ProducerContext for DeliveryWatch {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        if let Err((e, m)) = result {
            self.failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut first = self.first.lock().expect("not poisoned");
            first.get_or_insert_with(|| {
                format!(
                    "partition {} key {:?}: {e}",
                    m.partition(),
                    m.key().map(String::from_utf8_lossy)
                )
            });
        }
    }
}

/// Sends every ticket, keyed by client, with a heartbeat to every partition every
/// [`HEARTBEAT_EVERY`] tickets, then an end marker to every partition. With `throttle`
/// (the processor's position, and how far ahead the producer may run), the producer waits
/// for the processor: librdkafka's in-process broker keeps only about 5 MB per partition and
/// drops older records, so a producer far ahead would lose tickets before they are read.
pub fn produce(
    broker: &Endpoint,
    tickets: &[Ticket],
    throttle: Option<(&std::sync::atomic::AtomicU64, u64)>,
) -> Result<(), StreamError> {
    produce_as(broker, tickets, throttle, Payload::Json)
}

/// [`produce`], each ticket's record value in the form `payload`.
pub fn produce_as(
    broker: &Endpoint,
    tickets: &[Ticket],
    throttle: Option<(&std::sync::atomic::AtomicU64, u64)>,
    payload: Payload,
) -> Result<(), StreamError> {
    let producer: BaseProducer<DeliveryWatch> = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .set("enable.idempotence", "true")
        .set("acks", "all")
        .set("linger.ms", "5")
        .set("batch.num.messages", "10000")
        .set("queue.buffering.max.messages", "500000")
        .set("message.timeout.ms", "120000")
        .create_with_context(DeliveryWatch::default())
        .map_err(kafka("creating the producer", &broker.bootstrap))?;
    let mut value = Vec::with_capacity(256);
    let empty: &[u8] = &[];
    for t in tickets {
        if t.seq % HEARTBEAT_EVERY == 0 {
            let position = t.seq.to_string();
            for p in 0..broker.partitions {
                producer
                    .send(
                        BaseRecord::to(&broker.topic)
                            .key(HEARTBEAT_KEY)
                            .payload(position.as_bytes())
                            .partition(p)
                            .timestamp(t.arrival_ms),
                    )
                    .map_err(|(e, _)| {
                        kafka(format!("heartbeat to partition {p}"), &broker.bootstrap)(e)
                    })?;
            }
        }
        if let Some((processed, ahead)) = throttle {
            // Wait asleep: `poll(1 ms)` spins through its last sub-millisecond (librdkafka
            // counts whole milliseconds), and on two cores a spinning producer takes the
            // processor's core (perf: a fifth of the run in clock_gettime).
            while t.seq > processed.load(std::sync::atomic::Ordering::Relaxed) + ahead {
                producer.poll(Duration::ZERO);
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        super::payload::encode(t, payload, &mut value);
        let mut record = BaseRecord::to(&broker.topic)
            .key(t.client_id.as_str())
            .payload(value.as_slice())
            .timestamp(t.arrival_ms);
        loop {
            match producer.send(record) {
                Ok(()) => break,
                Err((
                    rdkafka::error::KafkaError::MessageProduction(
                        rdkafka::types::RDKafkaErrorCode::QueueFull,
                    ),
                    r,
                )) => {
                    record = r;
                    producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => {
                    return Err(kafka(
                        format!("producing ticket {}", t.ticket_id),
                        &broker.bootstrap,
                    )(e))
                }
            }
        }
        // Serve delivery reports now and then, not per record: each poll takes the queue's
        // lock and reads the clock.
        if t.seq % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    let end_at = tickets.last().map_or(0, |t| t.arrival_ms);
    for p in 0..broker.partitions {
        producer
            .send(
                BaseRecord::to(&broker.topic)
                    .key(END_KEY)
                    .payload(empty)
                    .partition(p)
                    .timestamp(end_at),
            )
            .map_err(|(e, _)| {
                kafka(format!("end marker of partition {p}"), &broker.bootstrap)(e)
            })?;
    }
    producer
        .flush(Duration::from_secs(120))
        .map_err(unreachable("flushing the producer", &broker.bootstrap))?;
    let failed = producer
        .context()
        .failed
        .load(std::sync::atomic::Ordering::Relaxed);
    if failed > 0 {
        let first = producer
            .context()
            .first
            .lock()
            .expect("not poisoned")
            .clone()
            .unwrap_or_default();
        return Err(StreamError::Undelivered {
            failed,
            bootstrap: broker.bootstrap.clone(),
            first,
        });
    }
    Ok(())
}

/// What the processor saves at each checkpoint.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    /// The windowing state.
    pub windows: Windows,
    /// Closed windows of hours not complete yet.
    pub pending: Vec<Closed>,
    /// Hours (start ms) already written.
    pub written_upto_hour_ms: Option<i64>,
    /// Next offset to read, per partition.
    pub next_offset: BTreeMap<i32, i64>,
    /// Stream position of the next ticket expected.
    pub next_seq: u64,
    /// Checkpoints written so far, this one included.
    pub checkpoints: u64,
}

/// How a processor run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The last checkpoint written.
    pub checkpoint: Checkpoint,
    /// Every closed window, in order (this run's and, after a restart, the earlier runs'
    /// written files hold the rest).
    pub closed_this_run: usize,
    /// Tickets this run processed.
    pub tickets_this_run: u64,
    /// Whether every partition's end marker was read.
    pub finished: bool,
}

const HOUR_MS: i64 = 3_600_000;

enum Item {
    Ticket(Box<Ticket>, i64),
    /// The producer had sent every ticket before this position.
    Heartbeat(u64),
    End(i64),
}

impl Item {
    /// Merge order: by stream position, a heartbeat before the ticket at its position, end
    /// markers last.
    fn order(&self) -> (u64, u8) {
        match self {
            Item::Heartbeat(seq) => (*seq, 0),
            Item::Ticket(t, _) => (t.seq, 1),
            Item::End(_) => (u64::MAX, 2),
        }
    }
}

/// Processor settings.
pub struct ProcessorConfig<'a> {
    /// The consumer group (its committed offsets are the restart point).
    pub group: &'a str,
    /// How long after a window's end a late ticket is still counted in it, milliseconds.
    pub lateness_ms: i64,
    /// Stop abruptly after this many tickets (a crash, for the restart test).
    pub crash_after: Option<u64>,
    /// Give up when no record arrives for this long.
    pub idle_timeout: Duration,
    /// Where the processor publishes its position (for the producer's throttle).
    pub progress: Option<&'a std::sync::atomic::AtomicU64>,
}

/// Reads the topic from the last checkpoint (or the start) to the end markers. The files
/// of each checkpoint are encoded and written, and its offsets committed, on a writer
/// thread, in checkpoint order, while the reader goes on (Parquet encoding was half of the
/// reader's time); a run that stops early waits for what it handed over, as before.
pub fn process(
    broker: &Endpoint,
    sink: &mut Storage,
    cfg: &ProcessorConfig,
) -> Result<Processed, StreamError> {
    let state: Checkpoint = match sink.get("checkpoints/latest.json")? {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(StreamError::Checkpoint)?,
        None => Checkpoint {
            windows: Windows::new(broker.partitions, cfg.lateness_ms),
            ..Checkpoint::default()
        },
    };
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .set("group.id", cfg.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // A committed offset the broker no longer holds is an error, never a silent jump.
        .set("auto.offset.reset", "error")
        .set("fetch.wait.max.ms", "10")
        .create()
        .map_err(kafka("creating the consumer", &broker.bootstrap))?;
    // Partitions assigned explicitly, each from the checkpoint's offset: one processor owns
    // the whole topic, so the merge sees every partition.
    let mut assignment = TopicPartitionList::new();
    for p in 0..broker.partitions {
        let offset = state
            .next_offset
            .get(&p)
            .map_or(Offset::Beginning, |o| Offset::Offset(*o));
        assignment
            .add_partition_offset(&broker.topic, p, offset)
            .map_err(kafka(
                format!("the offset of partition {p}"),
                &broker.bootstrap,
            ))?;
    }
    consumer.assign(&assignment).map_err(kafka(
        format!("assigning {}", broker.topic),
        &broker.bootstrap,
    ))?;

    std::thread::scope(|scope| {
        let (jobs, queue) = std::sync::mpsc::sync_channel::<Job>(CHECKPOINTS_AHEAD);
        let consumer = &consumer;
        let writer = scope.spawn(move || {
            queue
                .into_iter()
                .try_for_each(|job| write_checkpoint(consumer, broker, sink, job))
        });
        let read = read_stream(consumer, broker, cfg, state, &jobs);
        drop(jobs);
        let written = match writer.join() {
            Ok(written) => written,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // When both failed, the writer's error is the cause: the reader only saw it stop.
        written?;
        read
    })
}

/// Checkpoints handed to the writer and not yet written, at most: the reader waits beyond.
const CHECKPOINTS_AHEAD: usize = 4;

/// The reader's loop: merge the partitions, window the tickets, hand checkpoints over.
fn read_stream(
    consumer: &BaseConsumer,
    broker: &Endpoint,
    cfg: &ProcessorConfig,
    mut state: Checkpoint,
    jobs: &std::sync::mpsc::SyncSender<Job>,
) -> Result<Processed, StreamError> {
    let hand_over = |job: Job| jobs.send(job).map_err(|_| StreamError::WriterStopped);
    let mut queues: Vec<VecDeque<(Item, i64)>> =
        (0..broker.partitions).map(|_| VecDeque::new()).collect();
    let mut raw: Vec<(Ticket, i32, i64)> = Vec::new();
    let (mut closed_this_run, mut tickets_this_run) = (0usize, 0u64);
    // Idle time is measured only while nothing arrives: reading the clock for every record
    // costs more than the record itself.
    let mut idle_since: Option<Instant> = None;
    loop {
        // Fill: until every partition has a head to compare.
        while queues.iter().any(|q| q.is_empty()) {
            match consumer.poll(Duration::from_millis(100)) {
                None => {
                    let since = *idle_since.get_or_insert_with(Instant::now);
                    if since.elapsed() > cfg.idle_timeout {
                        let waiting: Vec<usize> = queues
                            .iter()
                            .enumerate()
                            .filter(|(_, q)| q.is_empty())
                            .map(|(p, _)| p)
                            .collect();
                        return Err(StreamError::Unreachable(Unreachable::new(
                            "Kafka broker",
                            &broker.bootstrap,
                            format!(
                                "no record for {:?}; partitions {waiting:?} never reached their end marker",
                                cfg.idle_timeout
                            ),
                        )));
                    }
                }
                Some(Err(e)) => {
                    return Err(unreachable(
                        &format!("consuming {}", broker.topic),
                        &broker.bootstrap,
                    )(e))
                }
                Some(Ok(m)) => {
                    idle_since = None;
                    let p = m.partition();
                    let arrival = m.timestamp().to_millis().unwrap_or(0);
                    let item = if m.key() == Some(END_KEY.as_bytes()) {
                        Item::End(arrival)
                    } else if m.key() == Some(HEARTBEAT_KEY.as_bytes()) {
                        let text =
                            String::from_utf8_lossy(m.payload().unwrap_or_default()).to_string();
                        let bad = |problem: String| StreamError::Record {
                            topic: broker.topic.clone(),
                            partition: p,
                            offset: m.offset(),
                            problem,
                        };
                        Item::Heartbeat(
                            text.parse()
                                .map_err(|_| bad(format!("heartbeat `{text}`")))?,
                        )
                    } else {
                        let t = super::payload::decode(m.payload().unwrap_or_default()).map_err(
                            |problem| StreamError::Record {
                                topic: broker.topic.clone(),
                                partition: p,
                                offset: m.offset(),
                                problem,
                            },
                        )?;
                        Item::Ticket(Box::new(t), arrival)
                    };
                    queues[p as usize].push_back((item, m.offset()));
                }
            }
        }
        // Merge: the smallest position in the stream goes first.
        let (p, _) = queues
            .iter()
            .enumerate()
            .min_by_key(|(_, q)| q.front().map(|(i, _)| i.order()))
            .expect("partitions");
        if matches!(queues[p].front(), Some((Item::End(_), _))) {
            break; // every head is an end marker
        }
        let (item, offset) = queues[p].pop_front().expect("non-empty");
        let (ticket, arrival) = match item {
            Item::Ticket(ticket, arrival) => (ticket, arrival),
            Item::Heartbeat(_) => {
                state.next_offset.insert(p as i32, offset + 1);
                continue;
            }
            Item::End(_) => unreachable!("end markers sort last"),
        };
        if ticket.seq != state.next_seq {
            return Err(StreamError::OutOfSequence {
                ticket: ticket.ticket_id.to_string(),
                got: ticket.seq,
                expected: state.next_seq,
            });
        }
        let priority = priority_index(&ticket.priority).ok_or_else(|| StreamError::Record {
            topic: broker.topic.clone(),
            partition: p as i32,
            offset,
            problem: format!(
                "ticket {}: unknown priority {}",
                ticket.ticket_id, ticket.priority
            ),
        })?;
        let closed = state
            .windows
            .event(p as i32, ticket.created_at_ms, priority, arrival);
        closed_this_run += closed.len();
        state.pending.extend(closed);
        state.next_offset.insert(p as i32, offset + 1);
        state.next_seq += 1;
        tickets_this_run += 1;
        if let Some(progress) = cfg.progress {
            progress.store(state.next_seq, std::sync::atomic::Ordering::Relaxed);
        }
        raw.push((*ticket, p as i32, offset));
        if cfg.crash_after.is_some_and(|n| tickets_this_run >= n) {
            return Ok(Processed {
                checkpoint: state,
                closed_this_run,
                tickets_this_run,
                finished: false,
            });
        }
        if let Some(upto) = complete_hours(&state) {
            hand_over(checkpoint(&mut state, &mut raw, upto, false))?;
        }
    }
    // End of stream: every window closes; the end markers' offsets are consumed too.
    let end_arrival = queues
        .iter()
        .filter_map(|q| q.front())
        .map(|(i, _)| if let Item::End(a) = i { *a } else { 0 })
        .max()
        .unwrap_or(0);
    for (p, q) in queues.iter().enumerate() {
        if let Some((_, offset)) = q.front() {
            state.next_offset.insert(p as i32, offset + 1);
        }
        let closed = state.windows.end(p as i32, end_arrival);
        closed_this_run += closed.len();
        state.pending.extend(closed);
    }
    hand_over(checkpoint(&mut state, &mut raw, i64::MAX, true))?;
    Ok(Processed {
        checkpoint: state,
        closed_this_run,
        tickets_this_run,
        finished: true,
    })
}

/// The start of the last hour whose windows are all closed, if later than what is written.
fn complete_hours(state: &Checkpoint) -> Option<i64> {
    let watermark = state.windows.watermark()?;
    // Every window starting before hour H + 1 has closed once the watermark passes the end of
    // the last of them: (H + 1) − slide + size.
    let complete_before = (watermark - SIZE_MS + SLIDE_MS).div_euclid(HOUR_MS) * HOUR_MS;
    let upto = complete_before - HOUR_MS;
    (state.written_upto_hour_ms.is_none_or(|w| upto > w)
        && state
            .pending
            .first()
            .is_some_and(|c| c.start_ms <= upto + HOUR_MS - SLIDE_MS))
    .then_some(upto)
}

/// One checkpoint as the reader hands it to the writer: the complete hours' windows, the
/// raw tickets read since the last one, the state to save and the offsets to commit.
struct Job {
    windows_by_hour: BTreeMap<i64, Vec<Closed>>,
    raw: Vec<(Ticket, i32, i64)>,
    state_json: Vec<u8>,
    next_offset: BTreeMap<i32, i64>,
    /// At the end of the stream: the late counts.
    late: Option<BTreeMap<i64, [i64; 4]>>,
}

/// Takes the complete hours' windows and the raw tickets out of the state, and the state as
/// it is once they are written (`upto_hour_ms` = `i64::MAX`: everything, at the end).
fn checkpoint(
    state: &mut Checkpoint,
    raw: &mut Vec<(Ticket, i32, i64)>,
    upto_hour_ms: i64,
    last: bool,
) -> Job {
    let mut by_hour: BTreeMap<i64, Vec<Closed>> = BTreeMap::new();
    let mut keep = Vec::new();
    for c in state.pending.drain(..) {
        let hour = c.start_ms.div_euclid(HOUR_MS) * HOUR_MS;
        if upto_hour_ms == i64::MAX || hour <= upto_hour_ms {
            by_hour.entry(hour).or_default().push(c);
        } else {
            keep.push(c);
        }
    }
    state.pending = keep;
    if let Some(last_hour) = by_hour.keys().next_back() {
        state.written_upto_hour_ms = Some(
            state
                .written_upto_hour_ms
                .map_or(*last_hour, |w| w.max(*last_hour)),
        );
    }
    if upto_hour_ms != i64::MAX {
        state.written_upto_hour_ms = Some(
            state
                .written_upto_hour_ms
                .map_or(upto_hour_ms, |w| w.max(upto_hour_ms)),
        );
    }
    state.checkpoints += 1;
    Job {
        windows_by_hour: by_hour,
        raw: std::mem::take(raw),
        state_json: serde_json::to_vec(state).expect("state serialises"),
        next_offset: state.next_offset.clone(),
        late: last.then(|| state.windows.late.clone()),
    }
}

/// Writes one checkpoint: the windows by hour, the raw tickets, then the state, then commits
/// the offsets to the group (and, at the end, the late counts). A restart reads the state
/// and the offsets, so both follow the files they account for.
fn write_checkpoint(
    consumer: &BaseConsumer,
    broker: &Endpoint,
    sink: &mut Storage,
    job: Job,
) -> Result<(), StreamError> {
    for (hour, closed) in &job.windows_by_hour {
        let name = chrono::DateTime::from_timestamp_millis(*hour)
            .map(|d| d.format("%Y-%m-%dT%H").to_string())
            .unwrap_or_default();
        let file = format!("windows/hour={name}.parquet");
        let bytes = sink::windows_parquet(closed).map_err(parquet(&file))?;
        sink.put(&file, bytes)?;
    }
    if let (Some(first), Some(last)) = (job.raw.first(), job.raw.last()) {
        let file = format!("raw/seq={:09}-{:09}.parquet", first.0.seq, last.0.seq);
        let bytes = sink::tickets_parquet(job.raw).map_err(parquet(&file))?;
        sink.put(&file, bytes)?;
    }
    sink.put("checkpoints/latest.json", job.state_json)?;
    let mut offsets = TopicPartitionList::new();
    for (p, o) in &job.next_offset {
        offsets
            .add_partition_offset(&broker.topic, *p, Offset::Offset(*o))
            .map_err(kafka(
                format!("the offset of partition {p}"),
                &broker.bootstrap,
            ))?;
    }
    consumer
        .commit(&offsets, CommitMode::Sync)
        .map_err(unreachable("committing offsets", &broker.bootstrap))?;
    if let Some(late) = &job.late {
        let file = "late/late_counts.parquet";
        sink.put(file, sink::late_parquet(late).map_err(parquet(file))?)?;
    }
    Ok(())
}
