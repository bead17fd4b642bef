//! Chapter 4, BottleNeck: a wine merchant's monthly cleaning and reconciliation, run as a
//! declared workflow (`flow.yaml`) by the engine's flow runner: load the three exports, clean
//! each, reconcile ERP ↔ links ↔ web, compute revenue and the premium split, extract the
//! lists, with quality gates after every step. The chapter runs the flow on a fresh database,
//! then reads its results, its gates and its history back into the book.

pub mod generate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use polars::prelude::{Column, DataFrame};
use rust_decimal::Decimal;

use crate::chapter::{Allowed, Chapter, InputFile, Meta, ParamSpec, RunContext};
use crate::dataset::{csv_data_rows, dataset_ref, sha256_bytes};
use crate::dictionary;
use crate::error::{Error, Result};
use crate::flow::runner;
use crate::flow::schedule::Schedule;
use crate::flow::spec::{Action, OnFail};
use crate::flow::{self as engine, FlowRun, FlowSpec, RunReport};
use crate::frame::{get_decimal, get_i64};
use crate::notebook::{Artifact, DatasetRef, Notebook, Source, Status, Value};
use crate::render::chart::{self, BarChart};
use crate::sql::SqlSession;

/// The BottleNeck chapter.
pub struct BottleNeck;

const CHAPTER: &str = "bottleneck";

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "seed",
        default: "15",
        help: "seed of the generated exports",
        allowed: Allowed::Int {
            min: 0,
            max: i64::MAX,
        },
    },
    ParamSpec {
        name: "products",
        default: "825",
        help: "ERP products",
        allowed: Allowed::Int {
            min: 10,
            max: 100_000,
        },
    },
    ParamSpec {
        name: "blank_rows",
        default: "83",
        help: "web rows blank but for default zeros",
        allowed: Allowed::Int {
            min: 0,
            max: 10_000,
        },
    },
    ParamSpec {
        name: "duplicate_rows",
        default: "4",
        help: "web product rows repeated exactly",
        allowed: Allowed::Int { min: 0, max: 100 },
    },
    ParamSpec {
        name: "missing_skus",
        default: "2",
        help: "web product rows without a sku",
        allowed: Allowed::Int { min: 0, max: 100 },
    },
    ParamSpec {
        name: "missing_links",
        default: "91",
        help: "ERP products with no id_web",
        allowed: Allowed::Int { min: 0, max: 1_000 },
    },
    ParamSpec {
        name: "dangling_links",
        default: "20",
        help: "links to a sku the web shop does not list",
        allowed: Allowed::Int { min: 0, max: 1_000 },
    },
    ParamSpec {
        name: "negative_prices",
        default: "2",
        help: "ERP prices below zero",
        allowed: Allowed::Int { min: 0, max: 100 },
    },
    ParamSpec {
        name: "negative_stocks",
        default: "2",
        help: "ERP stocks below zero",
        allowed: Allowed::Int { min: 0, max: 100 },
    },
    ParamSpec {
        name: "contradicting_status",
        default: "5",
        help: "'outofstock' products with a quantity",
        allowed: Allowed::Int { min: 0, max: 100 },
    },
    ParamSpec {
        name: "attachment_sales_differ",
        default: "3",
        help: "attachment rows whose total_sales differ",
        allowed: Allowed::Int { min: 0, max: 100 },
    },
    ParamSpec {
        name: "gift_card",
        default: "true",
        help: "a 25-euro gift card among the products",
        allowed: Allowed::Bool,
    },
    ParamSpec {
        name: "z_threshold",
        default: "2",
        help: "premium when the price z-score is above this",
        allowed: Allowed::Number {
            min: 0.0,
            max: 10.0,
        },
    },
    ParamSpec {
        name: "premium_share_max",
        default: "0.10",
        help: "the premium gate's bound on the premium share",
        allowed: Allowed::Number { min: 0.0, max: 1.0 },
    },
    ParamSpec {
        name: "schedule_from",
        default: "2026-01-01T00:00:00Z",
        help: "instant the fire times shown are computed from",
        allowed: Allowed::Any,
    },
];

const INPUTS: &[InputFile] = &[
    InputFile { name: "Fichier_erp.xlsx", required: true, help: "ERP export (or Fichier_erp.csv): product_id, onsale_web, price, stock_quantity, stock_status" },
    InputFile { name: "Fichier_web.xlsx", required: true, help: "web-shop export (or .csv): 28 WooCommerce columns, sku … comment_count" },
    InputFile { name: "fichier_liaison.xlsx", required: true, help: "link table (or .csv): product_id, id_web" },
];

static META: Meta = Meta {
    id: CHAPTER,
    number: 4,
    title: "BottleNeck: the monthly close as a workflow",
    params: PARAMS,
    inputs: INPUTS,
};

/// The Kestra flow committed beside the chapter (what a team deploys to Kestra).
const KESTRA_FILE: &str = "kestra_flow.yaml";

/// The three exports' base names; the loader takes `.xlsx`, else `.csv`.
const FILES: [&str; 3] = ["Fichier_erp", "Fichier_web", "fichier_liaison"];

impl BottleNeck {
    pub fn plan(ctx: &RunContext) -> Result<generate::Plan> {
        let p = &ctx.params;
        Ok(generate::Plan {
            seed: p.get("seed")?,
            products: p.get("products")?,
            blank_rows: p.get("blank_rows")?,
            duplicate_rows: p.get("duplicate_rows")?,
            missing_skus: p.get("missing_skus")?,
            missing_links: p.get("missing_links")?,
            dangling_links: p.get("dangling_links")?,
            negative_prices: p.get("negative_prices")?,
            negative_stocks: p.get("negative_stocks")?,
            contradicting_status: p.get("contradicting_status")?,
            attachment_sales_differ: p.get("attachment_sales_differ")?,
            gift_card: p.get("gift_card")?,
        })
    }

    /// The generated exports for this run's parameters, in a folder of their own.
    pub fn generated(ctx: &RunContext) -> Result<(PathBuf, generate::Planted)> {
        let plan = Self::plan(ctx)?;
        let fingerprint = sha256_bytes(format!("{plan:?}").as_bytes());
        let dir = ctx.generated_dir.join("data").join(&fingerprint[..16]);
        let (_, planted) = generate::generate(&plan, &dir)?;
        Ok((dir, planted))
    }

    /// The flow with the run's variables.
    pub fn flow(ctx: &RunContext) -> Result<(FlowSpec, BTreeMap<String, String>)> {
        let spec = engine::chapter_flow(CHAPTER)?
            .ok_or_else(|| Error::chapter(CHAPTER, "no flow.yaml"))?;
        let mut variables = BTreeMap::new();
        for key in ["z_threshold", "premium_share_max"] {
            let value: f64 = ctx.params.get(key)?;
            variables.insert(key.to_string(), value.to_string());
        }
        Ok((spec, variables))
    }
}

impl Chapter for BottleNeck {
    fn meta(&self) -> &Meta {
        &META
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        let (data_dir, planted) = match &ctx.data_override {
            Some(dir) => (ctx.input_dir(dir)?, None),
            None => {
                ctx.progress.step("generating the three exports");
                let (dir, planted) = Self::generated(ctx)?;
                (ctx.input_dir(&dir)?, Some(planted))
            }
        };
        let mut nb = Notebook::new(CHAPTER);
        nb.params = ctx.params.all().clone();
        for name in FILES {
            nb.datasets.push(input_ref(&data_dir, name)?);
        }

        ctx.progress.step("running the flow");
        let (spec, variables) = Self::flow(ctx)?;
        // A fresh database for every run, removed afterwards: the book shows one run,
        // numbered 1, and runs at the same time (tests, parallel builds) never share one.
        let work = ctx.scratch_dir("flow-")?;
        let work_dir = work.path().to_path_buf();
        let sql_file = engine::chapter_sql(CHAPTER);
        let report = engine::run(&FlowRun {
            spec: &spec,
            chapter: CHAPTER,
            sql_file: &sql_file,
            data_dir: data_dir.clone(),
            work_dir: work_dir.clone(),
            variables: variables.clone(),
            resume: false,
        })
        .map_err(|e| Error::chapter(CHAPTER, e))?;
        // A task that errored is the tool failing; a stop gate that found rows is the data
        // failing a check: the notebook then holds the flow's report and its gates, and
        // nothing downstream of the gate (which did not run).
        if report
            .tasks
            .iter()
            .any(|t| matches!(t.status, runner::TaskStatus::Failed))
        {
            return Err(Error::chapter(
                CHAPTER,
                format!(
                    "flow `{}`: {}",
                    spec.id,
                    report.failure().unwrap_or_default()
                ),
            ));
        }

        ctx.progress.step("reading the results back");
        let mut db =
            SqlSession::open_database(CHAPTER, &data_dir, &runner::database_path(&work_dir))?;
        record_flow_sql(&mut db, &spec, &variables, &data_dir)?;
        flow_tables(&mut nb, &spec, &report)?;
        gate_checks(&mut nb, &report)?;
        if !report.succeeded() {
            db.hand_over(&mut nb);
            return Ok(nb);
        }
        dictionary::document(&mut nb, &mut db)?;
        if nb.has_failures() {
            // A meaning missing or money held as a float: the results would be read wrong.
            db.hand_over(&mut nb);
            return Ok(nb);
        }
        results(&mut nb, &mut db)?;
        schedule(&mut nb, ctx, &spec)?;
        kestra(&mut nb, ctx, &spec)?;
        checks(&mut nb, planted.as_ref())?;
        db.hand_over(&mut nb);
        Ok(nb)
    }

    fn generate(&self, ctx: &RunContext, dir: &Path) -> Result<Option<Vec<DatasetRef>>> {
        let (refs, _) = generate::generate(&Self::plan(ctx)?, dir)?;
        Ok(Some(refs))
    }
}

/// The file the flow's loader reads for `name`, as a dataset reference (rows counted for
/// CSV; a workbook's rows are the load task's).
fn input_ref(dir: &Path, name: &str) -> Result<DatasetRef> {
    let path =
        engine::load::input_file(CHAPTER, dir, name).map_err(|e| Error::chapter(CHAPTER, e))?;
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
fn record_flow_sql(
    db: &mut SqlSession,
    spec: &FlowSpec,
    variables: &BTreeMap<String, String>,
    data_dir: &Path,
) -> Result<()> {
    let mut vars = spec.variables.clone();
    vars.extend(variables.clone());
    vars.insert("out_dir".into(), "<work>/out".into());
    vars.insert("data_dir".into(), "<data>".into());
    for task in spec.order().map_err(|e| Error::chapter(CHAPTER, e))? {
        if let Some(load) = &task.load {
            db.loaded_from(&load.table, &input_ref(data_dir, &load.file)?.file);
        }
        if let Some(name) = &task.sql {
            let text = engine::chapter_sql(CHAPTER)(name)
                .ok_or_else(|| Error::chapter(CHAPTER, format!("no {name}")))?;
            let sql =
                engine::spec::substitute(&text, &vars).map_err(|e| Error::chapter(CHAPTER, e))?;
            db.record(name.trim_end_matches(".sql"), &sql);
        }
        for gate in &task.gates {
            let sql = engine::spec::substitute(&gate.failing_rows, &vars)
                .map_err(|e| Error::chapter(CHAPTER, e))?;
            db.record(&format!("gate_{}", gate.id), sql.trim_end());
        }
    }
    Ok(())
}

fn frame(columns: Vec<Column>) -> Result<DataFrame> {
    DataFrame::new(columns).map_err(|e| Error::chapter(CHAPTER, e.to_string()))
}

/// The tasks as they ran, and every gate with its count; the report gates become findings.
fn flow_tables(nb: &mut Notebook, spec: &FlowSpec, report: &RunReport) -> Result<()> {
    let source = Source::function("flow::run");
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
    let spec_source = Source::function("flow::spec::TaskDefaults");
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
fn results(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
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
        values,
        x_label: "products",
    })
    .map_err(|e| Error::chapter(CHAPTER, e))?;
    nb.add_chart("price_bands", "Prices are skewed: most wines cost under 50 euros, a long tail above the premium threshold.", svg, Source::query("price_bands"))?;
    Ok(())
}

/// The next fire times of the trigger from `schedule_from`, in Paris and in UTC.
fn schedule(nb: &mut Notebook, ctx: &RunContext, spec: &FlowSpec) -> Result<()> {
    let from: String = ctx.params.get("schedule_from")?;
    let from: DateTime<Utc> = from
        .parse()
        .map_err(|e| Error::Usage(format!("chapter `{CHAPTER}`: schedule_from `{from}`: {e}")))?;
    let s = Schedule::new(&spec.trigger).map_err(|e| Error::chapter(CHAPTER, e))?;
    let times = s.next(from, 12).map_err(|e| Error::chapter(CHAPTER, e))?;
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
    let source = Source::function("flow::schedule::Schedule::next");
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

/// The Kestra export, saved as an artifact, checked against the flow.
fn kestra(nb: &mut Notebook, ctx: &RunContext, spec: &FlowSpec) -> Result<()> {
    let sql_file = engine::chapter_sql(CHAPTER);
    let yaml = engine::kestra::export(spec, &sql_file).map_err(|e| Error::chapter(CHAPTER, e))?;
    std::fs::create_dir_all(&ctx.artifact_dir).map_err(Error::io(&ctx.artifact_dir))?;
    let path = ctx.artifact_dir.join("kestra_flow.yaml");
    let mut file =
        tempfile::NamedTempFile::new_in(&ctx.artifact_dir).map_err(Error::io(&ctx.artifact_dir))?;
    std::io::Write::write_all(&mut file, yaml.as_bytes()).map_err(Error::io(&path))?;
    file.persist(&path).map_err(|e| Error::io(&path)(e.error))?;
    nb.artifacts.insert(
        "kestra".into(),
        Artifact {
            name: "kestra".into(),
            file: "kestra_flow.yaml".into(),
            sha256: sha256_bytes(yaml.as_bytes()),
        },
    );

    let parsed: serde_yaml::Value = serde_yaml::from_str(&yaml)
        .map_err(|e| Error::chapter(CHAPTER, format!("kestra export does not parse: {e}")))?;
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
    match crate::embedded::chapter_file(CHAPTER, KESTRA_FILE) {
        None => problems.push(format!("no committed chapters/{CHAPTER}/{KESTRA_FILE}")),
        Some(committed) => {
            let mut exported = yaml.lines();
            for (n, line) in committed.lines().enumerate() {
                let fresh = exported.next();
                if fresh != Some(line) {
                    problems.push(format!("the committed {KESTRA_FILE} differs from the export at line {}: `{line}` where the flow exports `{}`", n + 1, fresh.unwrap_or("(end of file)")));
                    break;
                }
            }
            if problems.is_empty() && exported.next().is_some() {
                problems.push(format!(
                    "the committed {KESTRA_FILE} ends before the export does"
                ));
            }
        }
    }
    if !problems.is_empty() && problems.iter().any(|p| p.contains(KESTRA_FILE)) {
        problems.push(format!("export it again with `auditbook flow export {CHAPTER} --kestra --out chapters/{CHAPTER}/{KESTRA_FILE}`"));
    }
    let source = Source::function("flow::kestra::export");
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

/// One check per `stop` gate that ran: the gate's query found no rows. A failed gate's
/// detail shows the rows it found. (`report` gates profile the raw exports: their counts
/// are checked against the generator by `traps.each_caught`.)
fn gate_checks(nb: &mut Notebook, report: &RunReport) -> Result<()> {
    for (_, g) in report.gates().filter(|(_, g)| g.on_fail == OnFail::Stop) {
        let status = Status::of(g.passed(), || {
            let rows: Vec<String> = g
                .sample
                .iter()
                .take(5)
                .map(|row| {
                    g.columns
                        .iter()
                        .zip(row)
                        .map(|(c, v)| format!("{c}={}", v.as_deref().unwrap_or("null")))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect();
            format!("{} row(s) found: {}", g.failing, rows.join("; "))
        });
        nb.add_check(
            &format!("gate.{}", g.id),
            &g.description,
            status,
            &["flow.gates"],
        )?;
    }
    Ok(())
}

fn checks(nb: &mut Notebook, planted: Option<&generate::Planted>) -> Result<()> {
    let total = match &nb.findings["revenue.total"].value {
        Value::Decimal(d) => *d,
        _ => Decimal::MIN,
    };
    let status = match planted {
        None => Status::NotApplicable("the data was given with --data: nothing was planted".into()),
        Some(p) => {
            let expected: [(&str, i64); 14] = [
                ("trap.erp_raw_negative_price", p.negative_prices as i64),
                ("trap.erp_raw_negative_stock", p.negative_stocks as i64),
                (
                    "trap.erp_raw_status_contradicts_quantity",
                    p.contradicting_status as i64,
                ),
                ("trap.web_raw_empty_rows", p.blank_rows as i64),
                ("trap.web_raw_missing_sku", p.missing_skus as i64),
                ("trap.web_raw_exact_duplicates", p.duplicate_rows as i64),
                ("trap.web_raw_attachment_rows", p.web_products as i64),
                (
                    "trap.web_raw_attachment_sales_differ",
                    p.attachment_sales_differ as i64,
                ),
                ("trap.web_raw_gift_cards", p.gift_cards as i64),
                ("trap.links_raw_missing_id_web", p.missing_links as i64),
                ("rows.erp_clean", p.erp_rows as i64),
                ("rows.web_raw", p.web_rows as i64),
                ("rows.web_clean", p.web_products as i64),
                ("rows.reconciled", p.reconciled as i64),
            ];
            let mut wrong: Vec<String> = expected
                .iter()
                .filter(|(k, v)| nb.int(k) != *v)
                .map(|(k, v)| format!("{k}: found {}, planted {v}", nb.int(k)))
                .collect();
            if total != p.revenue {
                wrong.push(format!("revenue {total}, generator's truth {}", p.revenue));
            }
            Status::of(wrong.is_empty(), || wrong.join("; "))
        }
    };
    nb.add_check(
        "traps.each_caught",
        "each planted trap is counted by its gate, each cleaning step keeps what the generator says it should, and the revenue is the generator's own total",
        status,
        &["trap.web_raw_empty_rows", "trap.web_raw_exact_duplicates", "trap.links_raw_missing_id_web", "rows.reconciled", "revenue.total"],
    )?;
    Ok(())
}
