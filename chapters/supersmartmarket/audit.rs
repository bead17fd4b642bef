//! The audit itself: load the export into the relational model, run the named queries, and
//! turn their results into findings, tables, charts and checks. Every number comes from a
//! query result; the planted record is only ever compared against, never shown as a finding.

use std::path::Path;

use polars::prelude::{Column, DataFrame};
use rust_decimal::Decimal;

use super::generate::{self, Planted};
use super::CHAPTER;
use crate::chapter::RunContext;
use crate::dataset::{csv_data_rows, dataset_ref, require_files};
use crate::dictionary;
use crate::error::{Error, Result};
use crate::frame::{get_decimal, get_i64, get_text, rows_json};
use crate::notebook::{Notebook, Source, Status, Value};
use crate::render::chart::{self, LineChart, Series};
use crate::sql::SqlSession;

/// The export's files and the table each loads into, in load order.
const LOADS: &[(&str, &str)] = &[
    (generate::CALENDAR, "calendar"),
    (generate::PRODUCTS, "product"),
    (generate::CUSTOMERS, "customer"),
    (generate::STAFF, "staff"),
    (generate::FACT, "sale"),
];

/// Runs the whole audit on the files in `dir`. `planted` is the generator's record when the
/// data was generated; `None` for real data.
pub fn run(ctx: &RunContext, dir: &Path, planted: Option<&Planted>) -> Result<Notebook> {
    let mut nb = ctx.notebook();

    // Which files are there: the five of the export are required, the log is optional.
    let required: Vec<&str> = LOADS.iter().map(|(file, _)| *file).collect();
    require_files(CHAPTER, dir, &required)?;
    let has_log = dir.join(generate::LOG).is_file();
    let mut read_rows = Vec::new();
    for (file, _) in LOADS
        .iter()
        .chain(has_log.then_some(&(generate::LOG, "insertion_log")))
    {
        let rows = csv_data_rows(&dir.join(file))?;
        read_rows.push(rows);
        nb.datasets.push(dataset_ref(dir, file, Some(rows))?);
    }

    ctx.progress.step("loading into DuckDB");
    let mut db = SqlSession::open(CHAPTER, dir)?;
    db.execute("schema")?;
    db.execute("load")?;
    if has_log {
        db.execute("load_log")?;
    }
    load_report(&mut nb, &mut db, has_log, &read_rows)?;

    ctx.progress.step("running the audit queries");
    calendar(&mut nb, &mut db)?;
    dictionary::document(&mut nb, &mut db)?;
    if nb.has_failures() {
        // The model itself is wrong (a key, a meaning, money as a float): every query after
        // this would read it wrong, so the audit stops here with the checks that say why.
        db.hand_over(&mut nb);
        return Ok(nb);
    }
    dashboard(&mut nb, &mut db)?;
    nb.add_finding(
        "log.available",
        Value::Bool(has_log),
        None,
        crate::function_source!(crate::chapters::supersmartmarket::audit::run),
    )?;
    if has_log {
        db.execute("sale_timeline")?;
        history(&mut nb, &mut db)?;
        late_batch(&mut nb, &mut db)?;
        price_updates(&mut nb, &mut db)?;
        refresh_gap(&mut nb, &mut db)?;
        monitoring_late_loads(&mut nb, &mut db)?;
    }
    monitoring_closing_days(&mut nb, &mut db)?;
    checks(&mut nb, has_log, planted)?;

    db.hand_over(&mut nb);
    Ok(nb)
}

/// Rows read (counted in Rust from the files) against rows loaded (counted by DuckDB) and
/// rows kept aside by the loader, per file.
fn load_report(
    nb: &mut Notebook,
    db: &mut SqlSession,
    has_log: bool,
    read_rows: &[u64],
) -> Result<()> {
    let loads: Vec<(&str, &str)> = LOADS
        .iter()
        .copied()
        .chain(has_log.then_some((generate::LOG, "insertion_log")))
        .collect();
    let counts_sql = loads
        .iter()
        .enumerate()
        .map(|(i, (file, table))| format!("select {i} as ord, '{file}' as file, '{table}' as table_name, count(*) as rows_loaded from {table}"))
        .collect::<Vec<_>>()
        .join("\nunion all\n")
        + "\norder by ord";
    let counts = db.query_generated("load_counts", &counts_sql)?;
    let rejects = db.query("load_rejects")?;
    // DuckDB keeps one reject per error, and a row can have several (a missing column and
    // a value that does not cast): rows are counted once, by file and line. Found by the
    // fuzzing of the export, where loaded + rejected came to more than the rows read.
    let mut rejected_lines = std::collections::BTreeSet::new();
    for row in 0..rejects.height() {
        let file = get_text(&rejects, "load_rejects", row, "file")?.unwrap_or_default();
        let line = get_i64(&rejects, "load_rejects", row, "line")?;
        if let Some(i) = loads.iter().position(|(f, _)| *f == file) {
            rejected_lines.insert((i, line));
        }
    }
    let mut rejected_per_file = vec![0i64; loads.len()];
    for (i, _) in &rejected_lines {
        rejected_per_file[*i] += 1;
    }
    let mut loaded = Vec::new();
    for row in 0..counts.height() {
        loaded.push(get_i64(&counts, "load_counts", row, "rows_loaded")?);
    }
    let frame = DataFrame::new(vec![
        Column::new(
            "file".into(),
            loads.iter().map(|(f, _)| f.to_string()).collect::<Vec<_>>(),
        ),
        Column::new(
            "table".into(),
            loads.iter().map(|(_, t)| t.to_string()).collect::<Vec<_>>(),
        ),
        Column::new(
            "rows_read".into(),
            read_rows.iter().map(|r| *r as i64).collect::<Vec<_>>(),
        ),
        Column::new("rows_loaded".into(), loaded.clone()),
        Column::new("rows_rejected".into(), rejected_per_file.clone()),
    ])
    .map_err(Error::within(CHAPTER))?;
    let source = crate::function_source!(crate::chapters::supersmartmarket::audit::load_report);
    nb.add_table("load_report", frame, source.clone())?;
    nb.add_table("load_rejects", rejects, Source::query("load_rejects"))?;
    let total_read: u64 = read_rows.iter().sum();
    nb.add_finding(
        "load.rows_read",
        Value::Int(total_read as i64),
        Some("rows"),
        source.clone(),
    )?;
    nb.add_finding(
        "load.rows_loaded",
        Value::Int(loaded.iter().sum()),
        Some("rows"),
        Source::query("load_counts"),
    )?;
    nb.add_finding(
        "load.rows_rejected",
        Value::Int(rejected_per_file.iter().sum()),
        Some("rows"),
        Source::query("load_rejects"),
    )?;
    Ok(())
}

/// The calendar's Excel serials against its dates.
fn calendar(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let q = "calendar_consistency";
    let frame = db.query(q)?;
    let mismatched = get_i64(&frame, q, 0, "mismatched_days")?;
    nb.add_finding(
        "calendar.days",
        Value::Int(get_i64(&frame, q, 0, "days")?),
        Some("days"),
        Source::query(q),
    )?;
    nb.add_finding(
        "calendar.mismatched_serials",
        Value::Int(mismatched),
        Some("days"),
        Source::query(q),
    )?;
    nb.add_check(
        "calendar.serials_match_dates",
        "every calendar key is the Excel serial of its date (days since 1899-12-30)",
        Status::of(mismatched == 0, || {
            let which = get_text(&frame, q, 0, "mismatches")
                .ok()
                .flatten()
                .unwrap_or_default();
            format!(
                "{mismatched} day(s) whose date_id is not the Excel serial of calendar_date: {}",
                which.chars().take(300).collect::<String>()
            )
        }),
        &["calendar.mismatched_serials"],
    )?;
    nb.add_table(q, frame, Source::query(q))?;
    Ok(())
}

/// The dashboard's own numbers: today's prices times every sale. Needs no log.
fn dashboard(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let q = "dashboard_revenue_by_day";
    let frame = db.query(q)?;
    let mut sales = 0i64;
    let mut revenue = Decimal::ZERO;
    for row in 0..frame.height() {
        sales += get_i64(&frame, q, row, "sales")?;
        revenue += get_decimal(&frame, q, row, "dashboard_revenue_eur")?;
    }
    nb.add_finding(
        "sales.rows",
        Value::Int(sales),
        Some("sales"),
        Source::query(q),
    )?;
    nb.add_finding(
        "sales.days",
        Value::Int(frame.height() as i64),
        Some("days"),
        Source::query(q),
    )?;
    nb.add_finding(
        "sales.dashboard_revenue_eur",
        Value::money(revenue),
        Some("EUR"),
        Source::query(q),
    )?;
    if frame.height() > 0 {
        let first = get_text(&frame, q, 0, "sold_on")?.unwrap_or_default();
        let last = get_text(&frame, q, frame.height() - 1, "sold_on")?.unwrap_or_default();
        nb.add_finding(
            "sales.first_day",
            Value::Text(first),
            None,
            Source::query(q),
        )?;
        nb.add_finding("sales.last_day", Value::Text(last), None, Source::query(q))?;
    }
    nb.add_table(q, frame, Source::query(q))?;
    Ok(())
}

/// Dashboard revenue against sale-time revenue per day: how far price updates rewrote history.
fn history(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let q = "revenue_by_day";
    let frame = db.query(q)?;
    let (mut labels, mut dashboard, mut sale_time) = (vec![], vec![], vec![]);
    let mut rewritten = 0i64;
    let mut drift = Decimal::ZERO;
    for row in 0..frame.height() {
        labels.push(get_text(&frame, q, row, "sold_on")?.unwrap_or_default());
        let d = get_decimal(&frame, q, row, "dashboard_revenue_eur")?;
        let s = get_decimal(&frame, q, row, "sale_time_revenue_eur")?;
        dashboard.push(rust_decimal::prelude::ToPrimitive::to_f64(&d).unwrap_or(0.0));
        sale_time.push(rust_decimal::prelude::ToPrimitive::to_f64(&s).unwrap_or(0.0));
        let day_drift = get_decimal(&frame, q, row, "price_drift_eur")?;
        if !day_drift.is_zero() {
            rewritten += 1;
        }
        drift += day_drift;
    }
    nb.add_finding(
        "history.days_rewritten",
        Value::Int(rewritten),
        Some("days"),
        Source::query(q),
    )?;
    nb.add_finding(
        "history.total_drift_eur",
        Value::money(drift),
        Some("EUR"),
        Source::query(q),
    )?;
    let svg = chart::line_chart(&LineChart {
        title: "Revenue per day: dashboard (today's prices) vs sale-time prices",
        x_labels: labels.iter().map(|l| l[5..].to_string()).collect(),
        x_label: "sale day (month-day)",
        y_label: "revenue (EUR)",
        series: vec![
            Series {
                name: "dashboard, today's prices",
                values: dashboard,
            },
            Series {
                name: "at sale-time prices",
                values: sale_time,
            },
        ],
    })
    .map_err(Error::failed(CHAPTER, "chart `revenue_by_day`"))?;
    nb.add_chart("revenue_by_day", "Revenue per sale day, as the dashboard computes it and at the prices the sales were made at.", svg, Source::query(q))?;
    nb.add_table(q, frame, Source::query(q))?;
    Ok(())
}

/// The late batches: sales inserted on a later day than their sale day.
fn late_batch(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    // Every batch, as a table; the totals and the largest batch, in one row from the SQL.
    let q = "late_batch_summary";
    let summary = db.query(q)?;
    let source = Source::query(q);
    nb.add_finding(
        "late_batch.rows",
        Value::Int(get_i64(&summary, q, 0, "sales")?),
        Some("sales"),
        source.clone(),
    )?;
    nb.add_finding(
        "late_batch.batches",
        Value::Int(get_i64(&summary, q, 0, "batches")?),
        Some("batches"),
        source.clone(),
    )?;
    nb.add_finding(
        "late_batch.revenue_eur",
        Value::money(get_decimal(&summary, q, 0, "revenue_eur")?),
        Some("EUR"),
        source.clone(),
    )?;
    // With no late batch there is no largest one: the fields say so.
    for (key, column) in [
        ("late_batch.sale_day", "sold_on"),
        ("late_batch.inserted_on", "inserted_on"),
        ("late_batch.inserted_by", "inserted_by"),
        ("late_batch.first_inserted_at", "first_inserted_at"),
        ("late_batch.last_inserted_at", "last_inserted_at"),
    ] {
        let text = get_text(&summary, q, 0, column)?.unwrap_or_else(|| "none".to_string());
        nb.add_finding(key, Value::Text(text), None, source.clone())?;
    }
    let q = "late_batch";
    let frame = db.query(q)?;
    nb.add_table(q, frame, Source::query(q))?;
    Ok(())
}

/// Price updates recorded in the log.
fn price_updates(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let q = "price_changes";
    let frame = db.query(q)?;
    let (mut updates, mut products) = (0i64, 0i64);
    for row in 0..frame.height() {
        updates += get_i64(&frame, q, row, "updates")?;
        products += get_i64(&frame, q, row, "products")?;
    }
    nb.add_finding(
        "price_updates.count",
        Value::Int(updates),
        Some("updates"),
        Source::query(q),
    )?;
    nb.add_finding(
        "price_updates.products",
        Value::Int(products),
        Some("products"),
        Source::query(q),
    )?;
    nb.add_finding(
        "price_updates.days",
        Value::Int(frame.height() as i64),
        Some("days"),
        Source::query(q),
    )?;
    nb.add_table(q, frame, Source::query(q))?;
    Ok(())
}

/// The gap between the two refreshes and its two causes.
fn refresh_gap(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let q = "refresh_gap";
    let frame = db.query(q)?;
    if frame.height() != 1 {
        return Err(Error::Query {
            chapter: CHAPTER.into(),
            query: q.into(),
            message: format!("expected one row, got {}", frame.height()),
        });
    }
    let source = Source::query(q);
    let d = |c: &str| get_decimal(&frame, q, 0, c);
    let (gap, late, price) = (d("gap_eur")?, d("late_batch_eur")?, d("price_effect_eur")?);
    nb.add_finding(
        "gap.audit_day",
        Value::Text(get_text(&frame, q, 0, "audit_day")?.unwrap_or_default()),
        None,
        source.clone(),
    )?;
    nb.add_finding(
        "gap.next_day_closed",
        Value::Bool(get_text(&frame, q, 0, "next_day_closed")?.as_deref() == Some("true")),
        None,
        source.clone(),
    )?;
    nb.add_finding(
        "gap.r1_revenue_eur",
        Value::money(d("r1_revenue_eur")?),
        Some("EUR"),
        source.clone(),
    )?;
    nb.add_finding(
        "gap.r2_revenue_eur",
        Value::money(d("r2_revenue_eur")?),
        Some("EUR"),
        source.clone(),
    )?;
    nb.add_finding(
        "gap.total_eur",
        Value::money(gap),
        Some("EUR"),
        source.clone(),
    )?;
    nb.add_finding(
        "gap.late_batch_eur",
        Value::money(late),
        Some("EUR"),
        source.clone(),
    )?;
    nb.add_finding(
        "gap.price_effect_eur",
        Value::money(price),
        Some("EUR"),
        source.clone(),
    )?;
    nb.add_finding(
        "gap.residual_eur",
        Value::money(d("residual_eur")?),
        Some("EUR"),
        source.clone(),
    )?;
    nb.add_finding(
        "gap.late_batch_share_pct",
        Value::percent(late, gap),
        Some("%"),
        source.clone(),
    )?;
    nb.add_finding(
        "gap.price_effect_share_pct",
        Value::percent(price, gap),
        Some("%"),
        source.clone(),
    )?;
    nb.add_table(q, frame, source)?;
    Ok(())
}

/// The morning control over the log: days on which late sales were inserted.
fn monitoring_late_loads(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let q = "monitoring_late_loads";
    let frame = db.query(q)?;
    let mut alarm_days = Vec::new();
    let mut control_days = Vec::new();
    for row in 0..frame.height() {
        if get_text(&frame, q, row, "is_alarm")?.as_deref() == Some("true") {
            alarm_days.push(get_text(&frame, q, row, "inserted_on")?.unwrap_or_default());
            control_days.push(get_text(&frame, q, row, "control_on")?.unwrap_or_default());
        }
    }
    nb.add_finding(
        "monitoring.late_load_alarms",
        Value::Int(alarm_days.len() as i64),
        Some("alarms"),
        Source::query(q),
    )?;
    nb.add_finding(
        "monitoring.first_alarm_on",
        Value::Text(
            control_days
                .first()
                .cloned()
                .unwrap_or_else(|| "none".into()),
        ),
        None,
        Source::query(q),
    )?;
    nb.add_table(q, frame, Source::query(q))?;
    Ok(())
}

/// The control that needs no log: sales dated on a closing day.
fn monitoring_closing_days(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let q = "monitoring_closing_days";
    let frame = db.query(q)?;
    let mut sales = 0i64;
    for row in 0..frame.height() {
        sales += get_i64(&frame, q, row, "sales")?;
    }
    nb.add_finding(
        "monitoring.closing_day_sales",
        Value::Int(sales),
        Some("sales"),
        Source::query(q),
    )?;
    nb.add_finding(
        "monitoring.closing_days_with_sales",
        Value::Int(frame.height() as i64),
        Some("days"),
        Source::query(q),
    )?;
    nb.add_table(q, frame, Source::query(q))?;
    Ok(())
}

/// The chapter's checks. Those that need the insertion log, or a plant to compare with, are
/// reported not applicable with the reason when the data has neither.
fn checks(nb: &mut Notebook, has_log: bool, planted: Option<&Planted>) -> Result<()> {
    // Load: nothing lost, nothing kept aside.
    let rejects = nb.table("load_rejects")?.frame.clone();
    let first_reject = if rejects.height() > 0 {
        let t = |c: &str| {
            get_text(&rejects, "load_rejects", 0, c)
                .ok()
                .flatten()
                .unwrap_or_default()
        };
        format!(
            "first: file `{}`, line {}, column `{}`: {}",
            t("file"),
            t("line"),
            t("column_name"),
            t("error_message")
        )
    } else {
        String::new()
    };
    let (read, loaded, rejected) = (
        nb.int("load.rows_read")?,
        nb.int("load.rows_loaded")?,
        nb.int("load.rows_rejected")?,
    );
    nb.add_check(
        "load.complete",
        "every row read is loaded: rows read = rows loaded, none rejected",
        Status::of(read == loaded && rejected == 0, || {
            format!("{read} rows read, {loaded} loaded, {rejected} rejected; {first_reject}")
        }),
        &["load.rows_read", "load.rows_loaded", "load.rows_rejected"],
    )?;

    let no_log = || {
        Status::NotApplicable(format!("the data has no insertion log (`{}`): sale-time prices and insertion times are unknown", generate::LOG))
    };
    let not_generated = || {
        Status::NotApplicable(
            "the data was not generated by the chapter: nothing was planted to compare with"
                .to_string(),
        )
    };

    // The decomposition: (a) + (b) = gap, to the cent.
    let residual = if has_log {
        Some(nb.decimal("gap.residual_eur")?)
    } else {
        None
    };
    nb.add_check(
        "gap.decomposition_sums",
        "the late batch and the price effect add up to the gap between the two refreshes, to the cent",
        match residual {
            None => no_log(),
            Some(r) => Status::of(r.is_zero(), || format!("residual of {r} EUR: the log does not explain the gap")),
        },
        if has_log { &["gap.total_eur", "gap.late_batch_eur", "gap.price_effect_eur", "gap.residual_eur"] } else { &[] },
    )?;

    // Found == planted, for the late batch and for the price updates.
    let late_status = match (has_log, planted) {
        (false, _) => no_log(),
        (true, None) => not_generated(),
        (true, Some(p)) => {
            let found_rows = nb.int("late_batch.rows")?;
            let found_day = nb.text("late_batch.sale_day")?;
            let found_revenue = nb.decimal("late_batch.revenue_eur")?;
            let day_ok = p.late_batch_rows == 0 || found_day == p.late_day.to_string();
            Status::of(
                found_rows == p.late_batch_rows as i64
                    && day_ok
                    && found_revenue == p.late_batch_revenue,
                || {
                    format!(
                    "found {found_rows} sales of {found_day} worth {found_revenue} EUR; planted {} sales of {} worth {} EUR",
                    p.late_batch_rows, p.late_day, p.late_batch_revenue
                )
                },
            )
        }
    };
    nb.add_check(
        "late_batch.found_equals_planted",
        "the late batch found from the log is the one planted: same size, day and value",
        late_status,
        if has_log {
            &[
                "late_batch.rows",
                "late_batch.sale_day",
                "late_batch.revenue_eur",
            ]
        } else {
            &[]
        },
    )?;
    let price_status = match (has_log, planted) {
        (false, _) => no_log(),
        (true, None) => not_generated(),
        (true, Some(p)) => {
            let found = nb.int("price_updates.count")?;
            let effect = nb.decimal("gap.price_effect_eur")?;
            // Whichever day is audited (with no late batch, the day prices moved most), the
            // generator knows its planted price effect.
            let day = nb.text("gap.audit_day")?;
            let planted_effect = p
                .price_effect_by_day
                .iter()
                .find(|(d, _)| d.to_string() == day)
                .map_or(Decimal::ZERO, |(_, e)| *e);
            Status::of(
                found == p.price_updates as i64 && effect == planted_effect,
                || {
                    format!(
                    "found {found} updates with an effect of {effect} EUR on {day}; planted {} updates with an effect of {planted_effect} EUR on that day",
                    p.price_updates
                )
                },
            )
        }
    };
    nb.add_check(
        "price_updates.found_equals_planted",
        "the price updates found in the log are the ones planted, and so is their effect on the audited day",
        price_status,
        if has_log { &["price_updates.count", "gap.price_effect_eur"] } else { &[] },
    )?;

    // The monitoring control raises an alarm on each late batch's insertion day, and on no
    // other day: the two sets of days are compared, not only their sizes.
    let monitoring = if has_log {
        let day_column = |table: &str, keep: &dyn Fn(usize) -> bool| -> Result<Vec<String>> {
            let frame = &nb.table(table)?.frame;
            let mut days: Vec<String> = (0..frame.height())
                .filter(|r| keep(*r))
                .filter_map(|r| get_text(frame, table, r, "inserted_on").ok().flatten())
                .collect();
            days.sort();
            days.dedup();
            Ok(days)
        };
        let alarms_table = nb.table("monitoring_late_loads")?.frame.clone();
        let is_alarm = |r: usize| {
            get_text(&alarms_table, "monitoring_late_loads", r, "is_alarm")
                .ok()
                .flatten()
                .as_deref()
                == Some("true")
        };
        let alarm_days = day_column("monitoring_late_loads", &is_alarm)?;
        let batch_days = day_column("late_batch", &|_| true)?;
        let alarms = nb.int("monitoring.late_load_alarms")?;
        Status::of(
            alarm_days == batch_days && alarms == batch_days.len() as i64,
            || {
                let extra: Vec<&String> = alarm_days
                    .iter()
                    .filter(|d| !batch_days.contains(d))
                    .collect();
                let missed: Vec<&String> = batch_days
                    .iter()
                    .filter(|d| !alarm_days.contains(d))
                    .collect();
                format!("{alarms} alarm day(s); alarms on days with no late batch: {extra:?}; late batches with no alarm, inserted on: {missed:?}")
            },
        )
    } else {
        no_log()
    };
    nb.add_check(
        "monitoring.alarm_raised",
        "the morning control raises an alarm on the day each late batch was inserted, and on no other day",
        monitoring,
        if has_log { &["monitoring.late_load_alarms", "monitoring.first_alarm_on", "late_batch.batches"] } else { &[] },
    )?;
    Ok(())
}

/// The table answers as JSON rows, for tests that compare two computations.
pub fn rows(nb: &Notebook, table: &str) -> Result<Vec<serde_json::Map<String, serde_json::Value>>> {
    Ok(rows_json(&nb.table(table)?.frame))
}
