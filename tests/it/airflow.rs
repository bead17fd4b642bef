//! BottleNeck's flow run by a real Apache Airflow (3.3.2, `airflow dags test`, SQLite
//! metadata), against the native runner on the same exports: the same extractions, file for
//! file; and under a fault that trips a stop gate, the same gate failing, tried once, and the
//! same steps not run. `scripts/test` installs Airflow in a cached venv and names it in
//! AUDITBOOK_TEST_AIRFLOW.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use auditbook::chapters::bottleneck::generate;
use auditbook::flow::runner::{self, RunReport, TaskStatus};
use auditbook::flow::{airflow, chapter_flow, FlowSpec};

use super::bottleneck::{default_plan, files_in, run};
use super::server;

/// The seed the book runs on: the declared faults edit lines of its exports.
const BOOK_SEED: u64 = 15;

fn spec() -> FlowSpec {
    chapter_flow("bottleneck").unwrap().unwrap()
}

/// An Airflow home of its own (SQLite metadata, the exported DAG), migrated.
struct Airflow {
    venv: PathBuf,
    home: tempfile::TempDir,
}

/// One Airflow task's end: its state and the tries it took.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Ended {
    state: String,
    tries: i64,
}

impl Airflow {
    fn new(venv: &Path) -> Airflow {
        let home = tempfile::tempdir().unwrap();
        let dags = home.path().join("dags");
        std::fs::create_dir_all(&dags).unwrap();
        std::fs::write(
            dags.join("bottleneck.py"),
            airflow::export(&spec(), "bottleneck"),
        )
        .unwrap();
        let airflow = Airflow {
            venv: venv.to_path_buf(),
            home,
        };
        let out = airflow.command(&["db", "migrate"]).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        airflow
    }

    /// `python -m airflow ARGS` in this home (the venv was moved into place, so its console
    /// scripts' shebangs point elsewhere: the module is run instead).
    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(self.venv.join("bin").join("python"));
        c.args(["-m", "airflow"])
            .args(args)
            .env("AIRFLOW_HOME", self.home.path())
            .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
            .env("AIRFLOW__CORE__DAGS_FOLDER", self.home.path().join("dags"))
            .env("AUDITBOOK_BIN", env!("CARGO_BIN_EXE_auditbook"));
        c
    }

    /// `airflow dags test` of the flow on `data`, runs kept under `work`, with `conf` as the
    /// run's params: whether it succeeded, its output, and every task's end in this run (the
    /// home keeps the earlier ones).
    fn test(
        &self,
        data: &Path,
        work: &Path,
        conf: &str,
    ) -> (bool, String, BTreeMap<String, Ended>) {
        let out = self
            .command(&["dags", "test", &spec().id, "--conf", conf])
            .env("AUDITBOOK_FLOW_DATA", data)
            .env("AUDITBOOK_FLOW_WORK", work)
            .output()
            .unwrap();
        let log = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let query = "import json, sqlite3, sys\n\
            db = sqlite3.connect(sys.argv[1])\n\
            last = db.execute('select run_id from dag_run where dag_id = ? order by id desc limit 1', (sys.argv[2],)).fetchone()[0]\n\
            rows = db.execute('select task_id, state, try_number from task_instance where dag_id = ? and run_id = ?', (sys.argv[2], last)).fetchall()\n\
            print(json.dumps(rows))";
        let states = Command::new(self.venv.join("bin").join("python"))
            .args(["-c", query])
            .arg(self.home.path().join("airflow.db"))
            .arg(spec().id)
            .output()
            .unwrap();
        assert!(
            states.status.success(),
            "{}",
            String::from_utf8_lossy(&states.stderr)
        );
        let rows: Vec<(String, Option<String>, i64)> =
            serde_json::from_slice(&states.stdout).unwrap();
        let ended = rows
            .into_iter()
            .map(|(task, state, tries)| {
                let state = state.unwrap_or_else(|| "none".into());
                (task, Ended { state, tries })
            })
            .collect();
        (out.status.success(), log, ended)
    }
}

/// The Airflow venv, when the tests have one.
fn venv() -> Option<PathBuf> {
    server("AUDITBOOK_TEST_AIRFLOW").map(PathBuf::from)
}

/// The exports of the book's run, in `dir/data`.
fn exports(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    generate::generate(&default_plan(BOOK_SEED), &data).unwrap();
    data
}

fn native(data: &Path, work: &Path, variables: &[(&str, &str)]) -> RunReport {
    run(&spec(), data, work, variables, false)
}

/// The one run folder Airflow's run made under `work`.
fn airflow_run_dir(work: &Path) -> PathBuf {
    let runs: Vec<PathBuf> = std::fs::read_dir(work.join("bottleneck"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "one run folder: {runs:?}");
    runs[0].clone()
}

/// The stop gates that found rows in the native run, and the tasks it did not run.
fn native_outcome(report: &RunReport) -> (BTreeSet<String>, BTreeSet<String>) {
    let failed_gates = report
        .gates()
        .filter(|(_, g)| !g.passed() && g.on_fail == auditbook::flow::spec::OnFail::Stop)
        .map(|(_, g)| g.id.clone())
        .collect();
    let not_run = report
        .tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Skipped)
        .map(|t| t.id.clone())
        .collect();
    (failed_gates, not_run)
}

/// The same, from Airflow's task ends: gates that failed, flow tasks it did not run.
fn airflow_outcome(ended: &BTreeMap<String, Ended>) -> (BTreeSet<String>, BTreeSet<String>) {
    let spec = spec();
    let tasks: BTreeSet<&str> = spec.tasks.iter().map(|t| t.id.as_str()).collect();
    let failed_gates = ended
        .iter()
        .filter(|(id, e)| !tasks.contains(id.as_str()) && e.state == "failed")
        .map(|(id, _)| id.clone())
        .collect();
    let not_run = ended
        .iter()
        .filter(|(id, e)| tasks.contains(id.as_str()) && e.state == "upstream_failed")
        .map(|(id, _)| id.clone())
        .collect();
    (failed_gates, not_run)
}

#[test]
fn airflow_runs_the_exported_dag_to_the_native_runners_files() {
    let Some(venv) = venv() else { return };
    let dir = tempfile::tempdir().unwrap();
    let data = exports(dir.path());
    let started = Instant::now();
    let report = native(&data, &dir.path().join("native"), &[]);
    let native_s = started.elapsed().as_secs_f64();
    assert!(report.succeeded(), "{:?}", report.failure());

    let airflow = Airflow::new(&venv);
    let started = Instant::now();
    let (succeeded, log, ended) = airflow.test(&data, &dir.path().join("airflow"), "{}");
    let airflow_s = started.elapsed().as_secs_f64();
    assert!(succeeded, "airflow dags test failed:\n{log}");
    let spec = spec();
    let pieces = spec.tasks.len() + spec.tasks.iter().map(|t| t.gates.len()).sum::<usize>();
    assert_eq!(ended.len(), pieces, "{ended:?}");
    assert!(
        ended.values().all(|e| e.state == "success" && e.tries == 1),
        "{ended:?}"
    );
    // The extractions (CSV and Parquet), byte for byte: the same rows, the revenue to the cent.
    let native_files = files_in(&runner::out_dir(&dir.path().join("native")));
    let airflow_files = files_in(&runner::out_dir(&airflow_run_dir(
        &dir.path().join("airflow"),
    )));
    assert_eq!(
        native_files.keys().collect::<Vec<_>>(),
        airflow_files.keys().collect::<Vec<_>>()
    );
    for (name, bytes) in &native_files {
        assert!(airflow_files[name] == *bytes, "{name} differs");
    }
    eprintln!(
        "airflow: {pieces} tasks, {} files equal; native {native_s:.1} s, airflow dags test {airflow_s:.1} s",
        native_files.len()
    );
}

#[test]
fn a_stop_gate_fails_airflow_at_the_same_gate_tried_once() {
    let Some(venv) = venv() else { return };
    let dir = tempfile::tempdir().unwrap();
    let clean = exports(dir.path());
    // A declared data fault: the ERP price of one product written with its unit.
    let fault = auditbook::fault::find("bottleneck", "price_with_a_unit").unwrap();
    let data = dir.path().join("faulty");
    std::fs::create_dir_all(&data).unwrap();
    for entry in std::fs::read_dir(&clean).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), data.join(entry.file_name())).unwrap();
    }
    for edit in &fault.edits {
        let file = data.join(edit.data.as_deref().expect("a data fault"));
        let text = std::fs::read_to_string(&file).unwrap();
        let edited = edit.op.apply(&text).unwrap().expect("the file is kept");
        std::fs::write(&file, edited).unwrap();
    }
    let airflow = Airflow::new(&venv);
    /// A run that a stop gate must stop: its exports, its variables (the DAG's params).
    struct Case<'a> {
        data: &'a Path,
        variables: &'a [(&'a str, &'a str)],
        gate: &'a str,
    }
    // The data fault, and a variable (a DAG param) that trips another stop gate.
    let cases = [
        Case {
            data: &data,
            variables: &[],
            gate: "erp_raw_types",
        },
        Case {
            data: &clean,
            variables: &[("premium_share_max", "0.001")],
            gate: "premium_share_bounded",
        },
    ];
    for (n, case) in cases.iter().enumerate() {
        let Case {
            data,
            variables,
            gate,
        } = *case;
        let conf =
            serde_json::to_string(&variables.iter().copied().collect::<BTreeMap<_, _>>()).unwrap();
        let report = native(data, &dir.path().join(format!("native-{n}")), variables);
        let (native_gates, native_not_run) = native_outcome(&report);
        assert_eq!(native_gates, BTreeSet::from([gate.to_string()]));
        let (succeeded, log, ended) =
            airflow.test(data, &dir.path().join(format!("airflow-{n}")), &conf);
        assert!(!succeeded, "the Airflow run fails:\n{log}");
        let (airflow_gates, airflow_not_run) = airflow_outcome(&ended);
        assert_eq!(airflow_gates, native_gates, "{ended:?}");
        assert_eq!(airflow_not_run, native_not_run, "{ended:?}");
        assert!(!native_not_run.is_empty());
        // Gates are not retried, in either.
        assert_eq!(ended[gate].tries, 1, "{ended:?}");
        let failing = report.gates().find(|(_, g)| g.id == gate).unwrap();
        assert_eq!(failing.0.attempts, 1);
        // The failing rows are in Airflow's log, as the tool printed them.
        assert!(
            log.contains(&format!("gate {gate} (stop): {} rows", failing.1.failing)),
            "{log}"
        );
    }
}
