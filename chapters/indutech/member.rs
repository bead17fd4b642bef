//! `auditbook stream-process` and `auditbook stream-produce`: the stream as separate
//! processes on a real cluster, the way Kafka users scale it. Start one `stream-process` per
//! machine (or per core), all in one consumer group: each windows the partitions the group
//! gives it and takes over a member's partitions from their checkpoints when it leaves;
//! together they write into one lake what a single processor writes. `stream-produce`
//! sends the chapter's generated tickets to the topic, before, while or after the members
//! start.
//!
//! Both need `--brokers` (the in-process broker lives and dies with one process) and create
//! the topic and its blocks topic when absent, so that whichever starts first makes them.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::generate;
use super::payload::Payload;
use super::stream::{self, ProcessorConfig, StreamError};
use crate::backends::kafka::{self, Endpoint};
use crate::backends::objstore::{Storage, Target};
use crate::chapter::{Params, RunContext};
use crate::error::{Error, Result};

/// Where the members of a group tell each other their blocks, beside the tickets' topic.
fn blocks_topic(topic: &str) -> String {
    format!("{topic}-blocks")
}

#[derive(clap::Parser)]
#[command(
    name = "auditbook stream-process",
    about = "Window InduTech's tickets as one member of a consumer group on a real cluster (--brokers)"
)]
struct ProcessArgs {
    /// The tickets' topic (the members' blocks go to TOPIC-blocks).
    #[arg(long)]
    topic: String,
    /// The consumer group the members share.
    #[arg(long, default_value = "indutech-windows")]
    group: String,
    /// Where the Parquet lake goes: a folder, or the prefix in the bucket with
    /// `--s3-endpoint` and `--s3-bucket`. Every member of the group writes the same one.
    #[arg(long)]
    lake: String,
    /// Give up when nothing arrives for this long, in seconds.
    #[arg(long, default_value_t = 120)]
    idle_timeout_s: u64,
    /// A chapter parameter, KEY=VALUE (`partitions`, `lateness_s`), as `findings` takes it.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

#[derive(clap::Parser)]
#[command(
    name = "auditbook stream-produce",
    about = "Send InduTech's generated tickets to a topic on a real cluster (--brokers)"
)]
struct ProduceArgs {
    /// The tickets' topic.
    #[arg(long)]
    topic: String,
    /// The form of each record's value.
    #[arg(long, value_enum, default_value_t = Payload::Json)]
    payload: Payload,
    /// A chapter parameter, KEY=VALUE (`tickets`, `seed`, `partitions`, …), as `findings`
    /// takes it.
    #[arg(long = "param", value_name = "KEY=VALUE")]
    params: Vec<String>,
}

/// `stream-process`: one member, until the stream's last files are written (by it or by
/// another member).
pub(super) fn process(ctx: &RunContext, args: &[String]) -> Result<()> {
    let Some(args) = crate::chapter::command_args::<ProcessArgs>("stream-process", args)? else {
        return Ok(());
    };
    let params = resolve(ctx, "stream-process", &args.params)?;
    let plan = super::InduTech::plan_of(&params)?;
    let (tickets, blocks) = topics(ctx, "stream-process", &args.topic, &params)?;
    let target = Target::at(
        ctx.backends.s3_endpoint.as_deref(),
        ctx.backends.s3_bucket.as_deref(),
        super::CHAPTER,
        &args.lake,
        args.lake.clone().into(),
    )
    .map_err(|e| Error::Usage(format!("stream-process: {e}")))?;
    let mut sink = Storage::open(&target).map_err(Error::within(super::CHAPTER))?;
    let holding = AtomicUsize::new(usize::MAX);
    let cfg = ProcessorConfig {
        group: &args.group,
        lateness_ms: plan.lateness_ms,
        crash_after: None,
        idle_timeout: Duration::from_secs(args.idle_timeout_s),
        progress: None,
        holding: Some(&holding),
    };
    let done = std::sync::atomic::AtomicBool::new(false);
    let processed = std::thread::scope(|s| {
        // Say each change of the member's share, as it happens (a supervisor, or the test,
        // reads these lines to know the group has formed).
        s.spawn(|| {
            let mut said = usize::MAX;
            while !done.load(Ordering::Acquire) {
                let now = holding.load(Ordering::Acquire);
                if now != said && now != usize::MAX {
                    println!("holding {now} of {} partitions", tickets.partitions);
                    said = now;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let run = stream::process_as_member(&tickets, &mut sink, &cfg, &blocks.topic);
        done.store(true, Ordering::Release);
        run
    })
    .map_err(Error::within(super::CHAPTER))?;
    println!(
        "windowed {} tickets, closed {} windows; the stream {}",
        processed.tickets_this_run,
        processed.closed_this_run,
        if processed.finished {
            "is written whole"
        } else {
            "is not finished"
        }
    );
    if processed.finished {
        Ok(())
    } else {
        Err(Error::chapter(
            super::CHAPTER,
            format!(
                "stream-process: the member stopped before the end of {}",
                args.topic
            ),
        ))
    }
}

/// `stream-produce`: every generated ticket, then the end markers.
pub(super) fn produce(ctx: &RunContext, args: &[String]) -> Result<()> {
    let Some(args) = crate::chapter::command_args::<ProduceArgs>("stream-produce", args)? else {
        return Ok(());
    };
    let params = resolve(ctx, "stream-produce", &args.params)?;
    let plan = super::InduTech::plan_of(&params)?;
    let (endpoint, _) = topics(ctx, "stream-produce", &args.topic, &params)?;
    let tickets = generate::generate(&plan);
    stream::produce_as(&endpoint, &tickets, None, args.payload)
        .map_err(Error::within(super::CHAPTER))?;
    println!(
        "produced {} tickets to {} ({} partitions, {} records)",
        tickets.len(),
        endpoint.topic,
        endpoint.partitions,
        args.payload.name()
    );
    Ok(())
}

/// The chapter's parameters with `given` (KEY=VALUE) over the defaults.
fn resolve(ctx: &RunContext, command: &str, given: &[String]) -> Result<Params> {
    let mut values = std::collections::BTreeMap::new();
    for pair in given {
        let (key, value) = pair
            .split_once('=')
            .ok_or_else(|| Error::Usage(format!("{command}: --param `{pair}` is not KEY=VALUE")))?;
        values.insert(key.to_string(), value.to_string());
    }
    Params::resolve(&ctx.meta, &values)
}

/// The tickets' topic and its blocks topic on the named cluster, created when absent.
fn topics(
    ctx: &RunContext,
    command: &str,
    topic: &str,
    params: &Params,
) -> Result<(Endpoint, Endpoint)> {
    let bootstrap = ctx.backends.kafka_brokers.as_deref().ok_or_else(|| {
        Error::Usage(format!(
            "{command} needs a real cluster: --brokers HOST:PORT (or AUDITBOOK_KAFKA_BROKERS); \
             the in-process broker lives and dies with one process"
        ))
    })?;
    let partitions: i32 = params.get("partitions")?;
    // A topic of another partition count is the user's to fix (exit 2, as a usage error).
    let within = |e: kafka::BrokerError| match e {
        kafka::BrokerError::Partitions { .. } => Error::Usage(format!("{command}: {e}")),
        e => Error::within(super::CHAPTER)(StreamError::from(e)),
    };
    let tickets = kafka::ensure_topic(bootstrap, topic, partitions).map_err(within)?;
    let blocks =
        kafka::ensure_topic(bootstrap, &blocks_topic(topic), partitions).map_err(within)?;
    Ok((tickets, blocks))
}
