//! GreenCoop's report: what the pipeline did (rows staged, parsed, quarantined, loaded twice),
//! the audits the document store ran (per station, completeness, violations, duplicate keys,
//! gaps), the storage used against the capacity, the alarms, and the backup.

use crate::backends::docstore::{number, pipeline_text, to_frame};
use crate::error::{Error, Result};
use crate::frame;
use crate::notebook::{Notebook, Source, Status, Value};
use mongodb::bson::{doc, Document};

use super::pipeline::Outcome;
use super::reading;
use super::{alarm_rules, checks, generate, CHAPTER};

pub(super) fn frame(docs: &[Document], columns: &[&str]) -> Result<polars::prelude::DataFrame> {
    to_frame(docs, columns).map_err(Error::within(CHAPTER))
}

pub(super) fn table(
    nb: &mut Notebook,
    name: &str,
    docs: &[Document],
    columns: &[String],
) -> Result<()> {
    let cols: Vec<&str> = columns.iter().map(String::as_str).collect();
    nb.add_table(name, frame(docs, &cols)?, Source::query(name))
}

/// Per source, the fields it never filled (0 %) and those it filled in under half of its
/// documents, as text the prose quotes (`none` when there are none).
pub(super) fn completeness_findings(nb: &mut Notebook, per_source: &[Document]) -> Result<()> {
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

/// Findings, tables, metrics, alarms and checks from one run, in the order the page reads.
pub(super) fn report(
    nb: &mut Notebook,
    o: &Outcome,
    planted: Option<&generate::Planted>,
    capacity_mib: f64,
) -> Result<()> {
    store_and_audits(nb, o)?;
    pipeline_counts(nb, o)?;
    range_rules(nb)?;
    completeness_findings(nb, o.audit("completeness"))?;
    documents_per_source(nb, o)?;
    let figures = audit_figures(nb, o)?;
    let metrics = metrics(nb, o, &figures, capacity_mib)?;
    let alarms = alarms(nb, &metrics)?;
    backup(nb, o)?;
    checks::all(nb, o, planted)?;
    alarm_checks(nb, &alarms)
}

/// The server the run used and every audit pipeline's text and result table.
fn store_and_audits(nb: &mut Notebook, o: &Outcome) -> Result<()> {
    nb.add_finding(
        "store.server",
        Value::Text(o.server.clone()),
        None,
        crate::function_source!(crate::backends::docstore::DocStore::open),
    )?;
    for (pipeline, docs) in &o.audits {
        nb.queries
            .insert(pipeline.name.to_string(), pipeline_text(&pipeline.stages));
        table(nb, pipeline.name, docs, &pipeline.columns)?;
    }
    Ok(())
}

/// Staging, parsing, the two loads and what the store holds afterwards.
fn pipeline_counts(nb: &mut Notebook, o: &Outcome) -> Result<()> {
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
        crate::function_source!(crate::chapters::greencoop::pipeline::stage),
    )?;
    let parsed = crate::function_source!(crate::chapters::greencoop::pipeline::run; "parse");
    let counts = [
        ("rows.read", o.parsed.rows_read()),
        ("rows.readings", o.parsed.readings.len()),
        ("rows.quarantined", o.parsed.quarantined.len()),
        ("rows.blank", o.parsed.blank_rows),
        (
            "rows.input_duplicates",
            o.parsed.readings.len() - o.distinct_readings,
        ),
    ];
    for (key, rows) in counts {
        nb.add_finding(key, Value::count(rows), Some("rows"), parsed.clone())?;
    }
    let loaded = crate::function_source!(crate::backends::docstore::DocStore::insert_unordered);
    let loads = [
        ("load.inserted", o.first_load.inserted),
        ("load.refused", o.first_load.duplicates.len()),
        ("rerun.inserted", o.second_load.inserted),
        ("rerun.refused", o.second_load.duplicates.len()),
    ];
    for (key, documents) in loads {
        nb.add_finding(
            key,
            Value::count(documents),
            Some("documents"),
            loaded.clone(),
        )?;
    }
    let counted = crate::function_source!(crate::backends::docstore::DocStore::count);
    let stored = [
        ("store.ours", o.ours_in_store, "documents"),
        ("store.documents", o.documents_in_store, "documents"),
        ("store.quarantine", o.quarantine_stored, "records"),
    ];
    for (key, n, unit) in stored {
        nb.add_finding(key, Value::Int(n as i64), Some(unit), counted.clone())?;
    }
    Ok(())
}

/// The rule table the violations pipeline is built from, and the wind rule as the prose
/// restates it (km/h, and m/s), both from `reading::FIELDS`.
fn range_rules(nb: &mut Notebook) -> Result<()> {
    let declared = crate::function_source!(crate::chapters::greencoop::reading::FIELDS);
    let rules: Vec<Document> = reading::FIELDS
        .iter()
        .filter_map(|field| field.range.map(|(low, high)| doc! {"field": field.name, "unit": field.unit, "min": low, "max": high}))
        .collect();
    nb.add_table(
        "range_rules",
        frame(&rules, &["field", "unit", "min", "max"])?,
        declared.clone(),
    )?;
    let wind_max_kmh = reading::FIELDS
        .iter()
        .find(|field| field.name == "wind_kmh")
        .and_then(|field| field.range)
        .map_or(f64::NAN, |(_, high)| high);
    nb.add_finding(
        "rules.wind_max_kmh",
        Value::float(wind_max_kmh, 0),
        Some("km/h"),
        declared.clone(),
    )?;
    nb.add_finding(
        "rules.wind_max_ms",
        Value::float(wind_max_kmh / 3.6, 0),
        Some("m/s"),
        declared,
    )
}

/// The chapter's headline answer, in the findings JSON: documents loaded per source.
fn documents_per_source(nb: &mut Notebook, o: &Outcome) -> Result<()> {
    let per_source = o
        .audit("completeness")
        .iter()
        .map(|d| {
            let mut row = serde_json::Map::new();
            row.insert(
                "source".into(),
                d.get_str("source").unwrap_or_default().into(),
            );
            row.insert(
                "documents".into(),
                number(d, "documents").map_or(serde_json::Value::Null, |n| (n as i64).into()),
            );
            row
        })
        .collect();
    nb.add_finding(
        "store.documents_per_source",
        Value::Rows(per_source),
        None,
        Source::query("completeness"),
    )
}

/// The audit totals the metrics are computed from.
struct AuditFigures {
    /// Documents breaking at least one range rule.
    violating: f64,
    /// Documents the violations audit looked at.
    documents: f64,
    /// The longest gap between two readings of one station, in minutes.
    longest_gap_min: f64,
}

/// The violations, duplicate keys, gaps and stations the audits found.
fn audit_figures(nb: &mut Notebook, o: &Outcome) -> Result<AuditFigures> {
    let violations = o.audit("violations");
    let total = |docs: &[Document], field: &str| -> f64 {
        docs.iter().filter_map(|d| number(d, field)).sum()
    };
    let violating = total(violations, "any_rule");
    let documents = total(violations, "documents");
    nb.add_finding(
        "audit.violating_documents",
        Value::Int(violating as i64),
        Some("documents"),
        Source::query("violations"),
    )?;
    nb.add_finding(
        "audit.pressure_violations",
        Value::Int(total(violations, "pressure_hpa") as i64),
        Some("documents"),
        Source::query("violations"),
    )?;
    nb.add_finding(
        "audit.duplicate_keys",
        Value::count(o.audit("duplicate_keys").len()),
        Some("keys"),
        Source::query("duplicate_keys"),
    )?;
    let gaps = o.audit("gaps");
    let longest_gap_min = gaps
        .iter()
        .filter_map(|d| number(d, "longest_gap_min"))
        .fold(0.0, f64::max);
    nb.add_finding(
        "audit.longest_gap_min",
        Value::Int(longest_gap_min as i64),
        Some("min"),
        Source::query("gaps"),
    )?;
    nb.add_finding(
        "audit.gaps_over_limit",
        Value::Int(total(gaps, "gaps_over_limit") as i64),
        Some("gaps"),
        Source::query("gaps"),
    )?;
    nb.add_finding(
        "audit.stations",
        Value::count(o.audit("per_station").len()),
        Some("stations"),
        Source::query("per_station"),
    )?;
    Ok(AuditFigures {
        violating,
        documents,
        longest_gap_min,
    })
}

/// One monitored metric, as the alarms read it.
struct Metric {
    /// Its name in `alarms.toml` and in the findings (`metrics.<name>`).
    name: &'static str,
    /// Its value in this run.
    value: f64,
    /// Decimals shown.
    decimals: u32,
    /// Its unit.
    unit: &'static str,
    /// What computed it.
    source: Source,
}

/// Quarantined rows as a percentage of the rows read (0 when nothing was read).
fn error_rate_pct(rows_read: usize, quarantined: usize) -> f64 {
    if rows_read == 0 {
        0.0
    } else {
        100.0 * quarantined as f64 / rows_read as f64
    }
}

/// The monitoring metrics, each a finding, and the storage the database uses.
fn metrics(
    nb: &mut Notebook,
    o: &Outcome,
    figures: &AuditFigures,
    capacity_mib: f64,
) -> Result<Vec<Metric>> {
    let mib = o.storage_used_bytes as f64 / (1024.0 * 1024.0);
    let metrics = vec![
        Metric {
            name: "error_rate_pct",
            value: error_rate_pct(o.parsed.rows_read(), o.parsed.quarantined.len()),
            decimals: 2,
            unit: "%",
            source: crate::function_source!(crate::chapters::greencoop::report::error_rate_pct),
        },
        Metric {
            name: "storage_used_pct",
            value: 100.0 * mib / capacity_mib,
            decimals: 2,
            unit: "%",
            source: crate::function_source!(crate::backends::docstore::DocStore::command; "dbStats.dataSize ÷ capacity"),
        },
        Metric {
            name: "stalest_station_h",
            value: stalest_station_h(o.audit("per_station")),
            decimals: 2,
            unit: "h",
            source: Source::query("per_station"),
        },
        Metric {
            name: "longest_gap_min",
            value: figures.longest_gap_min,
            decimals: 0,
            unit: "min",
            source: Source::query("gaps"),
        },
        Metric {
            name: "violation_rate_pct",
            value: if figures.documents == 0.0 {
                0.0
            } else {
                100.0 * figures.violating / figures.documents
            },
            decimals: 2,
            unit: "%",
            source: Source::query("violations"),
        },
    ];
    nb.add_finding(
        "metrics.storage_used_mib",
        Value::float(mib, 2),
        Some("MiB"),
        crate::function_source!(crate::backends::docstore::DocStore::command; "dbStats.dataSize"),
    )?;
    for metric in &metrics {
        nb.add_finding(
            &format!("metrics.{}", metric.name),
            Value::float(metric.value, metric.decimals),
            Some(metric.unit),
            metric.source.clone(),
        )?;
    }
    Ok(metrics)
}

/// One alarm of `alarms.toml` evaluated on this run's metric.
struct Alarm {
    /// The alarm's id.
    id: String,
    /// What it means when it fires.
    meaning: String,
    /// The metric it watches.
    metric: String,
    /// The metric's value, rounded as shown.
    value: f64,
    /// The threshold it fires above.
    above: f64,
    /// Whether it fires.
    fires: bool,
}

/// Evaluates every alarm of `alarms.toml` against the metrics: a finding each, the number
/// firing, and the alarms table.
fn alarms(nb: &mut Notebook, metrics: &[Metric]) -> Result<Vec<Alarm>> {
    let declared =
        crate::function_source!(crate::chapters::greencoop::report::alarms; "alarms.toml");
    let mut alarms = Vec::new();
    for rule in alarm_rules()? {
        let metric = metrics
            .iter()
            .find(|m| m.name == rule.metric)
            .ok_or_else(|| {
                Error::chapter(
                    CHAPTER,
                    format!(
                        "alarms.toml: alarm {} watches unknown metric {}",
                        rule.id, rule.metric
                    ),
                )
            })?;
        let fires = metric.value > rule.above;
        nb.add_finding(
            &format!("alarm.{}", rule.id),
            Value::Text(if fires { "ALARM" } else { "OK" }.into()),
            None,
            declared.clone(),
        )?;
        alarms.push(Alarm {
            id: rule.id,
            meaning: rule.meaning,
            metric: rule.metric,
            value: frame::round_to(metric.value, metric.decimals),
            above: rule.above,
            fires,
        });
    }
    let firing = alarms.iter().filter(|alarm| alarm.fires).count();
    nb.add_finding(
        "alarms.firing",
        Value::count(firing),
        Some("alarms"),
        declared.clone(),
    )?;
    let rows: Vec<Document> = alarms
        .iter()
        .map(|a| {
            doc! {
                "alarm": &a.id, "metric": &a.metric, "value": a.value, "above": a.above,
                "state": if a.fires { "ALARM" } else { "OK" }, "meaning": &a.meaning,
            }
        })
        .collect();
    nb.add_table(
        "alarms",
        frame(
            &rows,
            &["alarm", "metric", "value", "above", "state", "meaning"],
        )?,
        declared,
    )?;
    Ok(alarms)
}

/// The backup to the object store and its restore.
fn backup(nb: &mut Notebook, o: &Outcome) -> Result<()> {
    let b = &o.backup;
    let backed_up =
        crate::function_source!(crate::chapters::greencoop::pipeline::backup_and_restore);
    nb.add_finding(
        "backup.documents",
        Value::count(b.documents),
        Some("documents"),
        backed_up.clone(),
    )?;
    nb.add_finding(
        "backup.restored",
        Value::count(b.restored),
        Some("documents"),
        backed_up,
    )?;
    nb.add_finding(
        "backup.hash",
        Value::Text(b.hash_original[..16].to_string()),
        None,
        crate::function_source!(crate::backends::docstore::content_hash),
    )?;
    let written = crate::function_source!(crate::backends::docstore::dump::write);
    nb.add_finding(
        "backup.bson_bytes",
        Value::count(b.files[0].1),
        Some("bytes"),
        written.clone(),
    )?;
    let backup_rows: Vec<Document> = b
        .files
        .iter()
        .map(|(key, bytes, sha)| doc! {"object": key, "bytes": *bytes as i64, "sha256": &sha[..16]})
        .collect();
    nb.add_table(
        "backup_files",
        frame(&backup_rows, &["object", "bytes", "sha256"])?,
        written,
    )
}

/// Each alarm is a check on the run: it holds while its metric stays at or below the
/// threshold declared in alarms.toml.
fn alarm_checks(nb: &mut Notebook, alarms: &[Alarm]) -> Result<()> {
    for a in alarms {
        nb.add_check(
            &format!("alarm.{}", a.id),
            &format!("the {} alarm does not fire: not ({})", a.id, a.meaning),
            Status::of(!a.fires, || {
                format!(
                    "{} = {}, above {}: {}",
                    a.metric, a.value, a.above, a.meaning
                )
            }),
            &[&format!("alarm.{}", a.id), &format!("metrics.{}", a.metric)],
        )?;
    }
    Ok(())
}

/// Hours between the newest reading of any station and the latest of the stalest one.
pub(super) fn stalest_station_h(per_station: &[Document]) -> f64 {
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
