//! BottleNeck's results, read back from the flow's database into the notebook: the tasks and
//! gates as they ran (with the SQL each ran, variables resolved), the revenue and premium
//! figures, the schedule's next fire times and the Kestra export.

use crate::chapter::RunContext;
use crate::dataset::{csv_data_rows, dataset_ref, sha256_bytes};
use crate::error::{Error, Result};
use crate::flow::schedule::Schedule;
use crate::flow::spec::{Action, OnFail};
use crate::flow::{self as engine, FlowSpec, RunReport};
use crate::frame::{get_decimal, get_i64};
use crate::notebook::{Artifact, DatasetRef, Notebook, Source, Status, Value};
use crate::render::chart::{self, BarChart};
use crate::sql::SqlSession;
use chrono::{DateTime, Utc};
use polars::prelude::{Column, DataFrame};
use std::collections::BTreeMap;
use std::path::Path;

use super::{AIRFLOW_FILE, CHAPTER, KESTRA_FILE};

/// The file the flow's loader reads for `name`, as a dataset reference (rows counted for
/// CSV; a workbook's rows are the load task's).
pub(super) fn input_ref(dir: &Path, name: &str) -> Result<DatasetRef> {
    let path = engine::load::input_file(CHAPTER, dir, name).map_err(Error::within(CHAPTER))?;
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let rows = if file.ends_with(".csv") {
        Some(csv_data_rows(&path)?)
    } else {
        None
    };
    dataset_ref(dir, &file, rows)
}

/// Each SQL task and each gate, as it ran (variables resolved; the work folder written as
/// `<work>` so the book does not depend on where it was built), in the flow's order, and
/// each load task's table with the file it was loaded from, so every result cites the
/// exports it was computed from.
pub(super) fn record_flow_sql(
    db: &mut SqlSession,
    spec: &FlowSpec,
    variables: &BTreeMap<String, String>,
    data_dir: &Path,
) -> Result<()> {
    let mut vars = spec.variables.clone();
    vars.extend(variables.clone());
    vars.insert("out_dir".into(), "<work>/out".into());
    vars.insert("data_dir".into(), "<data>".into());
    for task in spec.order().map_err(Error::within(CHAPTER))? {
        if let Some(load) = &task.load {
            db.loaded_from(&load.table, &input_ref(data_dir, &load.file)?.file);
        }
        if let Some(name) = &task.sql {
            let text = engine::chapter_sql(CHAPTER)(name)
                .ok_or_else(|| Error::chapter(CHAPTER, format!("no {name}")))?;
            let sql = engine::spec::substitute(&text, &vars).map_err(Error::within(CHAPTER))?;
            db.record(name.trim_end_matches(".sql"), &sql);
        }
        for gate in &task.gates {
            let sql = engine::spec::substitute(&gate.failing_rows, &vars)
                .map_err(Error::within(CHAPTER))?;
            db.record(&format!("gate_{}", gate.id), sql.trim_end());
        }
    }
    Ok(())
}

pub(super) fn frame(columns: Vec<Column>) -> Result<DataFrame> {
    DataFrame::new(columns).map_err(Error::within(CHAPTER))
}

/// The tasks as they ran, and every gate with its count; the report gates become findings.
pub(super) fn flow_tables(nb: &mut Notebook, spec: &FlowSpec, report: &RunReport) -> Result<()> {
    let source = crate::function_source!(crate::flow::run);
    let (mut id, mut action, mut deps, mut rows_in, mut rows_out, mut attempts, mut status) =
        (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for t in &report.tasks {
        let task = spec.task(&t.id).expect("reported tasks are the spec's");
        id.push(t.id.clone());
        action.push(match task.action() {
            Action::Load(l) => format!("load {}", l.file),
            Action::Sql(s) => format!("sql {s}"),
            Action::Extract(x) => format!(
                "extract {} files",
                x.iter().map(|e| e.formats.len()).sum::<usize>()
            ),
        });
        deps.push(task.depends_on.join(", "));
        rows_in.push(t.rows_in);
        rows_out.push(t.rows_out);
        attempts.push(t.attempts as i64);
        status.push(t.status.label().to_string());
    }
    nb.add_table(
        "tasks",
        frame(vec![
            Column::new("task".into(), id),
            Column::new("does".into(), action),
            Column::new("after".into(), deps),
            Column::new("rows_in".into(), rows_in),
            Column::new("rows_out".into(), rows_out),
            Column::new("attempts".into(), attempts),
            Column::new("status".into(), status),
        ])?,
        source.clone(),
    )?;
    let (mut task, mut gate, mut kind, mut failing, mut what) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (t, g) in report.gates() {
        task.push(t.id.clone());
        gate.push(g.id.clone());
        kind.push(g.on_fail.label().to_string());
        failing.push(g.failing);
        what.push(g.description.clone());
        if g.on_fail == OnFail::Report {
            nb.add_finding(
                &format!("trap.{}", g.id),
                Value::Int(g.failing),
                Some("rows"),
                source.clone(),
            )?;
        }
    }
    nb.add_finding(
        "flow.gates",
        Value::Int(gate.len() as i64),
        Some("gates"),
        source.clone(),
    )?;
    nb.add_finding(
        "flow.tasks",
        Value::Int(report.tasks.len() as i64),
        Some("tasks"),
        source.clone(),
    )?;
    let retry = spec.defaults.retry;
    let spec_source = crate::function_source!(crate::flow::spec::FlowSpec::parse; "task defaults");
    nb.add_finding(
        "flow.retry_attempts",
        Value::Int(retry.max_attempts as i64),
        Some("attempts"),
        spec_source.clone(),
    )?;
    nb.add_finding(
        "flow.retry_backoff_ms",
        Value::Int(retry.backoff_ms as i64),
        Some("ms"),
        spec_source.clone(),
    )?;
    nb.add_finding(
        "flow.retry_factor",
        Value::Float {
            value: retry.factor,
            decimals: 1,
        },
        Some("times"),
        spec_source,
    )?;
    nb.add_table(
        "gates",
        frame(vec![
            Column::new("task".into(), task),
            Column::new("gate".into(), gate),
            Column::new("on_fail".into(), kind),
            Column::new("rows_found".into(), failing),
            Column::new("rule".into(), what),
        ])?,
        source,
    )?;
    Ok(())
}

/// The figures of the month, read back from the flow's database.
pub(super) fn results(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let steps = db.query("steps")?;
    for row in 0..steps.height() {
        let table = crate::frame::get_text(&steps, "steps", row, "table_name")?.unwrap_or_default();
        nb.add_finding(
            &format!("rows.{table}"),
            Value::Int(get_i64(&steps, "steps", row, "rows")?),
            Some("rows"),
            Source::query("steps"),
        )?;
    }
    nb.add_table("steps", steps, Source::query("steps"))?;
    let totals = db.query("totals")?;
    let q = Source::query("totals");
    nb.add_finding(
        "revenue.total",
        Value::Decimal(get_decimal(&totals, "totals", 0, "total_revenue_eur")?),
        Some("EUR"),
        q.clone(),
    )?;
    nb.add_finding(
        "revenue.units",
        Value::Int(get_i64(&totals, "totals", 0, "units_sold")?),
        Some("bottles"),
        q.clone(),
    )?;
    nb.add_finding(
        "price.mean",
        Value::Decimal(get_decimal(&totals, "totals", 0, "mean_price_eur")?),
        Some("EUR"),
        q.clone(),
    )?;
    nb.add_finding(
        "price.sd",
        Value::Decimal(get_decimal(&totals, "totals", 0, "sd_price_eur")?),
        Some("EUR"),
        q.clone(),
    )?;
    nb.add_finding(
        "premium.threshold",
        Value::Decimal(get_decimal(&totals, "totals", 0, "premium_threshold_eur")?),
        Some("EUR"),
        q.clone(),
    )?;
    nb.add_finding(
        "premium.count",
        Value::Int(get_i64(&totals, "totals", 0, "premium_wines")?),
        Some("wines"),
        q.clone(),
    )?;
    nb.add_finding(
        "ordinary.count",
        Value::Int(get_i64(&totals, "totals", 0, "ordinary_wines")?),
        Some("wines"),
        q,
    )?;
    for name in [
        "top_revenue",
        "premium_list",
        "orphans",
        "anomalies",
        "history",
    ] {
        let t = db.query(name)?;
        nb.add_table(name, t, Source::query(name))?;
    }
    let bands = db.query("price_bands")?;
    let labels = (0..bands.height())
        .map(|r| {
            get_i64(&bands, "price_bands", r, "band_from").map(|b| format!("{b}–{} €", b + 10))
        })
        .collect::<Result<Vec<_>>>()?;
    let values = (0..bands.height())
        .map(|r| get_i64(&bands, "price_bands", r, "products").map(|v| v as f64))
        .collect::<Result<Vec<_>>>()?;
    let svg = chart::bar_chart(&BarChart {
        title: "Reconciled products per price band",
        labels,
        label_name: "price band",
        values,
        x_label: "products",
    })
    .map_err(Error::within(CHAPTER))?;
    nb.add_chart("price_bands", "Prices are skewed: most wines cost under 50 euros, a long tail above the premium threshold.", svg, Source::query("price_bands"))?;
    Ok(())
}

/// The next fire times of the trigger from `schedule_from`, in Paris and in UTC.
pub(super) fn schedule(nb: &mut Notebook, ctx: &RunContext, spec: &FlowSpec) -> Result<()> {
    let from: String = ctx.params.get("schedule_from")?;
    let from: DateTime<Utc> = from
        .parse()
        .map_err(|e| Error::Usage(format!("chapter `{CHAPTER}`: schedule_from `{from}`: {e}")))?;
    let s = Schedule::new(&spec.trigger).map_err(Error::within(CHAPTER))?;
    let times = s.next(from, 12).map_err(Error::within(CHAPTER))?;
    let local: Vec<String> = times
        .iter()
        .map(|t| t.format("%Y-%m-%d %H:%M %Z").to_string())
        .collect();
    let utc: Vec<String> = times
        .iter()
        .map(|t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .collect();
    let all_nine_on_the_15th = times
        .iter()
        .all(|t| t.format("%d %H:%M").to_string() == "15 09:00");
    let summer = utc.iter().filter(|u| u.ends_with("07:00 UTC")).count() as i64;
    let source = crate::function_source!(crate::flow::schedule::Schedule::next);
    nb.add_finding(
        "schedule.summer_runs",
        Value::Int(summer),
        Some("of 12 runs"),
        source.clone(),
    )?;
    nb.add_table(
        "schedule",
        frame(vec![
            Column::new("paris".into(), local),
            Column::new("utc".into(), utc),
        ])?,
        source,
    )?;
    nb.add_check(
        "schedule.nine_in_paris",
        "every fire time is 09:00 on the 15th in Paris, in summer (07:00 UTC) as in winter (08:00 UTC)",
        Status::of(all_nine_on_the_15th && summer > 0 && summer < 12, || format!("{summer} summer runs; times {times:?}")),
        &["schedule.summer_runs"],
    )?;
    Ok(())
}

/// Where the export committed as `chapters/bottleneck/<file>` first differs from `exported`
/// (none when it is the export, line for line), with the command that writes it again.
fn committed_differs(file: &str, exported: &str, target: &str) -> Option<String> {
    let again = format!(
        "export it again with `auditbook flow export {CHAPTER} {target} --out chapters/{CHAPTER}/{file}`"
    );
    let Some(committed) = crate::embedded::chapter_file(CHAPTER, file) else {
        return Some(format!("no committed chapters/{CHAPTER}/{file}; {again}"));
    };
    let mut fresh = exported.lines();
    for (n, line) in committed.lines().enumerate() {
        let exported_line = fresh.next();
        if exported_line != Some(line) {
            return Some(format!(
                "the committed {file} differs from the export at line {}: `{line}` where the flow exports `{}`; {again}",
                n + 1,
                exported_line.unwrap_or("(end of file)")
            ));
        }
    }
    fresh
        .next()
        .map(|_| format!("the committed {file} ends before the export does; {again}"))
}

/// Saves `text` as the run's artifact `file`, named `name`.
fn save_artifact(
    nb: &mut Notebook,
    ctx: &RunContext,
    name: &str,
    file: &str,
    text: &str,
) -> Result<()> {
    std::fs::create_dir_all(&ctx.artifact_dir).map_err(Error::io(&ctx.artifact_dir))?;
    let path = ctx.artifact_dir.join(file);
    let mut temporary =
        tempfile::NamedTempFile::new_in(&ctx.artifact_dir).map_err(Error::io(&ctx.artifact_dir))?;
    std::io::Write::write_all(&mut temporary, text.as_bytes()).map_err(Error::io(&path))?;
    temporary
        .persist(&path)
        .map_err(|e| Error::io(&path)(e.error))?;
    nb.artifacts.insert(
        name.into(),
        Artifact {
            name: name.into(),
            file: file.into(),
            sha256: sha256_bytes(text.as_bytes()),
        },
    );
    Ok(())
}

/// The Airflow export, saved as an artifact, checked against the flow: a task per step and
/// per gate, gates never retried, each step with its declared retries and timeout, the same
/// cron and time zone, and the committed DAG the export line for line. Whether Airflow runs
/// it as the native runner does is a test (`tests/it/airflow.rs`), not this check: the book
/// builds without Airflow.
pub(super) fn airflow(nb: &mut Notebook, ctx: &RunContext, spec: &FlowSpec) -> Result<()> {
    let dag = engine::airflow::export(spec, CHAPTER);
    save_artifact(nb, ctx, "airflow", AIRFLOW_FILE, &dag)?;
    let mut problems = Vec::new();
    let operators: Vec<&str> = dag
        .lines()
        .filter(|l| l.contains("= PythonOperator("))
        .collect();
    let gates: Vec<&crate::flow::spec::Gate> = spec.tasks.iter().flat_map(|t| &t.gates).collect();
    if operators.len() != spec.tasks.len() + gates.len() {
        problems.push(format!(
            "{} Airflow tasks for {} tasks and {} gates",
            operators.len(),
            spec.tasks.len(),
            gates.len()
        ));
    }
    for task in &spec.tasks {
        let retry = spec.retry(task);
        let expected = format!(
            "op_args=[\"--task\", \"{}\"], retries={},",
            task.id,
            retry.max_attempts.saturating_sub(1)
        );
        let timeout = format!(
            "execution_timeout=timedelta(seconds={}))",
            spec.timeout(task).as_secs()
        );
        if !operators
            .iter()
            .any(|l| l.contains(&expected) && l.contains(&timeout))
        {
            problems.push(format!(
                "task `{}` lost its retries or its timeout",
                task.id
            ));
        }
    }
    for gate in gates {
        let expected = format!("op_args=[\"--gate\", \"{}\"], retries=0,", gate.id);
        if !operators.iter().any(|l| l.contains(&expected)) {
            problems.push(format!("gate `{}` is missing or retried", gate.id));
        }
    }
    let trigger = format!(
        "schedule=CronTriggerTimetable(\"{}\", timezone=\"{}\"),",
        spec.trigger.cron, spec.trigger.timezone
    );
    if !dag.contains(&trigger) {
        problems.push("the trigger differs".into());
    }
    problems.extend(committed_differs(AIRFLOW_FILE, &dag, "--airflow"));
    let source = crate::function_source!(crate::flow::airflow::export);
    nb.add_finding(
        "airflow.tasks",
        Value::Int(operators.len() as i64),
        Some("Airflow tasks"),
        source.clone(),
    )?;
    // The DAG as a table, read back from the export itself (not from the flow): what
    // Airflow is told to run, retry and wait for.
    let quoted = |line: &str, after: &str| -> String {
        line.split_once(after)
            .and_then(|(_, rest)| rest.split('"').nth(1))
            .unwrap_or_default()
            .to_string()
    };
    let number = |line: &str, after: &str| -> String {
        line.split_once(after)
            .map(|(_, rest)| rest.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_default()
    };
    let edges: Vec<(String, String)> = dag
        .lines()
        .filter_map(|l| l.trim().split_once(" >> "))
        .map(|(a, b)| (quoted(a, "pieces["), quoted(b, "pieces[")))
        .collect();
    let (mut ids, mut runs, mut retries, mut timeouts, mut after) =
        (vec![], vec![], vec![], vec![], vec![]);
    for line in &operators {
        let id = quoted(line, "task_id=");
        // op_args=["--task", "load_erp"]: the tool's arguments.
        let args = line
            .split_once("op_args=[")
            .and_then(|(_, rest)| rest.split_once(']'))
            .map(|(args, _)| args.replace(['"', ','], ""))
            .unwrap_or_default();
        runs.push(format!("flow run {CHAPTER} {args}"));
        retries.push(number(line, "retries="));
        timeouts.push(number(line, "execution_timeout=timedelta(seconds="));
        after.push(
            edges
                .iter()
                .filter(|(_, b)| *b == id)
                .map(|(a, _)| a.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        );
        ids.push(id);
    }
    nb.add_table(
        "airflow",
        frame(vec![
            Column::new("airflow_task".into(), ids),
            Column::new("runs".into(), runs),
            Column::new("retries".into(), retries),
            Column::new("timeout_s".into(), timeouts),
            Column::new("after".into(), after),
        ])?,
        source,
    )?;
    nb.add_check(
        "airflow.equivalent",
        "the Airflow DAG committed beside the chapter is the export of the flow that ran, line for line: an Airflow task per step with its retries and timeout, one per gate never retried, the same cron and time zone",
        Status::of(problems.is_empty(), || problems.join("; ")),
        &["airflow.tasks", "flow.tasks", "flow.gates"],
    )?;
    Ok(())
}

/// The Kestra export, saved as an artifact, checked against the flow.
pub(super) fn kestra(nb: &mut Notebook, ctx: &RunContext, spec: &FlowSpec) -> Result<()> {
    let sql_file = engine::chapter_sql(CHAPTER);
    let yaml = engine::kestra::export(spec, &sql_file).map_err(Error::within(CHAPTER))?;
    save_artifact(nb, ctx, "kestra", KESTRA_FILE, &yaml)?;

    let parsed: serde_yaml::Value = serde_yaml::from_str(&yaml)
        .map_err(Error::failed(CHAPTER, "kestra export does not parse"))?;
    let tasks = parsed["tasks"].as_sequence().cloned().unwrap_or_default();
    let queries = tasks
        .iter()
        .filter(|t| t["type"].as_str() == Some("io.kestra.plugin.jdbc.duckdb.Query"))
        .count();
    let fails = tasks
        .iter()
        .filter(|t| t["type"].as_str() == Some("io.kestra.plugin.core.execution.Fail"))
        .count();
    let trigger = &parsed["triggers"][0];
    let mut problems = Vec::new();
    let gates: usize = spec.tasks.iter().map(|t| t.gates.len()).sum();
    let stop_gates: usize = spec
        .tasks
        .iter()
        .flat_map(|t| &t.gates)
        .filter(|g| g.on_fail == OnFail::Stop)
        .count();
    if queries != spec.tasks.len() + gates {
        problems.push(format!(
            "{queries} query tasks for {} tasks and {gates} gates",
            spec.tasks.len()
        ));
    }
    if fails != stop_gates {
        problems.push(format!("{fails} Fail tasks for {stop_gates} stop gates"));
    }
    for task in &spec.tasks {
        if let Some(name) = &task.sql {
            let body = tasks
                .iter()
                .find(|t| t["id"].as_str() == Some(task.id.as_str()))
                .and_then(|t| t["sql"].as_str())
                .unwrap_or_default();
            let first_statement = sql_file(name)
                .unwrap_or_default()
                .lines()
                .find(|l| l.starts_with("create"))
                .unwrap_or_default()
                .to_string();
            if !body.contains(&first_statement) {
                problems.push(format!("task `{}` lost its SQL", task.id));
            }
        }
    }
    if trigger["cron"].as_str() != Some(spec.trigger.cron.as_str())
        || trigger["timezone"].as_str() != Some(spec.trigger.timezone.as_str())
    {
        problems.push("the trigger differs".into());
    }
    // The flow a team deploys to Kestra is committed beside the chapter: it must be the
    // export of the flow this run ran, line for line, or the two have drifted apart.
    problems.extend(committed_differs(KESTRA_FILE, &yaml, "--kestra"));
    let source = crate::function_source!(crate::flow::kestra::export);
    nb.add_finding(
        "kestra.tasks",
        Value::Int(tasks.len() as i64),
        Some("Kestra tasks"),
        source,
    )?;
    nb.add_check(
        "kestra.equivalent",
        "the Kestra flow committed beside the chapter is the export of the flow that ran, line for line: a DuckDB query per task and per gate with the same SQL, a Fail task per stop gate, the same cron and time zone",
        Status::of(problems.is_empty(), || problems.join("; ")),
        &["kestra.tasks", "flow.tasks", "flow.gates"],
    )?;
    Ok(())
}
