//! GreenCoop: each alarm fires when its condition is put into the data (never by lowering a
//! threshold), the imperial-pressure bug is caught by the audit, the repeated autumn hour
//! converts without collisions, what is read is loaded or quarantined, and the driver path
//! runs against the test server (and the landing zone against S3) that `scripts/test` starts.

use std::collections::BTreeSet;

use auditbook::backends::objstore::Target;
use auditbook::chapters::greencoop::{self, generate, pipeline, wunderground};
use proptest::prelude::*;

fn alarm(nb: &auditbook::notebook::Notebook, id: &str) -> String {
    nb.text(&format!("alarm.{id}")).unwrap()
}

#[test]
fn unreadable_rows_an_outage_and_a_gap_raise_their_alarms_and_only_those() {
    let nb = crate::run(
        "greencoop",
        &[
            ("bad_rows", "100"),
            ("outage_hours", "12"),
            ("gap_hours", "3"),
        ],
        None,
    );
    // Each alarm is a check: exactly the three raised fail, and nothing else does.
    let failed: Vec<&str> = nb
        .checks
        .iter()
        .filter(|c| matches!(c.status, auditbook::notebook::Status::Failed(_)))
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(
        failed,
        ["alarm.error_rate", "alarm.freshness", "alarm.gaps"],
        "{:?}",
        nb.failures()
    );
    assert_eq!(alarm(&nb, "error_rate"), "ALARM");
    assert_eq!(alarm(&nb, "freshness"), "ALARM");
    assert_eq!(alarm(&nb, "gaps"), "ALARM");
    assert_eq!(alarm(&nb, "range"), "OK");
    assert_eq!(alarm(&nb, "storage"), "OK");
    assert!(nb.int("audit.gaps_over_limit").unwrap() >= 1);
}

#[test]
fn the_pressure_bug_and_a_full_volume_raise_their_alarms_and_only_those() {
    let nb = crate::run(
        "greencoop",
        &[("pressure_bug", "true"), ("ballast_mib", "60")],
        None,
    );
    assert_eq!(alarm(&nb, "range"), "ALARM");
    assert_eq!(alarm(&nb, "storage"), "ALARM");
    assert_eq!(alarm(&nb, "error_rate"), "OK");
    assert_eq!(alarm(&nb, "freshness"), "OK");
    assert_eq!(alarm(&nb, "gaps"), "OK");
    // Every Weather Underground pressure (about 30 "hPa") breaks the rule; no InfoClimat one does.
    let wu_documents: i64 = nb
        .table("per_station")
        .unwrap()
        .frame
        .column("documents")
        .unwrap()
        .i64()
        .unwrap()
        .into_iter()
        .skip(4)
        .flatten()
        .sum();
    assert_eq!(nb.int("audit.pressure_violations").unwrap(), wu_documents);
}

#[test]
fn the_default_run_raises_no_alarm() {
    let nb = &crate::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "greencoop")
        .unwrap()
        .1;
    assert_eq!(nb.int("alarms.firing").unwrap(), 0);
    assert_eq!(nb.int("rerun.inserted").unwrap(), 0);
}

fn plan(
    from: &str,
    until: &str,
    bad_rows: usize,
    duplicate_rows: usize,
    seed: u64,
) -> generate::Plan {
    let at = |s: &str| chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M").unwrap();
    generate::Plan {
        seed,
        from: at(from),
        until: at(until),
        stations: vec![generate::StationPlan {
            file: "WU_La_Madeleine_FR.xlsx".into(),
            timezone: chrono_tz::Europe::Paris,
            mean_c: 12.0,
        }],
        bad_rows,
        duplicate_rows,
        gap_hours: 0,
        outage_hours: 0,
    }
}

fn parse_generated(
    plan: &generate::Plan,
) -> (
    auditbook::chapters::greencoop::reading::Parsed,
    generate::Planted,
) {
    let dir = tempfile::tempdir().unwrap();
    let (files, planted) = generate::generate(plan, dir.path()).unwrap();
    let bytes = std::fs::read(dir.path().join(&files[0])).unwrap();
    let station = wunderground::Station {
        id: "LM".into(),
        timezone: chrono_tz::Europe::Paris,
        pressure_bug: false,
    };
    (
        wunderground::parse(&files[0], &bytes, &station).unwrap(),
        planted,
    )
}

#[test]
fn the_repeated_autumn_hour_converts_without_collisions() {
    // 27 October 2024: 02:00–03:00 happens twice in Paris; the sheet holds 25 hours.
    let (parsed, planted) = parse_generated(&plan("2024-10-26T00:00", "2024-10-28T23:59", 0, 0, 3));
    assert_eq!(parsed.readings.len(), planted.rows_written);
    let ids: BTreeSet<String> = parsed.readings.iter().map(|r| r.id()).collect();
    assert_eq!(
        ids.len(),
        parsed.readings.len(),
        "two readings got the same UTC instant"
    );
    let on_27th = parsed
        .readings
        .iter()
        .filter(|r| r.origin.sheet == "271024")
        .count();
    assert!(
        on_27th > 24 * 12 - 5,
        "the 25-hour day has {on_27th} readings"
    );
    // UTC instants strictly increase down the workbook.
    assert!(parsed.readings.windows(2).all(|w| w[0].at < w[1].at));
}

#[test]
fn a_workbook_with_another_header_is_refused_with_its_sheet() {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("011024").unwrap();
    sheet.write_string(0, 0, "Heure").unwrap();
    let bytes = book.save_to_buffer().unwrap();
    let station = wunderground::Station {
        id: "X".into(),
        timezone: chrono_tz::Europe::Paris,
        pressure_bug: false,
    };
    let err = wunderground::parse("WU_X.xlsx", &bytes, &station)
        .unwrap_err()
        .to_string();
    assert!(err.contains("WU_X.xlsx, sheet 011024: header"), "{err}");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Whatever is planted, the parser's counts are the generator's: every row it wrote is
    /// read, the bad ones quarantined, the others readings (counted by each side on its own).
    #[test]
    fn read_is_readings_plus_quarantined(bad in 0usize..40, dup in 0usize..10, seed in 0u64..1000) {
        let (parsed, planted) = parse_generated(&plan("2024-10-01T00:00", "2024-10-02T12:00", bad, dup, seed));
        prop_assert_eq!(parsed.rows_read(), planted.rows_written);
        prop_assert_eq!(parsed.readings.len(), planted.rows_written - planted.bad_rows);
        prop_assert_eq!(parsed.quarantined.len(), planted.bad_rows);
        let distinct: BTreeSet<String> = parsed.readings.iter().map(|r| r.id()).collect();
        // A duplicated row whose original was made unreadable is quarantined twice instead.
        prop_assert!(parsed.readings.len() - distinct.len() <= planted.duplicate_rows);
    }
}

/// The pipeline against the MongoDB-wire test server, with the landing zone in S3 when the
/// S3 test server is there too; run twice on one database, the second run loads nothing.
#[test]
fn the_pipeline_runs_against_the_test_servers_and_a_second_run_loads_nothing() {
    let Some(uri) = crate::server("AUDITBOOK_TEST_MONGO_URI") else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (_, planted) = generate::generate(
        &plan("2024-10-01T00:00", "2024-10-02T00:00", 2, 1, 9),
        dir.path(),
    )
    .unwrap();
    let landing = match (
        std::env::var("AUDITBOOK_TEST_S3_ENDPOINT"),
        std::env::var("AUDITBOOK_TEST_S3_BUCKET"),
    ) {
        (Ok(endpoint), Ok(bucket)) => Target::S3 {
            endpoint,
            bucket,
            prefix: format!("greencoop-it/{}", std::process::id()),
        },
        _ => Target::Local(work.path().join("lake")),
    };
    let database = format!("greencoop_it_{}", std::process::id());
    let config = |work_dir: &std::path::Path| pipeline::Config {
        infoclimat: vec![crate::root().join("datasets/greencoop/infoclimat_2024-10-05_07.json")],
        workbooks: vec![dir.path().join("WU_La_Madeleine_FR.xlsx")],
        stations: greencoop::stations().unwrap(),
        pressure_bug: false,
        mongo_uri: Some(uri.clone()),
        local_store: Default::default(),
        database: database.clone(),
        landing: landing.clone(),
        work_dir: work_dir.to_path_buf(),
        ballast_mib: 0,
        max_gap_min: 60,
        restore_input: &|dir: &std::path::Path| Ok(dir.to_path_buf()),
    };
    let first = pipeline::run(&config(work.path())).unwrap();
    assert!(first.server.starts_with("MongoDB at"), "{}", first.server);
    assert_eq!(first.parsed.quarantined.len(), planted.bad_rows);
    assert_eq!(first.first_load.inserted, first.distinct_readings);
    assert_eq!(first.backup.hash_original, first.backup.hash_restored);
    let second = pipeline::run(&config(work.path())).unwrap();
    assert_eq!(
        second.first_load.inserted, 0,
        "a second run on the same database loads nothing"
    );
    assert_eq!(second.ours_in_store, first.ours_in_store);
    assert_eq!(second.documents_in_store, first.documents_in_store);
    let store = auditbook::backends::docstore::DocStore::connect(Some(&uri)).unwrap();
    store.drop_database(&database).unwrap();
    store.drop_database(&format!("{database}_restore")).unwrap();
}
