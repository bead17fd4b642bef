//! The binary as a user runs it: JSON on stdout, exit codes 0/1/2, errors that name things.

use std::process::{Command, Output};

use super::auditbook;

fn stdout_json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

#[test]
fn findings_prints_plain_json_numbers() {
    let out = auditbook(&["findings", "supersmartmarket"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json = stdout_json(&out);
    assert_eq!(json["late_batch.rows"], 1379);
    assert!(json["gap.total_eur"].is_number());
    assert!(!String::from_utf8_lossy(&out.stdout).contains(','.to_string().repeat(2).as_str()));
}

#[test]
fn a_parameter_plants_another_batch() {
    let out = auditbook(&["findings", "supersmartmarket", "--param", "late_batch=777"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out)["late_batch.rows"], 777);
}

#[test]
fn the_real_layout_runs_through_data() {
    let fixture = super::root().join("tests/fixtures/supersmartmarket_real_layout");
    let out = auditbook(&[
        "findings",
        "supersmartmarket",
        "--data",
        fixture.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout_json(&out)["sales.rows"], 4);
}

#[test]
fn usage_errors_exit_2_and_name_the_problem() {
    let out = auditbook(&["findings", "supersmartmarket", "--param", "late_bach=3"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("late_bach") && err.contains("late_batch"),
        "{err}"
    );

    let out = auditbook(&["findings", "nochapter"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("supersmartmarket"));

    let out = auditbook(&["findings", "supersmartmarket", "--data", "/nonexistent/dir"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn findings_help_lists_the_parameters() {
    let out = auditbook(&["findings", "--help"]);
    let help = String::from_utf8_lossy(&out.stdout);
    for name in [
        "late_batch",
        "late_day",
        "price_updates",
        "seed",
        "Fact_vente.csv",
    ] {
        assert!(help.contains(name), "{name} missing from --help");
    }
}

#[test]
fn a_failed_check_exits_1_and_leaves_the_previous_book_intact() {
    let scratch = tempfile::tempdir().unwrap();
    let out_dir = scratch.path().join("book");
    let ok = auditbook(&["build", "--no-cache", "--out", out_dir.to_str().unwrap()]);
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let before = std::fs::read(out_dir.join("supersmartmarket.html")).unwrap();

    // Bad data: a malformed sale row makes `load.complete` fail.
    let data = scratch.path().join("data");
    auditbook::commands::book::copy_dir(
        &super::root().join("tests/fixtures/supersmartmarket_real_layout"),
        &data,
    )
    .unwrap();
    let fact = data.join("Fact_vente.csv");
    let text = std::fs::read_to_string(&fact)
        .unwrap()
        .replacen("\r\n2;", "\r\nx2;", 1);
    std::fs::write(&fact, text).unwrap();
    let out = auditbook(&[
        "check",
        "--chapter",
        "supersmartmarket",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("supersmartmarket")
            && err.contains("Fact_vente.csv")
            && err.contains("line 3"),
        "{err}"
    );

    // A build that fails (unknown parameter value) writes nothing.
    let bad = auditbook(&[
        "build",
        "--no-cache",
        "--out",
        out_dir.to_str().unwrap(),
        "--param",
        "supersmartmarket.late_day=2030-01-01",
    ]);
    assert_ne!(bad.status.code(), Some(0));
    assert_eq!(
        std::fs::read(out_dir.join("supersmartmarket.html")).unwrap(),
        before
    );
}

#[test]
fn data_verify_checks_the_generated_datasets() {
    let out = auditbook(&["data", "verify"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("ok   supersmartmarket (generated) Fact_vente.csv"));
}

#[test]
fn a_local_time_the_clocks_skip_is_refused_naming_the_parameter() {
    // 2024-03-31 02:30 never happened in Paris: the clocks went from 02:00 to 03:00.
    let out = auditbook(&["findings", "greencoop", "--param", "from=2024-03-31T02:30"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("from `2024-03-31T02:30` does not exist in Europe/"),
        "{stderr}"
    );
    let out = auditbook(&["findings", "greencoop", "--param", "from=2024-10-08T00:00"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("must come before until"), "{stderr}");
}

#[test]
fn an_undeclared_flow_variable_is_refused_before_anything_runs() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path().to_str().unwrap();
    // `z_treshold`, misspelt: run on the defaults, the user would believe 3 was in force.
    let out = auditbook(&[
        "flow",
        "run",
        "bottleneck",
        "--work",
        w,
        "--var",
        "z_treshold=3",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no variable `z_treshold`"), "{stderr}");
    assert!(
        stderr.contains("z_threshold"),
        "names the declared ones: {stderr}"
    );
    assert!(
        !work.path().join("flow.duckdb").exists(),
        "nothing ran: {:?}",
        std::fs::read_dir(work.path()).unwrap().collect::<Vec<_>>()
    );
}

#[test]
fn flow_next_prints_paris_nine_oclock_in_utc_across_dst() {
    let out = auditbook(&[
        "flow",
        "next",
        "bottleneck",
        "--from",
        "2026-02-20T00:00:00Z",
        "-n",
        "2",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2026-03-15 09:00 CET  (2026-03-15 08:00 UTC)"),
        "{text}"
    );
    assert!(
        text.contains("2026-04-15 09:00 CEST  (2026-04-15 07:00 UTC)"),
        "{text}"
    );
}

#[test]
fn flow_export_writes_a_kestra_flow_with_the_same_trigger() {
    let out = auditbook(&["flow", "export", "bottleneck", "--kestra"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml: serde_yaml::Value = serde_yaml::from_slice(&out.stdout).unwrap();
    assert_eq!(yaml["id"], "bottleneck_monthly_revenue");
    assert_eq!(yaml["triggers"][0]["cron"], "0 9 15 * *");
    assert_eq!(yaml["triggers"][0]["timezone"], "Europe/Paris");
    let sql = yaml["tasks"]
        .as_sequence()
        .unwrap()
        .iter()
        .find(|t| t["id"] == "clean_erp")
        .unwrap()["sql"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(sql.contains("create or replace table erp_clean"));
}

#[test]
fn flow_run_then_resume_is_refused_when_nothing_failed() {
    let work = tempfile::tempdir().unwrap();
    let w = work.path().to_str().unwrap();
    let out = auditbook(&[
        "flow",
        "run",
        "bottleneck",
        "--work",
        w,
        "--param",
        "products=200",
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("extract"));
    let again = auditbook(&["flow", "run", "bottleneck", "--work", w, "--resume"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to resume"));
    let history = auditbook(&["flow", "history", "bottleneck", "--work", w]);
    assert_eq!(history.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&history.stdout).contains("succeeded"));
}

/// A document server that cannot be installed (no python3 on PATH) means the tool could not
/// run: exit 2, naming the command that failed and why, not a guess.
#[test]
fn a_document_server_that_cannot_be_installed_exits_2_naming_the_command() {
    let cache = tempfile::tempdir().unwrap();
    let empty_path = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .arg("--root")
        .arg(super::root())
        .args(["findings", "greencoop"])
        .env("AUDITBOOK_CACHE_DIR", cache.path())
        .env("PATH", empty_path.path())
        .env_remove("AUDITBOOK_MONGO_URI")
        .output()
        .expect("the binary runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("chapter `greencoop`: no document store"),
        "{err}"
    );
    assert!(err.contains("could not run `python3 -m venv"), "{err}");
    assert!(err.contains("not found on PATH"), "{err}");
    assert!(!cache.path().join("secantusdb-0.7.0b3").exists());
}

/// Two runs on one checkout take turns: while one holds the checkout (here, this test), the
/// other waits, says so, and runs once the first is done.
#[test]
fn a_second_run_on_the_checkout_waits_for_the_first_and_says_so() {
    let started = std::time::Instant::now();
    let held = auditbook::lock::RunLock::acquire(&super::root()).unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_auditbook"))
        .arg("--root")
        .arg(super::root())
        .args(["findings", "supersmartmarket"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    drop(held);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("another auditbook run is using this checkout"),
        "{err}"
    );
    assert_eq!(stdout_json(&out)["late_batch.rows"], 1379);
    crate::drill::record(
        "build.two_at_once",
        &[
            ("held by the first", "1.5 s".into()),
            (
                "second",
                "waited, said so, exit 0, complete findings".into(),
            ),
        ],
        started,
    );
}

/// `diff` against the committed book: nothing differs at the defaults; another plant changes
/// the late batch's numbers, listed old → new, and exits 1.
#[test]
fn diff_lists_what_a_run_changes_in_the_committed_book() {
    let same = auditbook(&["diff", "--chapter", "supersmartmarket"]);
    let err = String::from_utf8_lossy(&same.stderr);
    assert_eq!(
        same.status.code(),
        Some(0),
        "{}{err}",
        String::from_utf8_lossy(&same.stdout)
    );
    assert!(
        err.contains("no finding or check result differs from book/"),
        "{err}"
    );

    let other = auditbook(&[
        "diff",
        "--chapter",
        "supersmartmarket",
        "--param",
        "supersmartmarket.late_batch=777",
    ]);
    assert_eq!(
        other.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&other.stderr)
    );
    let out = String::from_utf8_lossy(&other.stdout);
    let line = out
        .lines()
        .find(|l| l.contains("late_batch.rows"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("1379 → 777"), "{line}");
    assert!(
        out.lines().all(|l| l.starts_with("supersmartmarket ")),
        "only the chapter run is compared: {out}"
    );

    let bad = auditbook(&["diff", "--against", "no-such-revision"]);
    assert_eq!(
        bad.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

/// Every parameter is checked against its declared range before any run: a value outside it
/// is a usage error (exit 2) naming the parameter and the range, never a panic or a hang.
/// Tried here: the values the issue found accepted or looping (`partitions=0` spun forever).
#[test]
fn a_parameter_outside_its_range_is_refused_naming_it_and_the_range() {
    for (chapter, param, range) in [
        ("indutech", "partitions=0", "an integer from 1 to 64"),
        ("indutech", "disorder_share=2", "a number from 0 to 1"),
        ("indutech", "lateness_s=-1", "an integer from 0 to 86400"),
        ("indutech", "days=0", "an integer from 1 to 366"),
        ("indutech", "clients=0", "an integer from 1 to 1000000"),
        ("indutech", "tickets=0", "an integer from 1 to 10000000"),
        ("seattle", "folds=1", "an integer from 2 to 50"),
        ("bottleneck", "gift_card=maybe", "true or false"),
        (
            "greencoop",
            "capacity_mib=NaN",
            "a number from 1 to 1000000",
        ),
    ] {
        let out = auditbook(&["findings", chapter, "--param", param]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{chapter} {param}: {stderr}");
        assert!(
            stderr.contains(&format!("`{param}`")) && stderr.contains(range),
            "{chapter} {param}: {stderr}"
        );
    }
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 256, ..Default::default() })]

    /// Any text for any parameter of any chapter is accepted as declared or refused as a
    /// usage error naming the parameter: resolving never panics, and a refused value is
    /// exactly one outside its declared range.
    #[test]
    fn any_parameter_value_is_accepted_in_range_or_refused_naming_it(chapter in 0usize..7, which in 0usize..16, raw in "-?[0-9]{0,8}(\\.[0-9]{0,3})?|true|false|NaN|inf|[a-z]{0,6}") {
        let meta = auditbook::commands::book::all_meta()[chapter];
        let spec = meta.params[which % meta.params.len()];
        let given = [(spec.name.to_string(), raw.clone())].into_iter().collect();
        match auditbook::chapter::Params::resolve(meta, &given) {
            Ok(_) => proptest::prop_assert!(spec.allowed.refuse(&raw).is_none()),
            Err(e) => {
                proptest::prop_assert_eq!(e.exit_code(), 2);
                proptest::prop_assert!(e.to_string().contains(spec.name), "{}", e);
            }
        }
    }
}

/// A backend the user names that does not answer means the tool could not run: exit 2, with
/// the service and its address named (a wrong book would be 1).
#[test]
fn a_backend_out_of_reach_exits_2_naming_the_service_and_address() {
    // A loopback port nothing listens on: bound, then released.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mongo =
        format!("mongodb://127.0.0.1:{port}/?directConnection=true&serverSelectionTimeoutMS=2000");
    let broker = format!("127.0.0.1:{port}");
    let s3 = format!("http://127.0.0.1:{port}");
    let cases: [(Vec<&str>, &str); 3] = [
        (
            vec!["findings", "greencoop", "--mongo-uri", &mongo],
            "document store",
        ),
        (
            vec![
                "findings",
                "indutech",
                "--param",
                "tickets=2000",
                "--brokers",
                &broker,
            ],
            "Kafka broker",
        ),
        (
            vec![
                "findings",
                "indutech",
                "--param",
                "tickets=2000",
                "--s3-endpoint",
                &s3,
                "--s3-bucket",
                "auditbook",
            ],
            "S3 store",
        ),
    ];
    for (args, service) in cases {
        let out = auditbook(&args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{service}: {err}");
        assert!(
            err.contains(&format!("no answer from the {service} at"))
                && err.contains(&port.to_string()),
            "{service}: {err}"
        );
    }
}

/// `main` prints the chain of causes with the paths involved, and `--data` names the folder.
#[test]
fn errors_name_the_path_and_every_cause() {
    let out = auditbook(&["findings", "supersmartmarket", "--data", "/nonexistent/dir"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("/nonexistent/dir") && err.contains("no such directory"),
        "{err}"
    );

    // A book written where it cannot be: the path, then the operating system's reason.
    let blocker = tempfile::NamedTempFile::new().unwrap();
    let out_dir = blocker.path().join("book");
    let out = auditbook(&[
        "build",
        "--chapter",
        "supersmartmarket",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&blocker.path().display().to_string()) && err.contains("caused by:"),
        "{err}"
    );
    assert!(!err.contains("chapter `-`"), "{err}");
}
