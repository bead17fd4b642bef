//! The book as one PDF, printed by headless Chromium from a built site: a title page, the
//! contents with page numbers, each chapter from a new page, the verification page as an
//! appendix, page numbers in the footer, links kept (internal ones rewritten to stay inside
//! the PDF), bookmarks from the headings.
//!
//! Chromium has no `target-counter()`, so the contents' page numbers come from printing
//! twice: each part (the front matter, every chapter, the appendix) alone first, counting its
//! pages, then the whole with the numbers filled in. Every part starts on a new page, so the
//! whole must have exactly the sum of the parts' pages; that is checked, not assumed.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::html::html_escape;
use crate::chapter::Meta;
use crate::error::{Error, Result};

/// What was printed.
#[derive(Debug, Clone)]
pub struct Printed {
    /// The PDF written.
    pub path: PathBuf,
    /// Its pages.
    pub pages: usize,
    /// Each part's title and first page, in order (the contents of the PDF).
    pub parts: Vec<(String, usize)>,
}

/// One part of the printed book: a page of the site, its ids kept apart from the others'.
struct Part {
    /// The id its section takes (`indutech`), the prefix of its anchors.
    id: String,
    /// Its title in the contents.
    title: String,
    /// Its HTML, anchors rewritten.
    html: String,
}

/// The Chromium binary: `AUDITBOOK_CHROMIUM`, else the first of the usual names on `PATH`.
pub fn find_chromium() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os("AUDITBOOK_CHROMIUM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(Error::Print {
        message: "no Chromium found to print the PDF (Debian: apt-get install chromium; or set \
                  AUDITBOOK_CHROMIUM to the browser's path)"
            .into(),
    })
}

/// Prints the site in `site` (a built book folder) to `pdf`, with Chromium at `chromium`.
/// `chapters` are the book's chapters in order; those without a page in `site` are left out.
pub fn print_book(site: &Path, chapters: &[&Meta], chromium: &Path, pdf: &Path) -> Result<Printed> {
    let read = |name: &str| -> Result<String> {
        let path = site.join(name);
        std::fs::read_to_string(&path).map_err(Error::io(path))
    };
    let css = format!(
        "{}\n{}\n{PRINT_CSS}",
        read("assets/style.css")?,
        read("assets/highlight.css")?
    );
    let pages: Vec<&str> = chapters.iter().map(|m| m.id).collect();
    let mut parts = Vec::new();
    for meta in chapters {
        let name = format!("{}.html", meta.id);
        if !site.join(&name).is_file() {
            continue;
        }
        parts.push(Part {
            id: meta.id.to_string(),
            title: format!("{}. {}", meta.number, meta.title),
            html: soft_breaks(&namespaced(
                &main_of(&read(&name)?, &name)?,
                meta.id,
                &pages,
            )),
        });
    }
    parts.push(Part {
        id: "verification".into(),
        title: "Appendix: verification".into(),
        html: soft_breaks(&namespaced(
            &main_of(&read("verification.html")?, "verification.html")?,
            "verification",
            &pages,
        )),
    });
    let index = read("index.html")?;
    let note = index
        .find("<aside class=\"params-changed\"")
        .and_then(|at| {
            index[at..]
                .find("</aside>")
                .map(|end| &index[at..at + end + 8])
        })
        .unwrap_or("")
        .to_string();
    let summary = checks_summary(&read("checks.json")?)?;

    let work = tempfile::Builder::new()
        .prefix("auditbook-pdf-")
        .tempdir()
        .map_err(Error::io(std::env::temp_dir()))?;
    let printer = Printer {
        chromium,
        work: work.path(),
    };
    // First pass: each part alone, its pages counted. The front matter is printed with
    // numbers as wide as the real ones, so that it takes the same pages.
    let placeholder = vec![999; parts.len()];
    let front_pages = printer.pages_of(
        "front",
        &document(&css, &front(&summary, &note, &parts, &placeholder)),
    )?;
    let mut starts = Vec::new();
    let mut next = front_pages + 1;
    for part in &parts {
        starts.push(next);
        next += printer.pages_of(&part.id, &document(&css, &section(part)))?;
    }
    let expected = next - 1;
    // Second pass: the whole book.
    let mut body = front(&summary, &note, &parts, &starts);
    for part in &parts {
        body.push_str(&section(part));
    }
    let whole = printer.print("book", &document(&css, &body))?;
    let pages = page_count(&whole);
    if pages != expected {
        return Err(Error::Print {
            message: format!(
                "the whole book printed to {pages} pages where its parts add up to {expected}: \
                 the contents' page numbers would be wrong"
            ),
        });
    }
    if let Some(dir) = pdf.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
    }
    std::fs::write(pdf, &whole).map_err(Error::io(pdf))?;
    Ok(Printed {
        path: pdf.to_path_buf(),
        pages,
        parts: parts
            .iter()
            .zip(&starts)
            .map(|(p, s)| (p.title.clone(), *s))
            .collect(),
    })
}

/// Where `build --pdf` writes the PDF: beside the pages of an `--out` folder, and under
/// `target/auditbook/` for the committed book (a PDF is never committed).
pub fn destination(root: &Path, out: &Path) -> PathBuf {
    let committed = root.join("book");
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    };
    if same(out, &committed) {
        root.join("target/auditbook/book.pdf")
    } else {
        out.join("book.pdf")
    }
}

/// The print's own rules, after the site's stylesheet (whose `@media print` rules apply).
const PRINT_CSS: &str = r#"
@page { size: A4; margin: 16mm 14mm 18mm;
  @bottom-center { content: counter(page) " / " counter(pages); font: 8pt sans-serif; color: #666; } }
@page :first { @bottom-center { content: none; } }
html, body { background: #fff; color: #000; }
body { font-size: 10pt; margin: 0; }
main.content { max-width: none; padding: 0; }
.print-part { break-before: page; }
.title-page { min-height: 230mm; display: flex; flex-direction: column; justify-content: center; }
.title-page h1 { font-size: 34pt; margin: 0 0 .3em; border: none; }
.title-page .tagline { font-size: 15pt; color: #444; margin: 0 0 2em; }
.contents { break-before: page; }
.contents ol { list-style: none; padding: 0; }
.contents li { display: flex; gap: .4em; margin: .35em 0; font-size: 12pt; }
.contents li .fill { flex: 1; border-bottom: 1px dotted #888; margin-bottom: .3em; }
details.chart-data, .anchor, .table-tools, .pager { display: none !important; }
/* Nothing may be wider than the page: Blink shrinks a whole document to fit its widest
   element, which would make a part alone and the same part in the book paginate apart. */
.table-wrap { overflow: visible; max-width: 100%; }
table { font-size: 8pt; max-width: 100%; }
th, td, a { overflow-wrap: break-word; }
pre.code, code.hash { overflow-wrap: anywhere; }
.chart svg { max-width: 100%; }
thead { display: table-header-group; }
tr, pre, .chart, figure { break-inside: avoid; }
pre.code { white-space: pre-wrap; word-break: break-word; font-size: 7.5pt; }
.chart svg { max-width: 100%; height: auto; filter: none; }
a { color: #0b5394; }
"#;

/// Run before printing, laid out at the page's width (the browser's window is as wide as the
/// printed area): a table still wider than the page after its names got break
/// opportunities (many columns of numbers) is zoomed out to fit, alone. Blink would
/// otherwise shrink the whole document to fit its widest element, and a part printed alone
/// and the same part in the book would paginate apart.
const FIT_SCRIPT: &str = r#"<script>
document.querySelectorAll("main table").forEach(function (table) {
  var room = table.parentElement.clientWidth, need = table.scrollWidth;
  if (need > room + 1) table.style.zoom = (Math.floor(1000 * room / need) / 1000).toString();
});
</script>"#;

/// The printed area's width in CSS pixels: A4 (210 mm) less the side margins (2 × 14 mm).
const PRINT_WIDTH_PX: u32 = 687;

/// A whole HTML document around `body`.
fn document(css: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>auditbook</title>\n\
         <style>\n{css}\n</style>\n</head>\n<body>\n<main class=\"content\">\n{body}\n</main>\n{FIT_SCRIPT}\n</body>\n</html>\n"
    )
}

/// The title page and the contents, each part with its first page.
fn front(summary: &str, note: &str, parts: &[Part], starts: &[usize]) -> String {
    let mut html = format!(
        "<section class=\"title-page\" id=\"title\">\n<h1>{}</h1>\n<p class=\"tagline\">a reproducible audit book</p>\n\
         <p>{summary}</p>\n{note}\n</section>\n<section class=\"contents\" id=\"contents\">\n<h2>Contents</h2>\n<ol>\n",
        super::site::BOOK_TITLE
    );
    for (part, start) in parts.iter().zip(starts) {
        html.push_str(&format!(
            "<li><a href=\"#{}\">{}</a><span class=\"fill\"></span><span class=\"page\">{start}</span></li>\n",
            part.id,
            html_escape(&part.title)
        ));
    }
    html.push_str("</ol>\n</section>\n");
    html
}

/// A part as a section of its own, starting a page.
fn section(part: &Part) -> String {
    format!(
        "<section class=\"print-part\" id=\"{}\">\n{}\n</section>\n",
        part.id, part.html
    )
}

/// The title page's line on the checks, from the book's `checks.json`.
fn checks_summary(checks_json: &str) -> Result<String> {
    let bad = |message: String| Error::BadFile {
        file: "checks.json".into(),
        row: None,
        message,
    };
    let value: serde_json::Value =
        serde_json::from_str(checks_json).map_err(|e| bad(e.to_string()))?;
    let chapters = value
        .as_object()
        .ok_or_else(|| bad("not an object of chapters".into()))?;
    let (mut pass, mut fail, mut na) = (0, 0, 0);
    for results in chapters.values() {
        for status in results.as_object().into_iter().flat_map(|r| r.values()) {
            match status.as_str() {
                Some("pass") => pass += 1,
                Some("FAIL") => fail += 1,
                _ => na += 1,
            }
        }
    }
    Ok(format!(
        "{} chapters, {} checks: {pass} pass, {fail} FAIL, {na} n/a.",
        chapters.len(),
        pass + fail + na
    ))
}

/// The content of a page of the site: what is inside its `<main>`.
fn main_of(html: &str, name: &str) -> Result<String> {
    let start = html
        .find("<main class=\"content\">")
        .map(|at| at + "<main class=\"content\">".len());
    let end = html.rfind("</main>");
    match (start, end) {
        (Some(start), Some(end)) if start <= end => Ok(html[start..end].to_string()),
        _ => Err(Error::BadFile {
            file: name.into(),
            row: None,
            message: "no <main class=\"content\"> in the page".into(),
        }),
    }
}

/// `html` of the page `page` with its anchors made unique in the whole book (`id="checks"`
/// becomes `id="indutech--checks"`) and its links rewritten to match: `#x` within the page,
/// `other.html#x` and `other.html` to the other part, `index.html` to the contents. Other
/// links (the web, the Markdown pages) stay as they are.
fn namespaced(html: &str, page: &str, pages: &[&str]) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 20);
    let mut rest = html;
    loop {
        let id = rest.find(" id=\"");
        let href = rest.find(" href=\"");
        let (at, is_id) = match (id, href) {
            (Some(i), Some(h)) if i < h => (i, true),
            (Some(i), None) => (i, true),
            (_, Some(h)) => (h, false),
            (None, None) => break,
        };
        let attribute = if is_id { " id=\"" } else { " href=\"" };
        let value_start = at + attribute.len();
        let Some(length) = rest[value_start..].find('"') else {
            break;
        };
        let value = &rest[value_start..value_start + length];
        out.push_str(&rest[..value_start]);
        out.push_str(&if is_id {
            format!("{page}--{value}")
        } else {
            link(value, page, pages)
        });
        rest = &rest[value_start + length..];
    }
    out.push_str(rest);
    out
}

/// One link of the page `page`, as it reads in the whole book.
fn link(href: &str, page: &str, pages: &[&str]) -> String {
    if let Some(anchor) = href.strip_prefix('#') {
        return format!("#{page}--{anchor}");
    }
    let (file, anchor) = href.split_once('#').unwrap_or((href, ""));
    let Some(target) = file.strip_suffix(".html") else {
        return href.to_string();
    };
    if target == "index" {
        return "#contents".into();
    }
    if target != "verification" && !pages.contains(&target) {
        return href.to_string();
    }
    if anchor.is_empty() {
        format!("#{target}")
    } else {
        format!("#{target}--{anchor}")
    }
}

/// `html` with a break opportunity (`<wbr>`) after each `_`, and after each `.` or `/`
/// followed by a letter, in its text (not in tags, code blocks or SVG): `r1_revenue_eur` and
/// `answer.cited_events` may then wrap in a narrow table column instead of widening the
/// table past the page, which would make Chromium shrink the whole document.
fn soft_breaks(html: &str) -> String {
    let mut out = String::with_capacity(html.len() + html.len() / 10);
    let mut chars = html.char_indices().peekable();
    // Inside these elements the text is left as it is.
    let mut verbatim: Option<&str> = None;
    while let Some((at, c)) = chars.next() {
        if c == '<' {
            let end = html[at..].find('>').map_or(html.len(), |e| at + e + 1);
            let tag = &html[at..end];
            out.push_str(tag);
            let name: String = tag[1..]
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '/')
                .collect();
            match (verbatim, name.as_str()) {
                (None, "pre") => verbatim = Some("/pre"),
                (None, "svg") => verbatim = Some("/svg"),
                (Some(close), n) if n == close => verbatim = None,
                _ => {}
            }
            while chars.peek().is_some_and(|(i, _)| *i < end) {
                chars.next();
            }
            continue;
        }
        out.push(c);
        if verbatim.is_none() {
            let next_is_letter = chars.peek().is_some_and(|(_, n)| n.is_alphabetic());
            if c == '_' || ((c == '.' || c == '/') && next_is_letter) {
                out.push_str("<wbr>");
            }
        }
    }
    out
}

/// The pages of a PDF Chromium wrote: its page objects (`/Type /Page`, not `/Pages`). Skia
/// writes every object uncompressed at the top level, so they can be counted as text.
fn page_count(pdf: &[u8]) -> usize {
    let needle = b"/Type /Page";
    pdf.windows(needle.len() + 1)
        .filter(|w| w.starts_with(needle) && !w[needle.len()].is_ascii_alphanumeric())
        .count()
}

/// How the book runs Chromium: headless, with nothing that reaches for the network this
/// machine may not have (each background service's refused connection would be logged), and
/// without its sandbox, which refuses to start as root (CI containers) and guards nothing
/// here: the pages are the book's own HTML read from local files. The browser tests use the
/// same flags.
pub const HEADLESS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
];

/// Headless Chromium printing HTML files of a work folder.
struct Printer<'a> {
    chromium: &'a Path,
    work: &'a Path,
}

impl Printer<'_> {
    /// Prints `html` as `name.pdf` and returns the PDF's bytes.
    fn print(&self, name: &str, html: &str) -> Result<Vec<u8>> {
        let source = self.work.join(format!("{name}.html"));
        std::fs::write(&source, html).map_err(Error::io(&source))?;
        let target = self.work.join(format!("{name}.pdf"));
        let profile = self.work.join("profile");
        let output = Command::new(self.chromium)
            .args(HEADLESS)
            .args(["--no-pdf-header-footer", "--generate-pdf-document-outline"])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("--window-size={PRINT_WIDTH_PX},1000"))
            .arg(format!("--print-to-pdf={}", target.display()))
            .arg(format!("file://{}", source.display()))
            .output()
            .map_err(|e| Error::Print {
                message: format!("starting {}: {e}", self.chromium.display()),
            })?;
        let bytes = std::fs::read(&target)
            .ok()
            .filter(|b| b.starts_with(b"%PDF"));
        match bytes {
            Some(bytes) if output.status.success() => Ok(bytes),
            _ => Err(Error::Print {
                message: format!(
                    "{} printed no PDF for {name} ({}): {}",
                    self.chromium.display(),
                    output.status,
                    String::from_utf8_lossy(&output.stderr)
                        .lines()
                        .filter(|l| !l.contains("dbus"))
                        .collect::<Vec<_>>()
                        .join(" / ")
                ),
            }),
        }
    }

    /// How many pages `html` prints to.
    fn pages_of(&self, name: &str, html: &str) -> Result<usize> {
        Ok(page_count(&self.print(name, html)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_made_unique_and_links_follow_them() {
        let html = r##"<h2 id="checks">Checks</h2><a href="#query-q1">q1</a> <a href="laplace_immo.html#finding-x">x</a> <a href="index.html">home</a> <a href="https://example.org/a.html">web</a> <a href="supersmartmarket.md">md</a> <a href="verification.html">v</a>"##;
        let pages = ["indutech", "laplace_immo"];
        assert_eq!(
            namespaced(html, "indutech", &pages),
            r##"<h2 id="indutech--checks">Checks</h2><a href="#indutech--query-q1">q1</a> <a href="#laplace_immo--finding-x">x</a> <a href="#contents">home</a> <a href="https://example.org/a.html">web</a> <a href="supersmartmarket.md">md</a> <a href="#verification">v</a>"##
        );
    }

    #[test]
    fn long_names_may_break_but_code_and_charts_stay_whole() {
        assert_eq!(
            soft_breaks("<td><code>r1_revenue</code> 1,234.56 a.b</td><pre>x_y</pre><svg><text>p_q</text></svg>"),
            "<td><code>r1_<wbr>revenue</code> 1,234.56 a.<wbr>b</td><pre>x_y</pre><svg><text>p_q</text></svg>"
        );
    }

    #[test]
    fn pages_are_counted_and_the_page_tree_is_not() {
        let pdf = b"%PDF-1.4\n1 0 obj <</Type /Pages /Count 2>>\n2 0 obj <</Type /Page\n/Parent 1 0 R>>\n3 0 obj <</Type /Page /Parent 1 0 R>>";
        assert_eq!(page_count(pdf), 2);
    }

    #[test]
    fn the_committed_book_is_never_where_the_pdf_goes() {
        let root = Path::new("/work/repo");
        assert_eq!(
            destination(root, &root.join("book")),
            root.join("target/auditbook/book.pdf")
        );
        assert_eq!(
            destination(root, Path::new("/tmp/other")),
            Path::new("/tmp/other/book.pdf")
        );
    }

    #[test]
    fn the_title_page_counts_every_check() {
        let json = r#"{"a": {"x": "pass", "y": "FAIL"}, "b": {"z": "n/a", "w": "pass"}}"#;
        assert_eq!(
            checks_summary(json).unwrap(),
            "2 chapters, 4 checks: 2 pass, 1 FAIL, 1 n/a."
        );
    }
}
