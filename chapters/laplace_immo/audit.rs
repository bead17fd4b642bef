//! The Laplace Immo pipeline: stage the workbooks, load the model with a report of every
//! rejected row and its reason, answer the twelve questions, and read the numbers into a
//! recommendation. Answers that are tables become findings as rows, so `findings` prints them.

use std::path::Path;

use super::CHAPTER;
use super::{DVF, POPULATION};
use crate::chapter::RunContext;
use crate::dataset::{csv_data_rows, dataset_ref, require_files};
use crate::dictionary;
use crate::error::{Error, Result};
use crate::frame::{get_f64, get_i64, get_text, rows_json};
use crate::notebook::{Notebook, Source, Status, Value};
use crate::render::chart::{self, BarChart};
use crate::sql::SqlSession;
use crate::xlsx;

const CSV_FILES: [&str; 3] = ["region.csv", "departement.csv", "commune.csv"];

/// The twelve questions: finding prefix and query name.
pub(super) const QUESTIONS: [(&str, &str); 12] = [
    ("q1", "q01_apartments_sold"),
    ("q2", "q02_apartment_sales_by_region"),
    ("q3", "q03_rooms_share"),
    ("q4", "q04_top_departments_price_m2"),
    ("q5", "q05_house_price_m2_idf"),
    ("q6", "q06_top_apartments"),
    ("q7", "q07_q1_q2_growth"),
    ("q8", "q08_regions_big_apartments"),
    ("q9", "q09_communes_50_sales_q1"),
    ("q10", "q10_two_vs_three_rooms"),
    ("q11", "q11_top_communes_by_value"),
    ("q12", "q12_sales_per_thousand"),
];

/// The workbooks' columns that hold values under no header: kept in the staging tables
/// under a made-up name and read by no question, so counted and named here.
fn unnamed_columns(nb: &mut Notebook, sheets: &[(&str, &xlsx::Sheet)]) -> Result<()> {
    let mut cells = 0u64;
    let mut where_ = Vec::new();
    for (file, sheet) in sheets {
        for column in &sheet.unnamed {
            cells += column.filled;
            where_.push(format!(
                "{file} column {} ({} filled, staged as `{}`)",
                column.letter,
                crate::frame::group_digits(&column.filled.to_string()),
                column.staged_as
            ));
        }
    }
    let source = crate::function_source!(crate::xlsx::read_sheet);
    nb.add_finding(
        "load.unnamed_cells",
        Value::Int(cells as i64),
        Some("cells"),
        source.clone(),
    )?;
    nb.add_finding(
        "load.unnamed_columns",
        Value::Text(if where_.is_empty() {
            "none".into()
        } else {
            where_.join("; ")
        }),
        None,
        source,
    )
}

/// Runs the chapter on the files in `dir`.
pub fn run(ctx: &RunContext, dir: &Path) -> Result<Notebook> {
    let (mut nb, mut db) = load(ctx, dir, ctx.params.get("scale")?, ctx.params.get("seed")?)?;
    if nb.has_failures() {
        // The model itself is wrong (a meaning missing, money as a float): the questions
        // would read it wrong, so the chapter stops with the checks that say why.
        load_checks(&mut nb)?;
        db.hand_over(&mut nb);
        return Ok(nb);
    }

    ctx.progress.step("answering the questions");
    db.execute("sale_facts")?;
    questions(&mut nb, &mut db)?;
    regions(&mut nb, &mut db)?;
    load_checks(&mut nb)?;
    question_checks(&mut nb)?;
    super::spark::compare(ctx, &mut nb, &mut db)?;
    db.hand_over(&mut nb);
    Ok(nb)
}

/// Reads the workbooks and loads the keyed model at the run's scale, with the load's
/// findings and the data dictionary: the database the questions read.
pub(super) fn load(
    ctx: &RunContext,
    dir: &Path,
    scale: u32,
    seed: u64,
) -> Result<(Notebook, SqlSession)> {
    let mut nb = ctx.notebook();
    if scale == 0 {
        return Err(Error::Usage(format!(
            "chapter `{CHAPTER}`: `scale` must be at least 1"
        )));
    }
    require_files(
        CHAPTER,
        dir,
        &[DVF, POPULATION, CSV_FILES[0], CSV_FILES[1], CSV_FILES[2]],
    )?;

    ctx.progress.step("reading the workbooks");
    let dvf = xlsx::read_sheet(CHAPTER, &dir.join(DVF), None)?;
    let population = xlsx::read_sheet(CHAPTER, &dir.join(POPULATION), None)?;
    nb.datasets
        .push(dataset_ref(dir, DVF, Some(dvf.rows.len() as u64))?);
    nb.datasets.push(dataset_ref(
        dir,
        POPULATION,
        Some(population.rows.len() as u64),
    )?);
    for file in CSV_FILES {
        nb.datasets.push(dataset_ref(
            dir,
            file,
            Some(csv_data_rows(&dir.join(file))?),
        )?);
    }

    ctx.progress.step("loading the model");
    let mut db = SqlSession::open(CHAPTER, dir)?;
    db.execute("schema")?;
    unnamed_columns(&mut nb, &[(DVF, &dvf), (POPULATION, &population)])?;
    let dvf_read = xlsx::stage(&db, "raw_dvf", &dvf)?;
    let population_read = xlsx::stage(&db, "raw_population", &population)?;
    db.loaded_from("raw_dvf", DVF);
    db.loaded_from("raw_population", POPULATION);
    drop((dvf, population));
    db.execute("load_geography")?;
    db.execute("load_sales")?;
    if scale > 1 {
        db.execute_unrecorded(
            "scale parameters",
            &format!("set variable scale = {scale}; set variable seed = {seed};"),
        )?;
        db.execute("scale_up")?;
    }
    db.execute("load_model")?;
    load_report(&mut nb, &mut db, dvf_read, population_read, scale)?;
    // The staging tables have done their work: the model is what remains.
    db.execute_unrecorded("drop staging", "drop table raw_dvf; drop table raw_population; drop table dvf_checked; drop table population_checked;")?;
    dictionary::document(&mut nb, &mut db)?;
    Ok((nb, db))
}

fn load_report(
    nb: &mut Notebook,
    db: &mut SqlSession,
    dvf_read: u64,
    population_read: u64,
    scale: u32,
) -> Result<()> {
    // Rejected rows and their reasons come from the checked staging tables …
    let q = "load_report";
    let frame = db.query(q)?;
    let (mut dvf_rejected, mut pop_rejected) = (0, 0);
    for row in 0..frame.height() {
        let source = get_text(&frame, q, row, "source")?.unwrap_or_default();
        let loaded = get_text(&frame, q, row, "outcome")?.as_deref() == Some("(loaded)");
        let rows = get_i64(&frame, q, row, "rows")?;
        match (source.as_str(), loaded) {
            (_, true) => {}
            ("valeurs_foncieres", false) => dvf_rejected += rows,
            (_, false) => pop_rejected += rows,
        }
    }
    // … the rows loaded from the model's own tables, and the rows read from the workbooks by
    // the Rust reader: three sources, so read = loaded + rejected can fail.
    let counts = db.query("load_counts")?;
    let read_source = crate::function_source!(crate::xlsx::stage);
    nb.add_finding(
        "load.dvf_rows_read",
        Value::Int(dvf_read as i64),
        Some("rows"),
        read_source.clone(),
    )?;
    // At scale > 1 the generator's copies come on top of the rows read from the file; they
    // carry source_row ≥ 10,000,000.
    let copies = if scale > 1 {
        let counted = db.query_generated(
            "scale_up_count",
            "select count(*) as copies from dvf_checked where source_row >= 10000000",
        )?;
        get_i64(&counted, "scale_up_count", 0, "copies")?
    } else {
        0
    };
    let copies_source = if scale > 1 {
        Source::query("scale_up_count")
    } else {
        crate::function_source!(crate::chapters::laplace_immo::audit::load_report; "scale 1: no copies")
    };
    nb.add_finding(
        "load.dvf_rows_generated",
        Value::Int(copies),
        Some("rows"),
        copies_source,
    )?;
    nb.add_finding(
        "load.dvf_rows_loaded",
        Value::Int(get_i64(&counts, "load_counts", 0, "sales_loaded")?),
        Some("rows"),
        Source::query("load_counts"),
    )?;
    nb.add_finding(
        "load.sales_without_value",
        Value::Int(get_i64(&counts, "load_counts", 0, "sales_without_value")?),
        Some("sales"),
        Source::query("load_counts"),
    )?;
    nb.add_finding(
        "load.dvf_rows_rejected",
        Value::Int(dvf_rejected),
        Some("rows"),
        Source::query(q),
    )?;
    nb.add_finding(
        "load.population_rows_read",
        Value::Int(population_read as i64),
        Some("rows"),
        read_source,
    )?;
    nb.add_finding(
        "load.population_rows_loaded",
        Value::Int(get_i64(&counts, "load_counts", 0, "populations_loaded")?),
        Some("rows"),
        Source::query("load_counts"),
    )?;
    nb.add_finding(
        "load.population_rows_rejected",
        Value::Int(pop_rejected),
        Some("rows"),
        Source::query(q),
    )?;
    nb.add_table(q, frame, Source::query(q))?;
    nb.add_table("load_counts", counts, Source::query("load_counts"))?;
    Ok(())
}

/// The first rows a load lost without a reason, from `load_counts`, for a failed check.
fn lost(nb: &Notebook, column: &str) -> String {
    nb.tables
        .get("load_counts")
        .and_then(|t| get_text(&t.frame, "load_counts", 0, column).ok().flatten())
        .unwrap_or_default()
}

fn questions(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    for (prefix, query) in QUESTIONS {
        // A question answered by one row declares its findings, kind and unit, beside its
        // SQL; the others answer with a table, kept whole as rows.
        let frame = if db.text(query)?.contains("-- finding ") {
            db.declared_findings(nb, prefix, query)?
        } else {
            let frame = db.query(query)?;
            nb.add_finding(
                &format!("{prefix}.rows"),
                Value::Int(frame.height() as i64),
                Some("rows"),
                Source::query(query),
            )?;
            nb.add_finding(
                &format!("{prefix}.answer"),
                Value::Rows(rows_json(&frame)),
                None,
                Source::query(query),
            )?;
            frame
        };
        nb.add_table(query, frame, Source::query(query))?;
    }
    Ok(())
}

/// Price per m² per region: the chart, and the reading of where to open agencies.
fn regions(nb: &mut Notebook, db: &mut SqlSession) -> Result<()> {
    let q = "price_by_region";
    let frame = db.query(q)?;
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for row in 0..frame.height() {
        labels.push(get_text(&frame, q, row, "region")?.unwrap_or_default());
        values.push(get_f64(&frame, q, row, "weighted_price_eur_m2").unwrap_or(0.0));
    }
    let svg = chart::bar_chart(&BarChart {
        title: "Weighted price per m² by region, first half of 2020",
        labels,
        label_name: "region",
        values,
        x_label: "EUR per m² (Σ value ÷ Σ built surface)",
    })
    .map_err(Error::failed(CHAPTER, "chart `price_by_region`"))?;
    nb.add_chart(
        "price_by_region",
        "Weighted price per m² of every sale, by region.",
        svg,
        Source::query(q),
    )?;

    // The reading: the dearest region, and among regions with at least MIN_SALES sales, the
    // one whose sales grew most from Q1 to Q2 (a market that is picking up).
    const MIN_SALES: i64 = 500;
    let source = Source::query(q);
    nb.add_finding(
        "reading.min_sales",
        Value::Int(MIN_SALES),
        Some("sales"),
        crate::function_source!(crate::chapters::laplace_immo::audit::regions),
    )?;
    if frame.height() > 0 {
        nb.add_finding(
            "reading.dearest_region",
            Value::Text(get_text(&frame, q, 0, "region")?.unwrap_or_default()),
            None,
            source.clone(),
        )?;
        nb.add_finding(
            "reading.dearest_price_eur_m2",
            Value::float(get_f64(&frame, q, 0, "weighted_price_eur_m2")?, 2),
            Some("EUR/m²"),
            source.clone(),
        )?;
        let mut best: Option<(f64, usize)> = None;
        for row in 0..frame.height() {
            let sales = get_i64(&frame, q, row, "sales")?;
            let Ok(growth) = get_f64(&frame, q, row, "q1_q2_growth_pct") else {
                continue;
            };
            if sales >= MIN_SALES && best.map(|(g, _)| growth > g).unwrap_or(true) {
                best = Some((growth, row));
            }
        }
        if let Some((growth, row)) = best {
            nb.add_finding(
                "reading.growing_region",
                Value::Text(get_text(&frame, q, row, "region")?.unwrap_or_default()),
                None,
                source.clone(),
            )?;
            nb.add_finding(
                "reading.growing_region_growth_pct",
                Value::float(growth, 2),
                Some("%"),
                source.clone(),
            )?;
            nb.add_finding(
                "reading.growing_region_price_eur_m2",
                Value::float(get_f64(&frame, q, row, "weighted_price_eur_m2")?, 2),
                Some("EUR/m²"),
                source.clone(),
            )?;
        }
    }
    nb.add_table(q, frame, source)?;
    Ok(())
}

/// The sum of `column` over the rows of the table answer `key`.
fn rows_sum(nb: &Notebook, key: &str, column: &str) -> Result<i64> {
    Ok(nb
        .rows(key)?
        .iter()
        .filter_map(|r| r.get(column).and_then(|v| v.as_i64()))
        .sum())
}

/// Every row read is accounted for.
fn load_checks(nb: &mut Notebook) -> Result<()> {
    let read = nb.int("load.dvf_rows_read")? + nb.int("load.dvf_rows_generated")?;
    let (loaded, rejected) = (
        nb.int("load.dvf_rows_loaded")?,
        nb.int("load.dvf_rows_rejected")?,
    );
    nb.add_check(
        "load.sales_conserved",
        "every DVF row read (or generated) is loaded or rejected with a reason: read = loaded + rejected",
        if read == loaded + rejected { Status::Passed } else { Status::Failed(format!("{read} read, {loaded} loaded, {rejected} rejected; first source rows lost: {}", lost(nb, "sales_lost"))) },
        &["load.dvf_rows_read", "load.dvf_rows_generated", "load.dvf_rows_loaded", "load.dvf_rows_rejected"],
    )?;
    let (read, loaded, rejected) = (
        nb.int("load.population_rows_read")?,
        nb.int("load.population_rows_loaded")?,
        nb.int("load.population_rows_rejected")?,
    );
    nb.add_check(
        "load.population_conserved",
        "every population row read is loaded or rejected with a reason",
        if read == loaded + rejected {
            Status::Passed
        } else {
            Status::Failed(format!(
                "{read} read, {loaded} loaded, {rejected} rejected; first communes lost: {}",
                lost(nb, "populations_lost")
            ))
        },
        &[
            "load.population_rows_read",
            "load.population_rows_loaded",
            "load.population_rows_rejected",
        ],
    )?;
    Ok(())
}

/// The answers agree with each other.
fn question_checks(nb: &mut Notebook) -> Result<()> {
    let national = nb.int("q1.apartments_sold")?;
    let by_region = rows_sum(nb, "q2.answer", "apartment_sales")?;
    nb.add_check(
        "q2.regions_sum_to_national",
        "apartment sales per region add up to the national count of Q1",
        if national == by_region {
            Status::Passed
        } else {
            Status::Failed(format!(
                "regions sum to {by_region}, national count is {national}"
            ))
        },
        &["q1.apartments_sold", "q2.answer"],
    )?;
    let by_rooms = rows_sum(nb, "q3.answer", "sales")?;
    nb.add_check(
        "q3.rooms_sum_to_national",
        "apartment sales by number of rooms add up to the national count of Q1",
        if national == by_rooms {
            Status::Passed
        } else {
            Status::Failed(format!(
                "rooms sum to {by_rooms}, national count is {national}"
            ))
        },
        &["q1.apartments_sold", "q3.answer"],
    )?;
    // A counting question counts every sale, priced or not: the two quarters of Q7 hold every
    // sale of the model, counted from its table by `load_counts`.
    let quarters = nb
        .int("q7.q1_sales")?
        .saturating_add(nb.int("q7.q2_sales")?);
    let loaded = nb.int("load.dvf_rows_loaded")?;
    let unpriced = nb.int("load.sales_without_value")?;
    nb.add_check(
        "q7.quarters_count_every_sale",
        "the sales of Q1 and Q2 add up to every sale loaded, those without a value included",
        Status::of(quarters == loaded, || {
            format!(
                "Q1 + Q2 count {quarters} sales, the model holds {loaded} ({unpriced} of them without a value)"
            )
        }),
        &["q7.q1_sales", "q7.q2_sales", "load.dvf_rows_loaded", "load.sales_without_value"],
    )?;
    Ok(())
}
