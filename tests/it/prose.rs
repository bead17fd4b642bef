//! Prose that stays true under every parameter: each chapter's conditional sentences are
//! keyed on findings, and the chapters are rendered under draws chosen so that every branch
//! shows at least once (the default book covers the other side of each). Every draw must
//! pass its checks and render; the sentence each branch writes must be there, and the one it
//! replaces must not.

use auditbook::commands::book;
use auditbook::embedded;
use auditbook::render::markdown::render_chapter;

/// One chapter under some parameters, and what its Markdown must and must not say.
struct Draw {
    chapter: &'static str,
    params: &'static [(&'static str, &'static str)],
    says: &'static [&'static str],
    never: &'static [&'static str],
}

/// The chapter run under `params` (checks required to pass) and rendered from its prose.
fn rendered(chapter: &str, params: &[(&str, &str)]) -> String {
    rendered_on(chapter, params, None)
}

/// [`rendered`] on the data in `data` (`--data`).
fn rendered_on(chapter: &str, params: &[(&str, &str)], data: Option<std::path::PathBuf>) -> String {
    let nb = super::run(chapter, params, data);
    let failed = nb.failures();
    assert!(failed.is_empty(), "{chapter} {params:?}: {failed:?}");
    let meta = book::chapter_by_id(chapter).unwrap().meta();
    let prose = embedded::chapter_file(chapter, "chapter.md").expect("the chapter's prose");
    let markdown = render_chapter(meta, &nb, prose, None)
        .unwrap_or_else(|e| panic!("{chapter} {params:?}: {e}"))
        .markdown;
    plain(&markdown)
}

/// The Markdown as a reader reads it: one line, each value's link reduced to its label
/// (`[1,379 sales][late_batch.rows]` → `1,379 sales`, `[x](#anchor "title")` → `x`), the
/// link definitions at the end left out.
fn plain(markdown: &str) -> String {
    let text: String = markdown
        .lines()
        .filter(|line| !(line.starts_with('[') && line.contains("]: #")))
        .map(|line| format!("{line}\n"))
        .collect();
    let mut by_reference = String::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("][") {
        by_reference.push_str(&rest[..at]);
        let after = &rest[at + 2..];
        rest = after.find(']').map_or("", |end| &after[end + 1..]);
    }
    by_reference.push_str(rest);
    let mut out = String::new();
    let mut rest = by_reference.as_str();
    while let Some(at) = rest.find("](#") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // `](#anchor)` or `](#anchor "tooltip")`: the tooltip ends at `")`.
        let anchor_end = after.find([' ', ')']).unwrap_or(after.len());
        let end = if after[anchor_end..].starts_with(" \"") {
            after[anchor_end..]
                .find("\")")
                .map_or(after.len(), |e| anchor_end + e + 2)
        } else {
            anchor_end + 1
        };
        rest = &after[end.min(after.len())..];
    }
    out.push_str(rest);
    out.replace('[', "").replace('\n', " ")
}

fn assert_draw(markdown: &str, draw: &Draw) {
    for said in draw.says {
        assert!(
            markdown.contains(said),
            "{} {:?} should say {said:?}; it says {}",
            draw.chapter,
            draw.params,
            markdown
                .find(&said[..said.len().min(12)])
                .map_or("(nothing like it)", |at| &markdown
                    [at..(at + 300).min(markdown.len())])
        );
    }
    for never in draw.never {
        assert!(
            !markdown.contains(never),
            "{} {:?} should not say {never:?}",
            draw.chapter,
            draw.params
        );
    }
}

#[test]
fn the_default_book_says_the_default_branches() {
    let site = super::book_site();
    let page = |id: &str| plain(&String::from_utf8_lossy(&site[&format!("{id}.md")]));
    for draw in [
        Draw {
            chapter: "supersmartmarket",
            params: &[],
            says: &[
                "the store was closed the next day",
                "the day after a late load",
                "of late sales in all",
            ],
            never: &["No sale was inserted after its sale day"],
        },
        Draw {
            chapter: "noscites",
            params: &[],
            says: &[
                "no longer matches its checksum in",
                "the rules choose {city: 1, _id: 1}",
            ],
            never: &["matches its checksums ("],
        },
    ] {
        assert_draw(&page(draw.chapter), &draw);
    }
}

/// SuperSmartMarket on its tests' small data, the late batch of `late_batch` sales planted
/// on `late_day`, rendered.
fn supersmartmarket_on(late_day: &str, late_batch: &str) -> String {
    let params = super::supersmartmarket::small(&[
        ("late_day", late_day.to_string()),
        ("late_batch", late_batch.to_string()),
    ]);
    let borrowed: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    rendered("supersmartmarket", &borrowed)
}

#[test]
fn a_late_load_on_a_trading_eve_drops_the_closed_store() {
    // 2024-08-06 is a Tuesday: the store trades on the 7th.
    let draw = Draw {
        chapter: "supersmartmarket",
        params: &[("late_day", "2024-08-06"), ("late_batch", "50")],
        says: &[
            "Nobody sold anything on that day since.",
            "the day after a late load",
        ],
        never: &["the store was closed the next day"],
    };
    assert_draw(&supersmartmarket_on("2024-08-06", "50"), &draw);
}

#[test]
fn no_late_batch_says_no_alarm_and_no_batch() {
    let draw = Draw {
        chapter: "supersmartmarket",
        params: &[("late_day", "2024-08-06"), ("late_batch", "0")],
        says: &[
            "No sale was inserted after its sale day: the audit found 0",
            "it raises 0\u{a0}alarms: no sale was inserted after its sale day",
        ],
        never: &["of late sales in all", "the day after a late load"],
    };
    assert_draw(&supersmartmarket_on("2024-08-06", "0"), &draw);
}

#[test]
fn an_undamaged_backup_is_said_to_match_its_checksums() {
    let draw = Draw {
        chapter: "noscites",
        params: &[("truncate_last", "false")],
        says: &["matches its checksums (0"],
        never: &["no longer matches its checksum"],
    };
    assert_draw(&rendered(draw.chapter, draw.params), &draw);
}

#[test]
fn the_real_layout_without_a_log_renders_and_says_what_it_cannot_replay() {
    let fixture = super::root().join("tests/fixtures/supersmartmarket_real_layout");
    let draw = Draw {
        chapter: "supersmartmarket",
        params: &[],
        says: &[
            "This export holds no insertion log",
            "A second control needs no log",
        ],
        never: &["Where do the extra", "What the insertion log tells"],
    };
    assert_draw(&rendered_on(draw.chapter, &[], Some(fixture)), &draw);
}
