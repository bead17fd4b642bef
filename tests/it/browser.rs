//! The built book in a real browser: headless Chromium (Debian's `chromium`, installed by
//! `scripts/test`) opens every page and must log no console message (a script error, a
//! blocked resource); the search, run through `?q=`, must list the expected section; and
//! the index and a chapter are captured in light and dark themes under
//! `target/auditbook/screenshots/`. Missing files and broken links are refused earlier, at
//! build time, by `site::check_links` (tested in `render`).

use std::path::{Path, PathBuf};
use std::process::Command;

use auditbook::commands::book;

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
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
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
