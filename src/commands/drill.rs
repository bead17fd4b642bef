//! The failure drill's table (`auditbook drill`). The drill breaks the machinery around a
//! run — servers killed, stores refusing, the tool itself interrupted — and each of its rows
//! is a test (`tests/it/drill/`, and beside the chapters' tests for the flow's database, the
//! signals, the disk and the run lock). A row that passes records what it measured, when
//! `AUDITBOOK_DRILL_RECORD` names a folder (`scripts/test` sets it to
//! `target/auditbook/drill/`), as `<row>.json`. This command reads those records against
//! [`MATRIX`], the rows the drill must have, and writes the table to
//! `measurements/drill.md`: a row built but with no record did not pass in the recorded run
//! (exit 1); a row not built yet says so.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The variable naming the folder where passing rows record their figures.
pub const RECORD_VAR: &str = "AUDITBOOK_DRILL_RECORD";

/// One row of the drill, as the table states it.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// The row's name, also its record's file name.
    pub id: &'static str,
    /// What fails.
    pub fault: &'static str,
    /// How the failure is made.
    pub injection: &'static str,
    /// What the tool does, and what is checked afterwards.
    pub outcome: &'static str,
    /// The test that is the row, or `None` while the row is not built.
    pub test: Option<&'static str>,
}

/// Every row of the drill, in the table's order.
pub const MATRIX: &[Row] = &[
    Row {
        id: "broker.killed",
        fault: "Kafka-protocol broker (Tansu on s3:// over moto) killed mid-stream",
        injection: "SIGKILL once the processor has windowed 2,000 of 6,000 tickets; restarted on the same store",
        outcome: "error naming the broker within the idle timeout; no checkpoint claims an unwritten ticket, no commit ahead of a checkpoint; the rerun's Parquet identical to an uninterrupted run's",
        test: Some("drill::broker::the_broker_killed_mid_stream_then_restarted_on_its_store_gives_the_same_files"),
    },
    Row {
        id: "broker.failover",
        fault: "one broker of three (in-process cluster, replication 3) down mid-stream",
        injection: "`broker_down` of partition 0's leader, leaders moved to the replicas",
        outcome: "the run completes; files identical to an uninterrupted run's",
        test: Some("drill::broker::one_broker_of_three_down_mid_stream_fails_over_and_completes"),
    },
    Row {
        id: "docstore.load_killed",
        fault: "MongoDB-wire server (SecantusDB) killed during GreenCoop's load",
        injection: "SIGKILL once part of the collection is stored (a proxy watches the insert)",
        outcome: "exit 2 naming the server; the rerun leaves the collection of a clean run (count, content hash, no key twice)",
        test: Some("drill::greencoop_survives_its_server_killed_during_the_load"),
    },
    Row {
        id: "docstore.restore_killed",
        fault: "MongoDB-wire server killed during the NosCités restore (auth on)",
        injection: "SIGKILL once part of the restored collection is stored",
        outcome: "exit 2 naming the server; the rerun completes the collection (count, content hash, no key twice)",
        test: Some("drill::noscites_survives_its_server_killed_during_the_restore"),
    },
    Row {
        id: "objstore.refusing_then_gone",
        fault: "S3 store (moto) answering 503 to PUTs, then to everything",
        injection: "a loopback proxy in front of moto",
        outcome: "503s retried with backoff, the objects of a clean run; then exit 2 naming the store within the retry budget, no object half-written",
        test: Some("drill::the_object_store_refusing_then_gone_is_retried_then_a_clear_error"),
    },
    Row {
        id: "duckdb.held",
        fault: "the flow's DuckDB file held by another process",
        injection: "a child process holding DuckDB's lock for 3 s",
        outcome: "retried, then exit 2 naming the database; `--resume` completes",
        test: Some("bottleneck::a_lock_held_throughout_fails_with_a_clear_message_then_resumes"),
    },
    Row {
        id: "duckdb.removed",
        fault: "the flow's DuckDB file removed between two tasks",
        injection: "deleted once the first task's success is saved",
        outcome: "retried, then a clear failure; `--resume` reruns every task and writes a clean run's extractions",
        test: Some("bottleneck::a_database_removed_between_two_tasks_is_retried_then_resumed_whole"),
    },
    Row {
        id: "build.signals",
        fault: "`build` interrupted by SIGINT or SIGTERM",
        injection: "signals at 0.2 s, 1.5 s and 4 s into GreenCoop (staging, loading, auditing)",
        outcome: "exit 128 + the signal; previous book intact; no temporary folder left; no server left running",
        test: Some("interrupt::an_interrupted_build_leaves_the_previous_book_and_nothing_else"),
    },
    Row {
        id: "build.two_at_once",
        fault: "two runs at once on one checkout",
        injection: "a run started while another holds the checkout",
        outcome: "the second waits and says so, then runs; a complete result",
        test: Some("cli::a_second_run_on_the_checkout_waits_for_the_first_and_says_so"),
    },
    Row {
        id: "build.disk_full",
        fault: "the disk full while the book is written",
        injection: "a tmpfs with room for the previous book and half of the new one",
        outcome: "exit 2 naming the file; previous book intact; no partial folder",
        test: Some("interrupt::a_full_disk_while_writing_the_book_is_exit_2_and_keeps_the_previous_book"),
    },
    Row {
        id: "input.fuzz",
        fault: "bad input, generated: the parsers of user files",
        injection: "the committed corpus (`tests/fuzz/`) replayed, then mutations of it and arbitrary bytes",
        outcome: "no panic, no hang; errors name file and line; every byte or row of a file read accounted for",
        test: Some("fuzz::every_reader_takes_its_committed_corpus"),
    },
    Row {
        id: "api.abuse",
        fault: "the Seattle API under abuse",
        injection: "1,000 connections at once, 50 clients sending a byte a second, bodies at and over the limits, JSON nested 10,000 deep, bytes not UTF-8",
        outcome: "no 5xx; valid requests sent meanwhile all answered 200 (p99 recorded); peak memory under 1 GiB",
        test: Some("drill::api::the_api_under_abuse_answers_no_5xx_and_keeps_serving"),
    },
    Row {
        id: "api.abuse_events",
        fault: "the events assistant's API under abuse",
        injection: "as the Seattle API's row: 1,000 connections at once, slow clients, bodies at and over its 16 KiB limit, JSON nested 10,000 deep, bytes not UTF-8",
        outcome: "no 5xx; valid requests sent meanwhile all answered 200 (p99 recorded); peak memory under 1 GiB",
        test: Some("drill::api::the_events_assistant_under_abuse_answers_no_5xx_and_keeps_serving"),
    },
];

/// What a passing row measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    /// The row's id (see [`MATRIX`]).
    pub row: String,
    /// Its figures, label and value, in the order it states them.
    pub figures: Vec<(String, String)>,
    /// The row's own wall time, seconds.
    pub seconds: f64,
}

/// Records a passing row's figures under the folder `AUDITBOOK_DRILL_RECORD` names; nothing
/// when it names none. Called by the row's test once every assertion held.
pub fn record(row: &str, figures: &[(&str, String)], seconds: f64) -> Result<()> {
    let Some(dir) = std::env::var_os(RECORD_VAR) else {
        return Ok(());
    };
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let record = Record {
        row: row.to_string(),
        figures: figures
            .iter()
            .map(|(label, value)| (label.to_string(), value.clone()))
            .collect(),
        seconds,
    };
    let path = dir.join(format!("{row}.json"));
    let text = serde_json::to_string_pretty(&record).expect("a record serialises");
    std::fs::write(&path, text).map_err(Error::io(&path))
}

/// The drill as recorded: each row of the matrix with its record, if any.
#[derive(Debug)]
pub struct Report {
    /// The folder the records were read from.
    pub dir: PathBuf,
    /// Every row, with its record when it passed.
    pub rows: Vec<(Row, Option<Record>)>,
}

/// Reads the records in `dir` against [`MATRIX`]. A record of no known row, or one that does
/// not parse, is an error naming its file.
pub fn report(dir: &Path) -> Result<Report> {
    let mut records = std::collections::BTreeMap::new();
    if dir.is_dir() {
        for entry in std::fs::read_dir(dir).map_err(Error::io(dir))? {
            let path = entry.map_err(Error::io(dir))?.path();
            if path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(Error::io(&path))?;
            let record: Record = serde_json::from_str(&text).map_err(|e| Error::BadFile {
                file: path.display().to_string(),
                row: Some(e.line() as u64),
                message: e.to_string(),
            })?;
            if !MATRIX.iter().any(|r| r.id == record.row) {
                return Err(Error::BadFile {
                    file: path.display().to_string(),
                    row: None,
                    message: format!("`{}` is no row of the drill", record.row),
                });
            }
            records.insert(record.row.clone(), record);
        }
    }
    let rows = MATRIX
        .iter()
        .map(|row| (*row, records.remove(row.id)))
        .collect();
    Ok(Report {
        dir: dir.to_path_buf(),
        rows,
    })
}

impl Report {
    /// The table, as Markdown: one line per row with its result and figures, then the rows'
    /// time summed.
    pub fn table(&self) -> String {
        let mut out = String::from("# Failure drill\n\n");
        let _ = writeln!(
            out,
            "Rows recorded in `{}` by the tests that are the rows (`scripts/test`). A row \
             passes when its test's every assertion held.\n",
            self.dir.display()
        );
        out.push_str("| row | fault | injected | what the tool does, what is checked | result | figures | time |\n");
        out.push_str("|---|---|---|---|---|---|---:|\n");
        for (row, record) in &self.rows {
            let (result, figures, time) = match (row.test, record) {
                (None, _) => ("not built yet".to_string(), String::new(), String::new()),
                (Some(_), None) => (
                    "**no record: failed or skipped**".to_string(),
                    String::new(),
                    String::new(),
                ),
                (Some(_), Some(r)) => (
                    "passed".to_string(),
                    r.figures
                        .iter()
                        .map(|(label, value)| format!("{label}: {value}"))
                        .collect::<Vec<_>>()
                        .join("; "),
                    format!("{:.1} s", r.seconds),
                ),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {result} | {figures} | {time} |",
                row.id, row.fault, row.injection, row.outcome
            );
        }
        let total: f64 = self
            .rows
            .iter()
            .filter_map(|(_, r)| r.as_ref())
            .map(|r| r.seconds)
            .sum();
        let passed = self.rows.iter().filter(|(_, r)| r.is_some()).count();
        let built = self
            .rows
            .iter()
            .filter(|(row, _)| row.test.is_some())
            .count();
        let _ = writeln!(
            out,
            "\n{passed} of {built} rows built passed ({} of the matrix not built yet); the rows' \
             own time, summed: {total:.1} s.",
            self.rows.len() - built
        );
        out
    }

    /// Exit 1 when a built row has no record.
    pub fn verdict(&self) -> Result<()> {
        let failed: Vec<String> = self
            .rows
            .iter()
            .filter(|(row, record)| row.test.is_some() && record.is_none())
            .map(|(row, _)| format!("{}: no record ({})", row.id, row.test.unwrap_or_default()))
            .collect();
        if failed.is_empty() {
            Ok(())
        } else {
            Err(Error::ChecksFailed {
                chapter: "failure drill".into(),
                failed,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_built_row_without_a_record_fails_the_drill_and_an_unknown_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for row in MATRIX.iter().filter(|r| r.test.is_some()).skip(1) {
            let record = Record {
                row: row.id.into(),
                figures: vec![("retries".into(), "2".into())],
                seconds: 1.5,
            };
            std::fs::write(
                dir.path().join(format!("{}.json", row.id)),
                serde_json::to_string(&record).unwrap(),
            )
            .unwrap();
        }
        let report = report(dir.path()).unwrap();
        let error = report.verdict().unwrap_err();
        assert_eq!(error.exit_code(), 1);
        assert!(error.report().contains(MATRIX[0].id), "{}", error.report());
        let table = report.table();
        assert!(table.contains("no record: failed or skipped"), "{table}");
        assert!(table.contains("retries: 2"), "{table}");

        std::fs::write(
            dir.path().join("x.json"),
            r#"{"row":"x","figures":[],"seconds":0}"#,
        )
        .unwrap();
        let refused = super::report(dir.path()).unwrap_err();
        assert!(refused.report().contains("x.json"), "{}", refused.report());
    }
}
