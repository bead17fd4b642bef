//! Chapter 2, Laplace Immo: a relational model of French property sales (DVF, first half of
//! 2020) with commune geography and populations, and the network's twelve business questions
//! answered in SQL. Real data at `scale=1`; `scale>1` adds seeded DVF-like copies.

pub mod audit;
pub mod spark;

use crate::chapter::{Allowed, Chapter, ChapterCommand, InputFile, Meta, ParamSpec, RunContext};
use crate::error::Result;
use crate::notebook::Notebook;

/// The Laplace Immo chapter.
pub struct LaplaceImmo;

/// The chapter id, written once: `Meta`, errors and file paths take it from here.
const CHAPTER: &str = "laplace_immo";

const PARAMS: &[ParamSpec] = &[
    ParamSpec { name: "scale", default: "1", help: "1: the real DVF extract; N > 1: the real sales plus N − 1 seeded DVF-like copies of each",
        allowed: Allowed::Int { min: 1, max: 1000 }, },
    ParamSpec { name: "seed", default: "2020", help: "seed of the copies' noise when scale > 1",
        allowed: Allowed::Int { min: 0, max: i64::MAX }, },
];

pub(crate) const DVF: &str = "valeurs_foncieres_2020_s1.xlsx";
pub(crate) const POPULATION: &str = "donnees_communes.xlsx";

const INPUTS: &[InputFile] = &[
    InputFile { name: DVF, required: true, help: "DVF extract, 45 columns, first sheet (DGFiP layout plus `Code ID commune` and an empty column 23)" },
    InputFile { name: POPULATION, required: true, help: "INSEE populations: CODREG, CODDEP, CODARR, CODCAN, CODCOM, COM, PMUN, PCAP, PTOT" },
    InputFile { name: "region.csv", required: true, help: "code_region; nom_region (`;`, UTF-8 BOM)" },
    InputFile { name: "departement.csv", required: true, help: "code_departement; nom_departement; code_region" },
    InputFile { name: "commune.csv", required: true, help: "id_commune; code_departement; code_commune; nom_commune" },
];

static META: Meta = Meta {
    id: CHAPTER,
    number: 2,
    title: "Laplace Immo: French property sales",
    params: PARAMS,
    inputs: INPUTS,
};

impl Chapter for LaplaceImmo {
    fn meta(&self) -> &Meta {
        &META
    }

    fn commands(&self) -> &'static [ChapterCommand] {
        &[ChapterCommand {
            name: "spark-bench",
            about: "time the twelve questions on DuckDB and on Spark SQL (`--spark sc://HOST:PORT`) at `--scales 10,100` → measurements/laplace-spark.md",
        }]
    }

    fn run_command(&self, ctx: &RunContext, _name: &str, args: &[String]) -> Result<()> {
        spark::bench(ctx, args)
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        let dir = ctx.data_dir_or(&ctx.dataset_dir())?;
        audit::run(ctx, &dir)
    }
}
