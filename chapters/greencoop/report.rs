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

/// Findings, tables, metrics, alarms and checks from one run.
pub(super) fn report(
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
    nb.add_finding(
        "rows.read",
        Value::count(rows_read),
        Some("rows"),
        parse_src.clone(),
    )?;
    nb.add_finding(
        "rows.readings",
        Value::count(o.parsed.readings.len()),
        Some("rows"),
        parse_src.clone(),
    )?;
    nb.add_finding(
        "rows.quarantined",
        Value::count(quarantined),
        Some("rows"),
        parse_src.clone(),
    )?;
    nb.add_finding(
        "rows.blank",
        Value::count(o.parsed.blank_rows),
        Some("rows"),
        parse_src.clone(),
    )?;
    nb.add_finding(
        "rows.input_duplicates",
        Value::count(o.parsed.readings.len() - o.distinct_readings),
        Some("rows"),
        parse_src,
    )?;
    let load_src = f("docstore::DocStore::insert_unordered");
    nb.add_finding(
        "load.inserted",
        Value::count(o.first_load.inserted),
        Some("documents"),
        load_src.clone(),
    )?;
    nb.add_finding(
        "load.refused",
        Value::count(o.first_load.duplicates.len()),
        Some("documents"),
        load_src.clone(),
    )?;
    nb.add_finding(
        "rerun.inserted",
        Value::count(o.second_load.inserted),
        Some("documents"),
        load_src.clone(),
    )?;
    nb.add_finding(
        "rerun.refused",
        Value::count(o.second_load.duplicates.len()),
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
    // The chapter's headline answer, in the findings JSON: documents loaded per source.
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
    )?;

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
        Value::count(o.audit("duplicate_keys").len()),
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
        Value::count(per_station.len()),
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
        Value::float(mib, 2),
        Some("MiB"),
        f("docstore::DocStore::command (dbStats.dataSize)"),
    )?;
    for (name, value, decimals, unit, source) in &metrics {
        nb.add_finding(
            &format!("metrics.{name}"),
            Value::float(*value, *decimals),
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
            frame::round_to(*value, *decimals),
            rule.above,
            fires,
        ));
        alarm_rows.push(doc! {
            "alarm": &rule.id, "metric": &rule.metric, "value": frame::round_to(*value, *decimals), "above": rule.above,
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
        Value::count(b.documents),
        Some("documents"),
        f("greencoop::pipeline::backup_and_restore"),
    )?;
    nb.add_finding(
        "backup.restored",
        Value::count(b.restored),
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
        Value::count(b.files[0].1),
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

    checks::all(nb, o, planted)?;
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
