//! The events assistant: a user's own events (`--data`), a bad events file refused with its
//! line and field, and `ask` answering the needle's request with the needle first.

use auditbook::chapters::events::{events_file, generate};
use auditbook::notebook::Status;

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
