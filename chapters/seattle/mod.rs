//! Chapter 6, Seattle: predicting a building's greenhouse-gas emission intensity from facts
//! known before any metering, on the City of Seattle's real 2016 benchmarking data. The run
//! builds, cross-validates and saves the model (`model`, `artifact`); `auditbook api` serves
//! it with strict validation and OpenAPI docs (`api`, `validate`, `service`).

pub mod api;
pub mod artifact;
mod audit;
mod checks;
pub mod lineage;
pub mod model;
mod service;
pub mod validate;

use crate::chapter::{Allowed, Chapter, ChapterCommand, InputFile, Meta, ParamSpec, RunContext};
use crate::dataset::{dataset_ref, require_files};
use crate::error::{Error, Result};
use crate::notebook::Notebook;
use crate::sql::SqlSession;

/// The Seattle chapter.
pub struct Seattle;

const CHAPTER: &str = "seattle";
const DATA: &str = "2016_Building_Energy_Benchmarking.csv";

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "seed",
        default: "42",
        help: "seed of the fold shuffle and of the forest",
        allowed: Allowed::Int {
            min: 0,
            max: i64::MAX,
        },
    },
    ParamSpec {
        name: "folds",
        default: "5",
        help: "folds of the cross-validation",
        allowed: Allowed::Int { min: 2, max: 50 },
    },
    ParamSpec {
        name: "trees",
        default: "100",
        help: "trees of the random forest",
        allowed: Allowed::Int { min: 1, max: 1_000 },
    },
];

const INPUTS: &[InputFile] = &[InputFile {
    name: DATA,
    required: true,
    help: "City of Seattle 2016 building energy benchmarking, 46 columns",
}];

static META: Meta = Meta {
    id: CHAPTER,
    number: 6,
    title: "Seattle: a greenhouse-gas model",
    params: PARAMS,
    inputs: INPUTS,
};

impl Chapter for Seattle {
    fn meta(&self) -> &Meta {
        &META
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        let dir = ctx.data_dir_or(&ctx.dataset_dir())?;
        let (seed, k, trees): (u64, usize, usize) = (
            ctx.params.get("seed")?,
            ctx.params.get("folds")?,
            ctx.params.get("trees")?,
        );
        if k < 2 || trees == 0 {
            return Err(Error::Usage(format!(
                "chapter `{CHAPTER}`: need at least 2 folds and 1 tree"
            )));
        }
        require_files(CHAPTER, &dir, &[DATA])?;
        let mut nb = ctx.notebook();
        nb.datasets.push(dataset_ref(
            &dir,
            DATA,
            Some(crate::dataset::csv_data_rows(&dir.join(DATA))?),
        )?);

        ctx.progress.step("loading and filtering");
        let mut db = SqlSession::open(CHAPTER, &dir)?;
        let rows = audit::training_set(&mut nb, &mut db)?;

        ctx.progress.step("cross-validating the models");
        let results = audit::cross_validation(&mut nb, &rows, k, seed, trees)?;
        let best = audit::choose(&mut nb, &results)?;
        audit::charts(&mut nb, &rows, best)?;
        let encoder = audit::encoder(&mut nb, &rows)?;
        audit::save_model(ctx, &mut nb, &rows, &encoder, best, seed, trees)?;
        if nb.has_failures() {
            // The saved model does not load back as it was fitted: nothing below could use it.
            db.hand_over(&mut nb);
            return Ok(nb);
        }
        audit::document_api(
            &mut nb,
            &ctx.input_dir(&ctx.artifact_dir)?.join("model.json"),
        )?;
        checks::all(&mut nb, &results)?;
        db.hand_over(&mut nb);
        Ok(nb)
    }

    fn commands(&self) -> &'static [ChapterCommand] {
        &[ChapterCommand { name: "api", about: "serve the model over HTTP (POST /predict, docs at /docs); `api bench` load-tests it" }]
    }

    fn run_command(&self, ctx: &RunContext, _name: &str, args: &[String]) -> Result<()> {
        service::run(self, ctx, args)
    }
}
