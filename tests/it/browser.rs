//! The built book in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/test`) opens every page and must log no console message (a script error, a
//! blocked resource); the search, run through `?q=`, must list the expected section; and
//! the index and a chapter are captured in light and dark themes under
//! `target/auditbook/screenshots/`. Missing files and broken links are refused earlier, at
//! build time, by `site::check_links` (tested in `render`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use auditbook::commands::book;
use serde_json::json;

use super::cdp;

/// The Chromium binary the book prints with, or `None` (then the test says so and stops,
/// unless `AUDITBOOK_REQUIRE_BROWSER` is set, as CI sets it: then a missing browser fails).
fn chromium() -> Option<PathBuf> {
    let found = auditbook::render::pdf::find_chromium().ok();
    if found.is_none() && std::env::var_os("AUDITBOOK_REQUIRE_BROWSER").is_some() {
        panic!(
            "AUDITBOOK_REQUIRE_BROWSER is set but no Chromium was found (apt-get install chromium)"
        );
    }
    found
}

/// The book written into a scratch folder: the folder (removed when dropped), the site's
/// directory in it, and the site's files.
fn written_book() -> (tempfile::TempDir, PathBuf, BTreeMap<String, Vec<u8>>) {
    let scratch = tempfile::tempdir().unwrap();
    let site = scratch.path().join("book");
    let files = super::book_site();
    book::write_book(&site, &files, false).unwrap();
    (scratch, site, files)
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
    let (scratch, site, files) = written_book();
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
    // A caption follows its table; a heading or a figure's disclosure precedes it.
    let start = if after.starts_with("<h") || after.starts_with("<details") {
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
    let (scratch, site, files) = written_book();
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

/// The centre of the element `expression` finds, scrolled into view, in the viewport's CSS
/// pixels: where the DevTools protocol moves the mouse.
fn centre_of(b: &mut cdp::Browser, expression: &str) -> (f64, f64) {
    let at = b.eval(&format!(
        "(() => {{ const e = {expression}; e.scrollIntoView({{block: 'center'}}); \
         const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; }})()"
    ));
    (at[0].as_f64().unwrap(), at[1].as_f64().unwrap())
}

/// Moves the mouse over the element `expression` finds (a real `mousemove`, not a script's).
fn hover_over(b: &mut cdp::Browser, expression: &str) {
    let at = centre_of(b, expression);
    hover(b, at);
}

/// Moves the mouse to `(x, y)` as a reader's would.
fn hover(b: &mut cdp::Browser, (x, y): (f64, f64)) {
    b.page(
        "Input.dispatchMouseEvent",
        json!({"type": "mouseMoved", "x": x, "y": y}),
    );
}

/// A left click at `(x, y)`.
fn click(b: &mut cdp::Browser, (x, y): (f64, f64)) {
    for kind in ["mousePressed", "mouseReleased"] {
        b.page(
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1}),
        );
    }
}

/// The chart whose data is the disclosure `data_id`, as a script expression.
fn chart_of(data_id: &str) -> String {
    format!(
        "Array.from(document.getElementById('{data_id}').parentElement.querySelectorAll('.chart'))\
         .find(c => {{ let p = c.closest('p'); for (let i = 0; i < 4 && p; i++) \
         {{ p = p.nextElementSibling; if (p && p.id === '{data_id}') return true; }} return false; }})"
    )
}

/// The tooltip's lines as shown, or `None` when it is hidden.
fn tooltip(b: &mut cdp::Browser, chart: &str) -> Option<Vec<String>> {
    serde_json::from_value(b.eval(&format!(
        "(() => {{ const t = {chart}.querySelector('.chart-tip'); return !t || t.hidden ? null : \
         Array.from(t.children).map(e => e.textContent.trim()); }})()"
    )))
    .unwrap()
}

/// Saves a screenshot of the viewport as `name.png` under `target/auditbook/screenshots/`
/// and returns its bytes.
fn screenshot(b: &mut cdp::Browser, name: &str) -> Vec<u8> {
    use base64::Engine as _;
    let shot = b.page("Page.captureScreenshot", json!({"format": "png"}));
    let png = base64::engine::general_purpose::STANDARD
        .decode(shot["data"].as_str().expect("screenshot data"))
        .unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name} is not a PNG");
    let shots = super::root().join("target/auditbook/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    std::fs::write(shots.join(format!("{name}.png")), &png).unwrap();
    png
}

/// The charts in Chromium, moved over and clicked through the DevTools protocol: the point
/// under the mouse shows its row of the figure's data (read from the HTML, not from the
/// script) and links to it and to its query; a legend entry hides its series (then the
/// point is not offered any more) and shows it again; a bar shows its own row; in the dark
/// theme the chart is inverted to follow it and the tooltip takes the theme's colours.
/// Screenshots of the index, a chart with its tooltip and the verification page, light and
/// dark, are left under `target/auditbook/screenshots/`.
#[test]
fn charts_show_their_values_on_hover_toggle_series_and_follow_the_theme() {
    let Some(chromium) = chromium() else {
        eprintln!("no Chromium on this machine: the chart test did not run");
        return;
    };
    let (scratch, site, files) = written_book();
    let page = |name: &str| String::from_utf8(files[name].clone()).unwrap();
    let url = |name: &str, theme: &str| format!("file://{}/{name}?theme={theme}", site.display());
    let mut b = cdp::Browser::start(&chromium, &scratch.path().join("profile"), 1300, 900);

    // InduTech's timeline: four series, one row per window.
    let data = "figure-data-timeline";
    let (header, rows) = rows_in_html(
        &page("indutech.html"),
        &format!("<details class=\"chart-data\" id=\"{data}\""),
    );
    assert_eq!(header.len(), 5, "{header:?}");
    let critical = 4;
    let value = |r: &Vec<String>, c: usize| r[c].replace(',', "").parse::<f64>().unwrap();
    // The busiest window of the critical series where no other series has the same value
    // (two marks on one spot: the first series would be offered).
    let row = (0..rows.len())
        .filter(|&k| (1..critical).all(|c| value(&rows[k], c) != value(&rows[k], critical)))
        .max_by(|&a, &b| {
            value(&rows[a], critical)
                .total_cmp(&value(&rows[b], critical))
                .then(b.cmp(&a))
        })
        .expect("a window where the critical count stands alone");
    b.open(&url("indutech.html", "light"));
    let chart = chart_of(data);
    let mark = format!("{chart}.querySelectorAll('g.series[data-series=\"3\"] circle')[{row}]");
    assert_eq!(
        tooltip(&mut b, &chart),
        None,
        "no tooltip before the mouse comes"
    );
    let at = centre_of(&mut b, &mark);
    hover(&mut b, at);
    let shown = tooltip(&mut b, &chart).expect("the tooltip shows on hover");
    let expected: Vec<String> = header
        .iter()
        .zip(&rows[row])
        .map(|(h, v)| format!("{h}: {v}"))
        .collect();
    assert_eq!(shown[..5], expected[..], "the hovered window's row");
    assert_eq!(
        shown[5],
        format!("Row {} of the data · from timeline", row + 1),
        "the links to the row and the query"
    );
    assert_eq!(
        b.eval(&format!(
            "{chart}.querySelector('.chart-tip span.this').textContent"
        )),
        json!(expected[critical]),
        "the hovered series stands out"
    );
    assert_eq!(
        b.eval(&format!(
            "{chart}.querySelector('.chart-tip a[href=\"#query-timeline\"]') !== null"
        )),
        json!(true)
    );
    screenshot(&mut b, "indutech-chart-light");

    // The legend: the critical series hidden, its point is offered no more; shown again.
    let entry = format!("{chart}.querySelector('g.legend-entry[data-series=\"3\"]')");
    let group = format!("{chart}.querySelector('g.series[data-series=\"3\"]')");
    let entry_at = centre_of(&mut b, &entry);
    click(&mut b, entry_at);
    assert_eq!(
        b.eval(&format!("getComputedStyle({group}).display")),
        json!("none")
    );
    assert_eq!(
        b.eval(&format!("{entry}.getAttribute('aria-pressed')")),
        json!("false")
    );
    let at = centre_of(&mut b, &mark);
    hover(&mut b, at);
    if let Some(other) = tooltip(&mut b, &chart) {
        assert!(
            !other.contains(&expected[critical])
                || (1..critical).any(|c| other.contains(&expected[c])),
            "a hidden series is not offered: {other:?}"
        );
        assert_ne!(
            b.eval(&format!(
                "{chart}.querySelector('.chart-tip span.this').textContent"
            )),
            json!(expected[critical])
        );
    }
    // (Hovering scrolled the mark into view: the entry is found again.)
    let entry_at = centre_of(&mut b, &entry);
    click(&mut b, entry_at);
    assert_ne!(
        b.eval(&format!("getComputedStyle({group}).display")),
        json!("none")
    );
    hover_over(&mut b, &mark);
    assert_eq!(tooltip(&mut b, &chart).unwrap()[..5], expected[..]);

    // The dark theme: the chart is inverted to follow it, the tooltip takes its colours.
    let filter = format!("getComputedStyle({chart}.querySelector('svg')).filter");
    assert_eq!(b.eval(&filter), json!("none"));
    b.open(&url("indutech.html", "dark"));
    assert!(b.eval(&filter).as_str().unwrap().contains("invert"));
    hover_over(&mut b, &mark);
    assert_eq!(
        b.eval(&format!(
            "getComputedStyle({chart}.querySelector('.chart-tip')).backgroundColor"
        )),
        json!("rgb(21, 25, 30)"),
        "the tooltip in the dark theme's background"
    );
    screenshot(&mut b, "indutech-chart-dark");

    // A bar chart: the bar under the mouse shows its own row.
    let data = "figure-data-price-by-region";
    let (header, rows) = rows_in_html(
        &page("laplace_immo.html"),
        &format!("<details class=\"chart-data\" id=\"{data}\""),
    );
    b.open(&url("laplace_immo.html", "light"));
    let chart = chart_of(data);
    for bar in [0, rows.len() - 1] {
        hover_over(
            &mut b,
            &format!("{chart}.querySelectorAll('g.series rect')[{bar}]"),
        );
        let shown = tooltip(&mut b, &chart).expect("a bar's tooltip");
        assert_eq!(shown[0], format!("{}: {}", header[0], rows[bar][0]));
        assert_eq!(shown[1], format!("{}: {}", header[1], rows[bar][1]));
    }
    assert!(b.console().is_empty(), "{:?}", b.console());

    // The pages a reader sees first, in both themes.
    for name in ["index", "verification"] {
        let mut shots = Vec::new();
        for theme in ["light", "dark"] {
            b.open(&url(&format!("{name}.html"), theme));
            shots.push(screenshot(&mut b, &format!("{name}-{theme}")));
        }
        assert_ne!(
            shots[0], shots[1],
            "{name}: the dark theme looks like the light one"
        );
    }
}

/// The text of pages `first..=last` of `pdf`, by poppler's `pdftotext`.
fn pdf_text(pdf: &Path, first: usize, last: usize) -> String {
    let output = Command::new("pdftotext")
        .args(["-f", &first.to_string(), "-l", &last.to_string()])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs (apt-get install poppler-utils)");
    assert!(
        output.status.success(),
        "pdftotext failed on {}",
        pdf.display()
    );
    String::from_utf8_lossy(&output.stdout).to_string()
}

/// The book printed to one PDF through headless Chromium, read back with poppler: as many
/// pages as `pdfinfo` counts; every part's title on the page the contents give (so the
/// contents' numbers are right); a finding's value as the prose prints it; internal links
/// (the contents', the findings') pointing at destinations the PDF defines.
#[test]
fn the_book_prints_to_a_pdf_with_right_page_numbers_and_working_links() {
    let Some(chromium) = chromium() else {
        eprintln!("no Chromium on this machine: the PDF test did not run");
        return;
    };
    let poppler = Command::new("pdfinfo").arg("-v").output().is_ok();
    if !poppler {
        assert!(
            std::env::var_os("AUDITBOOK_REQUIRE_BROWSER").is_none(),
            "AUDITBOOK_REQUIRE_BROWSER is set but poppler's pdfinfo is missing (apt-get install poppler-utils)"
        );
        eprintln!("no pdfinfo on this machine: the PDF test did not run");
        return;
    }
    let (_scratch, site, _) = written_book();
    let pdf = site.join("book.pdf");
    let printed = auditbook::render::pdf::print_book(&site, &book::all_meta(), &chromium, &pdf)
        .unwrap_or_else(|e| panic!("{}", e.report()));

    let info = Command::new("pdfinfo").arg(&pdf).output().unwrap();
    let info = String::from_utf8_lossy(&info.stdout);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .map(|n| n.trim().parse().unwrap())
        .expect("pdfinfo reports the pages");
    assert_eq!(pages, printed.pages);
    assert!(pages > 20, "the whole book in {pages} pages?");

    let front = pdf_text(&pdf, 1, 2);
    assert!(front.contains("Contents"), "{front}");
    assert_eq!(printed.parts.len(), book::all_meta().len() + 1);
    for (title, start) in &printed.parts {
        let page = pdf_text(&pdf, *start, *start);
        // The part's heading opens its first page (lines may wrap: compare the words).
        let words = |t: &str| t.split_whitespace().collect::<Vec<_>>().join(" ");
        let heading = if title.starts_with("Appendix") {
            "Verification"
        } else {
            title.as_str()
        };
        assert!(
            words(&page).starts_with(&words(heading)),
            "page {start} does not open with `{heading}`: {}",
            page.chars().take(200).collect::<String>()
        );
        assert!(
            front.contains(&format!("{start}")),
            "the contents give page {start}"
        );
    }

    // A finding's value, as the prose prints it (23,231.55 EUR on the first day).
    let notebooks = super::book_notebooks();
    let nb = &notebooks
        .iter()
        .find(|(c, _)| c.meta().id == "supersmartmarket")
        .unwrap()
        .1;
    let revenue = nb.findings["gap.r1_revenue_eur"].value.display();
    let ssm = &printed.parts[0];
    let text = pdf_text(&pdf, ssm.1, printed.parts[1].1 - 1);
    assert!(
        text.contains(&revenue),
        "`{revenue}` is not in the chapter's pages"
    );

    // Links: the contents' and the findings' go to destinations the PDF defines.
    let bytes = std::fs::read(&pdf).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let targets: std::collections::BTreeSet<&str> = text
        .match_indices("/Dest /")
        .map(|(at, m)| {
            let rest = &text[at + m.len()..];
            &rest[..rest
                .find(|c: char| c.is_whitespace() || c == '/' || c == '>')
                .unwrap()]
        })
        .collect();
    for meta in book::all_meta() {
        assert!(targets.contains(meta.id), "no link to chapter {}", meta.id);
    }
    assert!(
        targets
            .iter()
            .any(|t| t.starts_with("supersmartmarket--finding-")),
        "no link to a finding"
    );
    for target in &targets {
        assert!(
            text.contains(&format!("/{target} [")),
            "the link to `{target}` has no destination in the PDF"
        );
    }
}
