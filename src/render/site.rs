//! The whole site: every chapter's Markdown and HTML page, the index (chapters, every check,
//! every dataset with sha256 and licence), `findings.json`, `checks.json` and the assets, as a map from
//! path to bytes. Writing it is `book::write_book`'s job; this module only decides content.

use std::collections::BTreeMap;

use minijinja::{context, Environment, UndefinedBehavior};
use serde::Serialize;

use crate::chapter::Meta;
use crate::dataset::Manifest;
use crate::embedded;
use crate::error::{Error, Result};
use crate::notebook::{Notebook, Status};
use crate::render::html::{self, TocEntry};
use crate::render::markdown::{self, RenderedChapter};

/// The site's name, shown in every page's header.
pub const BOOK_TITLE: &str = "auditbook";

#[derive(Serialize)]
struct NavItem {
    id: String,
    number: u32,
    title: String,
    href: String,
    current: bool,
}

#[derive(Serialize)]
struct CheckRow {
    chapter: String,
    chapter_href: String,
    id: String,
    title: String,
    status: String,
    reason: String,
    /// The faults declared to make this check fail (`chapters/<id>/faults.toml`), each
    /// seen failing it in the fault matrix (`auditbook faults`, run by `scripts/test`).
    faults: Vec<FaultCell>,
}

#[derive(Serialize)]
struct FaultCell {
    name: String,
    does: String,
}

#[derive(Serialize)]
struct DatasetRow {
    chapter: String,
    file: String,
    rows: String,
    sha256: String,
    licence: String,
    origin: String,
}

#[derive(Serialize)]
struct ChapterCard {
    number: u32,
    title: String,
    summary: String,
    href: String,
    passed: usize,
    failed: usize,
    not_applicable: usize,
}

/// One chapter ready to be rendered: its metadata, its notebook and its prose.
pub struct ChapterInput<'a> {
    /// The chapter's metadata.
    pub meta: &'a Meta,
    /// Its notebook.
    pub notebook: &'a Notebook,
    /// Its prose (`chapter.md`).
    pub prose: &'a str,
}

fn template_env() -> Result<Environment<'static>> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    for name in [
        "layout.html",
        "chapter.html",
        "index.html",
        "verification.html",
    ] {
        let text = embedded::file(&format!("templates/{name}"))
            .ok_or_else(|| Error::missing_template(&format!("templates/{name}")))?;
        env.add_template(name, text)
            .map_err(|e| template_error(name, e))?;
    }
    Ok(env)
}

fn template_error(name: &str, e: minijinja::Error) -> Error {
    Error::BadFile {
        file: format!("templates/{name}"),
        row: e.line().map(|l| l as u64),
        message: e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string()),
    }
}

fn nav(all: &[&Meta], current: Option<&str>) -> Vec<NavItem> {
    all.iter()
        .map(|m| NavItem {
            id: m.id.to_string(),
            number: m.number,
            title: m.title.to_string(),
            href: format!("{}.html", m.id),
            current: Some(m.id) == current,
        })
        .collect()
}

/// Renders the Markdown and HTML of one chapter: `(md path, md), (html path, html)` and its
/// chart files.
/// A parameter of this build that differs from its chapter's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedParam {
    /// The chapter.
    pub chapter: String,
    /// The parameter.
    pub name: String,
    /// Its value in this run.
    pub value: String,
    /// Its default.
    pub default: String,
}

/// The parameters of these chapters' runs that differ from the defaults, in book order, so
/// that every page of a book built with them says so before its prose.
pub fn changed_params(chapters: &[ChapterInput]) -> Vec<ChangedParam> {
    let mut changed = Vec::new();
    for input in chapters {
        for p in input.meta.params {
            let value = input
                .notebook
                .params
                .get(p.name)
                .map(String::as_str)
                .unwrap_or(p.default);
            if value != p.default {
                changed.push(ChangedParam {
                    chapter: input.meta.id.to_string(),
                    name: p.name.to_string(),
                    value: value.to_string(),
                    default: p.default.to_string(),
                });
            }
        }
    }
    changed
}

/// The Markdown line that opens every chapter page of a book built with other parameters.
fn changed_params_note(changed: &[ChangedParam]) -> String {
    if changed.is_empty() {
        return String::new();
    }
    let list: Vec<String> = changed
        .iter()
        .map(|p| {
            format!(
                "`{}.{}={}` (default `{}`)",
                p.chapter, p.name, p.value, p.default
            )
        })
        .collect();
    format!(
        "> **Not the default book.** Built with parameters that differ from the defaults: {}.\n\n",
        list.join(", ")
    )
}

/// One chapter rendered: its Markdown, its files under `book/`, its search entries.
pub type RenderedPage = (RenderedChapter, BTreeMap<String, Vec<u8>>, Vec<SearchEntry>);

/// One chapter's page, Markdown file and chart files, and its search entries.
pub fn chapter_files(
    all: &[&Meta],
    input: &ChapterInput,
    refs: &markdown::Refs,
    changed: &[ChangedParam],
) -> Result<RenderedPage> {
    let meta = input.meta;
    let rendered = markdown::render_chapter(meta, input.notebook, input.prose, Some(refs))?;
    let full_markdown = format!(
        "# {}. {}\n\n*{}*\n\n{}{}",
        meta.number,
        meta.title,
        rendered.front.summary,
        changed_params_note(changed),
        rendered.markdown.trim_start()
    );
    let charts: BTreeMap<String, String> = rendered.charts.iter().cloned().collect();
    let body = html::markdown_to_html(&full_markdown, &charts);
    let position = all.iter().position(|m| m.id == meta.id).unwrap_or(0);
    let link = |m: &&Meta| context! { href => format!("{}.html", m.id), title => format!("{}. {}", m.number, m.title) };
    let prev = position.checked_sub(1).and_then(|i| all.get(i)).map(link);
    let next = all.get(position + 1).map(link);
    let env = template_env()?;
    let page = env
        .get_template("chapter.html")
        .and_then(|t| {
            t.render(context! {
                book_title => BOOK_TITLE,
                page_title => format!("{}. {}", meta.number, meta.title),
                nav => nav(all, Some(meta.id)),
                toc => body.toc,
                content => body.html,
                prev => prev,
                next => next,
                markdown_href => format!("{}.md", meta.id),
                // The chapter's own Markdown carries the note (so its .md says it too).
                params_changed => Vec::<ChangedParam>::new(),
            })
        })
        .map_err(|e| template_error("chapter.html", e))?;
    let mut files = BTreeMap::new();
    files.insert(format!("{}.md", meta.id), full_markdown.into_bytes());
    files.insert(format!("{}.html", meta.id), page.into_bytes());
    for (path, svg) in &rendered.charts {
        files.insert(path.clone(), svg.clone().into_bytes());
    }
    let page_title = format!("{}. {}", meta.number, meta.title);
    let search = body
        .sections
        .into_iter()
        .map(|s| SearchEntry {
            page: format!("{}.html", meta.id),
            page_title: page_title.clone(),
            id: s.id,
            heading: s.heading,
            text: s.text,
        })
        .collect();
    Ok((rendered, files, search))
}

/// One searchable section of the site.
#[derive(Debug, Clone, Serialize)]
pub struct SearchEntry {
    /// The page.
    pub page: String,
    /// The page's title.
    pub page_title: String,
    /// The section's anchor id.
    pub id: String,
    /// Its heading.
    pub heading: String,
    /// Its text, without markup.
    pub text: String,
}

/// The search index as a script (a JSON file cannot be fetched from `file://`).
fn search_index(entries: &[SearchEntry]) -> Vec<u8> {
    let json = serde_json::to_string(entries).expect("search index serialises");
    format!("window.AUDITBOOK_SEARCH = {json};\n").into_bytes()
}

/// Every `href` and `src` of every HTML page must lead to a file of the site, and a
/// `#fragment` to an element with that id: a broken internal link fails the build.
pub fn check_links(files: &BTreeMap<String, Vec<u8>>) -> Result<()> {
    let mut ids: BTreeMap<&str, std::collections::BTreeSet<String>> = BTreeMap::new();
    for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with(".html")) {
        let text = String::from_utf8_lossy(bytes);
        let set = ids.entry(path.as_str()).or_default();
        for part in text.split(" id=\"").skip(1) {
            if let Some(end) = part.find('"') {
                set.insert(part[..end].to_string());
            }
        }
    }
    let mut broken = std::collections::BTreeSet::new();
    for (path, bytes) in files.iter().filter(|(p, _)| p.ends_with(".html")) {
        let text = String::from_utf8_lossy(bytes);
        for attr in ["href=\"", "src=\""] {
            for part in text.split(attr).skip(1) {
                let Some(end) = part.find('"') else { continue };
                let link = &part[..end];
                if link.starts_with("http:")
                    || link.starts_with("https:")
                    || link.starts_with("mailto:")
                    || link.is_empty()
                {
                    continue;
                }
                let (file, fragment) = link
                    .split_once('#')
                    .map(|(f, x)| (f, Some(x)))
                    .unwrap_or((link, None));
                let target = if file.is_empty() { path.as_str() } else { file };
                if !files.contains_key(target) {
                    broken.insert(format!("{path}: `{link}` leads to no file of the book"));
                } else if let Some(fragment) = fragment {
                    if target.ends_with(".html")
                        && !ids.get(target).is_some_and(|set| set.contains(fragment))
                    {
                        broken.insert(format!(
                            "{path}: `{link}` leads to no element with id `{fragment}`"
                        ));
                    }
                }
            }
        }
    }
    if broken.is_empty() {
        Ok(())
    } else {
        Err(Error::BadFile {
            file: "the rendered book".into(),
            row: None,
            message: format!(
                "{} broken link(s): {}",
                broken.len(),
                broken.into_iter().collect::<Vec<_>>().join("; ")
            ),
        })
    }
}

/// First pass: every chapter's reference targets (numbered tables and figures, findings).
pub fn reference_targets(chapters: &[ChapterInput]) -> Result<markdown::Refs> {
    let mut refs = markdown::Refs::new();
    for input in chapters {
        refs.extend(
            markdown::render_chapter(input.meta, input.notebook, input.prose, None)?.targets,
        );
    }
    Ok(refs)
}

/// The licence and origin the manifest records for a file a chapter read.
fn licence_of(manifest: &Manifest, chapter: &str, file: &str) -> (String, String) {
    if let Some(f) = manifest
        .files
        .iter()
        .find(|f| f.chapter == chapter && f.path.ends_with(file))
    {
        return (f.licence.clone(), f.origin.clone());
    }
    if let Some(g) = manifest.generated_for(chapter) {
        return (
            g.licence.clone(),
            format!("generated by `{}`, seed {}", g.generator, g.seed),
        );
    }
    ("unknown".into(), "not in the manifest".into())
}

/// Every file of the book.
pub fn site_files(
    all: &[&Meta],
    chapters: &[ChapterInput],
    manifest: &Manifest,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let changed = changed_params(chapters);
    let mut files = BTreeMap::new();
    let mut cards = Vec::new();
    let mut checks = Vec::new();
    let mut datasets = Vec::new();
    let mut findings = serde_json::Map::new();
    let mut check_results = serde_json::Map::new();
    let mut search = Vec::new();
    let refs = reference_targets(chapters)?;
    for input in chapters {
        let (rendered, chapter_files, entries) = chapter_files(all, input, &refs, &changed)?;
        files.extend(chapter_files);
        search.extend(entries);
        let nb = input.notebook;
        let count = |f: fn(&Status) -> bool| nb.checks.iter().filter(|c| f(&c.status)).count();
        cards.push(ChapterCard {
            number: input.meta.number,
            title: input.meta.title.to_string(),
            summary: rendered.front.summary.clone(),
            href: format!("{}.html", input.meta.id),
            passed: count(|s| matches!(s, Status::Passed)),
            failed: count(|s| matches!(s, Status::Failed(_))),
            not_applicable: count(|s| matches!(s, Status::NotApplicable(_))),
        });
        let declared = crate::fault::declared(input.meta.id)?;
        for c in &nb.checks {
            let faults = declared
                .iter()
                .filter(|f| f.trips.contains(&c.id))
                .map(|f| FaultCell {
                    name: f.name.clone(),
                    does: f.does.clone(),
                })
                .collect();
            let reason = match &c.status {
                Status::Passed => String::new(),
                Status::Failed(r) | Status::NotApplicable(r) => r.clone(),
            };
            checks.push(CheckRow {
                chapter: input.meta.id.to_string(),
                chapter_href: format!(
                    "{}.html#{}",
                    input.meta.id,
                    markdown::anchor("check", &c.id)
                ),
                id: c.id.clone(),
                title: c.title.clone(),
                status: c.status.label().to_string(),
                reason,
                faults,
            });
        }
        for d in &nb.datasets {
            let (licence, origin) = licence_of(manifest, input.meta.id, &d.file);
            datasets.push(DatasetRow {
                chapter: input.meta.id.to_string(),
                file: d.file.clone(),
                rows: d
                    .rows
                    .map(|r| crate::frame::group_digits(&r.to_string()))
                    .unwrap_or_default(),
                sha256: d.sha256.clone(),
                licence,
                origin,
            });
        }
        findings.insert(input.meta.id.to_string(), nb.findings_json());
        check_results.insert(
            input.meta.id.to_string(),
            serde_json::Value::Object(
                nb.checks
                    .iter()
                    .map(|c| {
                        (
                            c.id.clone(),
                            serde_json::Value::String(c.status.label().to_string()),
                        )
                    })
                    .collect(),
            ),
        );
    }
    let index_js = search_index(&search);
    let search_kib = format!("{:.1}", index_js.len() as f64 / 1024.0);
    let env = template_env()?;
    let (passed, failed, not_applicable) = (
        checks.iter().filter(|c| c.status == "pass").count(),
        checks.iter().filter(|c| c.status == "FAIL").count(),
        checks.iter().filter(|c| c.status == "n/a").count(),
    );
    for (template, page, title) in [
        ("index.html", "index.html", "Contents"),
        ("verification.html", "verification.html", "Verification"),
    ] {
        let html = env
            .get_template(template)
            .and_then(|t| {
                t.render(context! {
                    book_title => BOOK_TITLE,
                    page_title => title,
                    nav => nav(all, None),
                    toc => Vec::<TocEntry>::new(),
                    chapters => &cards,
                    checks => &checks,
                    datasets => &datasets,
                    passed => passed,
                    failed => failed,
                    not_applicable => not_applicable,
                    params_changed => &changed,
                    search_entries => search.len(),
                    search_kib => &search_kib,
                })
            })
            .map_err(|e| template_error(template, e))?;
        files.insert(page.into(), html.into_bytes());
    }
    files.insert("assets/search-index.js".into(), index_js);
    let mut json = serde_json::to_string_pretty(&serde_json::Value::Object(findings))
        .expect("findings serialise");
    json.push('\n');
    files.insert("findings.json".into(), json.into_bytes());
    // Every check's result (pass, FAIL, n/a) by chapter, beside the findings: `diff` reads both.
    let mut json = serde_json::to_string_pretty(&serde_json::Value::Object(check_results))
        .expect("check results serialise");
    json.push('\n');
    files.insert("checks.json".into(), json.into_bytes());
    files.extend(assets()?);
    check_links(&files)?;
    Ok(files)
}

/// The static assets: the stylesheet and the SQL highlighting classes.
pub fn assets() -> Result<BTreeMap<String, Vec<u8>>> {
    let css = embedded::file("templates/style.css")
        .ok_or_else(|| Error::missing_template("templates/style.css"))?;
    let script = embedded::file("templates/book.js")
        .ok_or_else(|| Error::missing_template("templates/book.js"))?;
    let mut files = BTreeMap::new();
    files.insert("assets/style.css".into(), css.as_bytes().to_vec());
    files.insert("assets/book.js".into(), script.as_bytes().to_vec());
    files.insert(
        "assets/highlight.css".into(),
        html::highlight_css("InspiredGitHub").into_bytes(),
    );
    Ok(files)
}
