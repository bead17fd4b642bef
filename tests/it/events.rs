//! The events assistant: a user's own events (`--data`), a bad events file refused with its
//! line and field, `ask` answering the needle's request with the needle first, and
//! `ask --serve`'s `POST /recommend` (in-process) answering a valid body and naming every
//! field of an invalid one.

use std::sync::Arc;

use auditbook::chapters::events::api::{self, App};
use auditbook::chapters::events::corpus::Corpus;
use auditbook::chapters::events::{answer, events_file, generate};
use auditbook::commands::book;
use auditbook::notebook::Status;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};
use tower::ServiceExt;

use super::auditbook;

/// A small events file, generated from four real communes, written into a folder of its own.
fn user_events(n: usize) -> (tempfile::TempDir, Vec<generate::Event>) {
    let communes: Vec<generate::Commune> = [
        ("69123", "Lyon", 520_000),
        ("33063", "Bordeaux", 260_958),
        ("35238", "Rennes", 222_485),
        ("59350", "Lille", 234_475),
    ]
    .iter()
    .map(|(code, name, population)| generate::Commune {
        code: code.to_string(),
        name: name.to_string(),
        population: *population,
    })
    .collect();
    let plan = generate::Plan {
        seed: 21,
        events: n,
        today: chrono::NaiveDate::from_ymd_opt(2026, 12, 2).unwrap(),
        horizon_days: 60,
        near_misses: 10,
    };
    let (events, _) = generate::generate(&plan, &communes);
    let dir = tempfile::tempdir().unwrap();
    events_file::write(dir.path(), &events).unwrap();
    (dir, events)
}

#[test]
fn a_users_own_events_run_every_check_but_the_needles() {
    let (dir, events) = user_events(600);
    let nb = super::run(
        "events",
        &[("requests", "20")],
        Some(dir.path().to_path_buf()),
    );
    assert_eq!(nb.int("data.events").unwrap(), events.len() as i64);
    for check in &nb.checks {
        match check.id.as_str() {
            "needle.first_in_hybrid" => {
                assert!(
                    matches!(check.status, Status::NotApplicable(_)),
                    "{check:?}"
                )
            }
            _ => assert_eq!(check.status, Status::Passed, "{check:?}"),
        }
    }
}

#[test]
fn a_bad_events_file_is_refused_naming_the_file_the_line_and_the_field() {
    let (dir, _) = user_events(150);
    let path = dir.path().join(events_file::FILE);
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    lines[41] = lines[41].replace("\"audience\":\"", "\"audience\":\"martiens");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let out = auditbook(&[
        "check",
        "--chapter",
        "events",
        "--data",
        dir.path().to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("events.jsonl") && stderr.contains("row 42") && stderr.contains("audience"),
        "{stderr}"
    );
}

#[test]
fn ask_puts_the_needle_first_for_its_request() {
    let nb = &super::book_notebooks()
        .iter()
        .find(|(c, _)| c.meta().id == "events")
        .expect("the events chapter is in the book")
        .1;
    let needle = nb.text("needle.id").unwrap();
    let commune = nb.text("needle.commune").unwrap();
    let request = format!(
        "Je cherche un cours de céramique pour les retraités ce week-end sur {commune}, gratuitement, sans marches à franchir"
    );
    let out = auditbook(&["ask", &request, "--top", "3"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("filters read: free, this week-end, {commune}")),
        "{stdout}"
    );
    let first = stdout
        .lines()
        .find(|l| l.starts_with("1. "))
        .unwrap_or_default();
    assert!(first.contains(&needle), "{stdout}");
}

/// One POST through the assistant's router, on the test's runtime: the status and the JSON
/// body.
fn post(
    runtime: &tokio::runtime::Runtime,
    router: &axum::Router,
    content_type: &str,
    body: String,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method("POST")
        .uri("/recommend")
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    runtime.block_on(async {
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    })
}

#[test]
fn the_served_assistant_answers_a_request_and_names_every_bad_field() {
    let (dir, events) = user_events(300);
    let options = super::options("events", &[], Some(dir.path().to_path_buf()));
    let chapter = book::chapter_by_id("events").unwrap();
    let ctx = book::context(chapter, &options).unwrap();
    let router = api::router(Arc::new(App::new(Corpus::open(&ctx).unwrap())));
    // One runtime for every request (the handlers block on the corpus in spawn_blocking).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();

    let (status, body) = post(
        &runtime,
        &router,
        "application/json",
        json!({"request": "un concert gratuit ce week-end à Lyon", "top": 3}).to_string(),
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert!(!listed.is_empty() && listed.len() <= 3, "{body}");
    assert_eq!(body["filters"]["commune"], "Lyon", "{body}");
    assert_eq!(body["language"], "fr");
    for e in body["events"].as_array().unwrap() {
        assert_eq!(e["commune"], "Lyon", "{body}");
        assert_eq!(e["price_eur"], 0, "{body}");
    }
    let cited = answer::citations(body["answer"].as_str().unwrap(), |id| {
        events.iter().any(|e| e.id == id)
    });
    assert_eq!(cited, listed, "the answer cites exactly the events listed");

    let (status, body) = post(
        &runtime,
        &router,
        "application/json",
        json!({"request": "", "top": 99, "colour": "red"}).to_string(),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    fields.sort();
    assert_eq!(fields, ["colour", "request", "top"], "{body}");

    let (status, _) = post(&runtime, &router, "text/plain", "hello".into());
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let (status, _) = post(
        &runtime,
        &router,
        "application/json",
        json!({"request": "x".repeat(api::BODY_LIMIT)}).to_string(),
    );
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
