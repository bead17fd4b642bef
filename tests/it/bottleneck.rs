//! Chapter 4: the flow finds what the generator planted, conserves revenue, and survives a
//! database that is locked by another process, corrupt, removed between two tasks, or on a
//! full disk — then resumes from the failed task without redoing the finished ones (all of
//! them when the database itself was lost).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use auditbook::chapters::bottleneck::generate::{self, Plan};
use auditbook::flow::runner::{
    self, database_path, out_dir, FlowRun, RunReport, State, TaskStatus,
};
use auditbook::flow::{chapter_flow, chapter_sql, FlowSpec};
use auditbook::notebook::{Status, Value};
use proptest::prelude::*;

pub(crate) fn default_plan(seed: u64) -> Plan {
    Plan {
        seed,
        products: 825,
        blank_rows: 83,
        duplicate_rows: 4,
        missing_skus: 2,
        missing_links: 91,
        dangling_links: 20,
        negative_prices: 2,
        negative_stocks: 2,
        contradicting_status: 5,
        attachment_sales_differ: 3,
        gift_card: true,
    }
}

/// The flow with quick retries, so the failure tests take a second, not minutes.
fn quick_spec(attempts: u32, backoff_ms: u64) -> FlowSpec {
    let mut spec = chapter_flow("bottleneck").unwrap().unwrap();
    spec.defaults.retry = runner_retry(attempts, backoff_ms);
    spec
}

fn runner_retry(max_attempts: u32, backoff_ms: u64) -> auditbook::flow::spec::Retry {
    auditbook::flow::spec::Retry {
        max_attempts,
        backoff_ms,
        factor: 2.0,
    }
}

/// Generated data in `dir/data`, the flow's work folder `dir/work`.
fn setup(dir: &Path, seed: u64) -> (PathBuf, PathBuf) {
    let data = dir.join("data");
    generate::generate(&default_plan(seed), &data).unwrap();
    (data, dir.join("work"))
}

pub(crate) fn run(
    spec: &FlowSpec,
    data: &Path,
    work: &Path,
    variables: &[(&str, &str)],
    resume: bool,
) -> RunReport {
    let sql = chapter_sql("bottleneck");
    runner::run(&FlowRun {
        spec,
        chapter: "bottleneck",
        sql_file: &sql,
        data_dir: data.to_path_buf(),
        work_dir: work.to_path_buf(),
        variables: variables
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        resume,
    })
    .unwrap_or_else(|e| panic!("{e}"))
}

/// A second process that opens the database (and so holds its lock) for `ms`.
fn hold_lock(db: &Path, ms: u64) -> Child {
    std::fs::create_dir_all(db.parent().unwrap()).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .args([
            "flow",
            "hold-lock",
            db.to_str().unwrap(),
            "--ms",
            &ms.to_string(),
        ])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.as_mut().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line.trim(), "locked");
    child
}

fn statuses(report: &RunReport) -> Vec<(&str, TaskStatus)> {
    report
        .tasks
        .iter()
        .map(|t| (t.id.as_str(), t.status))
        .collect()
}

#[test]
fn the_book_run_passes_every_gate_and_check() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "bottleneck")
        .unwrap()
        .1;
    assert!(nb.failures().is_empty(), "{:?}", nb.failures());
    for id in [
        "gate.extract_revenue_conserved",
        "gate.premium_partition",
        "traps.each_caught",
        "kestra.equivalent",
        "schedule.nine_in_paris",
    ] {
        super::check_passed(nb, id);
    }
    assert!(
        matches!(nb.findings["revenue.total"].value, Value::Decimal(d) if d > rust_decimal::Decimal::ZERO)
    );
}

#[test]
fn a_lock_released_during_the_retries_costs_only_a_retry() {
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = setup(dir.path(), 1);
    let mut holder = hold_lock(&database_path(&work), 400);
    let report = run(&quick_spec(5, 150), &data, &work, &[], false);
    holder.wait().unwrap();
    assert!(report.succeeded(), "{:?}", report.failure());
    assert!(
        report.tasks[0].attempts > 1,
        "the first task met the lock: {:?}",
        report.tasks[0]
    );
}

#[test]
fn a_lock_held_throughout_fails_with_a_clear_message_then_resumes() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = setup(dir.path(), 2);
    let mut holder = hold_lock(&database_path(&work), 3000);
    let failed = run(&quick_spec(3, 50), &data, &work, &[], false);
    holder.wait().unwrap();
    assert!(!failed.succeeded());
    let first = &failed.tasks[0];
    assert_eq!((first.status, first.attempts), (TaskStatus::Failed, 3));
    let message = first.error.clone().unwrap();
    assert!(
        message.contains("DuckDB unavailable after 3 attempt(s)") && message.contains("lock"),
        "{message}"
    );
    // A database held by another process: the tool could not run (exit 2), the flow is not
    // wrong; the error names the database file.
    let error = failed
        .task_error(&database_path(&work))
        .expect("a task failed");
    let error = auditbook::Error::within("bottleneck")(error);
    assert_eq!(error.exit_code(), 2, "{}", error.report());
    assert!(error.report().contains("flow.duckdb"), "{}", error.report());
    assert!(
        failed.tasks.iter().any(|t| t.status == TaskStatus::Skipped),
        "downstream tasks are skipped"
    );
    let state = State::load(&work).unwrap().expect("state recorded");
    assert!(!state.succeeded);
    assert!(
        !state.pending_history.is_empty(),
        "the history waits in the state while the database is locked"
    );

    let resumed = run(&quick_spec(3, 50), &data, &work, &[], true);
    assert!(resumed.succeeded(), "{:?}", resumed.failure());
    assert_eq!(resumed.resumed_from, Some(1));
    crate::drill::record(
        "duckdb.held",
        &[
            ("attempts", first.attempts.to_string()),
            ("exit", "2".into()),
            ("resumed from task", "1".into()),
        ],
        started,
    );
}

#[test]
fn a_corrupt_database_fails_then_resumes_once_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = setup(dir.path(), 3);
    std::fs::create_dir_all(&work).unwrap();
    std::fs::write(database_path(&work), vec![0x42u8; 64 * 1024]).unwrap();
    let failed = run(&quick_spec(2, 10), &data, &work, &[], false);
    assert!(!failed.succeeded());
    let message = failed.failure().unwrap();
    assert!(
        message.contains("DuckDB unavailable") && message.contains("flow.duckdb"),
        "{message}"
    );
    std::fs::remove_file(database_path(&work)).unwrap();
    let resumed = run(&quick_spec(2, 10), &data, &work, &[], true);
    assert!(resumed.succeeded(), "{:?}", resumed.failure());
}

/// The files of a folder, by name, with their bytes.
pub(crate) fn files_in(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .map(|e| {
            (
                e.file_name().to_string_lossy().to_string(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// The database removed between two tasks (a watcher deletes it as soon as the first
/// task's success is saved in the state): a later task finds it gone (or an empty one
/// opened in its place, without the run's marker) instead of running on it, is retried, and
/// fails with the state saved; the resume, finding the
/// database gone, reuses no task and runs them all again, and its extractions are a clean
/// run's, byte for byte.
#[test]
fn a_database_removed_between_two_tasks_is_retried_then_resumed_whole() {
    let started = std::time::Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = setup(dir.path(), 5);
    let clean_work = dir.path().join("clean");
    let clean = run(&quick_spec(3, 10), &data, &clean_work, &[], false);
    assert!(clean.succeeded(), "{:?}", clean.failure());

    let spec = quick_spec(3, 10);
    let first = spec.order().unwrap()[0].id.clone();
    let (state, db) = (State::path(&work), database_path(&work));
    let watcher = std::thread::spawn(move || {
        let saved = format!("\"{first}\": \"succeeded\"");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
        while std::time::Instant::now() < deadline {
            if std::fs::read_to_string(&state).is_ok_and(|s| s.contains(&saved)) {
                std::fs::remove_file(&db).unwrap();
                let _ = std::fs::remove_file(db.with_extension("duckdb.wal"));
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        false
    });
    let failed = run(&spec, &data, &work, &[], false);
    assert!(watcher.join().unwrap(), "the first task never finished");
    assert!(!failed.succeeded());
    let broken = failed
        .tasks
        .iter()
        .find(|t| t.status == TaskStatus::Failed)
        .expect("a task failed");
    let message = broken.error.clone().unwrap_or_default();
    assert!(
        message.contains("DuckDB unavailable after 3 attempt(s)") && message.contains("is gone"),
        "{message}"
    );
    assert!(broken.database_unavailable);

    let resumed = run(&spec, &data, &work, &[], true);
    assert!(resumed.succeeded(), "{:?}", resumed.failure());
    assert!(
        resumed
            .tasks
            .iter()
            .all(|t| t.status == TaskStatus::Succeeded),
        "the database was gone: nothing can be reused: {:?}",
        statuses(&resumed)
    );
    assert_eq!(
        files_in(&out_dir(&work)),
        files_in(&out_dir(&clean_work)),
        "the resumed run's extractions are a clean run's"
    );
    crate::drill::record(
        "duckdb.removed",
        &[
            ("attempts", broken.attempts.to_string()),
            (
                "resumed",
                format!(
                    "{} tasks rerun, extractions as a clean run's",
                    resumed.tasks.len()
                ),
            ),
        ],
        started,
    );
}

#[test]
fn a_full_disk_fails_the_extraction_and_resume_redoes_only_it() {
    if !Path::new("/dev/full").exists() {
        eprintln!("no /dev/full on this system: skipped");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = setup(dir.path(), 4);
    std::fs::create_dir_all(out_dir(&work)).unwrap();
    let target = out_dir(&work).join("premium_wines.csv");
    std::os::unix::fs::symlink("/dev/full", &target).unwrap();
    let failed = run(&quick_spec(2, 10), &data, &work, &[], false);
    let extract = failed.task("extract").unwrap();
    assert_eq!(extract.status, TaskStatus::Failed);
    assert!(
        extract.error.as_ref().unwrap().contains("No space left"),
        "{:?}",
        extract.error
    );
    assert!(failed
        .tasks
        .iter()
        .filter(|t| t.id != "extract")
        .all(|t| t.status == TaskStatus::Succeeded));

    std::fs::remove_file(&target).unwrap();
    let resumed = run(&quick_spec(2, 10), &data, &work, &[], true);
    assert!(resumed.succeeded(), "{:?}", resumed.failure());
    for (id, status) in statuses(&resumed) {
        let expected = if id == "extract" {
            TaskStatus::Succeeded
        } else {
            TaskStatus::Reused
        };
        assert_eq!(status, expected, "{id}");
    }
    // The history holds both runs, the second with the finished tasks marked reused.
    let conn = duckdb::Connection::open(database_path(&work)).unwrap();
    let reused: i64 = conn
        .query_row(
            "select count(*) from flow_history where run_id = 2 and status = 'reused'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(reused as usize, resumed.tasks.len() - 1);
}

#[test]
fn a_failed_gate_stops_what_depends_on_it_and_only_that() {
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = setup(dir.path(), 5);
    let report = run(
        &quick_spec(2, 10),
        &data,
        &work,
        &[("premium_share_max", "0.001")],
        false,
    );
    let premium = report.task("premium").unwrap();
    assert_eq!(premium.status, TaskStatus::GateFailed);
    assert_eq!(premium.attempts, 1, "a gate is not retried");
    assert!(report.failure().unwrap().contains("premium_share_bounded"));
    assert_eq!(report.task("extract").unwrap().status, TaskStatus::Skipped);
    assert_eq!(
        report.task("revenue").unwrap().status,
        TaskStatus::Succeeded,
        "not downstream of the premium split"
    );
}

#[test]
fn resume_refuses_when_there_is_nothing_to_resume() {
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = setup(dir.path(), 6);
    let sql = chapter_sql("bottleneck");
    let spec = quick_spec(1, 1);
    let attempt = |resume| {
        runner::run(&FlowRun {
            spec: &spec,
            chapter: "bottleneck",
            sql_file: &sql,
            data_dir: data.clone(),
            work_dir: work.clone(),
            variables: BTreeMap::new(),
            resume,
        })
    };
    assert!(attempt(true)
        .unwrap_err()
        .to_string()
        .contains("no earlier run"));
    assert!(attempt(false).unwrap().succeeded());
    assert!(attempt(true)
        .unwrap_err()
        .to_string()
        .contains("nothing to resume"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(6), ..ProptestConfig::default() })]

    /// Any mix of traps: each is counted by its gate, the cleaning keeps what the generator
    /// says, and the revenue is conserved from the join to the extracted file.
    #[test]
    fn every_planted_trap_is_caught_and_revenue_is_conserved(
        seed in 0u64..1000,
        blank_rows in 0usize..40,
        duplicate_rows in 0usize..10,
        missing_skus in 0usize..4,
        extra_dangling in 0usize..6,
        missing_links in 0usize..30,
        negative_prices in 0usize..4,
        negative_stocks in 0usize..4,
        contradicting_status in 0usize..6,
        attachment_sales_differ in 0usize..8,
        gift_card in any::<bool>(),
    ) {
        let dangling = missing_skus + extra_dangling;
        let params: Vec<(String, String)> = vec![
            ("seed".into(), seed.to_string()),
            ("products".into(), "300".into()),
            ("blank_rows".into(), blank_rows.to_string()),
            ("duplicate_rows".into(), duplicate_rows.to_string()),
            ("missing_skus".into(), missing_skus.to_string()),
            ("dangling_links".into(), dangling.to_string()),
            ("missing_links".into(), (missing_links + negative_prices).to_string()),
            ("negative_prices".into(), negative_prices.to_string()),
            ("negative_stocks".into(), negative_stocks.to_string()),
            ("contradicting_status".into(), contradicting_status.to_string()),
            ("attachment_sales_differ".into(), attachment_sales_differ.to_string()),
            ("gift_card".into(), gift_card.to_string()),
            // A small catalogue may hold a larger premium share than the real one.
            ("premium_share_max".into(), "0.2".into()),
        ];
        let refs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let nb = super::run("bottleneck", &refs, None);
        prop_assert!(nb.failures().is_empty(), "{:?}", nb.failures());
        for id in ["traps.each_caught", "gate.extract_revenue_conserved", "gate.premium_partition"] {
            let check = nb.checks.iter().find(|c| c.id == id).unwrap();
            prop_assert_eq!(&check.status, &Status::Passed, "{}", id);
        }
    }
}

/// The pieces an orchestrator runs one by one (`flow run --task` / `--gate`), in the flow's
/// order on one work folder, write what a whole run writes; a stop gate with rows is the
/// piece's failure (exit 1) naming the gate and printing its rows; an unknown piece is usage.
#[test]
fn the_pieces_run_one_by_one_write_what_a_whole_run_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (data, work) = setup(dir.path(), 8);
    let whole = run(&quick_spec(2, 10), &data, &work, &[], false);
    assert!(whole.succeeded());
    let spec = chapter_flow("bottleneck").unwrap().unwrap();
    let pieces = dir.path().join("pieces");
    let piece = |args: &[&str], vars: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_auditbook"));
        c.args(["flow", "run", "bottleneck", "--data"])
            .arg(&data)
            .arg("--work")
            .arg(&pieces)
            .args(args);
        for v in vars {
            c.args(["--var", v]);
        }
        c.output().unwrap()
    };
    for task in spec.order().unwrap() {
        let out = piece(&["--task", &task.id], &[]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        for gate in &task.gates {
            let out = piece(&["--gate", &gate.id], &[]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    assert_eq!(files_in(&out_dir(&work)), files_in(&out_dir(&pieces)));
    // The premium share above a tiny bound: the gate's rows, exit 1.
    let out = piece(
        &["--gate", "premium_share_bounded"],
        &["premium_share_max=0.001"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("gate premium_share_bounded (stop): 1 rows"),
        "{stdout}"
    );
    assert!(stdout.contains("premium | products"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("premium_share_bounded"));
    // A report gate with rows prints them and passes.
    let out = piece(&["--gate", "erp_raw_negative_price"], &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("(report): 2 rows"));
    let out = piece(&["--task", "no_such_task"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no task `no_such_task`"));
}
