//! `auditbook stream-bench`: the stream's throughput, measured, never asserted in a test.
//! Each run generates the tickets, then times the pipeline end to end (producer → broker →
//! windows → Parquet, the producer running while the processor reads), and checks that the
//! run is whole: every ticket processed and archived, and DuckDB's batch recomputation over
//! the archive equal to the stream's windows plus its late counts. With `--brokers` the
//! broker is that cluster (Tansu in `scripts/test`); with `--peer SCRIPT` (the PySpark
//! Structured Streaming baseline's `bench.sh`) the peer runs on the same count of tickets
//! in the same run and the report gives the ratio; with `--spark`, Spark Structured Streaming
//! on that cluster windows the raw archive of one more run of ours, checked equal to our
//! windows, and its stream time is reported beside ours. Records carry JSON, the compact form, or
//! compact tickets batched per record (`--payload`, all three by default, alternating run by
//! run). Medians of `--runs`; written to
//! `measurements/indutech.md` (`indutech-cluster.md` with `--brokers`).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::generate;
use super::payload::Payload;
use super::pipeline::{run_group_on, run_pipeline_on, Drive};
use crate::backends::objstore::Target;
use crate::chapter::RunContext;
use crate::commands::bench::{median, save};
use crate::error::{Error, Result};
use crate::sql::SqlSession;

#[derive(clap::Parser)]
#[command(
    name = "auditbook stream-bench",
    about = "Measure InduTech's stream end to end (and PySpark's, in the same run)"
)]
struct StreamBenchArgs {
    /// Tickets per run.
    #[arg(long, default_value_t = 1_000_000)]
    tickets: usize,
    /// Runs; the median is reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// The PySpark Structured Streaming baseline's `bench.sh`, run on the same count.
    #[arg(long)]
    peer: Option<PathBuf>,
    /// The record forms to measure, each `--runs` times (all three by default).
    #[arg(long, value_enum, value_delimiter = ',', default_values_t = [Payload::Json, Payload::Compact, Payload::Batched])]
    payload: Vec<Payload>,
    /// Processors in one consumer group sharing the partitions (1: one processor owns them
    /// all). The time counts from the group formed to the last member's end.
    #[arg(long, default_value_t = 1)]
    members: usize,
}

pub(super) fn run(ctx: &RunContext, args: &[String]) -> Result<()> {
    let Some(args) = crate::chapter::command_args::<StreamBenchArgs>("stream-bench", args)? else {
        return Ok(());
    };
    let mut plan = super::InduTech::plan(ctx)?;
    plan.tickets = args.tickets;
    let partitions: i32 = ctx.params.get("partitions")?;
    let members = args.members.max(1);
    if members > partitions as usize {
        return Err(Error::Usage(format!(
            "stream-bench: {members} members for {partitions} partitions: a member would hold none"
        )));
    }
    ctx.progress.start();
    ctx.progress.step("generating the tickets");
    let tickets = generate::generate(&plan);
    let runs = args.runs.max(1);
    // Per form, its timings; the forms alternate run by run, so a slower stretch of the
    // machine weighs on both alike.
    let mut times: Vec<Vec<Timing>> = vec![Vec::new(); args.payload.len()];
    let mut formed: Vec<Duration> = Vec::new();
    let produced = tickets.len();
    // Every run's folder is kept until the end: removing a run's thousand files just before
    // the next run makes ext4 step over their inodes, freed a moment ago, for every file the
    // next run creates (perf: `recently_deleted` the first kernel symbol of the run), a cost
    // of the bench, not of the stream (measured in pairs: 15-18 % more tickets/s kept).
    let mut lakes = Vec::new();
    for run in 0..runs {
        for (form, payload) in args.payload.iter().enumerate() {
            ctx.progress.step(&format!(
                "run {} of {runs}, {} records",
                run + 1,
                payload.name()
            ));
            let (timing, lake) = timed_run(ctx, &plan, &tickets, partitions, *payload, members)?;
            lakes.push(lake);
            formed.extend(timing.formed);
            times[form].push(timing);
        }
    }
    let spark = match ctx.backends.spark_remote.as_deref() {
        Some(remote) => Some(run_spark(ctx, &plan, &tickets, partitions, runs, remote)?),
        None => None,
    };
    let peer = match &args.peer {
        Some(script) => {
            ctx.progress.step("the peer baseline");
            Some(run_peer(script, produced, runs)?)
        }
        None => None,
    };
    ctx.progress.end("measured");
    let broker = match &ctx.backends.kafka_brokers {
        Some(b) => format!("the cluster at {b}"),
        None => "librdkafka's in-process mock cluster".to_string(),
    };
    let processors = if members > 1 {
        format!(
            "{members} processors in one consumer group (the group formed in {:.1} s at the median, not counted)",
            median(formed).as_secs_f64()
        )
    } else {
        "one processor".to_string()
    };
    let max_batch = super::payload::MAX_BATCH;
    let mut report = format!(
        "# InduTech stream, measured\n\n{produced} tickets, {partitions} partitions, {processors}, {broker}; one \
         ticket per record in JSON or compact form, or a partition's tickets between two \
         heartbeats (up to {max_batch}) per batched record; each run checked whole (every ticket processed and archived; the \
         batch recomputation equals the stream plus its late counts).\n\n\
         Stream time: ours from the first record the broker acknowledged to the last checkpoint \
         written, the peer's from its query's start to its end, its Spark session built. With \
         the start: ours from the broker's start (the idempotent producer waits about 0.5 s for \
         its producer id), the peer's with its session's start. Ratios compare like with like.\n\n\
         | work | record value | runs | stream time | tickets/s | ratio to the peer | with the start | tickets/s | ratio to the peer |\n\
         |:---|:---|---:|---:|---:|---:|---:|---:|---:|\n"
    );
    let ratio = |ours: f64, theirs: Option<f64>| {
        theirs.map_or("—".to_string(), |t| format!("{:.1}×", ours / t))
    };
    for (payload, times) in args.payload.iter().zip(times) {
        let stream = median(times.iter().map(|t| t.stream).collect());
        let whole = median(times.iter().map(|t| t.with_start).collect());
        let (ours, ours_whole) = (
            produced as f64 / stream.as_secs_f64(),
            produced as f64 / whole.as_secs_f64(),
        );
        report.push_str(&format!(
            "| auditbook: producer → broker → windows → Parquet | {} | {runs} | {:.3} s | {ours:.0} | {} | {:.3} s | {ours_whole:.0} | {} |\n",
            payload.name(),
            stream.as_secs_f64(),
            ratio(ours, peer.as_ref().map(|p| p.stream)),
            whole.as_secs_f64(),
            ratio(ours_whole, peer.as_ref().map(|p| p.with_start)),
        ));
    }
    if let Some((remote, version, time)) = &spark {
        let theirs = produced as f64 / time.as_secs_f64();
        report.push_str(&format!(
            "| Spark {version} Structured Streaming on the cluster at `{remote}` (file source over this run's raw archive, {} files per micro-batch, windows to Parquet, checked equal to ours) | Parquet | {runs} | {:.3} s | {theirs:.0} | {} | — | — | — |\n",
            ctx.params.get::<usize>("spark_files_per_batch")?,
            time.as_secs_f64(),
            ratio(theirs, peer.as_ref().map(|p| p.stream)),
        ));
    }
    if let Some(peer) = &peer {
        report.push_str(&format!(
            "| PySpark Structured Streaming (file source, `local[2]`) | JSON lines | {} | {:.3} s | {:.0} | 1 | {:.3} s | {:.0} | 1 |\n\n\
             Target: ≥ 10× the peer's tickets/s. The peer verified its own windows against a batch \
             groupBy in each run.\n",
            peer.runs,
            produced as f64 / peer.stream,
            peer.stream,
            produced as f64 / peer.with_start,
            peer.with_start,
        ));
    }
    // The in-process figures and a cluster's are kept apart: one run does not erase the other.
    let file = match (&ctx.backends.kafka_brokers, members) {
        (Some(_), 1) => "indutech-cluster.md".to_string(),
        (None, 1) => "indutech.md".to_string(),
        (Some(_), n) => format!("indutech-cluster-{n}-members.md"),
        (None, n) => format!("indutech-{n}-members.md"),
    };
    let path = save(&ctx.root, &file, &report)?;
    println!("{report}\n(saved to {})", path.display());
    Ok(())
}

/// Spark Structured Streaming on the cluster at `remote`, over the raw archive of one more
/// run of ours: `runs` times, each checked equal to our windows (the chapter's comparison,
/// `spark.windows_agree`). Returns the address, Spark's version and the median stream time.
fn run_spark(
    ctx: &RunContext,
    plan: &generate::Plan,
    tickets: &[generate::Ticket],
    partitions: i32,
    runs: usize,
    remote: &str,
) -> Result<(String, String, Duration)> {
    ctx.progress.step("a run whose archive Spark reads");
    let (_, out) = timed_run(ctx, plan, tickets, partitions, Payload::Batched, 1)?;
    let lake = out.path().join("lake");
    let mut times = Vec::new();
    let mut version = String::new();
    for run in 0..runs {
        ctx.progress.step(&format!(
            "Spark Structured Streaming, run {} of {runs}",
            run + 1
        ));
        let mut nb = ctx.notebook();
        let mut db = SqlSession::open(super::CHAPTER, &lake)?;
        let time =
            super::spark::compare(ctx, &mut nb, &mut db, &Target::Local(lake.clone()), &lake)?
                .expect("a cluster was named");
        let failed = nb.failures();
        if !failed.is_empty() {
            return Err(Error::chapter(
                super::CHAPTER,
                format!(
                    "stream-bench: Spark's windows differ from ours: {}",
                    failed.join("; ")
                ),
            ));
        }
        version = nb.text("spark.version").unwrap_or_default();
        times.push(time);
    }
    Ok((remote.to_string(), version, median(times)))
}

/// One run's times.
#[derive(Debug, Clone, Copy)]
struct Timing {
    /// From the first record the broker acknowledged to the end (see [`super::stream::Sent`]).
    stream: Duration,
    /// From the broker's start to the end: the clients' start (and a group's forming)
    /// included.
    with_start: Duration,
    /// For a group, how long it took to form.
    formed: Option<Duration>,
}

/// Times one run of the pipeline into a folder of its own, checks it is whole, and returns
/// its times with the run's folder.
fn timed_run(
    ctx: &RunContext,
    plan: &generate::Plan,
    tickets: &[generate::Ticket],
    partitions: i32,
    payload: Payload,
    members: usize,
) -> Result<(Timing, crate::chapter::ScratchDir)> {
    let out = ctx.scratch_dir("stream-bench-")?;
    let kept = out;
    let out = &kept;
    let lake = out.path().join("lake");
    let unique = out
        .path()
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let topic = if ctx.backends.kafka_brokers.is_some() {
        format!("tickets-{unique}")
    } else {
        "tickets".to_string()
    };
    let target = Target::Local(lake.clone());
    let brokers = ctx.backends.kafka_brokers.as_deref();
    let started = Instant::now();
    let (stream, formed, processed, finished) = if members > 1 {
        let run = run_group_on(
            plan,
            tickets,
            partitions,
            brokers,
            &target,
            &topic,
            &vec![None; members],
            payload,
        )
        .map_err(Error::within(super::CHAPTER))?;
        let processed: u64 = run.members.iter().map(|m| m.tickets_this_run).sum();
        let finished = run.members.iter().all(|m| m.finished);
        (run.streamed_in, Some(run.formed_in), processed, finished)
    } else {
        let drive = Drive {
            crash_after: None,
            payload,
        };
        let run = run_pipeline_on(plan, tickets, partitions, brokers, &target, &topic, drive)
            .map_err(Error::within(super::CHAPTER))?;
        let finished = run.processed.finished;
        (
            run.streamed_in,
            None,
            run.processed.tickets_this_run,
            finished,
        )
    };
    // Either way, a run whose first record was never acknowledged has no stream time.
    let stream = stream.ok_or_else(|| {
        Error::chapter(
            super::CHAPTER,
            "stream-bench: the broker acknowledged no record",
        )
    })?;
    let timing = Timing {
        stream,
        with_start: started.elapsed(),
        formed,
    };
    let produced = tickets.len();
    // Each ticket windowed once: a group's members re-read nothing when none leaves.
    let whole = finished && processed == produced as u64;
    let mut db = SqlSession::open(super::CHAPTER, &lake)?;
    let disagreements = db.query("batch_check")?.height();
    let archived = crate::frame::get_i64(
        &db.query_generated(
            "archived",
            "select count(*) as tickets from read_parquet('raw/*/*.parquet')",
        )?,
        "archived",
        0,
        "tickets",
    )?;
    if !whole || disagreements > 0 || archived != produced as i64 {
        return Err(Error::chapter(
            super::CHAPTER,
            format!(
                "stream-bench: a run was not whole: {} of {} tickets processed, {archived} archived, \
                 {disagreements} windows disagreeing with the batch recomputation",
                processed, produced
            ),
        ));
    }
    Ok((timing, kept))
}

/// The peer's figures, tickets/s, medians over its runs.
struct Peer {
    runs: usize,
    /// Over its stream time (its query's start to its end).
    stream: f64,
    /// Over its stream time and its Spark session's start.
    with_start: f64,
}

fn run_peer(script: &std::path::Path, tickets: usize, runs: usize) -> Result<Peer> {
    let keys = [
        format!("tickets_per_s_stream_{tickets}"),
        format!("tickets_per_s_with_startup_{tickets}"),
    ];
    let mut values: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for _ in 0..runs {
        let output = std::process::Command::new(script)
            .arg(tickets.to_string())
            .env("NICE", "0")
            .output()
            .map_err(Error::io(script))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        for (key, values) in keys.iter().zip(values.iter_mut()) {
            let value = stdout
                .lines()
                .filter_map(|l| l.strip_prefix("RESULT "))
                .filter_map(|l| l.split_once('='))
                .find(|(k, _)| k == key)
                .and_then(|(_, v)| v.split_whitespace().next()?.parse::<f64>().ok());
            match value {
                Some(v) if output.status.success() => values.push(v),
                _ => {
                    return Err(Error::Unavailable {
                        chapter: super::CHAPTER.into(),
                        service: "the peer baseline",
                        source: format!(
                            "{} gave no {key}: {}",
                            script.display(),
                            String::from_utf8_lossy(&output.stderr)
                                .lines()
                                .chain(stdout.lines())
                                .rev()
                                .take(5)
                                .collect::<Vec<_>>()
                                .join(" | ")
                        )
                        .into(),
                    })
                }
            }
        }
    }
    let [stream, with_start] = values.map(|mut v| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    });
    Ok(Peer {
        runs,
        stream,
        with_start,
    })
}
