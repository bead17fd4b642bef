//! The pipeline through a Kafka-protocol broker with `rdkafka`: an idempotent producer
//! (acks=all, keyed by client) and a processor that reads partitions with manual offset
//! commits, windows the tickets, and writes Parquet through the sink.
//!
//! Each partition is windowed by a task of its own ([`super::task`]), block by block between
//! the heartbeats the producer sends to every partition, against the watermark over all
//! partitions: the same tickets are classified late or on time in every run, whatever the
//! fetch timing, whether one processor owns every partition ([`process`]) or the members of
//! a consumer group share them ([`process_as_member`]), which is what lets the book be
//! reproducible and a restarted run, or a group's, equal one uninterrupted consumer's.
//!
//! Each partition checkpoints at the blocks where an hour of windows becomes complete: its
//! raw tickets since the last checkpoint and its share of the hour's windows are written,
//! the hour's file once every partition's share is there, then its state with its next
//! offset, then the offset is committed to the group. A partition whose processor crashes,
//! or leaves the group, goes on from that checkpoint and re-reads what followed it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer, ConsumerContext, Rebalance};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::topic_partition_list::{Offset, TopicPartitionList};
use serde::{Deserialize, Serialize};

use super::generate::Ticket;
use super::payload::{Decoded, Payload};
use super::sink;
use super::task::{
    merge_states, merge_windows, sum_counts, Block, Cut, PartitionState, Record, Task, BLOCK,
};
use super::window::{Closed, Windows};
use crate::backends::kafka::{commit_within, recovers_by_itself};
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
    /// A checkpoint the sink holds is not one this processor wrote.
    #[error("the checkpoint {file}")]
    Checkpoint {
        /// Its object name.
        file: String,
        /// What the reader said.
        #[source]
        source: serde_json::Error,
    },
    /// The partitions' shares of a block do not make it up: the stream is not whole.
    #[error("block {block} of the stream: {problem}")]
    Block {
        /// The block (its first position is block × 1000).
        block: u64,
        /// What is wrong.
        problem: String,
    },
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
/// ticket that never reached the broker must fail the run, not vanish. Records too when the
/// first record was delivered: the producer's session is up from then (see [`Sent`]).
#[derive(Default)]
struct DeliveryWatch {
    failed: std::sync::atomic::AtomicUsize,
    first: std::sync::Mutex<Option<String>>,
    first_delivered: std::sync::OnceLock<Instant>,
}

impl rdkafka::client::ClientContext for DeliveryWatch {}

impl rdkafka::producer::ProducerContext for DeliveryWatch {
    type DeliveryOpaque = ();
    fn delivery(&self, result: &rdkafka::message::DeliveryResult<'_>, _: ()) {
        match result {
            Ok(_) => {
                self.first_delivered.get_or_init(Instant::now);
            }
            Err((e, m)) => {
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
}

/// What a producer's run reports beyond its errors.
#[derive(Debug, Clone, Copy)]
pub struct Sent {
    /// When the broker acknowledged the first record (`None` when none was). An idempotent
    /// producer sends nothing before it holds a producer id, and librdkafka asks for one
    /// half a second after the client starts when no broker connection is up yet at that
    /// moment: measured on the in-process broker, first delivery at 511-517 ms with
    /// idempotence and 11 ms without. The stream proper starts here, as a Spark query's
    /// does once its session is built.
    pub first_delivered: Option<Instant>,
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
    produce_as(broker, tickets, throttle, Payload::Json).map(|_| ())
}

/// [`produce`], each ticket's record value in the form `payload`.
pub fn produce_as(
    broker: &Endpoint,
    tickets: &[Ticket],
    throttle: Option<(&std::sync::atomic::AtomicU64, u64)>,
    payload: Payload,
) -> Result<Sent, StreamError> {
    send(broker, tickets, throttle, payload, true)
}

/// Sends `tickets` without the end markers: the stream stays open, as a live source's does,
/// until a later [`produce`] of the tickets that follow (`tickets` must end at a block
/// boundary, a multiple of [`HEARTBEAT_EVERY`], so that the next block opens there).
pub fn produce_open(broker: &Endpoint, tickets: &[Ticket]) -> Result<(), StreamError> {
    send(broker, tickets, None, Payload::Json, false).map(|_| ())
}

fn send(
    broker: &Endpoint,
    tickets: &[Ticket],
    throttle: Option<(&std::sync::atomic::AtomicU64, u64)>,
    payload: Payload,
    end_markers: bool,
) -> Result<Sent, StreamError> {
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
    // Batched: each partition's tickets since the last heartbeat, sent as one record when
    // full and before every heartbeat (a batch never spans two blocks).
    let mut batches: Vec<Vec<&Ticket>> = vec![Vec::new(); broker.partitions.max(0) as usize];
    for t in tickets {
        if t.seq % HEARTBEAT_EVERY == 0 {
            for p in 0..broker.partitions {
                send_batch(&producer, broker, p, &mut batches[p as usize], &mut value)?;
            }
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
        if payload == Payload::Batched {
            let p = super::payload::partition_of(&t.client_id, broker.partitions);
            let batch = &mut batches[p as usize];
            batch.push(t);
            if batch.len() == super::payload::MAX_BATCH {
                send_batch(&producer, broker, p, batch, &mut value)?;
            }
        } else {
            super::payload::encode(t, payload, &mut value);
            let record = BaseRecord::to(&broker.topic)
                .key(t.client_id.as_str())
                .payload(value.as_slice())
                .timestamp(t.arrival_ms);
            send_waiting(&producer, record, broker, || {
                format!("producing ticket {}", t.ticket_id)
            })?;
        }
        // Serve delivery reports now and then, not per record: each poll takes the queue's
        // lock and reads the clock.
        if t.seq % 1024 == 0 {
            producer.poll(Duration::ZERO);
        }
    }
    for p in 0..broker.partitions {
        send_batch(&producer, broker, p, &mut batches[p as usize], &mut value)?;
    }
    let end_at = tickets.last().map_or(0, |t| t.arrival_ms);
    // The end marker carries the stream's length: its last ticket's position, plus one (the
    // whole stream's, when an open stream was sent before).
    let length = tickets.last().map_or(0, |t| t.seq + 1).to_string();
    for p in (0..broker.partitions).filter(|_| end_markers) {
        producer
            .send(
                BaseRecord::to(&broker.topic)
                    .key(END_KEY)
                    .payload(length.as_bytes())
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
    Ok(Sent {
        first_delivered: producer.context().first_delivered.get().copied(),
    })
}

/// Sends `record`, waiting while the producer's queue is full; `what` names it in an error.
fn send_waiting<K: rdkafka::message::ToBytes + ?Sized>(
    producer: &BaseProducer<DeliveryWatch>,
    mut record: BaseRecord<'_, K, [u8]>,
    broker: &Endpoint,
    what: impl FnOnce() -> String,
) -> Result<(), StreamError> {
    loop {
        match producer.send(record) {
            Ok(()) => return Ok(()),
            Err((
                KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                r,
            )) => {
                record = r;
                producer.poll(Duration::from_millis(5));
            }
            Err((e, _)) => return Err(kafka(what(), &broker.bootstrap)(e)),
        }
    }
}

/// Sends partition `p`'s pending `batch` as one record (none when it is empty) and empties
/// it. Its key is the first ticket's client: the record goes where the partition says, the
/// key only names it.
fn send_batch(
    producer: &BaseProducer<DeliveryWatch>,
    broker: &Endpoint,
    p: i32,
    batch: &mut Vec<&Ticket>,
    value: &mut Vec<u8>,
) -> Result<(), StreamError> {
    let Some(first) = batch.first() else {
        return Ok(());
    };
    super::payload::encode_batch(batch, value);
    let record = BaseRecord::to(&broker.topic)
        .key(first.client_id.as_str())
        .payload(value.as_slice())
        .partition(p)
        .timestamp(first.arrival_ms);
    let what = || format!("producing a batch from ticket {}", first.ticket_id);
    send_waiting(producer, record, broker, what)?;
    batch.clear();
    Ok(())
}

/// The processor's state as one: every partition's checkpoint, summed.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Checkpoint {
    /// The windowing state: the partitions' counts and counters summed.
    pub windows: Windows,
    /// Next offset to read, per partition.
    pub next_offset: BTreeMap<i32, i64>,
    /// Tickets windowed: the stream position of the next ticket expected.
    pub next_seq: u64,
    /// Checkpoints cut so far (each partition cuts at the same blocks).
    pub checkpoints: u64,
}

/// How a processor run ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Processed {
    /// The partitions' state as one, as of the last block windowed.
    pub checkpoint: Checkpoint,
    /// Windows closed in this run, summed over the partitions' shares.
    pub closed_this_run: usize,
    /// Tickets this run processed.
    pub tickets_this_run: u64,
    /// Whether every partition's end marker was read.
    pub finished: bool,
}

/// Processor settings.
pub struct ProcessorConfig<'a> {
    /// The consumer group (its committed offsets are the restart point).
    pub group: &'a str,
    /// How long after a window's end a late ticket is still counted in it, milliseconds.
    pub lateness_ms: i64,
    /// Stop abruptly after this many tickets (a crash, for the restart test).
    pub crash_after: Option<u64>,
    /// Give up when nothing arrives for this long.
    pub idle_timeout: Duration,
    /// Where the processor publishes its position (for the producer's throttle).
    pub progress: Option<&'a std::sync::atomic::AtomicU64>,
    /// Where it publishes how many partitions it holds, after each rebalance (for a
    /// watcher: the group tests produce once every member holds some).
    pub holding: Option<&'a AtomicUsize>,
}

/// Reads the whole topic, every partition, from their checkpoints (or the start) to the end
/// markers. The partitions' blocks pass in memory; each partition's checkpoint is written,
/// and its offset committed, on a writer thread while the reader goes on (Parquet encoding
/// was half of the reader's time); a run that stops early waits for what it handed over.
pub fn process(
    broker: &Endpoint,
    sink: &mut Storage,
    cfg: &ProcessorConfig,
) -> Result<Processed, StreamError> {
    run(broker, sink, cfg, None)
}

/// One member of the consumer group `cfg.group`: it windows the partitions the group gives
/// it, from their checkpoints in the shared `sink`, and takes over others' when a member
/// leaves. The members tell each other their blocks through `blocks_topic` (as many
/// partitions as the stream's, partition P's blocks in partition P, read whole by every
/// member), so each sees the watermark over all partitions. It returns
/// when the stream's last files are written, by whichever member, or after `crash_after`
/// of its own tickets, leaving the group.
pub fn process_as_member(
    broker: &Endpoint,
    sink: &mut Storage,
    cfg: &ProcessorConfig,
    blocks_topic: &str,
) -> Result<Processed, StreamError> {
    run(broker, sink, cfg, Some(blocks_topic))
}

/// What a rebalance did, for the reader to apply once `poll` returns.
enum Change {
    Assigned(Vec<i32>),
    Revoked(Vec<i32>),
}

/// The consumer's context: records rebalances, and holds a revocation until the writer has
/// written everything it was handed, so that a partition's next owner finds its latest
/// checkpoint and never a committed offset ahead of it.
#[derive(Default)]
struct Membership {
    changes: std::sync::Mutex<Vec<Change>>,
    /// Checkpoints handed to the writer and not written yet.
    in_flight: AtomicUsize,
    /// The writer stopped (on an error): nothing in flight will be written.
    writer_stopped: AtomicBool,
}

fn partitions_of(tpl: &TopicPartitionList) -> Vec<i32> {
    tpl.elements().iter().map(|e| e.partition()).collect()
}

impl rdkafka::client::ClientContext for Membership {}

impl ConsumerContext for Membership {
    fn pre_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Revoke(tpl) = rebalance {
            while self.in_flight.load(Ordering::Acquire) > 0
                && !self.writer_stopped.load(Ordering::Acquire)
            {
                std::thread::sleep(Duration::from_millis(2));
            }
            let revoked = partitions_of(tpl);
            self.changes
                .lock()
                .expect("not poisoned")
                .push(Change::Revoked(revoked));
        }
    }

    fn post_rebalance(&self, _: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        if let Rebalance::Assign(tpl) = rebalance {
            let assigned = partitions_of(tpl);
            self.changes
                .lock()
                .expect("not poisoned")
                .push(Change::Assigned(assigned));
        }
    }
}

type Sink<'s> = std::sync::Mutex<&'s mut Storage>;

fn run(
    broker: &Endpoint,
    sink: &mut Storage,
    cfg: &ProcessorConfig,
    blocks_topic: Option<&str>,
) -> Result<Processed, StreamError> {
    let group = blocks_topic.is_some();
    let consumer: BaseConsumer<Membership> = ClientConfig::new()
        .set("bootstrap.servers", &broker.bootstrap)
        .set("group.id", cfg.group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        // Alone, every partition starts from its checkpoint's offset, and an offset the
        // broker no longer holds is an error, never a silent jump. In a group, a partition
        // never committed starts at its beginning; one whose log lost its start is caught
        // by the task, which expects its block's opening heartbeat.
        .set(
            "auto.offset.reset",
            if group { "earliest" } else { "error" },
        )
        .set("fetch.wait.max.ms", "10")
        // A member that stops is noticed, and a join settled, within seconds: brokers
        // (Kafka's, Tansu, librdkafka's mock) hold a join for about half of the session
        // timeout, 22 s at librdkafka's default of 45 s (measured here).
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "1000")
        .create_with_context(Membership::default())
        .map_err(kafka("creating the consumer", &broker.bootstrap))?;
    let sink: Sink = std::sync::Mutex::new(sink);
    let mut reader = Reader {
        broker,
        cfg,
        tasks: BTreeMap::new(),
        queued: BTreeMap::new(),
        blocks: HashMap::new(),
        group,
    };
    let peers = match blocks_topic {
        Some(topic) => {
            consumer.subscribe(&[&broker.topic]).map_err(kafka(
                format!("joining group {}", cfg.group),
                &broker.bootstrap,
            ))?;
            Some(Peers::open(broker, topic)?)
        }
        None => {
            // One processor owns the whole topic: every partition from its checkpoint.
            let mut assignment = TopicPartitionList::new();
            for p in 0..broker.partitions {
                reader.load(p, &sink)?;
            }
            reader.align(&sink)?;
            for p in 0..broker.partitions {
                let offset = reader.tasks[&p]
                    .state
                    .next_offset
                    .map_or(Offset::Beginning, Offset::Offset);
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
            None
        }
    };

    let result = std::thread::scope(|scope| {
        let (jobs, queue) =
            std::sync::mpsc::sync_channel::<Cut>(CHECKPOINTS_AHEAD * broker.partitions as usize);
        let (consumer, sink) = (&consumer, &sink);
        let patience = cfg.idle_timeout;
        let writer = scope.spawn(move || {
            let membership = consumer.context();
            for cut in queue {
                let written = write_cut(consumer, broker, sink, cut, group, patience);
                membership.in_flight.fetch_sub(1, Ordering::AcqRel);
                if written.is_err() {
                    membership.writer_stopped.store(true, Ordering::Release);
                    return written;
                }
            }
            Ok(())
        });
        let read = reader.read(consumer, peers.as_ref(), sink, &jobs);
        drop(jobs);
        let written = match writer.join() {
            Ok(written) => written,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        // When both failed, the writer's error is the cause: the reader only saw it stop.
        written?;
        if let Some(peers) = &peers {
            peers.flush()?;
        }
        read
    });
    if result.is_err() {
        // Closing a consumer waits for its commits still in flight, and librdkafka retries
        // them without bound while the broker is gone (the failure drill found the processor
        // hung there after its error): the close goes on in the background, so the error is
        // reported now. It ends when the broker answers again, or with the process.
        drop(peers);
        std::thread::spawn(move || drop(consumer));
    }
    result
}

/// Checkpoints handed to the writer and not yet written, at most, per partition: the
/// reader waits beyond.
const CHECKPOINTS_AHEAD: usize = 4;

/// The reader: the tasks of the partitions it owns, their records not taken yet, and every
/// partition's blocks it knows.
struct Reader<'a> {
    broker: &'a Endpoint,
    cfg: &'a ProcessorConfig<'a>,
    tasks: BTreeMap<i32, Task>,
    /// Records of a partition whose task waits for the other partitions' blocks.
    queued: BTreeMap<i32, VecDeque<(Record, i64)>>,
    blocks: HashMap<(i32, u64), Block>,
    /// In a group: blocks are kept (a partition taken over may start from an old one).
    group: bool,
}

impl Reader<'_> {
    /// Takes over partition `p` from its checkpoint in the sink (or its start).
    fn load(&mut self, p: i32, sink: &Sink) -> Result<(), StreamError> {
        let state = self.stored_state(p, &PartitionState::file(p), sink)?;
        let state = state.unwrap_or_else(|| {
            PartitionState::new(p, self.broker.partitions, self.cfg.lateness_ms)
        });
        self.tasks.insert(p, Task::new(state));
        self.queued.insert(p, VecDeque::new());
        Ok(())
    }

    /// Alone, every partition must start at the same block: each needs the others' shares
    /// of its blocks, and nobody keeps shares of blocks all have passed. A run that failed
    /// while writing one cut (the broker gone between two partitions' commits) leaves some
    /// partitions a cut ahead: those go back to the state their last one replaced, and the
    /// files of that cut are written again, the same. Found by the failure drill, where the
    /// rerun otherwise waited for shares no partition would send.
    fn align(&mut self, sink: &Sink) -> Result<(), StreamError> {
        let Some(oldest) = self.tasks.values().map(|t| t.state.next_block).min() else {
            return Ok(());
        };
        let ahead: Vec<i32> = self
            .tasks
            .iter()
            .filter(|(_, t)| t.state.next_block > oldest)
            .map(|(p, _)| *p)
            .collect();
        for p in ahead {
            let file = PartitionState::previous_file(p);
            let previous = self.stored_state(p, &file, sink)?;
            let previous = previous.unwrap_or_else(|| {
                PartitionState::new(p, self.broker.partitions, self.cfg.lateness_ms)
            });
            if previous.next_block != oldest {
                return Err(StreamError::Block {
                    block: oldest,
                    problem: format!(
                        "partition {p}'s checkpoint is at block {}, and {file} at block {}, \
                         where the other partitions start: the checkpoints are not one run's",
                        self.tasks[&p].state.next_block, previous.next_block
                    ),
                });
            }
            self.tasks.insert(p, Task::new(previous));
        }
        Ok(())
    }

    /// Partition `p`'s state stored in `file`, if any.
    fn stored_state(
        &self,
        p: i32,
        file: &str,
        sink: &Sink,
    ) -> Result<Option<PartitionState>, StreamError> {
        let file = file.to_string();
        let stored = sink.lock().expect("not poisoned").get(&file)?;
        let state = match stored {
            Some(bytes) => {
                let state: PartitionState =
                    serde_json::from_slice(&bytes).map_err(|source| StreamError::Checkpoint {
                        file: file.clone(),
                        source,
                    })?;
                if state.partition != p || state.windows.partitions != self.broker.partitions {
                    return Err(StreamError::Block {
                        block: state.next_block,
                        problem: format!(
                            "{file} is partition {} of a topic of {}, not partition {p} of {}",
                            state.partition, state.windows.partitions, self.broker.partitions
                        ),
                    });
                }
                Some(state)
            }
            None => None,
        };
        Ok(state)
    }

    /// A record read: to its task now if it takes records, else queued.
    fn route(&mut self, p: i32, record: Record, offset: i64) -> Result<(), StreamError> {
        // A partition revoked a moment ago: its next owner reads it again.
        let (Some(task), Some(queue)) = (self.tasks.get_mut(&p), self.queued.get_mut(&p)) else {
            return Ok(());
        };
        if task.wants_records() && queue.is_empty() {
            task.feed(record, offset).map_err(self.bad(p, offset))
        } else {
            queue.push_back((record, offset));
            Ok(())
        }
    }

    fn bad(&self, p: i32, offset: i64) -> impl FnOnce(String) -> StreamError {
        bad_record(&self.broker.topic, p, offset)
    }

    /// A block a partition published: kept; the same block twice must be the same.
    fn know(&mut self, block: Block) -> Result<(), StreamError> {
        let key = (block.partition, block.block);
        match self.blocks.get(&key) {
            Some(known) if *known != block => Err(StreamError::Block {
                block: block.block,
                problem: format!(
                    "partition {} published two different shares of it: two streams share the topic",
                    block.partition
                ),
            }),
            Some(_) => Ok(()),
            None => {
                self.blocks.insert(key, block);
                Ok(())
            }
        }
    }

    /// Moves every task as far as it can: takes queued records, publishes blocks read
    /// whole, windows the blocks every partition has published. Returns whether any block
    /// was windowed, and stops early on `crash_after`.
    fn step(
        &mut self,
        peers: Option<&Peers>,
        jobs: &std::sync::mpsc::SyncSender<Cut>,
        membership: &Membership,
    ) -> Result<bool, StreamError> {
        let partitions = self.broker.partitions;
        let mut windowed = false;
        loop {
            let mut moved = false;
            let owned: Vec<i32> = self.tasks.keys().copied().collect();
            for p in owned {
                let task = self.tasks.get_mut(&p).expect("owned");
                let queue = self.queued.get_mut(&p).expect("owned");
                while task.wants_records() {
                    let Some((record, offset)) = queue.pop_front() else {
                        break;
                    };
                    task.feed(record, offset)
                        .map_err(bad_record(&self.broker.topic, p, offset))?;
                }
                for block in task.take_blocks() {
                    if let std::collections::hash_map::Entry::Vacant(unknown) =
                        self.blocks.entry((p, block.block))
                    {
                        if let Some(peers) = peers {
                            peers.publish(&block)?;
                        }
                        unknown.insert(block);
                    }
                }
                if !task.has_read_next() {
                    continue;
                }
                let k = task.state.next_block;
                if !(0..partitions).all(|q| self.blocks.contains_key(&(q, k))) {
                    continue;
                }
                let shares: Vec<&Block> = (0..partitions).map(|q| &self.blocks[&(q, k)]).collect();
                let task = self.tasks.get_mut(&p).expect("owned");
                if let Some(cut) = task.window_block(&shares)? {
                    membership.in_flight.fetch_add(1, Ordering::AcqRel);
                    jobs.send(cut).map_err(|_| StreamError::WriterStopped)?;
                }
                moved = true;
                windowed = true;
                if !self.group && self.tasks.values().all(|t| t.state.next_block > k) {
                    for q in 0..partitions {
                        self.blocks.remove(&(q, k));
                    }
                }
                if let Some(progress) = self.cfg.progress {
                    let upto = self
                        .tasks
                        .values()
                        .map(|t| t.state.next_block)
                        .min()
                        .unwrap_or(0);
                    progress.store(upto * BLOCK, Ordering::Relaxed);
                }
                if self.crashed() {
                    return Ok(windowed);
                }
            }
            if !moved {
                return Ok(windowed);
            }
        }
    }

    fn crashed(&self) -> bool {
        let read: u64 = self.tasks.values().map(|t| t.tickets_this_run).sum();
        self.cfg.crash_after.is_some_and(|n| read >= n)
    }

    fn processed(&self, finished: bool) -> Processed {
        let states: Vec<&PartitionState> = self.tasks.values().map(|t| &t.state).collect();
        Processed {
            checkpoint: Checkpoint {
                windows: merge_states(&states),
                next_offset: states
                    .iter()
                    .filter_map(|s| s.next_offset.map(|o| (s.partition, o)))
                    .collect(),
                next_seq: states.iter().map(|s| s.tickets).sum(),
                checkpoints: states.iter().map(|s| s.checkpoints).max().unwrap_or(0),
            },
            closed_this_run: self.tasks.values().map(|t| t.closed_this_run).sum(),
            tickets_this_run: self.tasks.values().map(|t| t.tickets_this_run).sum(),
            finished,
        }
    }

    /// Applies what rebalances did: a revoked partition's task is dropped (its next owner
    /// goes on from its checkpoint), an assigned one is taken from its checkpoint.
    fn apply_changes(
        &mut self,
        consumer: &BaseConsumer<Membership>,
        sink: &Sink,
    ) -> Result<bool, StreamError> {
        let changes =
            std::mem::take(&mut *consumer.context().changes.lock().expect("not poisoned"));
        let changed = !changes.is_empty();
        for change in changes {
            match change {
                Change::Revoked(partitions) => {
                    for p in partitions {
                        self.tasks.remove(&p);
                        self.queued.remove(&p);
                    }
                }
                Change::Assigned(partitions) => {
                    for p in partitions {
                        self.load(p, sink)?;
                    }
                }
            }
        }
        if let (true, Some(holding)) = (changed, self.cfg.holding) {
            holding.store(self.tasks.len(), Ordering::Release);
        }
        Ok(changed)
    }

    /// The reader's loop: read, route, publish and window, to the end of the stream.
    fn read(
        &mut self,
        consumer: &BaseConsumer<Membership>,
        peers: Option<&Peers>,
        sink: &Sink,
        jobs: &std::sync::mpsc::SyncSender<Cut>,
    ) -> Result<Processed, StreamError> {
        let membership = consumer.context();
        // Idle time is measured only while nothing arrives: reading the clock for every
        // record costs more than the record itself.
        let mut idle_since: Option<Instant> = None;
        let mut last_look = Instant::now();
        let mut busy = true;
        // The last error librdkafka said it recovers from, for the idle timeout's message.
        let mut last_error: Option<KafkaError> = None;
        loop {
            if busy {
                busy = self.step(peers, jobs, membership)?;
                if self.crashed() {
                    return Ok(self.processed(false));
                }
            }
            let all_done = self.tasks.values().all(|t| t.state.finished);
            if !self.group && all_done {
                return Ok(self.processed(true));
            }
            // In a group, the stream is done when its late counts are written: the last
            // file, written by whichever member windowed the last share.
            if self.group && all_done && last_look.elapsed() > Duration::from_millis(50) {
                last_look = Instant::now();
                let late = sink.lock().expect("not poisoned").get(LATE_FILE)?;
                if late.is_some() {
                    return Ok(self.processed(true));
                }
            }
            let timeout = if busy {
                Duration::ZERO
            } else if self.group {
                Duration::from_millis(20)
            } else {
                Duration::from_millis(100)
            };
            let polled = consumer.poll(timeout);
            let mut arrived = self.apply_changes(consumer, sink)?;
            match polled {
                None => {}
                // A broker lost mid-stream: librdkafka reconnects and follows the new
                // leaders; if none comes, the idle timeout below names the last error.
                Some(Err(e)) if recovers_by_itself(&e) => last_error = Some(e),
                Some(Err(e)) => {
                    return Err(unreachable(
                        &format!("consuming {}", self.broker.topic),
                        &self.broker.bootstrap,
                    )(e))
                }
                Some(Ok(m)) => {
                    arrived = true;
                    let p = m.partition();
                    let record = record_of(&m).map_err(self.bad(p, m.offset()))?;
                    let offset = m.offset();
                    self.route(p, record, offset)?;
                    busy |= self.tasks.get(&p).is_some_and(|t| t.has_blocks());
                }
            }
            if let Some(peers) = peers {
                while let Some(block) = peers.poll()? {
                    self.know(block)?;
                    arrived = true;
                    busy = true;
                }
            }
            if arrived {
                idle_since = None;
                busy |= self
                    .tasks
                    .values()
                    .any(|t| !t.wants_records() && !t.state.finished);
                continue;
            }
            if busy {
                continue;
            }
            let since = *idle_since.get_or_insert_with(Instant::now);
            if since.elapsed() > self.cfg.idle_timeout {
                // Where each partition stands: its next block, and which partitions'
                // shares of it are missing (another member's, in a group).
                let waiting: Vec<String> = self
                    .tasks
                    .iter()
                    .filter(|(_, t)| !t.state.finished)
                    .map(|(p, t)| {
                        let k = t.state.next_block;
                        let missing: Vec<i32> = (0..self.broker.partitions)
                            .filter(|q| !self.blocks.contains_key(&(*q, k)))
                            .collect();
                        format!("{p} at block {k} (shares missing: {missing:?})")
                    })
                    .collect();
                return Err(StreamError::Unreachable(Unreachable::new(
                    "Kafka broker",
                    &self.broker.bootstrap,
                    format!(
                        "nothing for {:?}{}; partitions never reached their end marker: {}",
                        self.cfg.idle_timeout,
                        last_error
                            .as_ref()
                            .map(|e| format!(" (last error: {e})"))
                            .unwrap_or_default(),
                        waiting.join(", ")
                    ),
                )));
            }
        }
    }
}

/// Names a record the task refused by its topic, partition and offset.
fn bad_record(topic: &str, p: i32, offset: i64) -> impl FnOnce(String) -> StreamError {
    let topic = topic.to_string();
    move |problem| StreamError::Record {
        topic,
        partition: p,
        offset,
        problem,
    }
}

/// A record as the task takes it.
fn record_of(m: &rdkafka::message::BorrowedMessage<'_>) -> Result<Record, String> {
    let arrival = m.timestamp().to_millis().unwrap_or(0);
    let payload = m.payload().unwrap_or_default();
    let position = |what: &str| {
        let text = String::from_utf8_lossy(payload);
        text.parse::<u64>().map_err(|_| format!("{what} `{text}`"))
    };
    Ok(if m.key() == Some(END_KEY.as_bytes()) {
        Record::End(position("end marker")?, arrival)
    } else if m.key() == Some(HEARTBEAT_KEY.as_bytes()) {
        Record::Heartbeat(position("heartbeat")?)
    } else {
        match super::payload::decode_record(payload)? {
            Decoded::One(ticket) => Record::Ticket(Box::new(ticket), arrival),
            // A batch's tickets each carry their own arrival.
            Decoded::Batch(tickets) => Record::Tickets(tickets),
        }
    })
}

/// The late counts' file: the stream's last.
const LATE_FILE: &str = "late/late_counts.parquet";

/// How the members of a group tell each other their blocks: a producer to, and a consumer
/// of the whole of, a topic with a partition per partition of the stream.
struct Peers {
    producer: BaseProducer<DeliveryWatch>,
    consumer: BaseConsumer,
    topic: String,
    bootstrap: String,
}

impl Peers {
    fn open(broker: &Endpoint, topic: &str) -> Result<Peers, StreamError> {
        let bootstrap = &broker.bootstrap;
        let producer: BaseProducer<DeliveryWatch> = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "1")
            .create_with_context(DeliveryWatch::default())
            .map_err(kafka("creating the blocks' producer", bootstrap))?;
        // Read whole by every member, never committed: the group id only names it.
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", bootstrap)
            .set("group.id", format!("{topic}-reader"))
            .set("enable.auto.commit", "false")
            .set("fetch.wait.max.ms", "10")
            .create()
            .map_err(kafka("creating the blocks' consumer", bootstrap))?;
        let mut all = TopicPartitionList::new();
        for p in 0..broker.partitions {
            all.add_partition_offset(topic, p, Offset::Beginning)
                .map_err(kafka(format!("the start of {topic}"), bootstrap))?;
        }
        consumer
            .assign(&all)
            .map_err(kafka(format!("assigning {topic}"), bootstrap))?;
        Ok(Peers {
            producer,
            consumer,
            topic: topic.to_string(),
            bootstrap: bootstrap.clone(),
        })
    }

    fn publish(&self, block: &Block) -> Result<(), StreamError> {
        let key = format!("{}/{}", block.partition, block.block);
        let value = serde_json::to_vec(block).expect("a block serialises");
        let mut record = BaseRecord::to(&self.topic)
            .key(&key)
            .payload(&value)
            // A partition's blocks go to the partition of the same number: one writer each,
            // its owner's.
            .partition(block.partition);
        loop {
            match self.producer.send(record) {
                Ok(()) => break,
                Err((
                    KafkaError::MessageProduction(rdkafka::types::RDKafkaErrorCode::QueueFull),
                    r,
                )) => {
                    record = r;
                    self.producer.poll(Duration::from_millis(5));
                }
                Err((e, _)) => {
                    return Err(kafka(format!("publishing block {key}"), &self.bootstrap)(e))
                }
            }
        }
        self.producer.poll(Duration::ZERO);
        Ok(())
    }

    /// A block another member (or this one) published, if one came.
    fn poll(&self) -> Result<Option<Block>, StreamError> {
        self.producer.poll(Duration::ZERO);
        match self.consumer.poll(Duration::ZERO) {
            None => Ok(None),
            // As in the reader's own loop (see `read`): its idle timeout decides.
            Some(Err(e)) if recovers_by_itself(&e) => Ok(None),
            Some(Err(e)) => Err(unreachable(
                &format!("consuming {}", self.topic),
                &self.bootstrap,
            )(e)),
            Some(Ok(m)) => serde_json::from_slice(m.payload().unwrap_or_default())
                .map(Some)
                .map_err(|e| StreamError::Record {
                    topic: self.topic.clone(),
                    partition: m.partition(),
                    offset: m.offset(),
                    problem: format!("not a block: {e}"),
                }),
        }
    }

    /// Every block published reached the broker.
    fn flush(&self) -> Result<(), StreamError> {
        self.producer
            .flush(Duration::from_secs(30))
            .map_err(unreachable(
                "flushing the blocks' producer",
                &self.bootstrap,
            ))?;
        let failed = self.producer.context().failed.load(Ordering::Relaxed);
        if failed > 0 {
            return Err(StreamError::Undelivered {
                failed,
                bootstrap: self.bootstrap.clone(),
                first: self
                    .producer
                    .context()
                    .first
                    .lock()
                    .expect("not poisoned")
                    .clone()
                    .unwrap_or_default(),
            });
        }
        Ok(())
    }
}

/// Writes one partition's checkpoint: its raw tickets, its share of the windows (and, at the
/// end, of the late counts), the merged files when every partition's share is there, then
/// its state, then commits its offset. A partition restarts from its state, so the state
/// follows every file it accounts for, and the merge comes before it: whoever writes the
/// last share merges, and a crash before its state is written redoes both.
fn write_cut(
    consumer: &BaseConsumer<Membership>,
    broker: &Endpoint,
    sink: &Sink,
    cut: Cut,
    group: bool,
    patience: Duration,
) -> Result<(), StreamError> {
    let p = cut.partition;
    let raw = match (cut.raw.first(), cut.raw.last()) {
        (Some(first), Some(last)) => {
            let file = format!(
                "raw/partition={p}/seq={:09}-{:09}.parquet",
                first.0.seq, last.0.seq
            );
            let bytes = sink::tickets_parquet(cut.raw).map_err(parquet(&file))?;
            Some((file, bytes))
        }
        _ => None,
    };
    let mut sink = sink.lock().expect("not poisoned");
    if let Some((file, bytes)) = raw {
        sink.put(&file, bytes)?;
    }
    let shares = format!("parts/windows/block={:09}", cut.block);
    let share = serde_json::to_vec(&cut.windows_by_hour).expect("windows serialise");
    sink.put(&format!("{shares}/partition={p}.json"), share)?;
    let whole = |sink: &Storage, dir: &str| -> Result<Option<Vec<Vec<u8>>>, StreamError> {
        let names = sink.list(dir)?;
        if names.len() != broker.partitions as usize {
            return Ok(None);
        }
        names
            .iter()
            .map(|n| Ok(sink.get(n)?.unwrap_or_default()))
            .collect::<Result<Vec<_>, StreamError>>()
            .map(Some)
    };
    let corrupt = |file: &str| {
        let file = file.to_string();
        move |e: serde_json::Error| StreamError::Block {
            block: cut.block,
            problem: format!("{file}: {e}"),
        }
    };
    if let Some(all) = whole(&sink, &shares)? {
        let shares: Vec<BTreeMap<i64, Vec<Closed>>> = all
            .iter()
            .map(|b| serde_json::from_slice(b))
            .collect::<Result<_, _>>()
            .map_err(corrupt(&shares))?;
        let merged = merge_windows(&shares).map_err(|problem| StreamError::Block {
            block: cut.block,
            problem,
        })?;
        for (hour, closed) in &merged {
            let name = chrono::DateTime::from_timestamp_millis(*hour)
                .map(|d| d.format("%Y-%m-%dT%H").to_string())
                .unwrap_or_default();
            let file = format!("windows/hour={name}.parquet");
            let bytes = sink::windows_parquet(closed).map_err(parquet(&file))?;
            sink.put(&file, bytes)?;
        }
    }
    if let Some(late) = &cut.late {
        let share = serde_json::to_vec(late).expect("late counts serialise");
        sink.put(&format!("parts/late/partition={p}.json"), share)?;
        if let Some(all) = whole(&sink, "parts/late")? {
            let shares: Vec<BTreeMap<i64, [i64; 4]>> = all
                .iter()
                .map(|b| serde_json::from_slice(b))
                .collect::<Result<_, _>>()
                .map_err(corrupt("parts/late"))?;
            let bytes = sink::late_parquet(&sum_counts(&shares)).map_err(parquet(LATE_FILE))?;
            sink.put(LATE_FILE, bytes)?;
        }
    }
    // The state replaced is kept, for a restart that finds this partition a cut ahead of
    // another (see `Reader::align`).
    if let Some(replaced) = sink.get(&PartitionState::file(p))? {
        sink.put(&PartitionState::previous_file(p), replaced)?;
    }
    sink.put(
        &PartitionState::file(p),
        serde_json::to_vec(&cut.state).expect("state serialises"),
    )?;
    drop(sink);
    let mut offsets = TopicPartitionList::new();
    let next = cut.state.next_offset.unwrap_or(0);
    offsets
        .add_partition_offset(&broker.topic, p, Offset::Offset(next))
        .map_err(kafka(
            format!("the offset of partition {p}"),
            &broker.bootstrap,
        ))?;
    // In a group, a commit can meet a rebalance under way and be refused: the partition's
    // next owner then starts from an older offset and skips what the state accounts for.
    // Alone, a refused commit is the broker out of reach. Waited for at most the idle
    // timeout: librdkafka's synchronous commit waits without bound for a broker that is gone
    // (the failure drill found the processor hung there).
    let committed = commit_within(consumer, &offsets, patience);
    if !group {
        committed.map_err(unreachable("committing offsets", &broker.bootstrap))?;
    }
    Ok(())
}
