//! Chapter prose → Markdown. `chapters/<id>/chapter.md` is front matter plus a minijinja
//! template whose functions read the notebook: `value` (a number, linked to its provenance),
//! `finding` (a value for a condition), `table`, `query`, `chart`, `ref` (another chapter's
//! table, figure or finding), `checks`, `params`, `inputs`. Undefined names are errors
//! (strict), reported with the chapter, file and line. The prose never types a number.

use std::sync::Arc;

use minijinja::{Environment, ErrorKind, UndefinedBehavior};
use serde::Deserialize;

use crate::chapter::Meta;
use crate::error::{Error, Result};
use crate::frame;
use crate::notebook::{ChartData, Notebook, Provenance, Source, Status};

/// A chapter's front matter. The title is not in it: it is written once, in the chapter's
/// `Meta`, and every page and link takes it from there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FrontMatter {
    /// The line under the chapter's title, in the page and on the index.
    pub summary: String,
}

/// A chapter rendered to Markdown, with the chart files its Markdown links to.
#[derive(Debug, Clone)]
pub struct RenderedChapter {
    /// The front matter.
    pub front: FrontMatter,
    /// The chapter's Markdown.
    pub markdown: String,
    /// (path under `book/`, SVG text)
    pub charts: Vec<(String, String)>,
    /// What `{{ ref(...) }}` can point at in this chapter: its numbered tables and figures
    /// and its findings, by `<chapter>.<name>`.
    pub targets: Refs,
}

/// Where a cross-reference leads and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefTarget {
    /// What the link says: a number (Table 2.4) or a value.
    pub label: String,
    /// Where it leads.
    pub href: String,
}

/// Every reference target of the book, by `<chapter>.<name>`.
pub type Refs = std::collections::BTreeMap<String, RefTarget>;

/// Splits `---\n<yaml>\n---\n<body>`; returns the front matter, the body and the number of
/// lines before the body (so template errors report the file's own line numbers).
fn split_front_matter(
    chapter: &str,
    file: &str,
    text: &str,
) -> Result<(FrontMatter, String, usize)> {
    let reference = |line: usize, message: String| Error::Reference {
        chapter: chapter.into(),
        file: file.into(),
        line,
        message,
    };
    let rest = text
        .strip_prefix("---\n")
        .ok_or_else(|| reference(1, "the file must start with `---` front matter".into()))?;
    let end = rest
        .find("\n---\n")
        .ok_or_else(|| reference(1, "front matter is not closed by `---`".into()))?;
    let yaml = &rest[..end];
    let front: FrontMatter =
        serde_yaml::from_str(yaml).map_err(|e| reference(2, format!("front matter: {e}")))?;
    let offset = yaml.lines().count() + 2;
    Ok((front, rest[end + 5..].to_string(), offset))
}

/// Anchor id of a finding, a table, a query in the page.
pub fn anchor(kind: &str, name: &str) -> String {
    format!("{kind}-{}", name.replace(['.', '_'], "-"))
}

fn query_block(name: &str, text: &str) -> String {
    // SQL for DuckDB, or a document-store pipeline (JSON).
    let language = if text.trim_start().starts_with(['[', '{']) {
        "json"
    } else {
        "sql"
    };
    format!(
        "<span id=\"{}\"></span>\n\n```{language}\n{}\n```\n",
        anchor("query", name),
        text.trim_end()
    )
}

/// A source as the book names it: a query links to its text, a function is named.
fn source_link(source: &Source) -> String {
    match source {
        Source::Query { name } => format!("query [`{name}`](#{})", anchor("query", name)),
        Source::Function { .. } | Source::Parameter { .. } => source.label(),
    }
}

/// A chart's text alternative: its data as a table behind a disclosure, right after the
/// figure. The browser's script also reads it for the chart's tooltips.
fn chart_data_block(id: &str, label: &str, data: &ChartData) -> String {
    if data.columns.is_empty() {
        return String::new();
    }
    let escape = |s: &str| s.replace('|', "\\|");
    // A column is right-aligned when every non-empty cell is a number, as in the book's tables.
    let numeric: Vec<bool> = (0..data.columns.len())
        .map(|c| {
            let mut cells = data
                .rows
                .iter()
                .filter_map(|r| r.get(c))
                .filter(|t| !t.is_empty());
            let mut any = false;
            let all = cells.all(|t| {
                any = true;
                t.replace(',', "").parse::<f64>().is_ok()
            });
            any && all
        })
        .collect();
    let mut out = format!(
        "<details class=\"chart-data\" id=\"{id}\"><summary>{label} as a table ({} rows)</summary>\n\n",
        data.rows.len()
    );
    let header: Vec<String> = data.columns.iter().map(|c| escape(c)).collect();
    out.push_str(&format!("| {} |\n", header.join(" | ")));
    let align: Vec<&str> = numeric
        .iter()
        .map(|n| if *n { "---:" } else { ":---" })
        .collect();
    out.push_str(&format!("|{}|\n", align.join("|")));
    for row in &data.rows {
        let cells: Vec<String> = row.iter().map(|c| escape(c)).collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    out.push_str("\n</details>\n");
    out
}

fn provenance_line(p: &Provenance) -> String {
    let source = source_link(&p.source);
    format!(
        "{source}, over {} dataset file(s) ([provenance](#provenance))",
        p.datasets.len()
    )
}

fn tooltip(nb: &Notebook, key: &str) -> String {
    let finding = &nb.findings[key];
    let checks: Vec<String> = nb
        .checks_of(key)
        .iter()
        .map(|c| format!("{} ({})", c.id, c.status.label()))
        .collect();
    let mut text = format!(
        "{}: {}",
        key,
        finding.provenance.source.label().replace('`', "")
    );
    let datasets: Vec<String> = finding
        .provenance
        .datasets
        .iter()
        .map(|d| format!("{} sha256 {}…", d.file, &d.sha256[..12]))
        .collect();
    if !datasets.is_empty() {
        text.push_str(&format!("; over {}", datasets.join(", ")));
    }
    if !checks.is_empty() {
        text.push_str(&format!("; checked by {}", checks.join(", ")));
    }
    text.replace('"', "'")
}

/// The reference definitions of the findings the prose links to, one per finding: where it
/// is in the provenance appendix, and its provenance as the link's title (the hover text).
fn link_definitions(nb: &Notebook, keys: &std::collections::BTreeSet<String>) -> String {
    let mut out = String::new();
    for key in keys {
        out.push_str(&format!(
            "\n[{key}]: #{} \"{}\"",
            anchor("finding", key),
            tooltip(nb, key)
        ));
    }
    if !out.is_empty() {
        out.insert(0, '\n');
        out.push('\n');
    }
    out
}

/// The unit as prose shows it: `%` sticks to the number, other units follow a no-break
/// space, and a count of one takes the singular (`1 day`, `1 batch`).
fn unit_text(value: &crate::notebook::Value, unit: &str) -> String {
    if unit == "%" {
        return unit.to_string();
    }
    let singular = matches!(value, crate::notebook::Value::Int(1));
    let unit = match (singular, unit) {
        (true, u) if u.ends_with("ches") => &u[..u.len() - 2],
        (true, u) if u.ends_with('s') => &u[..u.len() - 1],
        (_, u) => u,
    };
    format!("\u{a0}{unit}")
}

fn not_found(kind: &str, name: &str, known: Vec<&String>) -> minijinja::Error {
    let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
    minijinja::Error::new(
        ErrorKind::InvalidOperation,
        format!(
            "unknown {kind} `{name}` (the notebook has: {})",
            if known.is_empty() {
                "none".into()
            } else {
                known.join(", ")
            }
        ),
    )
}

fn checks_markdown(nb: &Notebook) -> String {
    let mut out = String::from("| check | result | asserts | detail |\n|:---|:---|:---|:---|\n");
    for check in &nb.checks {
        let detail = match &check.status {
            Status::Passed => String::new(),
            Status::Failed(reason) | Status::NotApplicable(reason) => reason.clone(),
        };
        let asserts: Vec<String> = check
            .findings
            .iter()
            .map(|k| format!("[`{k}`](#{})", anchor("finding", k)))
            .collect();
        out.push_str(&format!(
            "| <span id=\"{}\"></span>{} | **{}** | {} | {} |\n",
            anchor("check", &check.id),
            check.title.replace('|', "\\|"),
            check.status.label(),
            asserts.join(" "),
            detail.replace('|', "\\|")
        ));
    }
    out
}

/// The provenance appendix every chapter ends with: each finding, where it came from, what
/// checked it; and each dataset file with its sha256.
fn provenance_appendix(nb: &Notebook) -> String {
    let mut out = String::from("\n\n## Provenance\n\nEvery number in this chapter, where it came from, the dataset files it was computed from (those its query read, traced through the tables it names; all of the chapter's files where a step could not be traced) and which check asserts it.\n\n");
    out.push_str("| finding | value | source | read | checked by |\n|:---|---:|:---|:---|:---|\n");
    for (key, finding) in &nb.findings {
        let source = source_link(&finding.provenance.source);
        let checks: Vec<String> = nb
            .checks_of(key)
            .iter()
            .map(|c| {
                format!(
                    "[{}](#{}) ({})",
                    c.id,
                    anchor("check", &c.id),
                    c.status.label()
                )
            })
            .collect();
        let value = finding.value.display();
        let read = if nb.datasets.is_empty() {
            "—".to_string()
        } else if finding.provenance.datasets.len() == nb.datasets.len() {
            "all".to_string()
        } else {
            finding
                .provenance
                .datasets
                .iter()
                .map(|d| format!("`{}`", d.file))
                .collect::<Vec<_>>()
                .join(", ")
        };
        out.push_str(&format!(
            "| <span id=\"{}\"></span>`{key}` | {} | {source} | {read} | {} |\n",
            anchor("finding", key),
            value.replace('|', "\\|"),
            checks.join(", ")
        ));
    }
    out.push_str("\nDataset files read, with the sha256 of the bytes read:\n\n| file | rows | sha256 |\n|:---|---:|:---|\n");
    for d in &nb.datasets {
        out.push_str(&format!(
            "| `{}` | {} | `{}` |\n",
            d.file,
            d.rows
                .map(|r| frame::group_digits(&r.to_string()))
                .unwrap_or_default(),
            d.sha256
        ));
    }
    out
}

/// Renders one chapter's prose against its notebook.
///
/// `refs` holds every chapter's reference targets; `None` is the first of two passes, which
/// numbers tables and figures and leaves cross-references unresolved.
pub fn render_chapter(
    meta: &Meta,
    notebook: &Notebook,
    source: &str,
    refs: Option<&Refs>,
) -> Result<RenderedChapter> {
    let file = format!("chapters/{}/chapter.md", meta.id);
    let (front, body, offset) = split_front_matter(meta.id, &file, source)?;
    let nb = Arc::new(notebook.clone());
    let meta = *meta;
    let charts = Arc::new(std::sync::Mutex::new(Vec::<(String, String)>::new()));
    // Tables and figures are numbered in the order the prose shows them: Table 2.3.
    let targets = Arc::new(std::sync::Mutex::new(Refs::new()));
    for (key, finding) in &nb.findings {
        let unit = finding
            .unit
            .as_deref()
            .map(|u| unit_text(&finding.value, u))
            .unwrap_or_default();
        targets.lock().expect("targets").insert(
            format!("{}.{key}", meta.id),
            RefTarget {
                label: format!("{}{unit}", finding.value.display()),
                href: format!("{}.html#{}", meta.id, anchor("finding", key)),
            },
        );
    }
    // Keys: a table is `<chapter>.<name>` (or `<chapter>.table.<name>`), a figure
    // `<chapter>.figure.<name>`, a finding `<chapter>.<key>`.
    let number = {
        let targets = targets.clone();
        let counts = Arc::new(std::sync::Mutex::new((0usize, 0usize)));
        move |kind: &str, name: &str| -> String {
            let mut targets = targets.lock().expect("targets");
            let is_table = kind == "Table";
            let key = if is_table {
                format!("{}.table.{name}", meta.id)
            } else {
                format!("{}.figure.{name}", meta.id)
            };
            if let Some(existing) = targets.get(&key) {
                return existing.label.clone();
            }
            let mut counts = counts.lock().expect("counts");
            let count = if is_table {
                &mut counts.0
            } else {
                &mut counts.1
            };
            *count += 1;
            let label = format!("{kind} {}.{}", meta.number, count);
            let id = anchor(if is_table { "table" } else { "figure" }, name);
            let target = RefTarget {
                label: label.clone(),
                href: format!("{}.html#{id}", meta.id),
            };
            if is_table {
                targets.insert(format!("{}.{name}", meta.id), target.clone());
            }
            targets.insert(key, target);
            label
        }
    };
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_keep_trailing_newline(true);

    // Each number links by reference (`[1,379 sales][late_batch.rows]`), its provenance in
    // one definition at the end of the page: the Markdown reads cleanly on a code host, and
    // the HTML gets the same link and hover title as an inline link would give.
    let linked = Arc::new(std::sync::Mutex::new(
        std::collections::BTreeSet::<String>::new(),
    ));
    let n = nb.clone();
    let used = linked.clone();
    env.add_function(
        "value",
        move |key: &str| -> Result<String, minijinja::Error> {
            let f = n
                .findings
                .get(key)
                .ok_or_else(|| not_found("finding", key, n.findings.keys().collect()))?;
            let unit = f
                .unit
                .as_deref()
                .map(|u| unit_text(&f.value, u))
                .unwrap_or_default();
            used.lock()
                .expect("linked findings")
                .insert(key.to_string());
            Ok(format!("[{}{}][{key}]", f.value.display(), unit))
        },
    );
    let n = nb.clone();
    env.add_function(
        "finding",
        move |key: &str| -> Result<minijinja::Value, minijinja::Error> {
            let f = n
                .findings
                .get(key)
                .ok_or_else(|| not_found("finding", key, n.findings.keys().collect()))?;
            Ok(minijinja::Value::from_serialize(f.value.to_json()))
        },
    );
    let n = nb.clone();
    let numbered = number.clone();
    env.add_function(
        "table",
        move |name: &str, max_rows: Option<usize>| -> Result<String, minijinja::Error> {
            let t = n
                .tables
                .get(name)
                .ok_or_else(|| not_found("table", name, n.tables.keys().collect()))?;
            let label = numbered("Table", name);
            Ok(format!(
                "<span id=\"{}\"></span>\n\n{}\n*{label}. `{name}`: {} rows, from {}.*\n",
                anchor("table", name),
                // Every row unless the prose caps it (`table("name", 80)`): the HTML
                // book pages a long table (book.js), the Markdown book shows it whole.
                frame::markdown_table(&t.frame, max_rows.unwrap_or(usize::MAX)),
                t.frame.height(),
                provenance_line(&t.provenance)
            ))
        },
    );
    let n = nb.clone();
    let shown_queries = Arc::new(std::sync::Mutex::new(
        std::collections::BTreeSet::<String>::new(),
    ));
    let shown = shown_queries.clone();
    env.add_function(
        "query",
        move |name: &str| -> Result<String, minijinja::Error> {
            let sql = n
                .queries
                .get(name)
                .ok_or_else(|| not_found("query", name, n.queries.keys().collect()))?;
            shown.lock().expect("query list").insert(name.to_string());
            Ok(query_block(name, sql))
        },
    );
    let n = nb.clone();
    let chart_files = charts.clone();
    env.add_function(
        "chart",
        move |name: &str| -> Result<String, minijinja::Error> {
            let c = n
                .charts
                .get(name)
                .ok_or_else(|| not_found("chart", name, n.charts.keys().collect()))?;
            let path = format!("assets/{}/{name}.svg", n.chapter);
            chart_files
                .lock()
                .expect("chart list")
                .push((path.clone(), c.svg.clone()));
            let label = number("Figure", name);
            Ok(format!(
                "<span id=\"{}\"></span>\n\n![{}]({path})\n\n*{label}. {} From {}.*\n\n{}",
                anchor("figure", name),
                c.caption,
                c.caption,
                provenance_line(&c.provenance),
                chart_data_block(&anchor("figure-data", name), &label, &c.data)
            ))
        },
    );
    // `{{ ref("laplace_immo.q04_top_departments_price_m2") }}`: a table, a figure or a finding
    // of any chapter, as a link with its number or value. Unknown targets fail the build.
    let all_refs = refs.cloned();
    env.add_function("ref", move |target: &str| -> Result<String, minijinja::Error> {
        let Some(refs) = &all_refs else { return Ok(String::new()) };
        let found = refs.get(target).ok_or_else(|| {
            minijinja::Error::new(ErrorKind::InvalidOperation, format!("unknown cross-reference `{target}` (write `<chapter>.<table, figure or finding>`)"))
        })?;
        Ok(format!("[{}]({})", found.label, found.href))
    });
    let n = nb.clone();
    env.add_function("checks", move || -> String { checks_markdown(&n) });
    let n = nb.clone();
    env.add_function("params", move || -> String {
        let mut out =
            String::from("| parameter | default | this run | meaning |\n|:---|:---|:---|:---|\n");
        for p in meta.params {
            let value = n.params.get(p.name).cloned().unwrap_or_default();
            out.push_str(&format!(
                "| `{}` | `{}` | `{}` | {} |\n",
                p.name, p.default, value, p.help
            ));
        }
        out
    });
    env.add_function("inputs", move || -> String {
        let mut out = String::from("| file | required | content |\n|:---|:---|:---|\n");
        for i in meta.inputs {
            out.push_str(&format!(
                "| `{}` | {} | {} |\n",
                i.name,
                if i.required { "yes" } else { "no" },
                i.help
            ));
        }
        out
    });

    let render_error = |e: minijinja::Error| {
        let mut message = e
            .detail()
            .map(str::to_string)
            .unwrap_or_else(|| e.kind().to_string());
        let mut source = std::error::Error::source(&e);
        while let Some(inner) = source {
            message.push_str(&format!(": {inner}"));
            source = inner.source();
        }
        Error::Reference {
            chapter: meta.id.to_string(),
            file: file.clone(),
            line: e.line().unwrap_or(0) + offset,
            message,
        }
    };
    env.add_template_owned("chapter.md", body)
        .map_err(render_error)?;
    let template = env.get_template("chapter.md").map_err(render_error)?;
    let mut markdown = template
        .render(minijinja::context! {})
        .map_err(render_error)?;
    // Every query that ran is in the book: those the prose did not show close the chapter,
    // so every provenance link has a target.
    let shown = shown_queries.lock().expect("query list").clone();
    let rest: Vec<(&String, &String)> = nb
        .queries
        .iter()
        .filter(|(name, _)| !shown.contains(*name))
        .collect();
    if !rest.is_empty() {
        markdown.push_str("\n\n## Every other query that ran\n\nThe prose above does not show these, but findings or tables come from them.\n");
        for (name, sql) in rest {
            markdown.push_str(&format!("\n### `{name}`\n\n{}", query_block(name, sql)));
        }
    }
    markdown.push_str(&provenance_appendix(&nb));
    markdown.push_str(&link_definitions(
        &nb,
        &linked.lock().expect("linked findings"),
    ));
    let charts = charts.lock().expect("chart list").clone();
    let targets = targets.lock().expect("targets").clone();
    Ok(RenderedChapter {
        front,
        markdown,
        charts,
        targets,
    })
}
