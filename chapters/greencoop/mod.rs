//! Chapter 5, GreenCoop: weather readings from heterogeneous stations (InfoClimat's JSON in
//! metric units, Weather Underground's workbooks in imperial units and local time) staged in
//! object storage, normalised to one document schema, loaded into a MongoDB-wire document
//! store through the official driver, audited there with aggregation pipelines, monitored
//! against declared alarm rules, and backed up and restored with checksums.

pub mod audit;
mod checks;
pub mod generate;
pub mod infoclimat;
pub mod pipeline;
pub mod reading;
mod report;
pub mod units;
pub mod wunderground;

use std::path::{Path, PathBuf};

use mongodb::bson::doc;

use crate::backends::objstore::Target;
use crate::chapter::{Allowed, Chapter, InputFile, Meta, ParamSpec, RunContext};
use crate::dataset::dataset_ref;
use crate::embedded;
use crate::error::{Error, Result};
use crate::notebook::{DatasetRef, Notebook};
use pipeline::StationDecl;

/// The GreenCoop chapter.
pub struct GreenCoop;

const CHAPTER: &str = "greencoop";

const PARAMS: &[ParamSpec] = &[
    ParamSpec { name: "seed", default: "5", help: "seed of the generated Weather Underground workbooks",
        allowed: Allowed::Int { min: 0, max: i64::MAX }, },
    ParamSpec { name: "from", default: "2024-10-01T00:00", help: "first local time of the generated workbooks",
        allowed: Allowed::Any, },
    ParamSpec { name: "until", default: "2024-10-07T15:00", help: "last local time of the generated workbooks",
        allowed: Allowed::Any, },
    ParamSpec { name: "bad_rows", default: "3", help: "rows per generated station whose temperature is `--` (quarantined); 100 raises the error-rate alarm",
        allowed: Allowed::Int { min: 0, max: 10_000 }, },
    ParamSpec { name: "duplicate_rows", default: "2", help: "rows per generated station written twice (refused by the unique index)",
        allowed: Allowed::Int { min: 0, max: 1_000 }, },
    ParamSpec { name: "gap_hours", default: "0", help: "hours without readings in the first generated station (raises the gap alarm)",
        allowed: Allowed::Int { min: 0, max: 100 }, },
    ParamSpec { name: "outage_hours", default: "0", help: "hours the last generated station stops early (raises the freshness alarm)",
        allowed: Allowed::Int { min: 0, max: 100 }, },
    ParamSpec { name: "pressure_bug", default: "false", help: "load Weather Underground pressure in inHg as if it were hPa (the classic bug; raises the range alarm)",
        allowed: Allowed::Bool, },
    ParamSpec { name: "ballast_mib", default: "0", help: "MiB of filler documents written to the database (raises the storage alarm)",
        allowed: Allowed::Int { min: 0, max: 1_024 }, },
    ParamSpec { name: "capacity_mib", default: "64", help: "declared capacity of the database volume, MiB (the storage alarm's reference)",
        allowed: Allowed::Number { min: 1.0, max: 1_000_000.0 }, },
    ParamSpec { name: "database", default: "greencoop", help: "database the readings are loaded into",
        allowed: Allowed::Any, },
];

const INPUTS: &[InputFile] = &[
    InputFile { name: "*.json", required: false, help: "InfoClimat API exports (without one, the project's own `infoclimat_2024-10-05_07.json` is read)" },
    InputFile { name: "WU_*.xlsx", required: true, help: "Weather Underground workbooks, one per station declared in `chapters/greencoop/stations.toml`" },
];

static META: Meta = Meta {
    id: CHAPTER,
    number: 5,
    title: "GreenCoop: weather readings into a document store, audited",
    params: PARAMS,
    inputs: INPUTS,
};

/// An alarm rule of `alarms.toml`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct AlarmRule {
    /// The alarm's id (`alarm.<id>` in the findings and checks).
    pub id: String,
    /// The metric it watches (`metrics.<metric>`).
    pub metric: String,
    /// It fires when the metric is above this.
    pub above: f64,
    /// What it means when it fires.
    pub meaning: String,
}

/// The Weather Underground stations `stations.toml` declares (what their files do not say).
pub fn stations() -> Result<Vec<StationDecl>> {
    #[derive(serde::Deserialize)]
    struct File {
        station: Vec<StationDecl>,
    }
    Ok(embedded::declared::<File>(CHAPTER, "stations.toml")?.station)
}

/// The alarm rules `alarms.toml` declares.
pub fn alarm_rules() -> Result<Vec<AlarmRule>> {
    #[derive(serde::Deserialize)]
    struct File {
        alarm: Vec<AlarmRule>,
    }
    Ok(embedded::declared::<File>(CHAPTER, "alarms.toml")?.alarm)
}

impl GreenCoop {
    /// The generator's plan from the chapter's parameters.
    pub fn plan(ctx: &RunContext) -> Result<generate::Plan> {
        let p = &ctx.params;
        let local = |name: &str| -> Result<chrono::NaiveDateTime> {
            let raw: String = p.get(name)?;
            chrono::NaiveDateTime::parse_from_str(&raw, "%Y-%m-%dT%H:%M").map_err(|e| {
                Error::Usage(format!(
                    "chapter `{CHAPTER}`: {name} `{raw}`: {e} (write YYYY-MM-DDTHH:MM)"
                ))
            })
        };
        let stations = stations()?
            .into_iter()
            .map(|s| {
                let timezone = s
                    .timezone
                    .parse()
                    .map_err(Error::failed(CHAPTER, "stations.toml"))?;
                Ok(generate::StationPlan {
                    file: s.file,
                    timezone,
                    mean_c: s.mean_c,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let (from, until) = (local("from")?, local("until")?);
        // A local time a clock change skips (02:30 on the last Sunday of March in Paris) is
        // no time at all in that zone: refuse it, naming the parameter and the zone.
        for station in &stations {
            use chrono::TimeZone;
            for (name, time) in [("from", from), ("until", until)] {
                if station
                    .timezone
                    .from_local_datetime(&time)
                    .earliest()
                    .is_none()
                {
                    return Err(Error::Usage(format!(
                        "chapter `{CHAPTER}`: {name} `{}` does not exist in {} (the clocks skip it)",
                        time.format("%Y-%m-%dT%H:%M"),
                        station.timezone
                    )));
                }
            }
        }
        if from >= until {
            return Err(Error::Usage(format!(
                "chapter `{CHAPTER}`: from `{}` must come before until `{}`",
                from.format("%Y-%m-%dT%H:%M"),
                until.format("%Y-%m-%dT%H:%M")
            )));
        }
        Ok(generate::Plan {
            seed: p.get("seed")?,
            from,
            until,
            stations,
            bad_rows: p.get("bad_rows")?,
            duplicate_rows: p.get("duplicate_rows")?,
            gap_hours: p.get("gap_hours")?,
            outage_hours: p.get("outage_hours")?,
        })
    }

    /// The generated workbooks for this run's parameters (written once per parameter set).
    fn generated(ctx: &RunContext) -> Result<(PathBuf, generate::Planted)> {
        let plan = Self::plan(ctx)?;
        let dir = ctx.generated_data_dir(&plan);
        let (_, planted) = generate::generate(&plan, &dir)?;
        Ok((dir, planted))
    }
}

/// Files of `dir` matching a source, sorted.
fn files_in(dir: &Path, keep: impl Fn(&str) -> bool) -> Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(Error::io(dir))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && p.file_name().and_then(|n| n.to_str()).is_some_and(&keep))
        .collect();
    out.sort();
    Ok(out)
}

impl Chapter for GreenCoop {
    fn meta(&self) -> &Meta {
        &META
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        let mut nb = ctx.notebook();
        let is_json = |n: &str| n.ends_with(".json");
        let is_wu = |n: &str| n.starts_with("WU_") && n.ends_with(".xlsx");
        let (infoclimat, workbooks, planted) = match &ctx.data_override {
            Some(dir) => {
                let dir = ctx.input_dir(dir)?;
                let mut json = files_in(&dir, is_json)?;
                if json.is_empty() {
                    json = files_in(&ctx.input_dir(&ctx.dataset_dir())?, is_json)?;
                }
                let wu = files_in(&dir, is_wu)?;
                if wu.is_empty() {
                    return Err(Error::Usage(format!(
                        "chapter `{CHAPTER}`: no Weather Underground workbook (WU_*.xlsx) in {}",
                        dir.display()
                    )));
                }
                (json, wu, None)
            }
            None => {
                ctx.progress
                    .step("generating the Weather Underground workbooks");
                let (dir, planted) = Self::generated(ctx)?;
                (
                    files_in(&ctx.input_dir(&ctx.dataset_dir())?, is_json)?,
                    files_in(&ctx.input_dir(&dir)?, is_wu)?,
                    Some(planted),
                )
            }
        };
        for path in infoclimat.iter().chain(&workbooks) {
            let dir = path.parent().expect("a file in a folder");
            nb.datasets.push(dataset_ref(
                dir,
                &path.file_name().expect("a file").to_string_lossy(),
                None,
            )?);
        }

        let work = ctx.scratch_dir("greencoop-")?;
        let unique = work
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .unwrap_or_default();
        let landing = Target::for_run(
            ctx.backends.s3_endpoint.as_deref(),
            ctx.backends.s3_bucket.as_deref(),
            CHAPTER,
            &unique,
            work.path().join("lake"),
        )
        .map_err(|e| Error::Usage(e.to_string()))?;
        let restore_input = |dir: &Path| ctx.input_dir(dir);
        let config = pipeline::Config {
            restore_input: &restore_input,
            infoclimat,
            workbooks,
            stations: stations()?,
            pressure_bug: ctx.params.get("pressure_bug")?,
            mongo_uri: ctx.backends.mongo_uri.clone(),
            local_store: ctx.backends.local_docstore.clone(),
            database: ctx.params.get("database")?,
            landing,
            work_dir: work.path().to_path_buf(),
            ballast_mib: ctx.params.get("ballast_mib")?,
            // Gaps are listed against the gap alarm's own threshold.
            max_gap_min: alarm_rules()?
                .iter()
                .find(|r| r.metric == "longest_gap_min")
                .map(|r| r.above as i64)
                .unwrap_or(60),
        };
        ctx.progress
            .step("staging, normalising, loading and auditing");
        let outcome = pipeline::run(&config).map_err(|e| match e {
            pipeline::PipelineError::NoStore(e) => Error::no_document_store(CHAPTER, e),
            other => Error::within(CHAPTER)(other),
        })?;
        let capacity_mib: f64 = ctx.params.get("capacity_mib")?;
        report::report(&mut nb, &outcome, planted.as_ref(), capacity_mib)?;
        Ok(nb)
    }

    fn generate(&self, ctx: &RunContext, dir: &Path) -> Result<Option<Vec<DatasetRef>>> {
        let (files, _) = generate::generate(&Self::plan(ctx)?, dir)?;
        Ok(Some(
            files
                .iter()
                .map(|f| dataset_ref(dir, f, None))
                .collect::<Result<Vec<_>>>()?,
        ))
    }
}
