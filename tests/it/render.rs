//! Rendering: deterministic to the byte, strict about unknown references, and the committed
//! `book/` is what the code renders today.

use std::collections::BTreeMap;

use auditbook::commands::book;
use auditbook::dataset::Manifest;
use auditbook::error::Error;
use auditbook::render::markdown::render_chapter;

/// A fresh site: every chapter run again, then rendered.
fn fresh_site() -> BTreeMap<String, Vec<u8>> {
    let options = super::options("supersmartmarket", &[], None);
    let notebooks = book::run_and_check(None, &options).unwrap_or_else(|e| panic!("{e}"));
    book::render(&notebooks, &Manifest::load(&super::root()).unwrap(), false).unwrap()
}

/// The site of the shared run.
fn site() -> BTreeMap<String, Vec<u8>> {
    super::book_site()
}

#[test]
fn two_builds_are_byte_identical() {
    // Two independent runs of every pipeline, not one run rendered twice.
    let (a, b) = (fresh_site(), site());
    assert_eq!(a.keys().collect::<Vec<_>>(), b.keys().collect::<Vec<_>>());
    for (path, bytes) in &a {
        assert!(bytes == &b[path], "{path} differs between two builds");
    }
}

#[test]
fn the_site_has_every_page_and_no_absolute_path() {
    let files = site();
    for path in [
        "index.html",
        "verification.html",
        "supersmartmarket.html",
        "supersmartmarket.md",
        "laplace_immo.html",
        "findings.json",
        "assets/style.css",
        "assets/highlight.css",
        "assets/book.js",
        "assets/search-index.js",
        "assets/supersmartmarket/schema.svg",
    ] {
        assert!(files.contains_key(path), "missing {path}");
    }
    let root = super::root().to_string_lossy().to_string();
    for (path, bytes) in &files {
        let text = String::from_utf8_lossy(bytes);
        assert!(
            !text.contains(&root),
            "{path} contains the absolute path {root}"
        );
        // Works from file:// with no network: nothing is fetched from elsewhere.
        for remote in ["src=\"http", "href=\"http", "url(http", "@import"] {
            assert!(
                !text.contains(remote),
                "{path} fetches something remote ({remote})"
            );
        }
    }
    let html = String::from_utf8_lossy(&files["supersmartmarket.html"]);
    assert!(html.contains("<svg"), "charts are inline SVG");
    assert!(html.contains("hl-"), "SQL is highlighted");
    assert!(
        html.contains("href=\"#finding-late-batch-rows\""),
        "numbers link to their provenance"
    );
    assert!(
        html.contains("id=\"finding-late-batch-rows\""),
        "the provenance entry exists"
    );
    assert!(
        html.contains(
            "href=\"#finding-late-batch-rows\" title=\"late_batch.rows: query late_batch"
        ),
        "the provenance is one hover away"
    );
    // The Markdown links each number by reference, its provenance defined once at the end.
    let md = String::from_utf8_lossy(&files["supersmartmarket.md"]);
    assert!(
        md.contains("\u{a0}sales][late_batch.rows]"),
        "numbers link by reference"
    );
    assert_eq!(
        md.matches(
            "\n[late_batch.rows]: #finding-late-batch-rows \"late_batch.rows: query late_batch"
        )
        .count(),
        1,
        "one definition per finding"
    );
    assert!(
        !md.contains("](#finding-late-batch-rows \""),
        "no inline link repeats the provenance"
    );
}

#[test]
fn an_unknown_reference_fails_with_chapter_and_line() {
    let nb = super::run("supersmartmarket", &[], None);
    let meta = book::chapter_by_id("supersmartmarket").unwrap().meta();
    let prose = "---\nsummary: s\n---\nline one\n\n{{ value(\"late_batch.rowz\") }}\n";
    match render_chapter(meta, &nb, prose, Some(&Default::default())) {
        Err(Error::Reference {
            chapter,
            file,
            line,
            message,
        }) => {
            assert_eq!(chapter, "supersmartmarket");
            assert_eq!(file, "chapters/supersmartmarket/chapter.md");
            assert_eq!(line, 6, "{message}");
            assert!(message.contains("late_batch.rowz"), "{message}");
        }
        other => panic!("expected a reference error, got {other:?}"),
    }
    let undefined = "---\nsummary: s\n---\n{{ nothing_here }}\n";
    assert!(matches!(
        render_chapter(meta, &nb, undefined, Some(&Default::default())),
        Err(Error::Reference { line: 4, .. })
    ));
}

#[test]
fn the_committed_book_is_current() {
    // CI rebuilds book/ and diffs it too; this catches a stale book before committing.
    let files = site();
    let book_dir = super::root().join("book");
    for (path, bytes) in &files {
        let committed = std::fs::read(book_dir.join(path)).unwrap_or_default();
        assert!(
            &committed == bytes,
            "book/{path} is stale: run `cargo run -- build` and commit book/"
        );
    }
}

#[test]
fn a_broken_internal_link_fails_the_build() {
    use auditbook::render::site::check_links;
    let mut files = site();
    assert!(check_links(&files).is_ok());
    let page = files.get_mut("index.html").unwrap();
    page.extend_from_slice(
        b"<a href=\"supersmartmarket.html#no-such-anchor\">x</a><img src=\"assets/missing.svg\">",
    );
    match check_links(&files) {
        Err(Error::BadFile { message, .. }) => {
            assert!(
                message.contains("no-such-anchor") && message.contains("assets/missing.svg"),
                "{message}"
            );
        }
        other => panic!("expected a broken-link error, got {other:?}"),
    }
}

#[test]
fn cross_references_resolve_across_chapters_and_fail_when_broken() {
    use auditbook::render::site::{reference_targets, ChapterInput};
    let notebooks = super::book_notebooks();
    let inputs: Vec<ChapterInput> = notebooks
        .iter()
        .map(|(c, nb)| ChapterInput {
            meta: c.meta(),
            notebook: nb,
            prose: auditbook::embedded::chapter_file(c.meta().id, "chapter.md").unwrap(),
        })
        .collect();
    let refs = reference_targets(&inputs).unwrap();
    assert_eq!(
        refs["laplace_immo.q04_top_departments_price_m2"].label,
        "Table 2.4",
        "{:?}",
        refs.keys().collect::<Vec<_>>()
    );
    assert!(refs["laplace_immo.figure.price_by_region"]
        .label
        .starts_with("Figure 2."));
    assert!(refs["laplace_immo.table.price_by_region"]
        .label
        .starts_with("Table 2."));
    assert_eq!(
        refs["supersmartmarket.late_batch.rows"].href,
        "supersmartmarket.html#finding-late-batch-rows"
    );

    let (meta, nb) = (notebooks[0].0.meta(), &notebooks[0].1);
    let prose = "---\nsummary: s\n---\nSee {{ ref(\"laplace_immo.q04_top_departments_price_m2\") }} and {{ ref(\"supersmartmarket.late_batch.rows\") }}.\n";
    let md = render_chapter(meta, nb, prose, Some(&refs))
        .unwrap()
        .markdown;
    assert!(
        md.contains("[Table 2.4](laplace_immo.html#table-q04-top-departments-price-m2)"),
        "{md}"
    );
    assert!(
        md.contains("[1,379\u{a0}sales](supersmartmarket.html#finding-late-batch-rows)"),
        "{md}"
    );
    let broken = "---\nsummary: s\n---\n{{ ref(\"laplace_immo.q99\") }}\n";
    match render_chapter(meta, nb, broken, Some(&refs)) {
        Err(Error::Reference { line, message, .. }) => {
            assert_eq!(line, 4);
            assert!(message.contains("laplace_immo.q99"), "{message}");
        }
        other => panic!("expected a reference error, got {other:?}"),
    }
}

/// A book built with parameters other than the defaults says so at the top of every page
/// (index, verification, each chapter's HTML and Markdown) before the prose; the default book
/// says nothing of the kind.
#[test]
fn every_page_of_a_book_with_other_parameters_says_so_first() {
    let note = "Not the default book.";
    for (path, bytes) in site()
        .iter()
        .filter(|(p, _)| p.ends_with(".html") || p.ends_with(".md"))
    {
        assert!(
            !String::from_utf8_lossy(bytes).contains(note),
            "{path} says it is not the default book"
        );
    }
    let mut notebooks = super::book_notebooks().clone();
    let ssm = notebooks
        .iter_mut()
        .find(|(c, _)| c.meta().id == "supersmartmarket")
        .unwrap();
    ssm.1.params.insert("late_batch".into(), "777".into());
    let manifest = auditbook::dataset::Manifest::load(&super::root()).unwrap();
    let files = auditbook::commands::book::render(&notebooks, &manifest, false).unwrap();
    let said = "`supersmartmarket.late_batch=777` (default `1379`)";
    let said_html = "<code>supersmartmarket.late_batch=777</code> (default <code>1379</code>)";
    let pages: Vec<&String> = files
        .keys()
        .filter(|p| p.ends_with(".html") || p.ends_with(".md"))
        .collect();
    assert!(pages.len() >= 16, "{pages:?}");
    for path in pages {
        let text = String::from_utf8_lossy(&files[path]);
        let at = text
            .find(note)
            .unwrap_or_else(|| panic!("{path} does not say it is not the default book"));
        assert!(
            text.contains(if path.ends_with(".md") {
                said
            } else {
                said_html
            }),
            "{path} does not name the parameter and its default"
        );
        if path.ends_with(".md") {
            // Right under the title and summary, before the prose.
            let prose = text
                .lines()
                .filter(|l| !l.is_empty())
                .nth(2)
                .unwrap_or_default();
            assert!(
                prose.starts_with("> **Not the default book.**"),
                "{path}: {prose}"
            );
        } else {
            assert!(
                at < text.find("<h2").unwrap_or(text.len()),
                "{path}: the note comes before the prose"
            );
        }
    }
}
