//! `flow bench CHAPTER`: the native runner beside Apache Airflow running the exported DAG on
//! the same exports, in one run: each timed several times from a fresh work folder, medians
//! and their ratio, written to `measurements/<chapter>-airflow.md`. Airflow is installed on
//! first use (pinned, in the tool's cache, as `scripts/test` installs it) and runs with
//! `airflow dags test` on SQLite metadata of its own; its one-time setup (`db migrate`) is
//! reported apart from the runs.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::chapter::{Chapter, RunContext};
use crate::commands::bench::{median, save};
use crate::commands::flow::spec_of;
use crate::error::{Error, Result};
use crate::flow::runner::{self, FlowRun};
use crate::flow::{airflow, chapter_sql};
use crate::install::{self, Install};

/// The Airflow release the export targets and the tests run.
pub const AIRFLOW_VERSION: &str = "3.3.2";
/// Every package of that venv, pinned (the same file `scripts/test` installs from).
const CONSTRAINTS: &str = include_str!("../../scripts/lib/airflow-constraints.txt");

/// The cached Airflow venv's python, installing it the first time.
pub fn airflow_python(chapter: &str) -> Result<PathBuf> {
    let cache = install::cache_dir();
    let constraints = tempfile::NamedTempFile::new().map_err(Error::io(std::env::temp_dir()))?;
    std::fs::write(constraints.path(), CONSTRAINTS).map_err(Error::io(constraints.path()))?;
    let path = constraints.path().display().to_string();
    install::python_venv(
        &cache,
        &Install {
            name: format!("apache-airflow-{AIRFLOW_VERSION}"),
            what: format!("Apache Airflow {AIRFLOW_VERSION}"),
        },
        &[&format!("apache-airflow=={AIRFLOW_VERSION}")],
        &["-c", &path],
    )
    .map_err(|e| Error::Unavailable {
        chapter: chapter.to_string(),
        service: "Apache Airflow",
        source: Box::new(e),
    })
}

/// Runs `python -m airflow ARGS` in `home`; an error with its output's tail when it fails.
fn airflow(python: &Path, home: &Path, args: &[&str], env: &[(&str, &Path)]) -> Result<()> {
    let mut command = Command::new(python);
    command
        .args(["-m", "airflow"])
        .args(args)
        .env("AIRFLOW_HOME", home)
        .env("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
        .env("AIRFLOW__CORE__DAGS_FOLDER", home.join("dags"));
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command.output().map_err(Error::io(python))?;
    if out.status.success() {
        return Ok(());
    }
    let log = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    Err(Error::Usage(format!(
        "`airflow {}` failed ({}):\n{}",
        args.join(" "),
        out.status,
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    )))
}

/// Times `runs` native runs and `runs` Airflow runs of the chapter's flow on the exports in
/// `data`, and returns the report. Call it without holding the checkout's lock: each task
/// Airflow runs is a `flow run` of the tool, which takes it.
pub fn bench(chapter: &dyn Chapter, ctx: &RunContext, data: &Path, runs: usize) -> Result<String> {
    let runs = runs.max(1);
    let id = ctx.meta.id;
    let spec = spec_of(chapter)?;
    let data = data.to_path_buf();
    let scratch = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
    let sql_file = chapter_sql(id);
    let mut native = Vec::new();
    for n in 0..runs {
        let started = Instant::now();
        let report = runner::run(&FlowRun {
            spec: &spec,
            chapter: id,
            sql_file: &sql_file,
            data_dir: data.clone(),
            work_dir: scratch.path().join(format!("native-{n}")),
            variables: BTreeMap::new(),
            resume: false,
        })
        .map_err(Error::within(id))?;
        native.push(started.elapsed());
        if let Some(failure) = report.failure() {
            return Err(Error::chapter(
                id,
                format!("the native run failed: {failure}"),
            ));
        }
    }

    // The same pieces Airflow runs, one process of the tool each, in the flow's order and
    // without Airflow: what running piece by piece costs apart from the orchestrator.
    let tool = std::env::current_exe().map_err(Error::io("the running tool"))?;
    let mut one_by_one = Vec::new();
    for n in 0..runs {
        let work = scratch.path().join(format!("pieces-{n}"));
        let started = Instant::now();
        for task in spec.order().map_err(Error::within(id))? {
            let gates = task.gates.iter().map(|g| ("--gate", g.id.as_str()));
            for (option, piece) in std::iter::once(("--task", task.id.as_str())).chain(gates) {
                let out = Command::new(&tool)
                    .args(["flow", "run", id, option, piece, "--data"])
                    .arg(&data)
                    .arg("--work")
                    .arg(&work)
                    .output()
                    .map_err(Error::io(&tool))?;
                if !out.status.success() {
                    return Err(Error::chapter(
                        id,
                        format!(
                            "`flow run {id} {option} {piece}` failed: {}",
                            String::from_utf8_lossy(&out.stderr).trim()
                        ),
                    ));
                }
            }
        }
        one_by_one.push(started.elapsed());
    }

    let python = airflow_python(id)?;
    let home = scratch.path().join("airflow");
    let dags = home.join("dags");
    std::fs::create_dir_all(&dags).map_err(Error::io(&dags))?;
    let dag_file = dags.join(format!("{id}.py"));
    std::fs::write(&dag_file, airflow::export(&spec, id)).map_err(Error::io(&dag_file))?;
    let started = Instant::now();
    airflow(&python, &home, &["db", "migrate"], &[])?;
    let setup = started.elapsed();
    let work = scratch.path().join("airflow-runs");
    let mut orchestrated = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        airflow(
            &python,
            &home,
            &["dags", "test", &spec.id],
            &[
                ("AUDITBOOK_BIN", &tool),
                ("AUDITBOOK_FLOW_DATA", &data),
                ("AUDITBOOK_FLOW_WORK", &work),
            ],
        )?;
        orchestrated.push(started.elapsed());
    }
    let pieces = spec.tasks.len() + spec.tasks.iter().map(|t| t.gates.len()).sum::<usize>();
    Ok(report(
        id,
        &spec.id,
        pieces,
        runs,
        setup,
        [native, one_by_one, orchestrated],
    ))
}

/// The report: `[native, one_by_one, orchestrated]` are the three runners' samples.
fn report(
    chapter: &str,
    flow: &str,
    pieces: usize,
    runs: usize,
    setup: Duration,
    [native, one_by_one, orchestrated]: [Vec<Duration>; 3],
) -> String {
    let secs = |d: Duration| d.as_secs_f64();
    let line = |name: &str, samples: &[Duration]| {
        format!(
            "| {name} | {:.2} | {:.2} | {:.2} |",
            secs(median(samples.to_vec())),
            secs(*samples.iter().min().expect("one run at least")),
            secs(*samples.iter().max().expect("one run at least")),
        )
    };
    let (n, p, a) = (
        secs(median(native.clone())),
        secs(median(one_by_one.clone())),
        secs(median(orchestrated.clone())),
    );
    format!(
        "# {chapter}: the flow `{flow}`, native runner and Apache Airflow {AIRFLOW_VERSION}\n\n\
         The same exports, {runs} run(s) each from a fresh work folder, in one run of `auditbook flow bench {chapter}`.\n\
         Airflow runs the exported DAG with `airflow dags test` ({pieces} Airflow tasks, each a process of the tool);\n\
         its one-time setup (`airflow db migrate`, SQLite) took {:.1} s and is not in the runs. The middle line runs\n\
         the same {pieces} pieces one process each, in order, without Airflow.\n\n\
         | runner | median s | min s | max s |\n|---|---:|---:|---:|\n{}\n{}\n{}\n\n\
         Airflow / native (medians): **{:.1}×**. Per task: {:.0} ms for running piece by piece \
         (a process of the tool each), {:.0} ms more for Airflow's scheduling of it.\n",
        secs(setup),
        line("native (`flow run`)", &native),
        line("pieces one by one (`flow run --task/--gate`)", &one_by_one),
        line("Airflow (`dags test`)", &orchestrated),
        a / n.max(1e-9),
        (p - n) * 1000.0 / pieces as f64,
        (a - p) * 1000.0 / pieces as f64,
    )
}

/// Runs the bench and writes its report under `measurements/`.
pub fn bench_and_save(
    chapter: &dyn Chapter,
    ctx: &RunContext,
    data: &Path,
    root: &Path,
    runs: usize,
) -> Result<()> {
    let text = bench(chapter, ctx, data, runs)?;
    let path = save(root, &format!("{}-airflow.md", ctx.meta.id), &text)?;
    print!("{text}");
    eprintln!("written to {}", path.display());
    Ok(())
}
