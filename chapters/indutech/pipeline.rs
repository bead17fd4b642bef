//! InduTech's pipeline, end to end and independent of the book: generate the tickets, produce
//! them through the broker while the processor reads, windows them and writes Parquet
//! through the sink. Tests call it directly.

use super::stream::{self, ProcessorConfig};
use crate::backends::kafka::Broker;
use crate::backends::objstore::{Storage, Target};

use super::generate;
use super::payload::Payload;

/// One run of the pipeline: what the processor saw and where the files are.
pub struct Run {
    /// Tickets the producer sent.
    pub produced: usize,
    /// Tickets the generator delayed beyond the lateness (most will be late).
    pub delayed_beyond_lateness: usize,
    /// How the processor's run ended.
    pub processed: stream::Processed,
    /// Objects the sink wrote (Parquet files and checkpoints).
    pub objects: usize,
    /// From the first record the broker acknowledged to the processor's end (its last
    /// checkpoint written): the stream without the clients' start (see [`stream::Sent`]).
    pub streamed_in: Option<std::time::Duration>,
}

/// Generates, produces and processes the tickets into `target`; the producer runs while the
/// processor reads, as in production.
pub fn run_pipeline(
    plan: &generate::Plan,
    partitions: i32,
    brokers: Option<&str>,
    target: &Target,
    topic: &str,
) -> std::result::Result<Run, stream::StreamError> {
    run_pipeline_with(plan, partitions, brokers, target, topic, None)
}

/// [`run_pipeline`], with the processor stopped after `crash_after` tickets as a crash
/// would stop it (the producer still sends everything).
pub fn run_pipeline_with(
    plan: &generate::Plan,
    partitions: i32,
    brokers: Option<&str>,
    target: &Target,
    topic: &str,
    crash_after: Option<u64>,
) -> std::result::Result<Run, stream::StreamError> {
    let tickets = generate::generate(plan);
    let drive = Drive {
        crash_after,
        ..Drive::default()
    };
    run_pipeline_on(plan, &tickets, partitions, brokers, target, topic, drive)
}

/// How a run is driven, beyond where it runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct Drive {
    /// Stop the processor after this many tickets, as a crash would (the producer still
    /// sends everything).
    pub crash_after: Option<u64>,
    /// The form of each ticket's record value.
    pub payload: Payload,
}

/// [`run_pipeline_with`] on tickets already generated (`stream-bench` times this part).
pub fn run_pipeline_on(
    plan: &generate::Plan,
    tickets: &[generate::Ticket],
    partitions: i32,
    brokers: Option<&str>,
    target: &Target,
    topic: &str,
    drive: Drive,
) -> std::result::Result<Run, stream::StreamError> {
    let broker = Broker::start(brokers, topic, partitions)?;
    let mut sink = Storage::open(target)?;
    let progress = std::sync::atomic::AtomicU64::new(0);
    let cfg = ProcessorConfig {
        group: "indutech-windows",
        lateness_ms: plan.lateness_ms,
        crash_after: drive.crash_after,
        idle_timeout: std::time::Duration::from_secs(30),
        progress: Some(&progress),
        holding: None,
    };
    let processed = std::thread::scope(|s| {
        let endpoint = &broker.endpoint;
        let producer = s.spawn(|| {
            let throttle = Some((&progress, stream::MAX_AHEAD));
            stream::produce_as(endpoint, tickets, throttle, drive.payload)
        });
        let processed = stream::process(endpoint, &mut sink, &cfg);
        let ended = std::time::Instant::now();
        // A processor that stopped early reads no more: release the producer's throttle so
        // it sends the rest and ends.
        progress.store(u64::MAX / 2, std::sync::atomic::Ordering::Relaxed);
        let sent = match producer.join() {
            Ok(produced) => produced?,
            // A bug, not a broker failure: the panic goes on with its own message.
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let streamed_in = sent
            .first_delivered
            .map(|first| ended.duration_since(first));
        processed.map(|processed| (processed, streamed_in))
    })?;
    let (processed, streamed_in) = processed;
    let delayed_beyond_lateness = tickets
        .iter()
        .filter(|t| t.arrival_ms - t.created_at_ms > plan.lateness_ms)
        .count();
    Ok(Run {
        produced: tickets.len(),
        delayed_beyond_lateness,
        processed,
        objects: sink.objects_written,
        streamed_in,
    })
}

/// A consumer group's run of the pipeline.
pub struct GroupRun {
    /// Each member's run, in the order given.
    pub members: Vec<stream::Processed>,
    /// From the members' start to every member holding partitions.
    pub formed_in: std::time::Duration,
    /// From the first record the broker acknowledged (the producer starts once the group
    /// formed) to the last member's end; `None` when the broker acknowledged none, as in
    /// [`Run::streamed_in`].
    pub streamed_in: Option<std::time::Duration>,
}

/// [`run_pipeline_on`] with one processor per entry of `leave_after`, all in one consumer
/// group, member `i` leaving the group after `leave_after[i]` of its tickets when given.
/// The members tell each other their blocks through a topic of their own beside `topic`.
/// The tickets are produced once every member holds partitions, so that every member has a
/// share (at most one member per partition).
#[allow(clippy::too_many_arguments)]
pub fn run_group_on(
    plan: &generate::Plan,
    tickets: &[generate::Ticket],
    partitions: i32,
    brokers: Option<&str>,
    target: &Target,
    topic: &str,
    leave_after: &[Option<u64>],
    payload: Payload,
) -> std::result::Result<GroupRun, stream::StreamError> {
    use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
    let broker = Broker::start(brokers, topic, partitions)?;
    let blocks = broker.add_topic(&format!("{topic}-blocks"), partitions)?;
    let group = format!("indutech-windows-{topic}");
    let endpoint = &broker.endpoint;
    let holding: Vec<AtomicUsize> = leave_after.iter().map(|_| AtomicUsize::new(0)).collect();
    // Every member publishes its position here: they stay within a block of each other.
    let progress = AtomicU64::new(0);
    let started = std::time::Instant::now();
    std::thread::scope(|s| {
        let members: Vec<_> = leave_after
            .iter()
            .zip(&holding)
            .map(|(crash_after, holding)| {
                let (group, blocks, progress) = (&group, &blocks.topic, &progress);
                s.spawn(move || {
                    let mut sink = Storage::open(target)?;
                    let cfg = ProcessorConfig {
                        group,
                        lateness_ms: plan.lateness_ms,
                        crash_after: *crash_after,
                        idle_timeout: std::time::Duration::from_secs(60),
                        progress: Some(progress),
                        holding: Some(holding),
                    };
                    stream::process_as_member(endpoint, &mut sink, &cfg, blocks)
                })
            })
            .collect();
        let deadline = started + std::time::Duration::from_secs(60);
        while holding.iter().any(|h| h.load(Ordering::Acquire) == 0) {
            if std::time::Instant::now() > deadline || members.iter().any(|m| m.is_finished()) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let formed_in = started.elapsed();
        let progress = &progress;
        let producer = s.spawn(move || {
            stream::produce_as(
                endpoint,
                tickets,
                Some((progress, stream::MAX_AHEAD)),
                payload,
            )
        });
        let members: Vec<_> = members
            .into_iter()
            .map(|m| match m.join() {
                Ok(run) => run,
                Err(panic) => std::panic::resume_unwind(panic),
            })
            .collect();
        let ended = std::time::Instant::now();
        // The members read no more (one that failed, or left, included): release the
        // producer's throttle so that it sends the rest and ends.
        progress.store(u64::MAX / 2, Ordering::Relaxed);
        let produced = match producer.join() {
            Ok(produced) => produced,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        let members: Vec<stream::Processed> =
            members.into_iter().collect::<std::result::Result<_, _>>()?;
        let streamed_in = produced?
            .first_delivered
            .map(|first| ended.duration_since(first));
        Ok(GroupRun {
            members,
            formed_in,
            streamed_in,
        })
    })
}
