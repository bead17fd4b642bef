//! Chapter 1, SuperSmartMarket: why a supermarket chain's revenue for one day changed between
//! two dashboard refreshes. The default data is generated (`generate.rs`) with the incidents
//! planted as parameters; `--data DIR` runs the same audit on the real course export, which
//! has no insertion log, so the checks that need the log say so instead of passing.

pub mod audit;
pub mod generate;

use std::path::Path;

use chrono::NaiveDate;

use crate::chapter::{Allowed, Chapter, InputFile, Meta, ParamSpec, RunContext};
use crate::error::Result;
use crate::notebook::{DatasetRef, Notebook};

/// The SuperSmartMarket chapter.
pub struct SuperSmartMarket;

/// The chapter id, written once: `Meta`, errors and file paths take it from here.
const CHAPTER: &str = "supersmartmarket";

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "seed",
        default: "20240815",
        help: "seed of the data generator",
        allowed: Allowed::Int {
            min: 0,
            max: i64::MAX,
        },
    },
    ParamSpec {
        name: "start",
        default: "2024-08-01",
        help: "first day of the generated sales period",
        allowed: Allowed::Any,
    },
    ParamSpec {
        name: "days",
        default: "17",
        help: "length of the sales period in days (closing days included)",
        allowed: Allowed::Int { min: 1, max: 366 },
    },
    ParamSpec {
        name: "late_day",
        default: "2024-08-14",
        help: "the day whose batch of sales is inserted the next day",
        allowed: Allowed::Any,
    },
    ParamSpec {
        name: "late_batch",
        default: "1379",
        help: "number of sales in the late batch (0: no late load)",
        allowed: Allowed::Int {
            min: 0,
            max: 100_000,
        },
    },
    ParamSpec {
        name: "price_updates",
        default: "600",
        help: "products repriced the day after `late_day`",
        allowed: Allowed::Int {
            min: 0,
            max: 100_000,
        },
    },
    ParamSpec {
        name: "sales_per_day",
        default: "2860",
        help: "typical sales (ticket lines) per open day",
        allowed: Allowed::Int {
            min: 1,
            max: 200_000,
        },
    },
    ParamSpec {
        name: "products",
        default: "18040",
        help: "products in the catalogue",
        allowed: Allowed::Int {
            min: 1,
            max: 1_000_000,
        },
    },
    ParamSpec {
        name: "customers",
        default: "2297",
        help: "customers",
        allowed: Allowed::Int {
            min: 1,
            max: 1_000_000,
        },
    },
    ParamSpec {
        name: "staff",
        default: "56",
        help: "employees",
        allowed: Allowed::Int {
            min: 1,
            max: 10_000,
        },
    },
];

const INPUTS: &[InputFile] = &[
    InputFile { name: generate::FACT, required: true, help: "sales: vente_id; produit_id (EAN); customer_id; employee_id; date_id (Excel serial); ticket_id" },
    InputFile { name: generate::PRODUCTS, required: true, help: "products with today's price: Produit_id; Categorie; Rayon; Libelle_produit; Prix" },
    InputFile { name: generate::CUSTOMERS, required: true, help: "customers: Customer_id; date_inscription" },
    InputFile { name: generate::CALENDAR, required: true, help: "calendar: Date_id; Annee; Mois; Jour; Mois_nom; Jour_semaine; Trimestre; Date_form" },
    InputFile { name: generate::STAFF, required: true, help: "staff: Employee_id; Prenom; Nom; Date_id; Email" },
    InputFile { name: generate::LOG, required: false, help: "insertion log: id_user; date; action; table_insert; id_ligne; champs; detail (absent from the real export: the checks that need it are reported not applicable)" },
];

static META: Meta = Meta {
    id: CHAPTER,
    number: 1,
    title: "SuperSmartMarket: why a day's revenue changed",
    params: PARAMS,
    inputs: INPUTS,
};

impl SuperSmartMarket {
    /// The generator's plan from the run's parameters.
    pub fn plan(ctx: &RunContext) -> Result<generate::Plan> {
        let p = &ctx.params;
        Ok(generate::Plan {
            seed: p.get("seed")?,
            start: p.get::<NaiveDate>("start")?,
            days: p.get("days")?,
            products: p.get("products")?,
            customers: p.get("customers")?,
            staff: p.get("staff")?,
            sales_per_day: p.get("sales_per_day")?,
            late_day: p.get::<NaiveDate>("late_day")?,
            late_batch: p.get("late_batch")?,
            price_updates: p.get("price_updates")?,
        })
    }

    /// Generates the data for these parameters into its own folder under `generated_dir`.
    fn generated(
        ctx: &RunContext,
    ) -> Result<(std::path::PathBuf, Vec<DatasetRef>, generate::Planted)> {
        let plan = Self::plan(ctx)?;
        let dir = ctx.generated_data_dir(&plan);
        let (refs, planted) = generate::generate(&plan, &dir)?;
        Ok((dir, refs, planted))
    }
}

impl Chapter for SuperSmartMarket {
    fn meta(&self) -> &Meta {
        &META
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        match &ctx.data_override {
            Some(dir) => audit::run(ctx, &ctx.input_dir(dir)?, None),
            None => {
                ctx.progress
                    .step("generating the export and its insertion log");
                let (dir, _, planted) = Self::generated(ctx)?;
                audit::run(ctx, &ctx.input_dir(&dir)?, Some(&planted))
            }
        }
    }

    fn generate(&self, ctx: &RunContext, dir: &Path) -> Result<Option<Vec<DatasetRef>>> {
        let (refs, _) = generate::generate(&Self::plan(ctx)?, dir)?;
        Ok(Some(refs))
    }
}
