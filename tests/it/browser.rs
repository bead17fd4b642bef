//! The built book in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/test`) opens every page and must log no console message (a script error, a
//! blocked resource); the search, run through `?q=`, must list the expected section; and
//! the index and a chapter are captured in light and dark themes under
//! `target/auditbook/screenshots/`. Missing files and broken links are refused earlier, at
//! build time, by `site::check_links` (tested in `render`).

use std::path::{Path, PathBuf};
use std::process::Command;

use auditbook::commands::book;
use serde_json::json;

use super::cdp;

/// The Chromium binary, or `None` (then the test says so and stops, unless
/// `AUDITBOOK_REQUIRE_BROWSER` is set, as CI sets it: then a missing browser fails).
fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("AUDITBOOK_CHROMIUM").unwrap_or_default(),
        "/usr/bin/chromium".into(),
        "/usr/bin/chromium-browser".into(),
    ];
    let found = candidates.iter().map(PathBuf::from).find(|p| p.is_file());
    if found.is_none() && std::env::var_os("AUDITBOOK_REQUIRE_BROWSER").is_some() {
        panic!(
            "AUDITBOOK_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium)"
        );
    }
    found
}

/// Runs headless Chromium on `url` with `args`; returns (stdout, stderr).
fn run_chromium(browser: &Path, profile: &Path, url: &str, args: &[&str]) -> (String, String) {
    let output = Command::new(browser)
        .args(cdp::HEADLESS)
        .args(["--enable-logging=stderr", "--v=0"])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .output()
        .expect("chromium runs");
    (
        String::from_utf8_lossy(&output.stdout).to_string(),
        String::from_utf8_lossy(&output.stderr).to_string(),
    )
}

fn console_messages(stderr: &str) -> Vec<&str> {
    stderr.lines().filter(|l| l.contains(":CONSOLE")).collect()
}

#[test]
fn every_page_loads_cleanly_searches_and_has_both_themes() {
    let Some(browser) = chromium() else {
        eprintln!(
            "no Chromium on this machine: the browser test did not run (scripts/test installs it)"
        );
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let site = scratch.path().join("book");
    let files = super::book_site();
    book::write_book(&site, &files, false).unwrap();
    let profile = scratch.path().join("profile");
    let url = |page: &str| format!("file://{}/{page}", site.display());

    // The harness can fail: a page with a script error is caught.
    std::fs::write(
        site.join("broken.html"),
        "<html><body><script>notDefined()</script></body></html>",
    )
    .unwrap();
    let (_, stderr) = run_chromium(&browser, &profile, &url("broken.html"), &["--dump-dom"]);
    assert!(
        !console_messages(&stderr).is_empty(),
        "the console check must see a script error"
    );

    let pages: Vec<&String> = files.keys().filter(|p| p.ends_with(".html")).collect();
    assert!(pages.len() >= 4);
    for page in pages {
        let (dom, stderr) = run_chromium(&browser, &profile, &url(page), &["--dump-dom"]);
        assert!(dom.contains("</html>"), "{page} did not render");
        let messages = console_messages(&stderr);
        assert!(
            messages.is_empty(),
            "{page} logged to the console: {messages:?}"
        );
    }

    let (dom, _) = run_chromium(
        &browser,
        &profile,
        &format!("{}?q=late%20batch", url("index.html")),
        &["--dump-dom"],
    );
    assert!(
        dom.contains("href=\"supersmartmarket.html#a-batch-of-sales-loaded-a-day-late\""),
        "the search for `late batch` should find the late-batch section"
    );
    let (dom, _) = run_chromium(
        &browser,
        &profile,
        &format!("{}?q=zzzznotthere", url("index.html")),
        &["--dump-dom"],
    );
    assert!(dom.contains("No section matches"));

    let shots = super::root().join("target/auditbook/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    for page in ["index.html", "supersmartmarket.html"] {
        let mut sizes = Vec::new();
        for theme in ["light", "dark"] {
            let path = shots.join(format!("{}-{theme}.png", page.trim_end_matches(".html")));
            let _ = std::fs::remove_file(&path);
            let shot = format!("--screenshot={}", path.display());
            run_chromium(
                &browser,
                &profile,
                &format!("{}?theme={theme}", url(page)),
                &["--window-size=1300,900", &shot],
            );
            let png = std::fs::read(&path)
                .unwrap_or_else(|e| panic!("no screenshot {}: {e}", path.display()));
            assert!(
                png.starts_with(b"\x89PNG"),
                "{} is not a PNG",
                path.display()
            );
            sizes.push(png);
        }
        assert_ne!(
            sizes[0], sizes[1],
            "{page}: the dark theme looks the same as the light one"
        );
    }
}

/// A table's rows as the book's HTML holds them (cell texts, entities decoded): the first
/// table after `after` (a caption or a heading). What the browser's tools must sort,
/// filter, page and download.
fn rows_in_html(html: &str, after: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let at = html.find(after).unwrap_or_else(|| panic!("no {after}"));
    // A caption follows its table; a heading precedes it.
    let start = if after.starts_with("<h") {
        at + html[at..].find("<table>").unwrap()
    } else {
        html[..at].rfind("<table>").unwrap()
    };
    let end = start + html[start..].find("</table>").unwrap();
    let text = |cell: &str| {
        let mut plain = String::new();
        let mut in_tag = false;
        for ch in cell.chars() {
            match ch {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => plain.push(c),
                _ => {}
            }
        }
        decode_entities(plain.trim())
    };
    let cells = |row: &str, tag: &str| -> Vec<String> {
        row.split(&format!("<{tag}"))
            .skip(1)
            .map(|c| {
                text(&format!(
                    "<{tag}{}",
                    c.split(&format!("</{tag}>")).next().unwrap()
                ))
            })
            .collect()
    };
    let mut rows = html[start..end].split("<tr>").skip(1);
    let header = cells(rows.next().unwrap(), "th");
    let body = rows.map(|r| cells(r, "td")).collect();
    (header, body)
}

/// `text` with its HTML character references decoded (`&amp;`, `&#39;`, `&#x2f;`…).
fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else { break };
        let entity = &rest[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A number grouped by thousands (`1,059.5`), which the CSV gives without its commas.
fn grouped_number(cell: &str) -> bool {
    let unsigned = cell.strip_prefix('-').unwrap_or(cell);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "0"));
    let groups: Vec<&str> = whole.split(',').collect();
    groups.len() > 1
        && (1..=3).contains(&groups[0].len())
        && groups[1..].iter().all(|g| g.len() == 3)
        && groups
            .iter()
            .chain([&fraction])
            .all(|g| !g.is_empty() && g.chars().all(|d| d.is_ascii_digit()))
}

/// `shown` is `expected`, or the first row where they part is named.
#[track_caller]
fn assert_rows(shown: Vec<Vec<String>>, expected: &[Vec<String>], what: &str) {
    if let Some(i) = (0..shown.len().max(expected.len())).find(|&i| shown.get(i) != expected.get(i))
    {
        panic!(
            "{what}: {} rows shown, {} expected; row {i} shown {:?}, expected {:?}",
            shown.len(),
            expected.len(),
            shown.get(i),
            expected.get(i)
        );
    }
}

/// The rows a table's tools show now (not hidden by a page or a filter), cell texts.
fn shown_rows(b: &mut cdp::Browser, wrap: &str) -> Vec<Vec<String>> {
    serde_json::from_value(b.eval(&format!(
        "Array.from({wrap}.querySelectorAll('tbody tr')).filter(r => !r.hidden)\
         .map(r => Array.from(r.cells).map(c => c.textContent.trim()))"
    )))
    .unwrap()
}

/// The tables' tools, used in Chromium as a reader uses them (clicks and typing through the
/// DevTools protocol), the expected rows taken from the HTML, not from the script: a table
/// of more than 50 rows (the verification page's checks) shows 50 and pages to the rest; a
/// click on a header sorts by that column, then the other way, then back to the book's
/// order, ties in the book's order, numbers as numbers (a Laplace Immo answer); the filter
/// keeps the rows holding every word typed; the CSV download is the whole table.
#[test]
fn long_tables_sort_filter_page_and_download_in_the_browser() {
    let Some(chromium) = chromium() else {
        eprintln!("no Chromium on this machine: the table test did not run");
        return;
    };
    let scratch = tempfile::tempdir().unwrap();
    let site = scratch.path().join("book");
    let files = super::book_site();
    book::write_book(&site, &files, false).unwrap();
    let page = |name: &str| String::from_utf8(files[name].clone()).unwrap();
    let downloads = scratch.path().join("downloads");
    std::fs::create_dir_all(&downloads).unwrap();
    let mut b = cdp::Browser::start(&chromium, &scratch.path().join("profile"), 1300, 900);
    b.call(
        "Browser.setDownloadBehavior",
        json!({"behavior": "allow", "downloadPath": downloads, "eventsEnabled": true}),
    );

    // The verification page's checks: pages, a sort by text, the filter, the download.
    let (header, rows) = rows_in_html(&page("verification.html"), "<h2 id=\"checks\">");
    assert!(
        rows.len() > 50,
        "the test needs a table of more than 50 rows"
    );
    b.open(&format!("file://{}/verification.html", site.display()));
    let wrap = "document.querySelector('[data-table=\"checks\"]')";
    let tools = format!("{wrap}.previousElementSibling");
    let count = |b: &mut cdp::Browser| {
        b.eval(&format!(
            "{tools}.querySelector('.table-count').textContent"
        ))
    };
    assert_rows(shown_rows(&mut b, wrap), &rows[..50], "the first page");
    assert_eq!(count(&mut b), json!(format!("Rows 1–50 of {}", rows.len())));
    b.eval(&format!("{tools}.querySelector('.table-next').click()"));
    assert_rows(shown_rows(&mut b, wrap), &rows[50..], "the second page");
    b.eval(&format!("{tools}.querySelector('.table-prev').click()"));

    let by_chapter = format!("{wrap}.querySelectorAll('thead th')[0].click()");
    let mut ascending = rows.clone();
    ascending.sort_by(|a, b| a[0].cmp(&b[0]));
    let mut descending = rows.clone();
    descending.sort_by(|a, b| b[0].cmp(&a[0]));
    b.eval(&by_chapter);
    assert_rows(
        shown_rows(&mut b, wrap),
        &ascending[..50],
        "sorted by chapter",
    );
    b.eval(&by_chapter);
    assert_rows(
        shown_rows(&mut b, wrap),
        &descending[..50],
        "sorted by chapter, descending",
    );
    b.eval(&by_chapter);
    assert_rows(
        shown_rows(&mut b, wrap),
        &rows[..50],
        "the book's order again",
    );

    let word = "noscites";
    let matching: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| r.concat().to_lowercase().contains(word))
        .cloned()
        .collect();
    assert!(!matching.is_empty() && matching.len() < rows.len());
    b.eval(&format!(
        "(() => {{ const f = {tools}.querySelector('.table-filter'); f.value = {word:?}; \
         f.dispatchEvent(new Event('input')); }})()"
    ));
    assert_rows(shown_rows(&mut b, wrap), &matching, "filtered");
    assert!(count(&mut b).as_str().unwrap().contains("matching"));

    // The download: the whole table, in the book's order, whatever is filtered.
    b.eval(&format!("{tools}.querySelector('.table-csv').click()"));
    loop {
        let progress = b.wait_event("Browser.downloadProgress");
        match progress["params"]["state"].as_str() {
            Some("completed") => break,
            Some("canceled") => panic!("the download was cancelled"),
            _ => {}
        }
    }
    let csv = std::fs::read_to_string(downloads.join("checks.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(csv.as_bytes());
    assert_eq!(reader.headers().unwrap().iter().collect::<Vec<_>>(), header);
    let downloaded: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    let expected: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            r.iter()
                .map(|c| {
                    if grouped_number(c) {
                        c.replace(',', "")
                    } else {
                        c.clone()
                    }
                })
                .collect()
        })
        .collect();
    assert_eq!(downloaded, expected);
    assert!(b.console().is_empty(), "{:?}", b.console());

    // Numbers sort as numbers (228 after 61, not before), ties in the book's order.
    let name = "q09_communes_50_sales_q1";
    let (header, rows) = rows_in_html(
        &page("laplace_immo.html"),
        &format!("<code>{name}</code>: "),
    );
    b.open(&format!("file://{}/laplace_immo.html", site.display()));
    let wrap = format!("document.querySelector('[data-table=\"{name}\"]')");
    let column = header.iter().position(|h| h == "q1_sales").unwrap();
    let value = |r: &Vec<String>| r[column].replace(',', "").parse::<f64>().unwrap();
    let mut ascending = rows.clone();
    ascending.sort_by(|a, b| value(a).total_cmp(&value(b)));
    let click = format!("{wrap}.querySelectorAll('thead th')[{column}].click()");
    b.eval(&click);
    assert_rows(shown_rows(&mut b, &wrap), &ascending, "sorted by q1_sales");
    assert_eq!(
        b.eval(&format!(
            "{wrap}.querySelectorAll('thead th')[{column}].getAttribute('aria-sort')"
        )),
        json!("ascending")
    );
    // One page only: no pager shown.
    assert_eq!(
        b.eval(&format!(
            "{wrap}.previousElementSibling.querySelector('.table-pager').getClientRects().length"
        )),
        json!(0)
    );
    assert!(b.console().is_empty(), "{:?}", b.console());
}
