//! Every check bites: each check of the book has a declared fault, and applying a fault makes
//! its checks fail with the offending rows or values in the detail. `cargo test` runs one
//! fault per chapter (NosCités' runs take about 50 s each and are left to the whole matrix);
//! `scripts/test` runs the whole matrix with `auditbook faults`.

use std::collections::BTreeSet;

use auditbook::commands::fault_matrix;
use auditbook::fault;

use super::auditbook;

#[test]
fn every_check_of_the_book_has_a_declared_fault_and_every_fault_names_real_checks() {
    let mut unguarded = Vec::new();
    let mut unknown = Vec::new();
    for (chapter, nb) in super::book_notebooks() {
        let id = chapter.meta().id;
        // A fault that needs a server (`needs = "spark"`) trips checks that only a run
        // against that server has: tests/it/spark.rs runs those, against the cluster.
        let faults: Vec<_> = fault::declared(id)
            .unwrap()
            .into_iter()
            .filter(|f| f.needs.is_none())
            .collect();
        let tripped: BTreeSet<&str> = faults
            .iter()
            .flat_map(|f| f.trips.iter().map(String::as_str))
            .collect();
        let checks: BTreeSet<&str> = nb.checks.iter().map(|c| c.id.as_str()).collect();
        unguarded.extend(checks.difference(&tripped).map(|c| format!("{id}: {c}")));
        unknown.extend(tripped.difference(&checks).map(|c| format!("{id}: {c}")));
    }
    assert!(unguarded.is_empty(), "checks with no fault: {unguarded:?}");
    assert!(
        unknown.is_empty(),
        "faults naming checks the book does not have: {unknown:?}"
    );
}

/// One fault per chapter, through the same code as `auditbook faults`.
#[test]
fn a_fault_of_each_chapter_makes_its_checks_fail_naming_what_is_wrong() {
    let options = auditbook::commands::book::RunOptions {
        root: super::root(),
        ..Default::default()
    };
    for (chapter, name) in [
        ("supersmartmarket", "late_sale_logged_on_time"),
        ("laplace_immo", "load_drops_big_apartments"),
        ("indutech", "window_file_lost"),
        ("bottleneck", "reconciled_against_raw_web_rows"),
        ("greencoop", "reading_stamped_an_hour_early"),
        ("seattle", "steam_loaded_as_parking"),
        ("events", "duckdb_ranks_worst_first"),
    ] {
        let report = fault_matrix::run(Some(chapter), Some(name), &options).unwrap();
        assert!(report.verdict().is_ok(), "{}", report.table());
        assert_eq!(report.outcomes.len(), 1);
    }
}

#[test]
fn check_with_a_fault_exits_1_and_names_the_offending_row() {
    let out = auditbook(&[
        "check",
        "--chapter",
        "supersmartmarket",
        "--fault",
        "sale_with_unreadable_product",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("load.complete")
            && stderr.contains("line 30714")
            && stderr.contains("produit_id"),
        "{stderr}"
    );
}

#[test]
fn a_build_with_a_fault_leaves_the_existing_book_untouched() {
    let book = tempfile::tempdir().unwrap();
    auditbook::commands::book::copy_dir(&super::root().join("book"), book.path()).unwrap();
    let before = snapshot(book.path());
    let out = auditbook(&[
        "build",
        "--chapter",
        "laplace_immo",
        "--fault",
        "rooms_capped",
        "--out",
        &book.path().to_string_lossy(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("q3.rooms_sum_to_national") && stderr.contains("rooms sum to"),
        "{stderr}"
    );
    assert_eq!(snapshot(book.path()), before, "the book changed");
}

#[test]
fn an_unknown_fault_is_a_usage_error_listing_the_chapters_faults() {
    let out = auditbook(&["check", "--chapter", "indutech", "--fault", "no_such_fault"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("processor_crashes"), "{stderr}");
    let out = auditbook(&["check", "--fault", "processor_crashes"]);
    assert_eq!(out.status.code(), Some(2), "a fault needs its chapter");
}

#[test]
fn a_fault_never_touches_the_committed_datasets() {
    let csv = super::root().join("datasets/seattle/2016_Building_Energy_Benchmarking.csv");
    let before = std::fs::read(&csv).unwrap();
    let out = auditbook(&[
        "check",
        "--chapter",
        "seattle",
        "--fault",
        "steam_loaded_as_parking",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let dictionary_fault = auditbook(&["findings", "seattle", "--fault", "column_without_meaning"]);
    assert_eq!(dictionary_fault.status.code(), Some(1));
    assert_eq!(std::fs::read(&csv).unwrap(), before);
    // The declaration edits lived in the faulted runs only: a plain run passes.
    assert_eq!(
        auditbook(&["check", "--chapter", "seattle"]).status.code(),
        Some(0)
    );
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &std::path::Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                out.push((
                    path.strip_prefix(dir)
                        .unwrap()
                        .to_string_lossy()
                        .to_string(),
                    std::fs::read(&path).unwrap(),
                ));
            }
        }
    }
    out.sort();
    out
}
