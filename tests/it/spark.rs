//! The chapters beside Apache Spark 4.3 (a standalone cluster with a Spark Connect server,
//! which `scripts/test` starts and names in AUDITBOOK_TEST_SPARK_REMOTE): Laplace Immo's
//! twelve questions on Spark SQL equal to DuckDB's at scale 1 and 10, InduTech's windows on
//! Structured Streaming equal to the chapter's stream plus late counts, and each comparison
//! shown failing under its declared fault. Without a cluster, `--spark` is exit 2.

use std::time::Instant;

use auditbook::chapter::Backends;
use auditbook::commands::book::{self, RunOptions};
use auditbook::commands::fault_matrix;
use auditbook::notebook::Notebook;

use super::{check_passed, options, server};

fn on_spark(chapter: &str, params: &[(&str, &str)], remote: &str) -> RunOptions {
    RunOptions {
        backends: Backends {
            spark_remote: Some(remote.to_string()),
            ..Backends::default()
        },
        ..options(chapter, params, None)
    }
}

fn run(chapter: &str, params: &[(&str, &str)], remote: &str) -> Notebook {
    let c = book::chapter_by_id(chapter).unwrap();
    book::run_chapter(c, &on_spark(chapter, params, remote)).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs one declared fault against the cluster through the fault matrix: its checks must
/// fail with the detail it declares.
fn fault_bites(chapter: &str, fault: &str, remote: &str) {
    let report =
        fault_matrix::run(Some(chapter), Some(fault), &on_spark(chapter, &[], remote)).unwrap();
    report
        .verdict()
        .unwrap_or_else(|e| panic!("{e}\n{}", report.table()));
}

#[test]
fn laplace_questions_agree_on_spark_sql_at_scale_1_and_10() {
    let Some(remote) = server("AUDITBOOK_TEST_SPARK_REMOTE") else {
        return;
    };
    for scale in ["1", "10"] {
        let started = Instant::now();
        let nb = run("laplace_immo", &[("scale", scale)], &remote);
        check_passed(&nb, "spark.agrees");
        assert_eq!(nb.int("spark.questions_equal").unwrap(), 12);
        assert_eq!(nb.int("spark.cells_differing").unwrap(), 0);
        assert!(nb.int("spark.cells_compared").unwrap() > 100);
        // The appendix shows each Spark text as it ran.
        assert!(nb
            .queries
            .contains_key("q04_top_departments_price_m2.spark"));
        assert!(nb.queries["sale_facts.spark"].contains("create or replace temporary view"));
        eprintln!(
            "laplace_immo scale {scale}: DuckDB and Spark in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn laplace_spark_fault_makes_the_agreement_fail() {
    let Some(remote) = server("AUDITBOOK_TEST_SPARK_REMOTE") else {
        return;
    };
    fault_bites("laplace_immo", "spark_drops_unpriced_sales", &remote);
}

#[test]
fn indutech_windows_agree_on_structured_streaming() {
    let Some(remote) = server("AUDITBOOK_TEST_SPARK_REMOTE") else {
        return;
    };
    let nb = run("indutech", &[], &remote);
    check_passed(&nb, "spark.windows_agree");
    assert_eq!(nb.int("spark.rows_dropped").unwrap(), 0);
    assert_eq!(nb.int("spark.rows_read").unwrap(), 20_000);
    assert!(
        nb.int("spark.micro_batches").unwrap() > 1,
        "one micro-batch is no stream"
    );
    assert!(nb.int("spark.cells_emitted").unwrap() > 1_000);
    assert_eq!(nb.int("spark.cells_not_emitted").unwrap(), 0);
    // The chapter's own late tickets stay its own: Spark's delay was set to drop none.
    assert!(nb.int("stream.late").unwrap() > 0);
}

#[test]
fn indutech_spark_watermark_without_delay_makes_the_agreement_fail() {
    let Some(remote) = server("AUDITBOOK_TEST_SPARK_REMOTE") else {
        return;
    };
    fault_bites("indutech", "spark_watermark_without_delay", &remote);
}

#[test]
fn a_spark_cluster_out_of_reach_is_exit_2_naming_it() {
    let out = super::auditbook(&["findings", "laplace_immo", "--spark", "sc://127.0.0.1:9"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("Spark Connect server at sc://127.0.0.1:9"),
        "{stderr}"
    );
}

#[test]
fn a_spark_fault_without_a_cluster_is_a_usage_error() {
    let out = super::auditbook(&[
        "findings",
        "laplace_immo",
        "--fault",
        "spark_drops_unpriced_sales",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("needs a Spark cluster"), "{stderr}");
}
