//! Chapter 4, BottleNeck: a wine merchant's monthly cleaning and reconciliation, run as a
//! declared workflow (`flow.yaml`) by the engine's flow runner: load the three exports, clean
//! each, reconcile ERP ↔ links ↔ web, compute revenue and the premium split, extract the
//! lists, with quality gates after every step. The chapter runs the flow on a fresh database,
//! then reads its results, its gates and its history back into the book.

mod audit;
mod checks;
pub mod generate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::chapter::{Allowed, Chapter, InputFile, Meta, ParamSpec, RunContext};
use crate::dictionary;
use crate::error::{Error, Result};
use crate::flow::runner;
use crate::flow::{self as engine, FlowRun, FlowSpec};
use crate::notebook::{DatasetRef, Notebook};
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
/// The Airflow DAG committed beside the chapter (`flow export bottleneck --airflow`).
const AIRFLOW_FILE: &str = "airflow_dag.py";

/// The three exports' base names; the loader takes `.xlsx`, else `.csv`.
const FILES: [&str; 3] = ["Fichier_erp", "Fichier_web", "fichier_liaison"];

impl BottleNeck {
    /// The generator's plan from the chapter's parameters.
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
        let dir = ctx.generated_data_dir(&plan);
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
        let mut nb = ctx.notebook();
        for name in FILES {
            nb.datasets.push(audit::input_ref(&data_dir, name)?);
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
        .map_err(Error::within(CHAPTER))?;
        // A task that errored is the tool failing; a stop gate that found rows is the data
        // failing a check: the notebook then holds the flow's report and its gates, and
        // nothing downstream of the gate (which did not run).
        if let Some(failed) = report.task_error(&runner::database_path(&work_dir)) {
            return Err(Error::within(CHAPTER)(failed));
        }

        ctx.progress.step("reading the results back");
        let mut db =
            SqlSession::open_database(CHAPTER, &data_dir, &runner::database_path(&work_dir))?;
        audit::record_flow_sql(&mut db, &spec, &variables, &data_dir)?;
        audit::flow_tables(&mut nb, &spec, &report)?;
        checks::gate_checks(&mut nb, &report)?;
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
        audit::results(&mut nb, &mut db)?;
        audit::schedule(&mut nb, ctx, &spec)?;
        audit::kestra(&mut nb, ctx, &spec)?;
        audit::airflow(&mut nb, ctx, &spec)?;
        checks::traps(&mut nb, planted.as_ref())?;
        db.hand_over(&mut nb);
        Ok(nb)
    }

    fn generate(&self, ctx: &RunContext, dir: &Path) -> Result<Option<Vec<DatasetRef>>> {
        let (refs, _) = generate::generate(&Self::plan(ctx)?, dir)?;
        Ok(Some(refs))
    }
}
