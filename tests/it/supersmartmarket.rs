//! Chapter 1: the audit finds what was planted, exactly, for the default plant and for random
//! ones; it runs on the real export's layout without a log; bad input fails with the file
//! and line; a broken log makes the decomposition check fail.

use std::path::Path;

use auditbook::notebook::{Status, Value};
use proptest::prelude::*;

use super::run;

fn int(nb: &auditbook::notebook::Notebook, key: &str) -> i64 {
    match &nb.findings[key].value {
        Value::Int(v) => *v,
        other => panic!("{key} is {other:?}"),
    }
}

fn json(nb: &auditbook::notebook::Notebook, key: &str) -> serde_json::Value {
    nb.findings[key].value.to_json()
}

fn status(nb: &auditbook::notebook::Notebook, id: &str) -> Status {
    nb.checks
        .iter()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .status
        .clone()
}

/// Small data for fast runs: 10 days of about 60 sales.
const SMALL: &[(&str, &str)] = &[
    ("days", "10"),
    ("products", "300"),
    ("customers", "40"),
    ("staff", "5"),
    ("sales_per_day", "60"),
    ("late_day", "2024-08-06"),
    ("late_batch", "50"),
    ("price_updates", "20"),
];

/// SMALL with some values replaced.
pub fn small(extra: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
    SMALL
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .map(|(k, v)| (*k, v.to_string()))
        .chain(extra.iter().cloned())
        .collect()
}

fn run_owned(
    params: &[(&'static str, String)],
    data: Option<std::path::PathBuf>,
) -> auditbook::notebook::Notebook {
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    run("supersmartmarket", &borrowed, data)
}

#[test]
fn the_default_plant_is_found_and_every_check_passes() {
    let nb = run("supersmartmarket", &[], None);
    assert_eq!(int(&nb, "late_batch.rows"), 1379);
    assert_eq!(json(&nb, "late_batch.sale_day"), "2024-08-14");
    assert_eq!(json(&nb, "late_batch.inserted_on"), "2024-08-15");
    assert_eq!(int(&nb, "price_updates.count"), 600);
    assert_eq!(json(&nb, "gap.residual_eur"), serde_json::json!(0.0));
    assert!(nb.failures().is_empty(), "{:?}", nb.failures());
    assert!(
        nb.checks.iter().all(|c| c.status == Status::Passed),
        "{:?}",
        nb.checks
    );
}

/// The dataset files a finding's provenance cites.
fn read_by(nb: &auditbook::notebook::Notebook, key: &str) -> Vec<String> {
    nb.findings[key]
        .provenance
        .datasets
        .iter()
        .map(|d| d.file.clone())
        .collect()
}

#[test]
fn a_finding_cites_the_files_its_query_read_and_no_other() {
    let nb = run("supersmartmarket", SMALL, None);
    // One table, loaded from one file: the calendar check reads `Dim_Date.csv` alone.
    assert_eq!(read_by(&nb, "calendar.days"), ["Dim_Date.csv"]);
    // Three tables joined: the sales, the calendar and the products, never the customers.
    assert_eq!(
        read_by(&nb, "sales.dashboard_revenue_eur"),
        ["Dim_Date.csv", "Dim_Produit.csv", "Fact_vente.csv"]
    );
    // A function's result cites the chapter's whole input: wider, never narrower.
    assert_eq!(read_by(&nb, "log.available").len(), nb.datasets.len());
}

#[test]
fn another_batch_size_is_planted_and_found() {
    let nb = run("supersmartmarket", &[("late_batch", "777")], None);
    assert_eq!(int(&nb, "late_batch.rows"), 777);
    assert_eq!(
        status(&nb, "late_batch.found_equals_planted"),
        Status::Passed
    );
}

#[test]
fn the_parts_add_up_to_the_gap_in_the_findings() {
    let nb = run("supersmartmarket", &[], None);
    let dec = |k: &str| match &nb.findings[k].value {
        Value::Decimal(d) => *d,
        other => panic!("{k} is {other:?}"),
    };
    assert_eq!(
        dec("gap.r2_revenue_eur") - dec("gap.r1_revenue_eur"),
        dec("gap.total_eur")
    );
    assert_eq!(
        dec("gap.late_batch_eur") + dec("gap.price_effect_eur"),
        dec("gap.total_eur")
    );
    assert!(dec("gap.late_batch_eur") > rust_decimal::Decimal::ZERO);
    assert!(dec("gap.price_effect_eur") != rust_decimal::Decimal::ZERO);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: super::cases(12), ..ProptestConfig::default() })]

    /// Random plants: the batch size, its day, the number of price changes and the seed.
    #[test]
    fn random_plants_are_recovered_exactly(
        late_batch in 0u32..400,
        // Open days of 2024-08-01 … 2024-08-09 (the 4th is a Sunday).
        day in prop::sample::select(vec![1u32, 2, 3, 5, 6, 7, 8, 9]),
        price_updates in 0u32..80,
        seed in 0u64..1_000_000,
    ) {
        let nb = run_owned(&small(&[
            ("late_batch", late_batch.to_string()),
            ("late_day", format!("2024-08-{day:02}")),
            ("price_updates", price_updates.to_string()),
            ("seed", seed.to_string()),
        ]), None);
        prop_assert_eq!(int(&nb, "late_batch.rows"), late_batch as i64);
        prop_assert_eq!(int(&nb, "price_updates.count"), price_updates as i64);
        if late_batch > 0 {
            prop_assert_eq!(json(&nb, "late_batch.sale_day"), serde_json::json!(format!("2024-08-{day:02}")));
        }
        prop_assert_eq!(json(&nb, "gap.residual_eur"), serde_json::json!(0.0));
        prop_assert!(nb.failures().is_empty(), "{:?}", nb.failures());
    }
}

/// The small data set generated by the chapter's own generator into a temp dir the test
/// may damage.
fn small_copy() -> tempfile::TempDir {
    let params = small(&[]);
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let chapter = auditbook::commands::book::chapter_by_id("supersmartmarket").unwrap();
    let ctx = auditbook::commands::book::context(
        chapter,
        &super::options("supersmartmarket", &borrowed, None),
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    chapter.generate(&ctx, dir.path()).unwrap();
    dir
}

fn rewrite(path: &Path, f: impl FnOnce(String) -> String) {
    let text = std::fs::read_to_string(path).unwrap();
    std::fs::write(path, f(text)).unwrap();
}

#[test]
fn the_real_layout_without_log_runs_and_says_what_it_cannot_check() {
    let fixture = super::root().join("tests/fixtures/supersmartmarket_real_layout");
    let nb = run("supersmartmarket", &[], Some(fixture));
    assert_eq!(int(&nb, "sales.rows"), 4);
    assert_eq!(
        json(&nb, "sales.dashboard_revenue_eur"),
        serde_json::json!(6.42)
    );
    assert_eq!(int(&nb, "monitoring.closing_day_sales"), 1);
    assert_eq!(json(&nb, "log.available"), serde_json::json!(false));
    assert!(!nb.findings.contains_key("late_batch.rows"));
    for id in [
        "gap.decomposition_sums",
        "late_batch.found_equals_planted",
        "price_updates.found_equals_planted",
        "monitoring.alarm_raised",
    ] {
        assert!(
            matches!(status(&nb, id), Status::NotApplicable(ref r) if r.contains("Log_insertion.csv")),
            "{id}: {:?}",
            status(&nb, id)
        );
    }
    assert_eq!(status(&nb, "load.complete"), Status::Passed);
    assert!(nb.failures().is_empty());
}

#[test]
fn a_malformed_row_is_kept_aside_and_named_with_its_file_and_line() {
    let dir = small_copy();
    // Line 3 of the file (the second sale): a sale id that is not a number.
    rewrite(&dir.path().join("Fact_vente.csv"), |text| {
        let mut lines: Vec<String> = text.split("\r\n").map(str::to_string).collect();
        lines[2] = lines[2].replacen(|c: char| c.is_ascii_digit(), "x", 1);
        lines.join("\r\n")
    });
    let nb = run("supersmartmarket", &[], Some(dir.path().to_path_buf()));
    assert_eq!(int(&nb, "load.rows_rejected"), 1);
    match status(&nb, "load.complete") {
        Status::Failed(reason) => {
            assert!(
                reason.contains("Fact_vente.csv")
                    && reason.contains("line 3")
                    && reason.contains("vente_id"),
                "{reason}"
            );
        }
        other => panic!("expected a failure, got {other:?}"),
    }
}

#[test]
fn a_sale_missing_from_the_log_breaks_the_decomposition() {
    let dir = small_copy();
    let clean = run("supersmartmarket", &[], Some(dir.path().to_path_buf()));
    assert_eq!(status(&clean, "gap.decomposition_sums"), Status::Passed);
    assert_eq!(json(&clean, "gap.audit_day"), "2024-08-06");
    // Drop the log rows of one on-time sale of the audited day (Excel serial 45510).
    let fact = std::fs::read_to_string(dir.path().join("Fact_vente.csv")).unwrap();
    let sale_id = fact
        .split("\r\n")
        .skip(1)
        .find(|line| line.split(';').nth(4) == Some("45510"))
        .and_then(|line| line.split(';').next())
        .unwrap()
        .to_string();
    rewrite(&dir.path().join("Log_insertion.csv"), |text| {
        let marker = format!(";INSERT;Fact_vente;{sale_id};");
        text.split("\r\n")
            .filter(|l| !l.contains(&marker))
            .collect::<Vec<_>>()
            .join("\r\n")
    });
    let nb = run("supersmartmarket", &[], Some(dir.path().to_path_buf()));
    assert_ne!(json(&nb, "gap.residual_eur"), serde_json::json!(0.0));
    assert!(
        matches!(status(&nb, "gap.decomposition_sums"), Status::Failed(ref r) if r.contains("residual"))
    );
}

#[test]
fn a_calendar_key_that_is_not_the_excel_serial_of_its_date_fails() {
    let dir = tempfile::tempdir().unwrap();
    auditbook::commands::book::copy_dir(
        &super::root().join("tests/fixtures/supersmartmarket_real_layout"),
        dir.path(),
    )
    .unwrap();
    // Shift the date of key 45517 by one day, as a spreadsheet with the 1904 date system would.
    rewrite(&dir.path().join("Dim_Date.csv"), |text| {
        text.replace(";2024-08-13", ";2024-08-12")
    });
    let nb = run("supersmartmarket", &[], Some(dir.path().to_path_buf()));
    assert_eq!(int(&nb, "calendar.mismatched_serials"), 1);
    assert!(matches!(
        status(&nb, "calendar.serials_match_dates"),
        Status::Failed(_)
    ));
}
