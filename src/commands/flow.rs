//! `auditbook flow …`: run, resume, schedule, inspect and export a chapter's flow. The book
//! runs the flow on a fresh database each build; these commands keep their own work folder
//! (`target/auditbook/flows/<chapter>`), so runs accumulate history and can be resumed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use duckdb::Connection;

use crate::chapter::{Chapter, RunContext};
use crate::error::{Error, Result};
use crate::flow::runner::{self, FlowRun, Piece, PieceDone, RunReport};
use crate::flow::schedule::Schedule;
use crate::flow::spec::OnFail;
use crate::flow::{airflow, chapter_flow, chapter_sql, kestra, FlowError, FlowSpec};

/// The chapter's flow, or a usage error saying it has none.
pub fn spec_of(chapter: &dyn Chapter) -> Result<FlowSpec> {
    let id = chapter.meta().id;
    chapter_flow(id)?.ok_or_else(|| {
        Error::Usage(format!(
            "chapter `{id}` declares no flow (chapters/{id}/flow.yaml)"
        ))
    })
}

/// The default work folder of a chapter's flow commands.
pub fn default_work_dir(ctx: &RunContext) -> PathBuf {
    ctx.root
        .join("target")
        .join("auditbook")
        .join("flows")
        .join(ctx.meta.id)
}

/// The data a flow reads: `--data`, else the chapter's generated data.
pub fn data_dir(chapter: &dyn Chapter, ctx: &RunContext) -> Result<PathBuf> {
    if let Some(dir) = &ctx.data_override {
        return Ok(dir.clone());
    }
    let dir = ctx.generated_dir.join("flow-data");
    match chapter.generate(ctx, &dir)? {
        Some(_) => Ok(dir),
        None => Err(Error::Usage(format!(
            "chapter `{}` generates no data: give --data DIR",
            ctx.meta.id
        ))),
    }
}

/// A run's error as the tool's: one refused before it starts (an undeclared `--var`,
/// nothing to resume, an unknown piece) is usage; anything else is the chapter's.
fn run_error(chapter: &str) -> impl FnOnce(FlowError) -> Error + '_ {
    move |e| match e {
        FlowError::Refused(why) => Error::Usage(format!("chapter `{chapter}`: {why}")),
        other => Error::within(chapter)(other),
    }
}

/// Runs (or resumes) the flow once and prints each task's outcome. A failed run is an error
/// naming the task, after the state is saved.
pub fn run_once(
    chapter: &dyn Chapter,
    ctx: &RunContext,
    work_dir: &Path,
    variables: BTreeMap<String, String>,
    resume: bool,
) -> Result<RunReport> {
    let spec = spec_of(chapter)?;
    let data_dir = data_dir(chapter, ctx)?;
    let sql_file = chapter_sql(ctx.meta.id);
    let report = runner::run(&FlowRun {
        spec: &spec,
        chapter: ctx.meta.id,
        sql_file: &sql_file,
        data_dir,
        work_dir: work_dir.to_path_buf(),
        variables,
        resume,
    })
    .map_err(run_error(ctx.meta.id))?;
    println!(
        "flow {} run {}{}",
        report.flow,
        report.run_id,
        report
            .resumed_from
            .map(|r| format!(" (resuming run {r})"))
            .unwrap_or_default()
    );
    for t in &report.tasks {
        let gates_failed = t
            .gates
            .iter()
            .filter(|g| !g.passed())
            .map(|g| format!("{}={}", g.id, g.failing))
            .collect::<Vec<_>>();
        println!(
            "  {:<14} {:<12} attempts {} rows {} → {} {:>8.1} ms{}",
            t.id,
            t.status.label(),
            t.attempts,
            t.rows_in.map_or("-".into(), |r| r.to_string()),
            t.rows_out.map_or("-".into(), |r| r.to_string()),
            t.duration_ms,
            if gates_failed.is_empty() {
                String::new()
            } else {
                format!("  gates with rows: {}", gates_failed.join(", "))
            }
        );
    }
    if let Some(failure) = report.failure() {
        let step = format!(
            "flow `{}` run {} failed (resume with: auditbook flow run {} --resume)",
            report.flow, report.run_id, ctx.meta.id
        );
        // The database out of reach is the tool failing (exit 2); a failed task or a stop
        // gate with rows is the flow's result being wrong (exit 1).
        let cause = report
            .task_error(&runner::database_path(work_dir))
            .unwrap_or(FlowError::TaskFailed {
                flow: report.flow.clone(),
                detail: failure,
            });
        return Err(Error::failed(ctx.meta.id, step)(cause));
    }
    println!("  outputs in {}", runner::out_dir(work_dir).display());
    Ok(report)
}

/// Prints the next `n` fire times after `from`.
pub fn next(chapter: &dyn Chapter, from: DateTime<Utc>, n: usize) -> Result<()> {
    let spec = spec_of(chapter)?;
    let schedule = Schedule::new(&spec.trigger).map_err(Error::within(chapter.meta().id))?;
    println!(
        "flow {}: cron `{}` in {}",
        spec.id, spec.trigger.cron, spec.trigger.timezone
    );
    for t in schedule
        .next(from, n)
        .map_err(Error::within(chapter.meta().id))?
    {
        println!(
            "  {}  ({})",
            t.format("%Y-%m-%d %H:%M %Z"),
            t.with_timezone(&Utc).format("%Y-%m-%d %H:%M UTC")
        );
    }
    Ok(())
}

/// The scheduler loop: wakes at each fire time (checking at least every minute, so a clock
/// change or a suspended machine is noticed), runs the flow once per fire time owed, and
/// keeps going after a failed run (the next one may succeed; the failure is printed and kept
/// in the state and history).
pub fn serve(
    chapter: &dyn Chapter,
    ctx: &RunContext,
    work_dir: &Path,
    variables: BTreeMap<String, String>,
) -> Result<()> {
    let spec = spec_of(chapter)?;
    let schedule = Schedule::new(&spec.trigger).map_err(Error::within(ctx.meta.id))?;
    let mut since = Utc::now();
    eprintln!(
        "flow {}: scheduler started; next run {}",
        spec.id,
        schedule
            .next(since, 1)
            .map_err(Error::within(ctx.meta.id))?[0]
    );
    loop {
        let now = Utc::now();
        for fire in schedule
            .due(since, now)
            .map_err(Error::within(ctx.meta.id))?
        {
            eprintln!("flow {}: run for {fire}", spec.id);
            if let Err(e) = run_once(chapter, ctx, work_dir, variables.clone(), false) {
                eprintln!("{}", e.report());
            }
        }
        since = now;
        let next =
            schedule.next(now, 1).map_err(Error::within(ctx.meta.id))?[0].with_timezone(&Utc);
        let wait = (next - Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(Duration::from_secs(60));
        std::thread::sleep(wait.max(Duration::from_millis(200)));
    }
}

/// The orchestrators a flow exports to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A Kestra flow (YAML): DuckDB tasks with the same SQL.
    Kestra,
    /// An Airflow DAG (Python): each task and gate run by this tool.
    Airflow,
}

/// Writes the flow's export for `target` to `out` (stdout when absent).
pub fn export(chapter: &dyn Chapter, target: Target, out: Option<&Path>) -> Result<()> {
    let spec = spec_of(chapter)?;
    let id = chapter.meta().id;
    let (text, what) = match target {
        Target::Kestra => (
            kestra::export(&spec, &chapter_sql(id)).map_err(Error::within(id))?,
            "Kestra flow",
        ),
        Target::Airflow => (airflow::export(&spec, id), "Airflow DAG"),
    };
    match out {
        Some(path) => {
            std::fs::write(path, text).map_err(Error::io(path))?;
            eprintln!("{what} written to {}", path.display());
        }
        None => print!("{text}"),
    }
    Ok(())
}

/// Runs one task's action or one gate, once (`flow run --task` / `--gate`): what an
/// orchestrator that runs the pieces itself calls. A stop gate that finds rows prints them
/// and fails (exit 1); a report gate prints them and passes.
pub fn run_piece(
    chapter: &dyn Chapter,
    ctx: &RunContext,
    work_dir: &Path,
    variables: BTreeMap<String, String>,
    piece: Piece,
) -> Result<()> {
    let spec = spec_of(chapter)?;
    let data_dir = data_dir(chapter, ctx)?;
    let sql_file = chapter_sql(ctx.meta.id);
    let started = std::time::Instant::now();
    let done = runner::run_piece(
        &FlowRun {
            spec: &spec,
            chapter: ctx.meta.id,
            sql_file: &sql_file,
            data_dir,
            work_dir: work_dir.to_path_buf(),
            variables,
            resume: false,
        },
        piece,
    )
    .map_err(run_error(ctx.meta.id))?;
    let ms = started.elapsed().as_secs_f64() * 1000.0;
    match done {
        PieceDone::Task { rows_in, rows_out } => {
            let rows = |r: Option<i64>| r.map_or("-".into(), |r| r.to_string());
            let Piece::Task(id) = piece else {
                unreachable!("a task piece gives a task's outcome")
            };
            println!(
                "flow {} task {id}: rows {} → {} in {ms:.1} ms",
                spec.id,
                rows(rows_in),
                rows(rows_out)
            );
            Ok(())
        }
        PieceDone::Gate(gate) => {
            println!(
                "flow {} gate {} ({}): {} rows — {}",
                spec.id,
                gate.id,
                gate.on_fail.label(),
                gate.failing,
                gate.description
            );
            if !gate.passed() {
                println!("  {}", gate.columns.join(" | "));
                for row in &gate.sample {
                    let cells: Vec<&str> =
                        row.iter().map(|c| c.as_deref().unwrap_or("∅")).collect();
                    println!("  {}", cells.join(" | "));
                }
                if gate.failing > gate.sample.len() as i64 {
                    println!("  … {} rows in all", gate.failing);
                }
            }
            if gate.passed() || gate.on_fail == OnFail::Report {
                return Ok(());
            }
            Err(Error::failed(ctx.meta.id, format!("flow `{}`", spec.id))(
                FlowError::TaskFailed {
                    flow: spec.id.clone(),
                    detail: format!(
                        "gate `{}` found {} rows ({})",
                        gate.id, gate.failing, gate.description
                    ),
                },
            ))
        }
    }
}

/// Prints the run history kept in the flow's database, durations included.
pub fn history(work_dir: &Path) -> Result<()> {
    let db = runner::database_path(work_dir);
    if !db.exists() {
        return Err(Error::Usage(format!(
            "no flow database at {}: run the flow first",
            db.display()
        )));
    }
    let config = duckdb::Config::default()
        .access_mode(duckdb::AccessMode::ReadOnly)
        .map_err(|e| Error::Usage(e.to_string()))?;
    let conn = Connection::open_with_flags(&db, config)
        .map_err(|e| Error::Usage(format!("{}: {e}", db.display())))?;
    let mut stmt = conn
        .prepare("select run_id, task_id, status, attempts, coalesce(cast(rows_in as varchar), '-'), coalesce(cast(rows_out as varchar), '-'), duration_ms, gates_reported, gates_failed, coalesce(error, '') from flow_history order by run_id, rowid")
        .map_err(|e| Error::Usage(e.to_string()))?;
    let rows = stmt
        .query_map([], |r| {
            Ok(format!(
                "{:>4} {:<14} {:<12} {:>2} {:>6} → {:<6} {:>9.1} ms  gates reported {} failed {} {}",
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, String>(4)?,
                r.get::<_, String>(5)?,
                r.get::<_, f64>(6)?,
                r.get::<_, i64>(7)?,
                r.get::<_, i64>(8)?,
                r.get::<_, String>(9)?
            ))
        })
        .map_err(|e| Error::Usage(e.to_string()))?;
    println!(" run task           status       at  rows in → out      time");
    for line in rows {
        println!("{}", line.map_err(|e| Error::Usage(e.to_string()))?);
    }
    Ok(())
}

/// Holds a DuckDB database open (and so its lock) for `ms`: a second process in the way, to
/// rehearse the failure handling. Prints `locked` once the lock is held.
pub fn hold_lock(database: &Path, ms: u64) -> Result<()> {
    let conn = Connection::open(database)
        .map_err(|e| Error::Usage(format!("{}: {e}", database.display())))?;
    println!("locked");
    use std::io::Write;
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_millis(ms));
    drop(conn);
    Ok(())
}
