//! Chapter 3, InduTech: support tickets streamed through a Kafka-protocol broker (the
//! in-process mock cluster of librdkafka by default, a real cluster with `--brokers`),
//! counted per priority over 1-minute event-time windows sliding every 30 seconds, with a
//! watermark and allowed lateness, and archived as Parquet through `object_store` (a local
//! directory by default, S3 with `--s3-endpoint`). DuckDB reads the files back and recomputes
//! every window in batch from the raw archive.

mod bench;
pub mod generate;
mod member;
pub mod payload;
mod pipeline;
mod report;
pub mod sink;
pub(crate) mod spark;
pub mod stream;
pub mod task;
pub mod text;
pub mod window;

pub use pipeline::{
    run_group_on, run_pipeline, run_pipeline_on, run_pipeline_with, Drive, GroupRun, Run,
};

use chrono::{DateTime, Utc};

use crate::backends::objstore::{Storage, Target};
use crate::chapter::{Allowed, Chapter, ChapterCommand, Meta, ParamSpec, RunContext};
use crate::error::{Error, Result};
use crate::notebook::Notebook;
use crate::sql::SqlSession;

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
        name: "spark_delay_s",
        default: "0",
        help: "with --spark: the watermark delay of Spark's windows, seconds (0: the stream's whole disorder, the largest arrival delay in the archive)",
        allowed: Allowed::Int {
            min: 0,
            max: 86_400,
        },
    },
    ParamSpec {
        name: "spark_files_per_batch",
        default: "4",
        help: "with --spark: raw archive files Spark reads per micro-batch (maxFilesPerTrigger)",
        allowed: Allowed::Int {
            min: 1,
            max: 10_000,
        },
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
    /// The generator's plan from the chapter's parameters.
    pub fn plan(ctx: &RunContext) -> Result<generate::Plan> {
        Self::plan_of(&ctx.params)
    }

    /// The generator's plan from the chapter's parameters `p`.
    pub fn plan_of(p: &crate::chapter::Params) -> Result<generate::Plan> {
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

impl Chapter for InduTech {
    fn meta(&self) -> &Meta {
        &META
    }

    fn commands(&self) -> &'static [ChapterCommand] {
        &[
            ChapterCommand {
                name: "stream-bench",
                about: "measure the stream end to end at 10⁶ tickets (`--tickets N`, `--runs R`, `--brokers` for a real cluster) beside PySpark Structured Streaming (`--peer bench.sh`, `local[2]`) and Spark Structured Streaming on a cluster (`--spark sc://HOST:PORT`) → measurements/indutech.md",
            },
            ChapterCommand {
                name: "stream-process",
                about: "window the tickets of `--topic T` as one member of a consumer group on a real cluster (`--brokers`), into `--lake DIR` (run one per machine: they share the partitions)",
            },
            ChapterCommand {
                name: "stream-produce",
                about: "send the generated tickets to `--topic T` on a real cluster (`--brokers`; `--param tickets=N`)",
            },
        ]
    }

    fn run_command(&self, ctx: &RunContext, name: &str, args: &[String]) -> Result<()> {
        match name {
            "stream-process" => member::process(ctx, args),
            "stream-produce" => member::produce(ctx, args),
            _ => bench::run(ctx, args),
        }
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        let plan = Self::plan(ctx)?;
        let partitions: i32 = ctx.params.get("partitions")?;
        let mut nb = ctx.notebook();

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
        .map_err(|e| Error::Usage(e.to_string()))?;
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
        .map_err(Error::within(CHAPTER))?;
        // Producer → broker → windows → Parquet, wall time: to `bench` only, never the book.
        crate::progress::profile(CHAPTER, "pipeline", &mut started);

        // Read back what the sink wrote: the local folder, or the S3 objects fetched into it.
        let lake = out.path().join("lake");
        if let Target::S3 { .. } = &target {
            let sink = Storage::open(&target).map_err(Error::within(CHAPTER))?;
            for name in sink.list("").map_err(Error::within(CHAPTER))? {
                let bytes = sink
                    .get(&name)
                    .map_err(Error::within(CHAPTER))?
                    .unwrap_or_default();
                let path = lake.join(&name);
                std::fs::create_dir_all(path.parent().expect("object paths have a folder"))
                    .map_err(Error::io(&path))?;
                std::fs::write(&path, bytes).map_err(Error::io(&path))?;
            }
        }
        report::findings(&mut nb, &run, &plan)?;
        if nb.has_failures() {
            // The stream did not run to its end: its files are not the whole of it.
            return Ok(nb);
        }
        // What the stream wrote is the input of the read-back and of the batch check.
        let lake = ctx.input_dir(&lake)?;
        let mut db = SqlSession::open(CHAPTER, &lake)?;
        report::readback(&mut nb, &mut db, &run)?;
        spark::compare(ctx, &mut nb, &mut db, &target, &lake)?;
        db.hand_over(&mut nb);
        Ok(nb)
    }
}
