//! Runs a flow against a DuckDB database file, task by task in dependency order.
//!
//! Each attempt of a task opens the database afresh, so a database that another process holds
//! locked, a file that is not a database, or a full disk show up as that attempt's error.
//! Such errors ("DuckDB unavailable") are retried with the task's backoff; an SQL error is a
//! bug in the flow and fails at once; a gate that finds rows fails the task without retry
//! (the data will not change by waiting). After every task the run's state is saved beside the
//! database, so `--resume` can restart from the task that failed without redoing the
//! finished ones. Tasks are idempotent (`create or replace`, files overwritten), which is
//! what makes redoing a failed one safe. A database removed between two tasks is unavailable
//! to the next (retried, then failed with the state saved), and a resume that finds it gone
//! reuses nothing and runs every task again.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use duckdb::Connection;
use serde::{Deserialize, Serialize};

use crate::error::Error;

use super::error::FlowError;
use super::load;
use super::spec::{substitute, Action, FlowSpec, Format, Gate, OnFail, Task};

/// Where a flow runs and with what.
pub struct FlowRun<'a> {
    /// The flow.
    pub spec: &'a FlowSpec,
    /// Names the chapter in errors.
    pub chapter: &'a str,
    /// A task's SQL file by name.
    pub sql_file: &'a dyn Fn(&str) -> Option<String>,
    /// Where `load` tasks find their files.
    pub data_dir: PathBuf,
    /// Holds `flow.duckdb`, `state.json` and `out/`.
    pub work_dir: PathBuf,
    /// Overrides of the flow's variables.
    pub variables: BTreeMap<String, String>,
    /// Restart the last failed run from its failed task.
    pub resume: bool,
}

/// What became of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Ran, and every `stop` gate found no row.
    Succeeded,
    /// Finished in the run being resumed: not run again.
    Reused,
    /// A `stop` gate found rows.
    GateFailed,
    /// An error after the last attempt.
    Failed,
    /// Something it depends on did not succeed.
    Skipped,
}

impl TaskStatus {
    /// The status as the history and the book write it.
    pub fn label(self) -> &'static str {
        match self {
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Reused => "reused",
            TaskStatus::GateFailed => "gate failed",
            TaskStatus::Failed => "failed",
            TaskStatus::Skipped => "skipped",
        }
    }

    fn finished(self) -> bool {
        matches!(self, TaskStatus::Succeeded | TaskStatus::Reused)
    }
}

/// One gate's outcome: how many rows broke the rule, and the first of them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GateReport {
    /// The gate's id.
    pub id: String,
    /// What it asserts.
    pub description: String,
    /// Whether rows found stop the flow or are only reported.
    pub on_fail: OnFail,
    /// The rows its query found.
    pub failing: i64,
    /// The columns of those rows.
    pub columns: Vec<String>,
    /// Up to 20 of them, as text.
    pub sample: Vec<Vec<Option<String>>>,
}

impl GateReport {
    /// Whether the gate found no row.
    pub fn passed(&self) -> bool {
        self.failing == 0
    }
}

/// One task's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TaskReport {
    /// The task's id.
    pub id: String,
    /// What became of it.
    pub status: TaskStatus,
    /// Attempts made (retries included).
    pub attempts: u32,
    /// Rows of the tables it reads, before it ran.
    pub rows_in: Option<i64>,
    /// Rows of the tables it writes, after.
    pub rows_out: Option<i64>,
    /// Wall time of the last attempt (never in the book: it is not reproducible).
    pub duration_ms: f64,
    /// Its gates' reports.
    pub gates: Vec<GateReport>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// The task failed because the database could not be used (locked by another process,
    /// unreadable, disk full) after every retry: the tool could not run, the flow is not wrong.
    #[serde(default)]
    pub database_unavailable: bool,
}

/// A run's outcome.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunReport {
    /// The flow's id.
    pub flow: String,
    /// The run's number in the work folder.
    pub run_id: i64,
    /// The run this one resumed, if any.
    pub resumed_from: Option<i64>,
    /// Every task, in run order.
    pub tasks: Vec<TaskReport>,
}

impl RunReport {
    /// Whether every task finished (succeeded or was reused).
    pub fn succeeded(&self) -> bool {
        self.tasks.iter().all(|t| t.status.finished())
    }

    /// The report of task `id`.
    pub fn task(&self, id: &str) -> Option<&TaskReport> {
        self.tasks.iter().find(|t| t.id == id)
    }

    /// Every gate of every task, in run order.
    pub fn gates(&self) -> impl Iterator<Item = (&TaskReport, &GateReport)> {
        self.tasks
            .iter()
            .flat_map(|t| t.gates.iter().map(move |g| (t, g)))
    }

    /// The run as an error, when a task failed: the database out of reach (exit 2) or the
    /// flow failing (exit 1), naming the task; `None` when no task failed (a stop gate that
    /// found rows is a check, not an error).
    pub fn task_error(&self, database: &Path) -> Option<FlowError> {
        let failed = self
            .tasks
            .iter()
            .find(|t| matches!(t.status, TaskStatus::Failed))?;
        let detail = self.failure().unwrap_or_default();
        Some(if failed.database_unavailable {
            FlowError::Unavailable(crate::error::Unreachable::new(
                "DuckDB database",
                database.display().to_string(),
                detail,
            ))
        } else {
            FlowError::TaskFailed {
                flow: self.flow.clone(),
                detail,
            }
        })
    }

    /// The first failure in words, for error messages.
    pub fn failure(&self) -> Option<String> {
        self.tasks
            .iter()
            .find(|t| matches!(t.status, TaskStatus::Failed | TaskStatus::GateFailed))
            .map(|t| {
                let detail = match t.status {
                    TaskStatus::GateFailed => t
                        .gates
                        .iter()
                        .filter(|g| !g.passed() && g.on_fail == OnFail::Stop)
                        .map(|g| {
                            format!(
                                "gate `{}` found {} rows ({})",
                                g.id, g.failing, g.description
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("; "),
                    _ => t.error.clone().unwrap_or_default(),
                };
                format!(
                    "task `{}` {} after {} attempt(s): {detail}",
                    t.id,
                    t.status.label(),
                    t.attempts
                )
            })
    }
}

/// What is kept between runs, beside the database: enough to resume.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    /// The flow's id.
    pub flow: String,
    /// The last run's number.
    pub run_id: i64,
    /// Whether it succeeded.
    pub succeeded: bool,
    /// What became of each task.
    pub tasks: BTreeMap<String, TaskStatus>,
    /// History rows (run id, task report) not yet written to the database (it was
    /// unavailable).
    pub pending_history: Vec<(i64, TaskReport)>,
}

impl State {
    /// The state file of a work folder.
    pub fn path(work_dir: &Path) -> PathBuf {
        work_dir.join("state.json")
    }

    /// The state the last run left in `work_dir`, if any.
    pub fn load(work_dir: &Path) -> Result<Option<State>, FlowError> {
        let path = State::path(work_dir);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|source| FlowError::State { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(&path)(e).into()),
        }
    }

    /// Writes the state whole (a partial file, then renamed over the old one).
    fn save(&self, work_dir: &Path) -> Result<(), FlowError> {
        let path = State::path(work_dir);
        let partial = work_dir.join("state.json.partial");
        let bytes = serde_json::to_vec_pretty(self).expect("state serialises");
        std::fs::write(&partial, bytes)
            .and_then(|_| std::fs::rename(&partial, &path))
            .map_err(|e| Error::io(&path)(e).into())
    }
}

/// The database file of a flow's work folder.
pub fn database_path(work_dir: &Path) -> PathBuf {
    work_dir.join("flow.duckdb")
}

/// The extraction folder of a flow's work folder.
pub fn out_dir(work_dir: &Path) -> PathBuf {
    work_dir.join("out")
}

/// How an attempt failed.
enum AttemptError {
    /// The database could not be used (locked, unreadable, disk full, timed out): retry.
    Unavailable(String),
    /// The flow itself is wrong (SQL error, missing file): do not retry.
    Fatal(String),
}

/// DuckDB reports the database being unusable as I/O, lock and interrupt errors; anything
/// else (parser, binder, catalog, conversion) is the SQL's own fault.
fn classify(message: String) -> AttemptError {
    const UNAVAILABLE: [&str; 5] = [
        "IO Error",
        "Could not set lock",
        "No space left",
        "Conflicting lock",
        "Interrupted",
    ];
    if UNAVAILABLE.iter().any(|m| message.contains(m)) {
        AttemptError::Unavailable(message)
    } else {
        AttemptError::Fatal(message)
    }
}

/// The flow's variables with the run's overrides, `out_dir` and `data_dir`. A variable the
/// flow does not declare would be ignored: a misspelt `--var` would run the flow on its
/// defaults while the user believes otherwise. It is refused, naming the known ones.
fn variables(r: &FlowRun) -> Result<BTreeMap<String, String>, FlowError> {
    if let Some(unknown) = r
        .variables
        .keys()
        .find(|k| !r.spec.variables.contains_key(*k))
    {
        let known: Vec<&str> = r.spec.variables.keys().map(String::as_str).collect();
        return Err(FlowError::Refused(format!(
            "flow `{}` declares no variable `{unknown}` (it declares: {})",
            r.spec.id,
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        )));
    }
    let mut variables = r.spec.variables.clone();
    variables.extend(r.variables.clone());
    variables.insert("out_dir".into(), sql_path(&out_dir(&r.work_dir)));
    variables.insert("data_dir".into(), sql_path(&r.data_dir));
    Ok(variables)
}

/// Runs the flow (or resumes it) and returns what happened. An `Err` is a run that could not
/// start (bad state, nothing to resume); task failures are in the report.
pub fn run(r: &FlowRun) -> Result<RunReport, FlowError> {
    let variables = variables(r)?;
    let out = out_dir(&r.work_dir);
    std::fs::create_dir_all(&out).map_err(Error::io(&out))?;
    let previous = State::load(&r.work_dir)?;
    if let Some(p) = &previous {
        if p.flow != r.spec.id {
            return Err(FlowError::Refused(format!(
                "{} belongs to flow `{}`, not `{}`",
                State::path(&r.work_dir).display(),
                p.flow,
                r.spec.id
            )));
        }
    }
    let resumed = if r.resume {
        match &previous {
            Some(p) if !p.succeeded => Some(p),
            Some(p) => {
                return Err(FlowError::Refused(format!(
                    "flow `{}`: run {} succeeded; there is nothing to resume",
                    r.spec.id, p.run_id
                )))
            }
            None => {
                return Err(FlowError::Refused(format!(
                    "flow `{}`: no earlier run in {} to resume",
                    r.spec.id,
                    r.work_dir.display()
                )))
            }
        }
    } else {
        None
    };
    let db = database_path(&r.work_dir);
    // The tasks a resumed run reuses did their work in the database: if it is gone since,
    // nothing can be reused, and every task runs again (they are idempotent).
    let database_lost = resumed.is_some() && !database_is_the_runs(&db);
    if database_lost {
        eprintln!(
            "{}: flow `{}`: the database {} is gone since run {}: every task runs again",
            r.chapter,
            r.spec.id,
            db.display(),
            resumed.map_or(0, |p| p.run_id)
        );
    }
    let run_id = previous.as_ref().map_or(1, |p| p.run_id + 1);

    let mut state = State {
        flow: r.spec.id.clone(),
        run_id,
        succeeded: false,
        tasks: BTreeMap::new(),
        pending_history: previous
            .as_ref()
            .map(|p| p.pending_history.clone())
            .unwrap_or_default(),
    };
    let mut reports: Vec<TaskReport> = Vec::new();
    for task in r.spec.order()? {
        // Once a task of this run (or of the run resumed) has written to the database, the
        // next ones need that database, not a new empty one DuckDB would create in its place.
        let database_written = state.tasks.values().any(|s| s.finished());
        let report = if !database_lost
            && resumed.is_some_and(|p| p.tasks.get(&task.id).is_some_and(|s| s.finished()))
        {
            TaskReport {
                id: task.id.clone(),
                status: TaskStatus::Reused,
                attempts: 0,
                rows_in: None,
                rows_out: None,
                duration_ms: 0.0,
                gates: vec![],
                error: None,
                database_unavailable: false,
            }
        } else if let Some(blocker) = task
            .depends_on
            .iter()
            .find(|d| !state.tasks.get(*d).is_some_and(|s| s.finished()))
        {
            TaskReport {
                id: task.id.clone(),
                status: TaskStatus::Skipped,
                attempts: 0,
                rows_in: None,
                rows_out: None,
                duration_ms: 0.0,
                gates: vec![],
                error: Some(format!("upstream task `{blocker}` did not succeed")),
                database_unavailable: false,
            }
        } else {
            run_task(r, task, &variables, database_written)
        };
        state.tasks.insert(task.id.clone(), report.status);
        state.save(&r.work_dir)?;
        reports.push(report);
    }
    let report = RunReport {
        flow: r.spec.id.clone(),
        run_id,
        resumed_from: resumed.map(|p| p.run_id),
        tasks: reports,
    };
    state.succeeded = report.succeeded();
    state
        .pending_history
        .extend(report.tasks.iter().map(|t| (run_id, t.clone())));
    // The history goes to the database when it can be opened (and still exists: opening a
    // missing one would create it, and a resume would then take it for the run's);
    // otherwise it waits in the state.
    if db.exists() && write_history(&db, &state.pending_history).is_ok() {
        state.pending_history.clear();
    }
    state.save(&r.work_dir)?;
    Ok(report)
}

/// Runs one task with its retries; `database_written`: tasks before it wrote to the database.
fn run_task(
    r: &FlowRun,
    task: &Task,
    variables: &BTreeMap<String, String>,
    database_written: bool,
) -> TaskReport {
    let retry = r.spec.retry(task);
    let timeout = r.spec.timeout(task);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let started = Instant::now();
        let outcome = attempt(r, task, variables, timeout, database_written);
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let base = TaskReport {
            id: task.id.clone(),
            status: TaskStatus::Succeeded,
            attempts,
            rows_in: None,
            rows_out: None,
            duration_ms,
            gates: vec![],
            error: None,
            database_unavailable: false,
        };
        match outcome {
            Ok(done) => {
                let stopped = done
                    .gates
                    .iter()
                    .any(|g| !g.passed() && g.on_fail == OnFail::Stop);
                return TaskReport {
                    status: if stopped {
                        TaskStatus::GateFailed
                    } else {
                        TaskStatus::Succeeded
                    },
                    rows_in: done.rows_in,
                    rows_out: done.rows_out,
                    gates: done.gates,
                    ..base
                };
            }
            Err(AttemptError::Unavailable(e)) if attempts < retry.max_attempts => {
                let wait = retry.wait_before(attempts + 1);
                eprintln!(
                    "{}: flow `{}`, task `{}`: attempt {attempts} failed ({e}); retrying in {} ms",
                    r.chapter,
                    r.spec.id,
                    task.id,
                    wait.as_millis()
                );
                std::thread::sleep(wait);
            }
            Err(AttemptError::Unavailable(e)) => {
                let db = database_path(&r.work_dir);
                let error = format!(
                    "DuckDB unavailable after {attempts} attempt(s) (database {}): {e}. The run's state is saved in {}; fix the cause, then resume the run",
                    db.display(),
                    State::path(&r.work_dir).display()
                );
                return TaskReport {
                    status: TaskStatus::Failed,
                    error: Some(error),
                    database_unavailable: true,
                    ..base
                };
            }
            Err(AttemptError::Fatal(e)) => {
                return TaskReport {
                    status: TaskStatus::Failed,
                    error: Some(e),
                    ..base
                }
            }
        }
    }
}

/// One piece of a flow, for an orchestrator that runs the pieces itself (the Airflow
/// export): a task's action, or one gate of a task.
#[derive(Debug, Clone, Copy)]
pub enum Piece<'a> {
    /// The action of the task with this id.
    Task(&'a str),
    /// The gate with this id.
    Gate(&'a str),
}

/// What a piece did.
#[derive(Debug, Clone)]
pub enum PieceDone {
    /// The task's action ran.
    Task {
        /// Rows of the tables it read (or of the file it loaded).
        rows_in: Option<i64>,
        /// Rows of the tables (or files) it wrote.
        rows_out: Option<i64>,
    },
    /// The gate ran; whether it found rows is in its report.
    Gate(GateReport),
}

/// Runs one piece, once, on the work folder's database, as a whole run would: the same
/// variables, the task's timeout, the same out folder. No retry: the orchestrator retries
/// the task as the flow declares, and never a gate (the data will not change by waiting).
/// The database out of reach is [`FlowError::Unavailable`] (exit 2); an SQL error or a
/// missing input is [`FlowError::TaskFailed`] (exit 1).
pub fn run_piece(r: &FlowRun, piece: Piece) -> Result<PieceDone, FlowError> {
    let variables = variables(r)?;
    let out = out_dir(&r.work_dir);
    std::fs::create_dir_all(&out).map_err(Error::io(&out))?;
    let db = database_path(&r.work_dir);
    let unknown = |kind: &str, id: &str| {
        FlowError::Refused(format!("flow `{}` has no {kind} `{id}`", r.spec.id))
    };
    let failed = |e: AttemptError| match e {
        AttemptError::Unavailable(e) => FlowError::Unavailable(crate::error::Unreachable::new(
            "DuckDB database",
            db.display().to_string(),
            e,
        )),
        AttemptError::Fatal(e) => FlowError::TaskFailed {
            flow: r.spec.id.clone(),
            detail: e,
        },
    };
    match piece {
        Piece::Task(id) => {
            let task = r.spec.task(id).ok_or_else(|| unknown("task", id))?;
            // A task with upstream tasks needs the database they wrote; a first task (a
            // load) may create it.
            let database_written = !task.depends_on.is_empty();
            within_database(&db, r.spec.timeout(task), database_written, |conn| {
                act(r, task, &variables, conn)
            })
            .map(|(rows_in, rows_out)| PieceDone::Task { rows_in, rows_out })
            .map_err(failed)
        }
        Piece::Gate(id) => {
            let (task, gate) = r
                .spec
                .tasks
                .iter()
                .find_map(|t| t.gates.iter().find(|g| g.id == id).map(|g| (t, g)))
                .ok_or_else(|| unknown("gate", id))?;
            within_database(&db, r.spec.timeout(task), true, |conn| {
                evaluate(gate, &variables, conn)
            })
            .map(PieceDone::Gate)
            .map_err(failed)
        }
    }
}

struct Done {
    rows_in: Option<i64>,
    rows_out: Option<i64>,
    gates: Vec<GateReport>,
}

/// The macro the first task of a run creates, so that later tasks (and a resume) can tell
/// the database the run wrote to from an empty one created in its place. A macro, not a
/// table: it is kept in the database file but is no data (the data dictionary lists tables).
const MARKER: &str = "flow_run_marker";

fn has_marker(conn: &Connection) -> bool {
    conn.query_row(
        &format!(
            "select count(*) from duckdb_functions() where function_name = '{MARKER}' and not internal"
        ),
        [],
        |row| row.get::<_, i64>(0),
    )
    .is_ok_and(|n| n > 0)
}

/// Whether the database file is there and holds the marker of a run; one that cannot be
/// opened now (locked by another process) is taken to be the run's: the attempts will say.
fn database_is_the_runs(db: &Path) -> bool {
    if !db.exists() {
        return false;
    }
    match Connection::open(db) {
        Ok(conn) => has_marker(&conn),
        Err(_) => true,
    }
}

/// One attempt: open the database, do the action, count rows, run the gates.
fn attempt(
    r: &FlowRun,
    task: &Task,
    variables: &BTreeMap<String, String>,
    timeout: Duration,
    database_written: bool,
) -> Result<Done, AttemptError> {
    let db = database_path(&r.work_dir);
    within_database(&db, timeout, database_written, |conn| {
        let (rows_in, rows_out) = act(r, task, variables, conn)?;
        let gates = task
            .gates
            .iter()
            .map(|gate| evaluate(gate, variables, conn))
            .collect::<Result<_, _>>()?;
        Ok(Done {
            rows_in,
            rows_out,
            gates,
        })
    })
}

/// Opens the database and does `work` on it under a watchdog that interrupts DuckDB when
/// `timeout` passes. A database that earlier tasks wrote to (`database_written`) and that is
/// gone (removed, a volume unmounted) is unavailable, and retried: opening it would create an
/// empty one and the task would fail on tables that are not there.
fn within_database<T>(
    db: &Path,
    timeout: Duration,
    database_written: bool,
    work: impl FnOnce(&Connection) -> Result<T, AttemptError>,
) -> Result<T, AttemptError> {
    let gone = || {
        AttemptError::Unavailable(format!(
            "the database file {} is gone: the tasks before this one wrote to it",
            db.display()
        ))
    };
    if database_written && !db.exists() {
        return Err(gone());
    }
    let conn =
        Connection::open(db).map_err(|e| classify(format!("opening {}: {e}", db.display())))?;
    // The file can go between that look and the open, which then creates an empty one: the
    // marker the first task left tells the run's database from a new one.
    if database_written && !has_marker(&conn) {
        return Err(gone());
    }
    if !database_written {
        conn.execute_batch(&format!("create or replace macro {MARKER}() as 1"))
            .map_err(|e| classify(e.to_string()))?;
    }
    conn.execute_batch("set threads = 2")
        .map_err(|e| classify(e.to_string()))?;
    let (stop, stopped) = mpsc::channel::<()>();
    let handle = conn.interrupt_handle();
    let watchdog = std::thread::spawn(move || {
        if stopped.recv_timeout(timeout).is_err() {
            handle.interrupt();
            return true;
        }
        false
    });
    let result = work(&conn);
    let _ = stop.send(());
    let timed_out = watchdog.join().unwrap_or(false);
    match result {
        Err(AttemptError::Unavailable(e) | AttemptError::Fatal(e)) if timed_out => Err(
            AttemptError::Unavailable(format!("timed out after {} s ({e})", timeout.as_secs())),
        ),
        other => other,
    }
}

/// The task's action; its rows in and out.
fn act(
    r: &FlowRun,
    task: &Task,
    variables: &BTreeMap<String, String>,
    conn: &Connection,
) -> Result<(Option<i64>, Option<i64>), AttemptError> {
    let count_tables = |tables: &[String]| -> Result<Option<i64>, AttemptError> {
        if tables.is_empty() {
            return Ok(None);
        }
        let mut total = 0;
        for t in tables {
            total += count(conn, &format!("select count(*) from {t}"))?;
        }
        Ok(Some(total))
    };
    let (rows_in, rows_out) = match task.action() {
        Action::Load(l) => {
            let (_, loaded) = load::load(conn, r.chapter, &r.data_dir, &l.file, &l.table).map_err(
                |e| match e {
                    load::LoadError::Missing(m) => AttemptError::Fatal(m.to_string()),
                    load::LoadError::Data(m) => AttemptError::Fatal(m),
                    load::LoadError::Database(m) => classify(m),
                },
            )?;
            (Some(loaded), count_tables(&task.writes)?)
        }
        Action::Sql(name) => {
            let rows_in = count_tables(&task.reads)?;
            let text = (r.sql_file)(name).ok_or_else(|| {
                AttemptError::Fatal(format!("task `{}`: no SQL file `{name}`", task.id))
            })?;
            let sql = substitute(&text, variables)
                .map_err(|e| AttemptError::Fatal(format!("task `{}`, {name}: {e}", task.id)))?;
            conn.execute_batch(&sql)
                .map_err(|e| classify(format!("task `{}`, {name}: {e}", task.id)))?;
            (rows_in, count_tables(&task.writes)?)
        }
        Action::Extract(extractions) => {
            let rows_in = count_tables(&task.reads)?;
            let out = out_dir(&r.work_dir);
            let mut written = 0;
            for x in extractions {
                for format in &x.formats {
                    let path = out.join(format!("{}.{}", x.file, format.extension()));
                    let target = sql_path(&path);
                    // No temporary file: the write goes straight to the target, so a full disk
                    // is this task's error; the row count read back below catches a short file.
                    let options = match format {
                        Format::Csv => "format csv, header true, use_tmp_file false",
                        Format::Parquet => "format parquet, use_tmp_file false",
                    };
                    conn.execute_batch(&format!(
                        "copy (select * from {} order by {}) to '{target}' ({options})",
                        x.table, x.order_by
                    ))
                    .map_err(|e| {
                        classify(format!(
                            "task `{}`, writing {}: {e}",
                            task.id,
                            path.display()
                        ))
                    })?;
                    let reader = match format {
                        Format::Csv => "read_csv",
                        Format::Parquet => "read_parquet",
                    };
                    written += count(conn, &format!("select count(*) from {reader}('{target}')"))?;
                }
            }
            (rows_in, Some(written))
        }
    };
    Ok((rows_in, rows_out))
}

/// Runs a gate's query: its failing rows counted, and the first 20 of them as text.
fn evaluate(
    gate: &Gate,
    variables: &BTreeMap<String, String>,
    conn: &Connection,
) -> Result<GateReport, AttemptError> {
    let sql = substitute(&gate.failing_rows, variables)
        .map_err(|e| AttemptError::Fatal(format!("gate `{}`: {e}", gate.id)))?;
    let sql = sql.trim().trim_end_matches(';');
    let failing = count(conn, &format!("select count(*) from ({sql})")).map_err(|e| match e {
        AttemptError::Fatal(m) => AttemptError::Fatal(format!("gate `{}`: {m}", gate.id)),
        other => other,
    })?;
    let (columns, sample) = if failing > 0 {
        let sample_sql = format!("select columns(*)::varchar from ({sql}) limit 20");
        load::text_rows(conn, &sample_sql)
            .map_err(|e| classify(format!("gate `{}`: {e}", gate.id)))?
    } else {
        (vec![], vec![])
    };
    Ok(GateReport {
        id: gate.id.clone(),
        description: gate.description.clone(),
        on_fail: gate.on_fail,
        failing,
        columns,
        sample,
    })
}

fn count(conn: &Connection, sql: &str) -> Result<i64, AttemptError> {
    conn.query_row(sql, [], |row| row.get::<_, i64>(0))
        .map_err(|e| classify(format!("{sql}: {e}")))
}

/// A path as a single-quoted SQL string's content.
fn sql_path(path: &Path) -> String {
    path.display().to_string().replace('\'', "''")
}

/// Appends the run's task reports to `flow_history` in the database.
fn write_history(db: &Path, rows: &[(i64, TaskReport)]) -> Result<(), FlowError> {
    let failed = |source| FlowError::History {
        path: db.to_path_buf(),
        source,
    };
    let conn = Connection::open(db).map_err(failed)?;
    conn.execute_batch(
        "create table if not exists flow_history (
            run_id integer not null,
            task_id varchar not null,
            status varchar not null,
            attempts integer not null,
            rows_in bigint,
            rows_out bigint,
            duration_ms double not null,
            gates_clear integer not null,
            gates_reported integer not null,
            gates_failed integer not null,
            error varchar,
            primary key (run_id, task_id))",
    )
    .map_err(failed)?;
    let mut insert = conn
        .prepare("insert or replace into flow_history values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
        .map_err(failed)?;
    for (run_id, t) in rows {
        let clear = t.gates.iter().filter(|g| g.passed()).count() as i64;
        let reported = t
            .gates
            .iter()
            .filter(|g| !g.passed() && g.on_fail == OnFail::Report)
            .count() as i64;
        let gates_failed = t.gates.len() as i64 - clear - reported;
        insert
            .execute(duckdb::params![
                run_id,
                t.id,
                t.status.label(),
                t.attempts,
                t.rows_in,
                t.rows_out,
                t.duration_ms,
                clear,
                reported,
                gates_failed,
                t.error
            ])
            .map_err(failed)?;
    }
    Ok(())
}
