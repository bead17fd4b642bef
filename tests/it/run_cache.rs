//! The run cache: a notebook read back from the cache renders the same bytes; one changed
//! byte of a dataset reruns exactly its chapter and changes its numbers; a parameter reruns;
//! a corrupt entry is rerun, never trusted; a fault or a named server is never cached; a
//! prose edit reruns nothing and still reaches the page.

use std::path::Path;
use std::sync::Arc;

use auditbook::commands::book::{self, RunOptions};
use auditbook::run_cache::stored::StoredNotebook;
use auditbook::run_cache::{Reuse, RunCache};

/// Every chapter's notebook through the cache's form and back renders the book, byte for
/// byte, that the fresh notebooks render: what the cache keeps is the whole notebook.
/// (Fault: a stored form that drops a column's type, or widens an f32, changes a page.)
#[test]
fn every_notebook_read_back_from_the_cache_renders_the_same_book() {
    let restored: Vec<_> = super::book_notebooks()
        .iter()
        .map(|(chapter, nb)| {
            let stored = StoredNotebook::of(nb).unwrap_or_else(|why| panic!("{why}"));
            let text = serde_json::to_string(&stored).unwrap();
            let back: StoredNotebook = serde_json::from_str(&text).unwrap();
            (*chapter, back.into_notebook().unwrap())
        })
        .collect();
    let manifest = auditbook::dataset::Manifest::load(&super::root()).unwrap();
    let site = book::render(&restored, &manifest, false).unwrap();
    let fresh = super::book_site();
    assert_eq!(
        site.keys().collect::<Vec<_>>(),
        fresh.keys().collect::<Vec<_>>()
    );
    for (path, bytes) in &fresh {
        assert!(
            site[path] == *bytes,
            "{path} differs once read back from the cache"
        );
    }
}

/// A project of its own: the committed datasets copied, so a test can change a byte.
fn scratch_project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    book::copy_dir(
        &super::root().join("datasets"),
        &dir.path().join("datasets"),
    )
    .unwrap();
    dir
}

fn run(
    root: &Path,
    cache: &Arc<RunCache>,
    chapter: &str,
    params: &[(&str, &str)],
) -> (Reuse, serde_json::Value) {
    let mut options = super::options(chapter, params, None);
    options.root = root.to_path_buf();
    options.cache = Some(cache.clone());
    let nb = book::run_chapter(book::chapter_by_id(chapter).unwrap(), &options)
        .unwrap_or_else(|e| panic!("{e}"));
    (cache.log()[chapter].clone(), nb.findings_json())
}

fn ran(reuse: &Reuse) -> &str {
    match reuse {
        Reuse::Ran(why) => why,
        other => panic!("expected a rerun, got {other:?}"),
    }
}

/// Two chapters cached; one byte of one's data changed: that chapter alone reruns, says
/// which file changed, and its numbers change; the other is reused as it was.
/// (Fault: a key without the data's sha256 reuses Seattle's stale numbers.)
#[test]
fn one_changed_byte_of_a_dataset_reruns_exactly_its_chapter_and_its_numbers_change() {
    let project = scratch_project();
    let root = project.path();
    let cache = Arc::new(RunCache::under(root));
    let (first_seattle, seattle) = run(root, &cache, "seattle", &[]);
    assert_eq!(ran(&first_seattle), "no run of it is cached");
    let (_, laplace) = run(root, &cache, "laplace_immo", &[]);

    // Nothing changed: both reused, the same findings.
    let (reuse, again) = run(root, &cache, "seattle", &[]);
    assert_eq!(reuse, Reuse::Reused);
    assert_eq!(again, seattle);
    let (reuse, again) = run(root, &cache, "laplace_immo", &[]);
    assert_eq!(reuse, Reuse::Reused);
    assert_eq!(again, laplace);

    // One byte: the first building's emission intensity (the target) gets another leading digit.
    let file = root.join("datasets/seattle/2016_Building_Energy_Benchmarking.csv");
    let mut bytes = std::fs::read(&file).unwrap();
    let mut reader = csv::Reader::from_reader(&bytes[..]);
    let column = reader
        .headers()
        .unwrap()
        .iter()
        .position(|h| h == "GHGEmissionsIntensity")
        .unwrap();
    let first = reader.records().next().unwrap().unwrap();
    let energy = first[column].to_string();
    let line_start = bytes.iter().position(|b| *b == b'\n').unwrap() + 1;
    let line_end = line_start
        + bytes[line_start..]
            .iter()
            .position(|b| *b == b'\n')
            .unwrap();
    let line = String::from_utf8(bytes[line_start..line_end].to_vec()).unwrap();
    // The cell as it stands in the line: after a comma, before a comma or the line's end.
    let cell = line
        .match_indices(&format!(",{energy}"))
        .map(|(i, _)| i + 1)
        .find(|i| {
            matches!(
                line[i + energy.len()..].chars().next(),
                None | Some(',' | '\r')
            )
        })
        .unwrap();
    let at = line_start + cell;
    bytes[at] = if bytes[at] == b'9' { b'1' } else { b'9' };
    std::fs::write(&file, &bytes).unwrap();

    let (reuse, changed) = run(root, &cache, "seattle", &[]);
    assert!(
        ran(&reuse).contains("2016_Building_Energy_Benchmarking.csv"),
        "{reuse:?}"
    );
    assert_ne!(changed, seattle, "the changed building changed no number");
    let (reuse, again) = run(root, &cache, "laplace_immo", &[]);
    assert_eq!(reuse, Reuse::Reused);
    assert_eq!(again, laplace);
}

/// Another parameter reruns (and names it); the defaults' entry is still there afterwards.
/// A corrupt entry is seen, rerun and replaced, never read as a notebook.
/// (Fault: a key without the parameters reuses the default forest for 10 trees.)
#[test]
fn a_parameter_reruns_and_a_corrupt_entry_is_rerun_not_trusted() {
    let project = scratch_project();
    let root = project.path();
    let cache = Arc::new(RunCache::under(root));
    let (_, defaults) = run(root, &cache, "seattle", &[]);
    let (reuse, fewer) = run(root, &cache, "seattle", &[("trees", "10")]);
    assert!(ran(&reuse).contains("parameter trees"), "{reuse:?}");
    assert_ne!(fewer, defaults);
    let (reuse, _) = run(root, &cache, "seattle", &[]);
    assert_eq!(reuse, Reuse::Reused);

    // Cut every entry in half, as a run stopped mid-write by something else would.
    let entries = root.join("target/auditbook/cache/seattle");
    for entry in std::fs::read_dir(&entries).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read(&path).unwrap();
        std::fs::write(&path, &text[..text.len() / 2]).unwrap();
    }
    let (reuse, again) = run(root, &cache, "seattle", &[]);
    assert!(ran(&reuse).contains("unreadable"), "{reuse:?}");
    assert_eq!(again, defaults);
    let (reuse, _) = run(root, &cache, "seattle", &[]);
    assert_eq!(reuse, Reuse::Reused);
}

/// A fault's run and a run against a server the user named are never cached.
#[test]
fn a_fault_or_a_named_server_is_never_cached() {
    let chapter = book::chapter_by_id("seattle").unwrap();
    type Name = fn(&mut auditbook::chapter::Backends);
    let servers: [(&str, Name); 4] = [
        ("--brokers", |b| {
            b.kafka_brokers = Some("127.0.0.1:1".into())
        }),
        ("--mongo-uri", |b| {
            b.mongo_uri = Some("mongodb://127.0.0.1:1".into())
        }),
        ("--s3-endpoint", |b| {
            b.s3_endpoint = Some("http://127.0.0.1:1".into())
        }),
        ("--spark", |b| {
            b.spark_remote = Some("sc://127.0.0.1:1".into())
        }),
    ];
    for (flag, name) in servers {
        let mut named = RunOptions {
            root: super::root(),
            ..RunOptions::default()
        };
        name(&mut named.backends);
        let ctx = book::context(chapter, &named).unwrap();
        let why = auditbook::run_cache::key(&ctx).unwrap().unwrap_err();
        assert!(why.contains(flag), "{flag}: {why}");
    }

    let faulted = RunOptions {
        root: super::root(),
        fault: Some(
            auditbook::fault::declared("seattle").unwrap()[0]
                .name
                .clone(),
        ),
        ..RunOptions::default()
    };
    let ctx = book::context(chapter, &faulted).unwrap();
    let why = auditbook::run_cache::key(&ctx).unwrap().unwrap_err();
    assert!(why.contains("fault"), "{why}");
}

/// Through the binary, in a checkout of its own: the second build reuses the chapter; an
/// edit of its prose reruns nothing and the page shows the new sentence; an edit of one of
/// its SQL files reruns it. (Fault: a key over the prose reruns on the prose edit; reading
/// the embedded prose instead of the checkout's leaves the page unchanged.)
#[test]
fn a_prose_edit_reruns_nothing_and_reaches_the_page_a_query_edit_reruns() {
    let project = scratch_project();
    let root = project.path();
    for dir in ["chapters", "templates"] {
        book::copy_dir(&super::root().join(dir), &root.join(dir)).unwrap();
    }
    let build = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_auditbook"))
            .arg("--root")
            .arg(root)
            .args(["build", "--chapter", "laplace_immo", "--out"])
            .arg(root.join("book"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr).to_string();
        assert_eq!(out.status.code(), Some(0), "{err}");
        err
    };
    let first = build();
    assert!(first.contains("(ran: no run of it is cached)"), "{first}");
    let second = build();
    assert!(
        second.contains("laplace_immo:") && second.contains("(reused from the run cache)"),
        "{second}"
    );

    let prose = root.join("chapters/laplace_immo/chapter.md");
    let mut text = std::fs::read_to_string(&prose).unwrap();
    text.push_str("\nA sentence added after the last build.\n");
    std::fs::write(&prose, text).unwrap();
    let third = build();
    assert!(third.contains("(reused from the run cache)"), "{third}");
    let page = std::fs::read_to_string(root.join("book/laplace_immo.html")).unwrap();
    assert!(page.contains("A sentence added after the last build."));

    let sql = std::fs::read_dir(root.join("chapters/laplace_immo"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "sql"))
        .min()
        .unwrap();
    let mut text = std::fs::read_to_string(&sql).unwrap();
    text.push_str("\n-- a comment added after the last build\n");
    std::fs::write(&sql, text).unwrap();
    let fourth = build();
    let name = sql.file_name().unwrap().to_string_lossy().to_string();
    assert!(
        fourth.contains("(ran: changed since the last cached run: chapters/laplace_immo/")
            && fourth.contains(&name),
        "{fourth}"
    );
}
