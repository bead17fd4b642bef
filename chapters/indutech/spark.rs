//! The same windows on Spark Structured Streaming (`--spark sc://HOST:PORT`): the raw ticket
//! archive the chapter wrote is Spark's input (Parquet, file source, a few files per
//! micro-batch), with the watermark on the tickets' event time, the chapter's 1-minute window
//! sliding every 30 s per priority (`windows.spark.sql`), appended as Parquet as each window
//! closes. Spark's rows come back over the connection and DuckDB compares them, cell by cell,
//! with the chapter's stream counts plus its late counts (which together equal the batch).
//!
//! Spark's watermark is the largest event time it has seen minus a delay, and it moves
//! between micro-batches; the chapter's is the minimum over partitions, ticket by ticket.
//! Spark also says how many rows its watermark dropped, but not in which windows. So Spark
//! runs with a delay covering the stream's whole disorder (the largest arrival delay in the
//! archive, `spark_delay.sql`, or the parameter `spark_delay_s`), its dropped rows are a
//! finding, and the check holds only when none were dropped and every window Spark closed
//! agrees.
//!
//! The cluster reads the archive where the chapter wrote it: the run's folder for a cluster
//! on this machine, or `s3a://BUCKET/PREFIX/raw` when the chapter wrote to S3 (the cluster
//! needs the S3A connector then; the pip wheel this repository tests with has none).

use std::path::Path;
use std::time::{Duration, Instant};

use super::CHAPTER;
use crate::backends::objstore::Target;
use crate::backends::spark::{self, Spark, StreamJob};
use crate::chapter::RunContext;
use crate::compare::Cell;
use crate::error::{Error, Result};
use crate::frame::{get_i64, get_text};
use crate::notebook::{Notebook, Source, Status, Value};
use crate::sql::SqlSession;

/// The columns of the raw archive Spark reads (Spark's DDL). The archive's timestamps carry
/// no zone (TIMESTAMP(MILLIS, false)); the session reads them in UTC, as they were written.
const RAW_SCHEMA: &str = "created_at timestamp, priority string";

/// Where the archive is for the cluster, and where its output goes.
fn paths(target: &Target, lake: &Path, scratch: &Path) -> (String, String, String) {
    match target {
        Target::S3 { bucket, prefix, .. } => (
            format!("s3a://{bucket}/{prefix}/raw"),
            format!("s3a://{bucket}/{prefix}/spark/windows"),
            format!("s3a://{bucket}/{prefix}/spark/checkpoint"),
        ),
        Target::Local(_) => (
            lake.join("raw").to_string_lossy().to_string(),
            scratch.join("windows").to_string_lossy().to_string(),
            scratch.join("checkpoint").to_string_lossy().to_string(),
        ),
    }
}

/// Runs the windows on Spark and compares, when the user named a cluster. Returns how long
/// Spark's streaming query took, from its start to its end (for `stream-bench`).
pub(super) fn compare(
    ctx: &RunContext,
    nb: &mut Notebook,
    db: &mut SqlSession,
    target: &Target,
    lake: &Path,
) -> Result<Option<Duration>> {
    let Some(remote) = ctx.backends.spark_remote.as_deref() else {
        return Ok(None);
    };
    ctx.progress
        .step("the windows on Spark Structured Streaming");
    let delay = db.query("spark_delay")?;
    let derived_ms = get_i64(&delay, "spark_delay", 0, "delay_ms")?;
    let given_s: i64 = ctx.params.get("spark_delay_s")?;
    let delay_ms = if given_s > 0 {
        given_s * 1000
    } else {
        derived_ms
    };
    let source = if given_s > 0 {
        crate::function_source!(crate::chapters::indutech::spark::compare; "the parameter spark_delay_s")
    } else {
        Source::query("spark_delay")
    };
    nb.add_finding(
        "spark.delay_s",
        Value::Int(delay_ms / 1000),
        Some("s"),
        source,
    )?;

    // Files per micro-batch: by default about one checkpoint's files of a 4-partition run, so
    // Spark's watermark moves many times over a run.
    let files_per_batch: usize = ctx.params.get("spark_files_per_batch")?;
    let scratch = ctx.scratch_dir("spark-")?;
    let (input, output, checkpoint) = paths(target, lake, scratch.path());
    let spark = Spark::connect(remote).map_err(Error::within(CHAPTER))?;
    // A few shuffle partitions: Spark's default of 200 makes each micro-batch of a few
    // thousand tickets pay for 200 state-store tasks.
    spark
        .execute("shuffle partitions", "set spark.sql.shuffle.partitions=4")
        .map_err(Error::within(CHAPTER))?;
    let sql = db.text("windows.spark")?;
    let delay_text = format!("{} seconds", delay_ms / 1000);
    let started = Instant::now();
    let progress = spark
        .stream_to_parquet(&StreamJob {
            name: "indutech_windows",
            input: &input,
            schema: RAW_SCHEMA,
            files_per_batch,
            event_time: "created_at",
            delay: &delay_text,
            source_view: "tickets",
            sql,
            output: &output,
            checkpoint: &checkpoint,
        })
        .map_err(Error::within(CHAPTER))?;
    let streamed_in = started.elapsed();
    nb.queries.insert("windows.spark".into(), sql.to_string());
    let watermark_ms = spark::final_watermark_ms(&progress).unwrap_or(i64::MIN);

    let read_back = format!(
        "select unix_millis(window_start) as start_ms, priority, tickets from parquet.`{output}`"
    );
    let emitted = spark
        .query("spark_windows", &read_back)
        .map_err(Error::within(CHAPTER))?;
    let mut values = Vec::with_capacity(emitted.rows.len());
    for row in &emitted.rows {
        match row.as_slice() {
            [Cell::Int(start), Cell::Text(priority), Cell::Int(tickets)] => values.push(format!(
                "({start}, '{}', {tickets})",
                priority.replace('\'', "''")
            )),
            other => {
                return Err(Error::chapter(
                    CHAPTER,
                    format!("Spark's window row is not (start, priority, tickets): {other:?}"),
                ))
            }
        }
    }
    let mut load = format!(
        "create temporary table spark_windows (start_ms bigint, priority varchar, tickets bigint);\nset variable spark_watermark_ms = {watermark_ms};\n"
    );
    if !values.is_empty() {
        load.push_str(&format!(
            "insert into spark_windows values {};",
            values.join(", ")
        ));
    }
    db.execute_unrecorded("spark_windows", &load)?;
    db.execute("spark_cells")?;
    let by_outcome = db.query("spark_compare")?;
    let disagreements = db.query("spark_disagreements")?;

    let (mut emitted_cells, mut open_cells, mut missing_cells, mut differing) = (0, 0, 0, 0);
    let mut spark_tickets = 0;
    for row in 0..by_outcome.height() {
        let outcome = get_text(&by_outcome, "spark_compare", row, "outcome")?.unwrap_or_default();
        let cells = get_i64(&by_outcome, "spark_compare", row, "cells")?;
        match outcome.as_str() {
            "emitted" => {
                emitted_cells = cells;
                differing = get_i64(&by_outcome, "spark_compare", row, "differing")?;
                spark_tickets = get_i64(&by_outcome, "spark_compare", row, "spark_tickets")?;
            }
            "open at the end" => open_cells = cells,
            _ => missing_cells = cells,
        }
    }
    let dropped = spark::rows_dropped_by_watermark(&progress) as i64;
    let on_spark = crate::function_source!(crate::chapters::indutech::spark::compare);
    let compared = Source::query("spark_compare");
    nb.add_finding(
        "spark.version",
        Value::Text(spark.version().to_string()),
        None,
        on_spark.clone(),
    )?;
    nb.add_finding(
        "spark.micro_batches",
        Value::Int(spark::batches_with_input(&progress) as i64),
        Some("batches"),
        on_spark.clone(),
    )?;
    nb.add_finding(
        "spark.rows_read",
        Value::Int(spark::input_rows(&progress) as i64),
        Some("tickets"),
        on_spark.clone(),
    )?;
    nb.add_finding(
        "spark.rows_dropped",
        Value::Int(dropped),
        Some("tickets"),
        on_spark,
    )?;
    nb.add_finding(
        "spark.cells_emitted",
        Value::Int(emitted_cells),
        Some("cells"),
        compared.clone(),
    )?;
    nb.add_finding(
        "spark.cells_differing",
        Value::Int(differing),
        Some("cells"),
        compared.clone(),
    )?;
    nb.add_finding(
        "spark.cells_open_at_end",
        Value::Int(open_cells),
        Some("cells"),
        compared.clone(),
    )?;
    nb.add_finding(
        "spark.cells_not_emitted",
        Value::Int(missing_cells),
        Some("cells"),
        compared.clone(),
    )?;
    nb.add_finding(
        "spark.window_tickets",
        Value::Int(spark_tickets),
        Some("ticket-windows"),
        compared,
    )?;

    let listed: Vec<String> = (0..disagreements.height())
        .map(|row| {
            let cell = |c: &str| {
                disagreements
                    .column(c)
                    .ok()
                    .and_then(|s| s.get(row).ok())
                    .map(|v| crate::frame::cell_text(&v))
                    .unwrap_or_default()
            };
            format!(
                "{} {}: chapter {}, Spark {} ({})",
                cell("window_start"),
                cell("priority"),
                cell("chapter"),
                cell("spark"),
                cell("outcome")
            )
        })
        .collect();
    nb.add_table("spark_compare", by_outcome, Source::query("spark_compare"))?;
    nb.add_check(
        "spark.windows_agree",
        "Spark Structured Streaming, run where its watermark drops nothing, emits for every (window, priority) it closed the chapter's stream count plus its late count, and closes every window its final watermark passed",
        Status::of(dropped == 0 && differing == 0 && missing_cells == 0 && emitted_cells > 0, || {
            format!(
                "Spark's watermark dropped {dropped} ticket(s) (delay {} s); {differing} emitted cell(s) differ, {missing_cells} closed cell(s) never emitted, {emitted_cells} emitted: {}",
                delay_ms / 1000,
                listed.join("; ")
            )
        }),
        &["spark.rows_dropped", "spark.cells_differing", "spark.cells_not_emitted", "spark.cells_emitted"],
    )?;
    Ok(Some(streamed_in))
}
