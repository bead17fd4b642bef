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
        // A processor that stopped early reads no more: release the producer's throttle so
        // it sends the rest and ends.
        progress.store(u64::MAX / 2, std::sync::atomic::Ordering::Relaxed);
        match producer.join() {
            Ok(produced) => produced?,
            // A bug, not a broker failure: the panic goes on with its own message.
            Err(panic) => std::panic::resume_unwind(panic),
        }
        processed
    })?;
    let delayed_beyond_lateness = tickets
        .iter()
        .filter(|t| t.arrival_ms - t.created_at_ms > plan.lateness_ms)
        .count();
    Ok(Run {
        produced: tickets.len(),
        delayed_beyond_lateness,
        processed,
        objects: sink.objects_written,
    })
}
