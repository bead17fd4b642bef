//! InduTech's report: what the stream did (tickets produced, processed, late, checkpoints),
//! the Parquet read back and checked against a batch recount, the windows per priority, the
//! timeline chart.

use super::stream::{self};
use super::window::PRIORITIES;
use crate::error::{Error, Result};
use crate::frame::{get_f64, get_i64, get_text};
use crate::notebook::{Notebook, Source, Status, Value};
use crate::render::chart::{self, LineChart, Series};
use crate::sql::SqlSession;
use polars::prelude::DataFrame;

use super::pipeline::Run;
use super::window;
use super::{generate, CHAPTER};

pub(super) fn findings(nb: &mut Notebook, run: &Run, plan: &generate::Plan) -> Result<()> {
    let source = crate::function_source!(crate::chapters::indutech::stream::process);
    let w = &run.processed.checkpoint.windows;
    nb.add_finding(
        "stream.produced",
        Value::Int(run.produced as i64),
        Some("tickets"),
        crate::function_source!(crate::chapters::indutech::stream::produce_as),
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
        crate::function_source!(crate::backends::objstore::Storage::put),
    )?;
    nb.add_finding(
        "stream.heartbeat_every",
        Value::Int(stream::HEARTBEAT_EVERY as i64),
        Some("tickets"),
        crate::function_source!(crate::chapters::indutech::stream::HEARTBEAT_EVERY),
    )?;
    nb.add_finding(
        "stream.max_ahead",
        Value::Int(stream::MAX_AHEAD as i64),
        Some("tickets"),
        crate::function_source!(crate::chapters::indutech::stream::MAX_AHEAD),
    )?;
    nb.add_finding(
        "stream.lateness_s",
        Value::Int(plan.lateness_ms / 1000),
        Some("s"),
        crate::function_source!(crate::chapters::indutech::window::Windows::watermark),
    )?;
    nb.add_finding(
        "generator.delayed_beyond_lateness",
        Value::Int(run.delayed_beyond_lateness as i64),
        Some("tickets"),
        crate::function_source!(crate::chapters::indutech::generate::generate),
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

pub(super) fn readback(nb: &mut Notebook, db: &mut SqlSession, run: &Run) -> Result<()> {
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
        crate::function_source!(crate::chapters::indutech::window::Windows::event),
    )?;
    nb.add_finding(
        "stream.late_window_tickets",
        Value::Int(w.added_late),
        Some("ticket-windows"),
        crate::function_source!(crate::chapters::indutech::window::Windows::event),
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
    let read_back = nb.int("parquet.window_tickets")?;
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
    // The answer the project exists for, in the findings JSON too: tickets per priority.
    nb.add_finding(
        "tickets.per_priority",
        Value::Rows(crate::frame::rows_json(&priorities)),
        None,
        Source::query("priorities"),
    )?;
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

pub(super) fn timeline_chart(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
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
        x_label: "window start (UTC)",
        y_label: "tickets",
        series,
    })
    .map_err(Error::within(CHAPTER))?;
    nb.add_chart("timeline", "Working hours and incident bursts show in every priority; bursts raise the critical tickets most.", svg, Source::query("timeline"))?;
    Ok(())
}
