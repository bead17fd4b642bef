//! Chapter 5, GreenCoop: weather readings from heterogeneous stations (InfoClimat's JSON in
//! metric units, Weather Underground's workbooks in imperial units and local time) staged in
//! object storage, normalised to one document schema, loaded into a MongoDB-wire document
//! store through the official driver, audited there with aggregation pipelines, monitored
//! against declared alarm rules, and backed up and restored with checksums.

pub mod audit;
pub mod generate;
pub mod infoclimat;
pub mod pipeline;
pub mod reading;
pub mod units;
pub mod wunderground;

use std::path::{Path, PathBuf};

use mongodb::bson::{doc, Document};

use crate::chapter::{Allowed, Chapter, InputFile, Meta, ParamSpec, RunContext};
use crate::dataset::{dataset_ref, sha256_bytes};
use crate::docstore::{number, pipeline_text, to_frame};
use crate::embedded;
use crate::error::{Error, Result};
use crate::notebook::{DatasetRef, Notebook, Source, Status, Value};
use crate::objstore::Target;
use pipeline::{Outcome, StationDecl};

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
    pub id: String,
    pub metric: String,
    pub above: f64,
    pub meaning: String,
}

fn declared<T: serde::de::DeserializeOwned>(file: &str) -> Result<T> {
    let text = embedded::chapter_file(CHAPTER, file)
        .ok_or_else(|| Error::chapter(CHAPTER, format!("no chapters/{CHAPTER}/{file}")))?;
    toml::from_str(text).map_err(|e| Error::chapter(CHAPTER, format!("{file}: {e}")))
}

pub fn stations() -> Result<Vec<StationDecl>> {
    #[derive(serde::Deserialize)]
    struct File {
        station: Vec<StationDecl>,
    }
    Ok(declared::<File>("stations.toml")?.station)
}

pub fn alarm_rules() -> Result<Vec<AlarmRule>> {
    #[derive(serde::Deserialize)]
    struct File {
        alarm: Vec<AlarmRule>,
    }
    Ok(declared::<File>("alarms.toml")?.alarm)
}

impl GreenCoop {
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
                    .map_err(|e| Error::chapter(CHAPTER, format!("stations.toml: {e}")))?;
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
        let dir = ctx
            .generated_dir
            .join("data")
            .join(&sha256_bytes(format!("{plan:?}").as_bytes())[..16]);
        let (_, planted) =
            generate::generate(&plan, &dir).map_err(|e| Error::chapter(CHAPTER, e))?;
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
        let mut nb = Notebook::new(CHAPTER);
        nb.params = ctx.params.all().clone();
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
        .map_err(Error::Usage)?;
        let restore_input = |dir: &Path| ctx.input_dir(dir).map_err(|e| e.to_string());
        let config = pipeline::Config {
            restore_input: &restore_input,
            infoclimat,
            workbooks,
            stations: stations()?,
            pressure_bug: ctx.params.get("pressure_bug")?,
            mongo_uri: ctx.backends.mongo_uri.clone(),
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
            pipeline::PipelineError::Failed(message) => Error::chapter(CHAPTER, message),
        })?;
        let capacity_mib: f64 = ctx.params.get("capacity_mib")?;
        report(&mut nb, &outcome, planted.as_ref(), capacity_mib)?;
        Ok(nb)
    }

    fn generate(&self, ctx: &RunContext, dir: &Path) -> Result<Option<Vec<DatasetRef>>> {
        let (files, _) =
            generate::generate(&Self::plan(ctx)?, dir).map_err(|e| Error::chapter(CHAPTER, e))?;
        Ok(Some(
            files
                .iter()
                .map(|f| dataset_ref(dir, f, None))
                .collect::<Result<Vec<_>>>()?,
        ))
    }
}

fn int(v: usize) -> Value {
    Value::Int(v as i64)
}

fn float(value: f64, decimals: u32) -> Value {
    Value::Float { value, decimals }
}

fn frame(docs: &[Document], columns: &[&str]) -> Result<polars::prelude::DataFrame> {
    to_frame(docs, columns).map_err(|e| Error::chapter(CHAPTER, e))
}

fn table(nb: &mut Notebook, name: &str, docs: &[Document], columns: &[String]) -> Result<()> {
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    nb.add_table(name, frame(docs, &cols)?, Source::query(name))
}

/// Per source, the fields it never filled (0 %) and those it filled in under half of its
/// documents, as text the prose quotes (`none` when there are none).
fn completeness_findings(nb: &mut Notebook, per_source: &[Document]) -> Result<()> {
    let mut never = Vec::new();
    let mut sparse = Vec::new();
    for d in per_source {
        let source = d.get_str("source").unwrap_or("?");
        let share = |field: &str| number(d, field).unwrap_or(0.0);
        let fields = |keep: &dyn Fn(f64) -> bool| -> Vec<&str> {
            reading::FIELDS
                .iter()
                .map(|field| field.name)
                .filter(|name| keep(share(name)))
                .collect()
        };
        let none = fields(&|pct| pct == 0.0);
        let few = fields(&|pct| pct > 0.0 && pct < 50.0);
        if !none.is_empty() {
            never.push(format!("{source}: {}", none.join(", ")));
        }
        if !few.is_empty() {
            sparse.push(format!("{source}: {}", few.join(", ")));
        }
    }
    let text = |parts: Vec<String>| {
        Value::Text(if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join("; ")
        })
    };
    nb.add_finding(
        "completeness.never_measured",
        text(never),
        None,
        Source::query("completeness"),
    )?;
    nb.add_finding(
        "completeness.under_half",
        text(sparse),
        None,
        Source::query("completeness"),
    )
}

/// A metric rounded as the book shows it, so the table and the finding agree.
fn rounded(value: f64, decimals: u32) -> f64 {
    units::round_to(value, decimals as i32)
}

/// Findings, tables, metrics, alarms and checks from one run.
fn report(
    nb: &mut Notebook,
    o: &Outcome,
    planted: Option<&generate::Planted>,
    capacity_mib: f64,
) -> Result<()> {
    let f = |name: &str| Source::function(name);
    nb.add_finding(
        "store.server",
        Value::Text(o.server.clone()),
        None,
        f("docstore::DocStore::connect"),
    )?;
    for (pipeline, docs) in &o.audits {
        nb.queries
            .insert(pipeline.name.to_string(), pipeline_text(&pipeline.stages));
        table(nb, pipeline.name, docs, &pipeline.columns)?;
    }

    // Staging and normalising.
    let staged: Vec<Document> = o
        .staged
        .iter()
        .map(|s| doc! {"object": &s.key, "bytes": s.bytes as i64, "rows_read": s.rows_read as i64, "readings": s.readings as i64, "quarantined": s.quarantined as i64, "blank_rows": s.blank_rows as i64})
        .collect();
    nb.add_table(
        "staged",
        frame(
            &staged,
            &[
                "object",
                "bytes",
                "rows_read",
                "readings",
                "quarantined",
                "blank_rows",
            ],
        )?,
        f("greencoop::pipeline::stage"),
    )?;
    let parse_src = f("greencoop::pipeline::run (parse)");
    let rows_read = o.parsed.rows_read();
    let quarantined = o.parsed.quarantined.len();
    nb.add_finding("rows.read", int(rows_read), Some("rows"), parse_src.clone())?;
    nb.add_finding(
        "rows.readings",
        int(o.parsed.readings.len()),
        Some("rows"),
        parse_src.clone(),
    )?;
    nb.add_finding(
        "rows.quarantined",
        int(quarantined),
        Some("rows"),
        parse_src.clone(),
    )?;
    nb.add_finding(
        "rows.blank",
        int(o.parsed.blank_rows),
        Some("rows"),
        parse_src.clone(),
    )?;
    nb.add_finding(
        "rows.input_duplicates",
        int(o.parsed.readings.len() - o.distinct_readings),
        Some("rows"),
        parse_src,
    )?;
    let load_src = f("docstore::DocStore::insert_unordered");
    nb.add_finding(
        "load.inserted",
        int(o.first_load.inserted),
        Some("documents"),
        load_src.clone(),
    )?;
    nb.add_finding(
        "load.refused",
        int(o.first_load.duplicates.len()),
        Some("documents"),
        load_src.clone(),
    )?;
    nb.add_finding(
        "rerun.inserted",
        int(o.second_load.inserted),
        Some("documents"),
        load_src.clone(),
    )?;
    nb.add_finding(
        "rerun.refused",
        int(o.second_load.duplicates.len()),
        Some("documents"),
        load_src,
    )?;
    nb.add_finding(
        "store.ours",
        Value::Int(o.ours_in_store as i64),
        Some("documents"),
        f("docstore::DocStore::count"),
    )?;
    nb.add_finding(
        "store.documents",
        Value::Int(o.documents_in_store as i64),
        Some("documents"),
        f("docstore::DocStore::count"),
    )?;
    nb.add_finding(
        "store.quarantine",
        Value::Int(o.quarantine_stored as i64),
        Some("records"),
        f("docstore::DocStore::count"),
    )?;

    // The rule table the violations pipeline is built from, as the book shows it.
    let rules: Vec<Document> = reading::FIELDS
        .iter()
        .filter_map(|field| field.range.map(|(low, high)| doc! {"field": field.name, "unit": field.unit, "min": low, "max": high}))
        .collect();
    nb.add_table(
        "range_rules",
        frame(&rules, &["field", "unit", "min", "max"])?,
        f("greencoop::reading::FIELDS"),
    )?;
    // The wind rule as the prose restates it, from the same table (km/h, and m/s).
    let wind_max_kmh = reading::FIELDS
        .iter()
        .find(|field| field.name == "wind_kmh")
        .and_then(|field| field.range)
        .map_or(f64::NAN, |(_, high)| high);
    nb.add_finding(
        "rules.wind_max_kmh",
        Value::Float {
            value: wind_max_kmh,
            decimals: 0,
        },
        Some("km/h"),
        f("greencoop::reading::FIELDS"),
    )?;
    nb.add_finding(
        "rules.wind_max_ms",
        Value::Float {
            value: wind_max_kmh / 3.6,
            decimals: 0,
        },
        Some("m/s"),
        f("greencoop::reading::FIELDS"),
    )?;
    completeness_findings(nb, o.audit("completeness"))?;

    // Audit figures.
    let violations = o.audit("violations");
    let violating: f64 = violations
        .iter()
        .filter_map(|d| number(d, "any_rule"))
        .sum();
    let documents: f64 = violations
        .iter()
        .filter_map(|d| number(d, "documents"))
        .sum();
    nb.add_finding(
        "audit.violating_documents",
        Value::Int(violating as i64),
        Some("documents"),
        Source::query("violations"),
    )?;
    let pressure_violations: f64 = violations
        .iter()
        .filter_map(|d| number(d, "pressure_hpa"))
        .sum();
    nb.add_finding(
        "audit.pressure_violations",
        Value::Int(pressure_violations as i64),
        Some("documents"),
        Source::query("violations"),
    )?;
    nb.add_finding(
        "audit.duplicate_keys",
        int(o.audit("duplicate_keys").len()),
        Some("keys"),
        Source::query("duplicate_keys"),
    )?;
    let gaps = o.audit("gaps");
    let longest_gap = gaps
        .iter()
        .filter_map(|d| number(d, "longest_gap_min"))
        .fold(0.0, f64::max);
    let gaps_over: f64 = gaps
        .iter()
        .filter_map(|d| number(d, "gaps_over_limit"))
        .sum();
    nb.add_finding(
        "audit.longest_gap_min",
        Value::Int(longest_gap as i64),
        Some("min"),
        Source::query("gaps"),
    )?;
    nb.add_finding(
        "audit.gaps_over_limit",
        Value::Int(gaps_over as i64),
        Some("gaps"),
        Source::query("gaps"),
    )?;
    let per_station = o.audit("per_station");
    nb.add_finding(
        "audit.stations",
        int(per_station.len()),
        Some("stations"),
        Source::query("per_station"),
    )?;

    // Monitoring metrics and alarms.
    let mib = o.storage_used_bytes as f64 / (1024.0 * 1024.0);
    let stalest = stalest_station_h(per_station);
    let metrics: Vec<(&str, f64, u32, &str, Source)> = vec![
        (
            "error_rate_pct",
            if rows_read == 0 {
                0.0
            } else {
                100.0 * quarantined as f64 / rows_read as f64
            },
            2,
            "%",
            f("greencoop::report (quarantined ÷ read)"),
        ),
        (
            "storage_used_pct",
            100.0 * mib / capacity_mib,
            2,
            "%",
            f("docstore::DocStore::command (dbStats.dataSize ÷ capacity)"),
        ),
        (
            "stalest_station_h",
            stalest,
            2,
            "h",
            Source::query("per_station"),
        ),
        (
            "longest_gap_min",
            longest_gap,
            0,
            "min",
            Source::query("gaps"),
        ),
        (
            "violation_rate_pct",
            if documents == 0.0 {
                0.0
            } else {
                100.0 * violating / documents
            },
            2,
            "%",
            Source::query("violations"),
        ),
    ];
    nb.add_finding(
        "metrics.storage_used_mib",
        float(mib, 2),
        Some("MiB"),
        f("docstore::DocStore::command (dbStats.dataSize)"),
    )?;
    for (name, value, decimals, unit, source) in &metrics {
        nb.add_finding(
            &format!("metrics.{name}"),
            float(*value, *decimals),
            Some(unit),
            source.clone(),
        )?;
    }
    let rules = alarm_rules()?;
    let mut alarm_rows = Vec::new();
    let mut alarm_checks = Vec::new();
    let mut firing = 0;
    for rule in &rules {
        let (_, value, decimals, _, _) =
            metrics.iter().find(|m| m.0 == rule.metric).ok_or_else(|| {
                Error::chapter(
                    CHAPTER,
                    format!(
                        "alarms.toml: alarm {} watches unknown metric {}",
                        rule.id, rule.metric
                    ),
                )
            })?;
        let fires = *value > rule.above;
        firing += fires as i64;
        nb.add_finding(
            &format!("alarm.{}", rule.id),
            Value::Text(if fires { "ALARM" } else { "OK" }.into()),
            None,
            f("greencoop::report (alarms.toml)"),
        )?;
        alarm_checks.push((
            rule.id.clone(),
            rule.meaning.clone(),
            rule.metric.clone(),
            rounded(*value, *decimals),
            rule.above,
            fires,
        ));
        alarm_rows.push(doc! {
            "alarm": &rule.id, "metric": &rule.metric, "value": rounded(*value, *decimals), "above": rule.above,
            "state": if fires { "ALARM" } else { "OK" }, "meaning": &rule.meaning,
        });
    }
    nb.add_finding(
        "alarms.firing",
        Value::Int(firing),
        Some("alarms"),
        f("greencoop::report (alarms.toml)"),
    )?;
    nb.add_table(
        "alarms",
        frame(
            &alarm_rows,
            &["alarm", "metric", "value", "above", "state", "meaning"],
        )?,
        f("greencoop::report (alarms.toml)"),
    )?;

    // Backup.
    let b = &o.backup;
    nb.add_finding(
        "backup.documents",
        int(b.documents),
        Some("documents"),
        f("greencoop::pipeline::backup_and_restore"),
    )?;
    nb.add_finding(
        "backup.restored",
        int(b.restored),
        Some("documents"),
        f("greencoop::pipeline::backup_and_restore"),
    )?;
    nb.add_finding(
        "backup.hash",
        Value::Text(b.hash_original[..16].to_string()),
        None,
        f("docstore::content_hash"),
    )?;
    nb.add_finding(
        "backup.bson_bytes",
        int(b.files[0].1),
        Some("bytes"),
        f("docstore::dump::write"),
    )?;
    let backup_rows: Vec<Document> = b
        .files
        .iter()
        .map(|(key, bytes, sha)| doc! {"object": key, "bytes": *bytes as i64, "sha256": &sha[..16]})
        .collect();
    nb.add_table(
        "backup_files",
        frame(&backup_rows, &["object", "bytes", "sha256"])?,
        f("docstore::dump::write"),
    )?;

    checks(nb, o, planted)?;
    // Each alarm is a check on the run: it holds while its metric stays at or below the
    // threshold declared in alarms.toml.
    for (id, meaning, metric, value, above, fires) in alarm_checks {
        nb.add_check(
            &format!("alarm.{id}"),
            &format!("the {id} alarm does not fire: not ({meaning})"),
            Status::of(!fires, || {
                format!("{metric} = {value}, above {above}: {meaning}")
            }),
            &[&format!("alarm.{id}"), &format!("metrics.{metric}")],
        )?;
    }
    Ok(())
}

/// Hours between the newest reading of any station and the latest of the stalest one.
fn stalest_station_h(per_station: &[Document]) -> f64 {
    let last: Vec<chrono::NaiveDateTime> = per_station
        .iter()
        .filter_map(|d| d.get_str("last_utc").ok())
        .filter_map(|t| chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M").ok())
        .collect();
    match (last.iter().max(), last.iter().min()) {
        (Some(newest), Some(oldest)) => (*newest - *oldest).num_minutes() as f64 / 60.0,
        _ => 0.0,
    }
}

fn checks(nb: &mut Notebook, o: &Outcome, planted: Option<&generate::Planted>) -> Result<()> {
    // Three counts from three places: rows read (the parser), readings and quarantined rows
    // in the store (counted from the server), duplicates (the parser's keys). A copy refused
    // as a duplicate counts only if it is the same reading as the one kept.
    let read = o.parsed.rows_read();
    let input_duplicates = o.parsed.readings.len() - o.distinct_readings;
    let identical_duplicates = input_duplicates - o.conflicting_copies;
    nb.add_check(
        "rows.conserved",
        "every row read is in the store, an identical copy the unique key refused, or in the quarantine collection: read = readings stored + identical duplicates + quarantined rows stored, each counted where it is",
        Status::of(read as u64 == o.ours_in_store + identical_duplicates as u64 + o.quarantine_stored, || {
            format!(
                "read {read}, readings in store {}, identical duplicates {identical_duplicates}, quarantined rows in store {}; {} copies differ from the reading kept under their key: {}",
                o.ours_in_store,
                o.quarantine_stored,
                o.conflicting_copies,
                o.conflicting_keys.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
            )
        }),
        &["rows.read", "store.ours", "rows.input_duplicates", "store.quarantine"],
    )?;
    let b = &o.backup;
    nb.add_check(
        "backup.restored_identical",
        "the backup, fetched back from object storage with its checksums verified and restored into an empty database, holds the same documents: same count, same content hash",
        Status::of(b.documents == b.restored && b.hash_original == b.hash_restored && b.checksum_problems.is_empty(), || {
            let short = |h: &str| h.chars().take(12).collect::<String>();
            format!(
                "{} documents backed up, {} restored, hashes {} / {}; checksum problems: {}",
                b.documents,
                b.restored,
                short(&b.hash_original),
                if b.hash_restored.is_empty() { "(nothing restored)".to_string() } else { short(&b.hash_restored) },
                if b.checksum_problems.is_empty() { "none".to_string() } else { b.checksum_problems.join("; ") }
            )
        }),
        &["backup.documents", "backup.restored", "backup.hash"],
    )?;
    let status = match planted {
        Some(p) => {
            let wu: Vec<&pipeline::Staged> = o
                .staged
                .iter()
                .filter(|s| s.source == wunderground::SOURCE)
                .collect();
            let wu_quarantined: usize = wu.iter().map(|s| s.quarantined).sum();
            let wu_blank: usize = wu.iter().map(|s| s.blank_rows).sum();
            let wu_rows: usize = wu.iter().map(|s| s.rows_read).sum();
            Status::of(
                wu_quarantined == p.bad_rows
                    && wu_blank == p.blank_rows
                    && wu_rows == p.rows_written
                    && input_duplicates == p.duplicate_rows,
                || {
                    format!(
                    "generator: {} rows, {} bad, {} blank, {} duplicated; pipeline: {wu_rows} rows, {wu_quarantined} quarantined, {wu_blank} blank, {input_duplicates} duplicates",
                    p.rows_written, p.bad_rows, p.blank_rows, p.duplicate_rows
                )
                },
            )
        }
        None => Status::NotApplicable(
            "the workbooks were given with --data: nothing was planted to compare with".into(),
        ),
    };
    nb.add_check(
        "generator.traps_found",
        "every trap the generator planted is found: bad values quarantined, blank rows skipped, duplicated rows refused",
        status,
        &["rows.quarantined", "rows.blank", "rows.input_duplicates"],
    )?;
    Ok(())
}
