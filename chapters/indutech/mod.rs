//! Chapter 3, InduTech: support tickets streamed through a Kafka-protocol broker (the
//! in-process mock cluster of librdkafka by default, a real cluster with `--brokers`),
//! counted per priority over 1-minute event-time windows sliding every 30 seconds, with a
//! watermark and allowed lateness, and archived as Parquet through `object_store` (a local
//! directory by default, S3 with `--s3-endpoint`). DuckDB reads the files back and recomputes
//! every window in batch from the raw archive.

pub mod generate;
pub mod sink;
pub mod stream;
pub mod window;

use chrono::{DateTime, Utc};
use polars::prelude::DataFrame;

use crate::chapter::{Allowed, Chapter, Meta, ParamSpec, RunContext};
use crate::error::{Error, Result};
use crate::frame::{get_f64, get_i64, get_text};
use crate::notebook::{Notebook, Source, Status, Value};
use crate::objstore::{Storage, Target};
use crate::render::chart::{self, LineChart, Series};
use crate::sql::SqlSession;
use stream::{Broker, ProcessorConfig};
use window::PRIORITIES;

/// The InduTech chapter.
pub struct InduTech;

const CHAPTER: &str = "indutech";

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "seed",
        default: "7",
        help: "seed of the generated tickets",
        allowed: Allowed::Int {
            min: 0,
            max: i64::MAX,
        },
    },
    ParamSpec {
        name: "tickets",
        default: "20000",
        help: "tickets to stream",
        allowed: Allowed::Int {
            min: 1,
            max: 10_000_000,
        },
    },
    ParamSpec {
        name: "start",
        default: "2026-11-02T00:00:00Z",
        help: "first instant of the period (UTC)",
        allowed: Allowed::Any,
    },
    ParamSpec {
        name: "days",
        default: "2",
        help: "days the tickets span",
        allowed: Allowed::Int { min: 1, max: 366 },
    },
    ParamSpec {
        name: "clients",
        default: "400",
        help: "client accounts (the partition key)",
        allowed: Allowed::Int {
            min: 1,
            max: 1_000_000,
        },
    },
    ParamSpec {
        name: "bursts",
        default: "3",
        help: "incident bursts at ten times the usual rate",
        allowed: Allowed::Int { min: 0, max: 100 },
    },
    ParamSpec {
        name: "partitions",
        default: "4",
        help: "partitions of the topic",
        allowed: Allowed::Int { min: 1, max: 64 },
    },
    ParamSpec {
        name: "lateness_s",
        default: "120",
        help: "allowed lateness of the watermark, seconds",
        allowed: Allowed::Int {
            min: 0,
            max: 86_400,
        },
    },
    ParamSpec {
        name: "disorder_share",
        default: "0.10",
        help: "share of tickets out of order by up to a minute",
        allowed: Allowed::Number { min: 0.0, max: 1.0 },
    },
    ParamSpec {
        name: "late_share",
        default: "0.01",
        help: "share of tickets delayed beyond the lateness",
        allowed: Allowed::Number { min: 0.0, max: 1.0 },
    },
    ParamSpec {
        name: "crash_after",
        default: "0",
        help:
            "stop the processor after this many tickets, as a crash would (0: it runs to the end)",
        allowed: Allowed::Int {
            min: 0,
            max: 10_000_000,
        },
    },
];

static META: Meta = Meta {
    id: CHAPTER,
    number: 3,
    title: "InduTech: tickets through a broker, windowed",
    params: PARAMS,
    inputs: &[],
};

impl InduTech {
    pub fn plan(ctx: &RunContext) -> Result<generate::Plan> {
        let p = &ctx.params;
        let start: String = p.get("start")?;
        let start: DateTime<Utc> = start
            .parse()
            .map_err(|e| Error::Usage(format!("chapter `{CHAPTER}`: start `{start}`: {e}")))?;
        let lateness_s: i64 = p.get("lateness_s")?;
        Ok(generate::Plan {
            seed: p.get("seed")?,
            tickets: p.get("tickets")?,
            start_ms: start.timestamp_millis(),
            days: p.get("days")?,
            clients: p.get("clients")?,
            disorder_share: p.get("disorder_share")?,
            late_share: p.get("late_share")?,
            lateness_ms: lateness_s * 1000,
            bursts: p.get("bursts")?,
        })
    }
}

/// One run of the pipeline: what the processor saw and where the files are.
pub struct Run {
    pub produced: usize,
    /// Tickets the generator delayed beyond the lateness (most will be late).
    pub delayed_beyond_lateness: usize,
    pub processed: stream::Processed,
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
) -> std::result::Result<Run, String> {
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
) -> std::result::Result<Run, String> {
    let tickets = generate::generate(plan);
    let broker = Broker::start(brokers, topic, partitions)?;
    let mut sink = Storage::open(target)?;
    let progress = std::sync::atomic::AtomicU64::new(0);
    let cfg = ProcessorConfig {
        group: "indutech-windows",
        lateness_ms: plan.lateness_ms,
        crash_after,
        idle_timeout: std::time::Duration::from_secs(30),
        progress: Some(&progress),
    };
    let processed = std::thread::scope(|s| {
        let endpoint = &broker.endpoint;
        let producer =
            s.spawn(|| stream::produce(endpoint, &tickets, Some((&progress, stream::MAX_AHEAD))));
        let processed = stream::process(endpoint, &mut sink, &cfg);
        // A processor that stopped early reads no more: release the producer's throttle so
        // it sends the rest and ends.
        progress.store(u64::MAX / 2, std::sync::atomic::Ordering::Relaxed);
        producer
            .join()
            .map_err(|_| "the producer panicked".to_string())??;
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

impl Chapter for InduTech {
    fn meta(&self) -> &Meta {
        &META
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        let plan = Self::plan(ctx)?;
        let partitions: i32 = ctx.params.get("partitions")?;
        let mut nb = Notebook::new(CHAPTER);
        nb.params = ctx.params.all().clone();

        // The files land in a folder of this run's own (or an S3 prefix of its own), read
        // back, then removed: runs never share output.
        let out = ctx.scratch_dir("stream-")?;
        let unique = out
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let target = Target::for_run(
            ctx.backends.s3_endpoint.as_deref(),
            ctx.backends.s3_bucket.as_deref(),
            CHAPTER,
            &unique,
            out.path().join("lake"),
        )
        .map_err(Error::Usage)?;
        // A real cluster gets a topic of its own per run; the in-process one starts empty.
        let topic = if ctx.backends.kafka_brokers.is_some() {
            format!("tickets-{unique}")
        } else {
            "tickets".to_string()
        };
        ctx.progress
            .step("streaming the tickets through the broker");
        let mut started = std::time::Instant::now();
        let crash_after: u64 = ctx.params.get("crash_after")?;
        let crash_after = (crash_after > 0).then_some(crash_after);
        let run = run_pipeline_with(
            &plan,
            partitions,
            ctx.backends.kafka_brokers.as_deref(),
            &target,
            &topic,
            crash_after,
        )
        .map_err(|e| Error::chapter(CHAPTER, e))?;
        // Producer → broker → windows → Parquet, wall time: to `bench` only, never the book.
        crate::progress::profile(CHAPTER, "pipeline", &mut started);

        // Read back what the sink wrote: the local folder, or the S3 objects fetched into it.
        let lake = out.path().join("lake");
        if let Target::S3 { .. } = &target {
            let sink = Storage::open(&target).map_err(|e| Error::chapter(CHAPTER, e))?;
            for name in sink.list("").map_err(|e| Error::chapter(CHAPTER, e))? {
                let bytes = sink
                    .get(&name)
                    .map_err(|e| Error::chapter(CHAPTER, e))?
                    .unwrap_or_default();
                let path = lake.join(&name);
                std::fs::create_dir_all(path.parent().expect("object paths have a folder"))
                    .map_err(Error::io(&path))?;
                std::fs::write(&path, bytes).map_err(Error::io(&path))?;
            }
        }
        findings(&mut nb, &run, &plan)?;
        if nb.has_failures() {
            // The stream did not run to its end: its files are not the whole of it.
            return Ok(nb);
        }
        // What the stream wrote is the input of the read-back and of the batch check.
        let lake = ctx.input_dir(&lake)?;
        let mut db = SqlSession::open(CHAPTER, &lake)?;
        readback(&mut nb, &mut db, &run)?;
        db.hand_over(&mut nb);
        Ok(nb)
    }
}

fn findings(nb: &mut Notebook, run: &Run, plan: &generate::Plan) -> Result<()> {
    let source = Source::function("indutech::stream::process");
    let w = &run.processed.checkpoint.windows;
    nb.add_finding(
        "stream.produced",
        Value::Int(run.produced as i64),
        Some("tickets"),
        Source::function("indutech::stream::produce"),
    )?;
    nb.add_finding(
        "stream.processed",
        Value::Int(run.processed.checkpoint.next_seq as i64),
        Some("tickets"),
        source.clone(),
    )?;
    nb.add_finding(
        "stream.on_time",
        Value::Int(w.on_time_events),
        Some("tickets"),
        source.clone(),
    )?;
    nb.add_finding(
        "stream.late",
        Value::Int(w.late_events),
        Some("tickets"),
        source.clone(),
    )?;
    nb.add_finding(
        "stream.late_windows",
        Value::Int(w.late.len() as i64),
        Some("windows"),
        source.clone(),
    )?;
    nb.add_finding(
        "stream.checkpoints",
        Value::Int(run.processed.checkpoint.checkpoints as i64),
        Some("checkpoints"),
        source.clone(),
    )?;
    nb.add_finding(
        "stream.objects",
        Value::Int(run.objects as i64),
        Some("objects"),
        Source::function("objstore::Storage::put"),
    )?;
    nb.add_finding(
        "stream.heartbeat_every",
        Value::Int(stream::HEARTBEAT_EVERY as i64),
        Some("tickets"),
        Source::function("indutech::stream::HEARTBEAT_EVERY"),
    )?;
    nb.add_finding(
        "stream.max_ahead",
        Value::Int(stream::MAX_AHEAD as i64),
        Some("tickets"),
        Source::function("indutech::stream::MAX_AHEAD"),
    )?;
    nb.add_finding(
        "stream.lateness_s",
        Value::Int(plan.lateness_ms / 1000),
        Some("s"),
        Source::function("indutech::window::Windows::watermark"),
    )?;
    nb.add_finding(
        "generator.delayed_beyond_lateness",
        Value::Int(run.delayed_beyond_lateness as i64),
        Some("tickets"),
        Source::function("indutech::generate::generate"),
    )?;
    let all_read =
        run.processed.finished && run.processed.checkpoint.next_seq as usize == run.produced;
    nb.add_check(
        "stream.every_ticket_read_once",
        "the processor read every produced ticket exactly once, in stream order, to the end markers",
        Status::of(all_read && w.on_time_events + w.late_events == run.produced as i64, || {
            format!("produced {}, read {}, on time {} + late {}", run.produced, run.processed.checkpoint.next_seq, w.on_time_events, w.late_events)
        }),
        &["stream.produced", "stream.processed", "stream.on_time", "stream.late"],
    )?;
    Ok(())
}

fn readback(nb: &mut Notebook, db: &mut SqlSession, run: &Run) -> Result<()> {
    let back = db.query("readback")?;
    let q = Source::query("readback");
    nb.add_finding(
        "parquet.windows",
        Value::Int(get_i64(&back, "readback", 0, "windows")?),
        Some("windows"),
        q.clone(),
    )?;
    nb.add_finding(
        "parquet.rows",
        Value::Int(get_i64(&back, "readback", 0, "rows")?),
        Some("rows"),
        q.clone(),
    )?;
    nb.add_finding(
        "parquet.window_tickets",
        Value::Int(get_i64(&back, "readback", 0, "tickets")?),
        Some("ticket-windows"),
        q,
    )?;
    let w = &run.processed.checkpoint.windows;
    nb.add_finding(
        "stream.window_tickets",
        Value::Int(w.added),
        Some("ticket-windows"),
        Source::function("indutech::window::Windows::event"),
    )?;
    nb.add_finding(
        "stream.late_window_tickets",
        Value::Int(w.added_late),
        Some("ticket-windows"),
        Source::function("indutech::window::Windows::event"),
    )?;
    let disagreements = db.query("batch_check")?;
    nb.add_finding(
        "batch.disagreements",
        Value::Int(disagreements.height() as i64),
        Some("windows"),
        Source::query("batch_check"),
    )?;
    nb.add_check(
        "batch.equals_stream",
        "for every window and priority, the stream's count plus its late count equals the batch count over the raw archive",
        Status::of(disagreements.height() == 0, || {
            let first: Vec<String> = (0..disagreements.height().min(3))
                .map(|r| {
                    let v = |c: &str| get_i64(&disagreements, "batch_check", r, c).unwrap_or(i64::MIN);
                    let start = chrono::DateTime::from_timestamp_millis(v("start_ms")).map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default();
                    let priority = crate::frame::get_text(&disagreements, "batch_check", r, "priority").ok().flatten().unwrap_or_default();
                    format!("window {start} {priority}: batch {}, stream {} + late {}", v("batch"), v("stream"), v("late"))
                })
                .collect();
            format!("{} disagreeing (window, priority) pairs; first: {}", disagreements.height(), first.join("; "))
        }),
        &["batch.disagreements"],
    )?;
    let read_back = nb.int("parquet.window_tickets");
    let written = w.added;
    nb.add_check(
        "parquet.round_trip",
        "the window files read back by DuckDB hold exactly the counts the stream emitted",
        Status::of(read_back == written, || {
            format!("files {read_back}, stream {written}")
        }),
        &["parquet.window_tickets", "stream.window_tickets"],
    )?;
    let priorities = db.query("priorities")?;
    nb.add_table("priorities", priorities, Source::query("priorities"))?;
    let partitions = db.query("partitions")?;
    nb.add_table("partitions", partitions, Source::query("partitions"))?;
    let delay = db.query("emission_delay")?;
    let qd = Source::query("emission_delay");
    nb.add_finding(
        "delay.median_s",
        Value::Float {
            value: get_f64(&delay, "emission_delay", 0, "median_s")?,
            decimals: 1,
        },
        Some("s"),
        qd.clone(),
    )?;
    nb.add_finding(
        "delay.p95_s",
        Value::Float {
            value: get_f64(&delay, "emission_delay", 0, "p95_s")?,
            decimals: 1,
        },
        Some("s"),
        qd,
    )?;
    timeline_chart(nb, db)?;
    Ok(())
}

fn timeline_chart(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let frame: DataFrame = db.query("timeline")?;
    let mut labels: Vec<String> = Vec::new();
    let mut values: Vec<Vec<f64>> = vec![Vec::new(); PRIORITIES.len()];
    for r in 0..frame.height() {
        let label = get_text(&frame, "timeline", r, "window_utc")?.unwrap_or_default();
        if labels.last() != Some(&label) {
            labels.push(label);
            for v in values.iter_mut() {
                v.push(0.0);
            }
        }
        let p = get_text(&frame, "timeline", r, "priority")?.unwrap_or_default();
        let i = window::priority_index(&p)
            .ok_or_else(|| Error::chapter(CHAPTER, format!("timeline: unknown priority {p}")))?;
        *values[i].last_mut().expect("pushed above") =
            get_i64(&frame, "timeline", r, "tickets")? as f64;
    }
    let series = PRIORITIES
        .iter()
        .zip(values)
        .map(|(name, values)| Series { name, values })
        .collect();
    let svg = chart::line_chart(&LineChart {
        title: "Tickets per priority in the 1-minute window, every 10 minutes (UTC)",
        x_labels: labels,
        y_label: "tickets",
        series,
    })
    .map_err(|e| Error::chapter(CHAPTER, e))?;
    nb.add_chart("timeline", "Working hours and incident bursts show in every priority; bursts raise the critical tickets most.", svg, Source::query("timeline"))?;
    Ok(())
}
