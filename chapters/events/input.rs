//! What a run reads and with which settings: the parameters, and the events (generated
//! into `events.jsonl` at the run's parameters, or a user's own with `--data DIR`), always
//! read back through the same strict reader and through [`RunContext::input_dir`], so a
//! fault can damage the file the run reads.

use std::path::PathBuf;

use chrono::NaiveDate;

use super::generate::{self, Event, Needle, Plan};
use super::{communes, events_file};
use crate::backends::embedding::multilingual::Role;
use crate::chapter::RunContext;
use crate::dataset::dataset_ref;
use crate::error::Result;
use crate::notebook::DatasetRef;
use crate::retrieval::hnsw::HnswParams;

/// The run's parameters, typed.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The generator's plan (its `today` is also the requests' today).
    pub plan: Plan,
    /// Requests sampled per language.
    pub requests_per_language: usize,
    /// How the HNSW graph is built.
    pub hnsw: HnswParams,
    /// The search beam the chapter's HNSW figures are given at.
    pub ef: usize,
    /// Tokens the embedder keeps of a text.
    pub max_tokens: usize,
    /// The role the multilingual model embeds requests in.
    pub e5_requests_as: Role,
}

impl Settings {
    /// The settings of `ctx`'s parameters.
    pub fn of(ctx: &RunContext) -> Result<Settings> {
        let p = &ctx.params;
        Ok(Settings {
            plan: Plan {
                seed: p.get("seed")?,
                events: p.get("events")?,
                today: p.get::<NaiveDate>("today")?,
                horizon_days: p.get("horizon_days")?,
                near_misses: p.get("near_misses")?,
            },
            requests_per_language: p.get("requests")?,
            hnsw: HnswParams {
                connections: p.get("hnsw_connections")?,
                ef_construction: p.get("hnsw_ef_construction")?,
            },
            ef: p.get("ef")?,
            max_tokens: p.get("max_tokens")?,
            e5_requests_as: if p.get::<bool>("e5_requests_as_queries")? {
                Role::Query
            } else {
                Role::Passage
            },
        })
    }
}

/// The events a run works on.
pub struct Input {
    /// The folder the events file was read from.
    pub dir: PathBuf,
    /// The events file's name in it (`events.jsonl`, or a user's `events.csv`).
    pub file: &'static str,
    /// The events, in file order (a row is an index into this).
    pub events: Vec<Event>,
    /// The planted needle, when the events were generated (its row is where it was
    /// written; the chapter finds it by id in what it read).
    pub needle: Option<Needle>,
    /// The files read, with their sha256.
    pub datasets: Vec<DatasetRef>,
}

/// Generates (or takes the user's) events and reads them back.
pub fn read(ctx: &RunContext, settings: &Settings) -> Result<Input> {
    let mut datasets = Vec::new();
    let (dir, needle) = match &ctx.data_override {
        Some(dir) => (ctx.input_dir(dir)?, None),
        None => {
            let places_dir = ctx.input_dir(&ctx.dataset_dir())?;
            let places = communes::read(&places_dir)?;
            datasets.push(dataset_ref(
                &places_dir,
                communes::FILE,
                Some(places.len() as u64),
            )?);
            ctx.progress.step("generating the events");
            let dir = ctx.generated_data_dir(&(&settings.plan, &places));
            let (events, needle) = generate::generate(&settings.plan, &places);
            events_file::write(&dir, &events)?;
            (ctx.input_dir(&dir)?, Some(needle))
        }
    };
    let file = events_file::locate(&dir)?;
    let events = events_file::read_named(&dir, file)?;
    datasets.push(dataset_ref(&dir, file, Some(events.len() as u64))?);
    Ok(Input {
        dir,
        file,
        events,
        needle,
        datasets,
    })
}

/// The events file of `settings` written into `dir`, for `data verify`.
pub fn generate_into(
    ctx: &RunContext,
    settings: &Settings,
    dir: &std::path::Path,
) -> Result<Vec<DatasetRef>> {
    let places = communes::read(&ctx.dataset_dir())?;
    let (events, _) = generate::generate(&settings.plan, &places);
    events_file::write(dir, &events)?;
    Ok(vec![dataset_ref(
        dir,
        events_file::FILE,
        Some(events.len() as u64),
    )?])
}
