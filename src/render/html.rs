//! Markdown → HTML with pulldown-cmark, then into the site's minijinja templates. The same
//! Markdown that is written to `book/<id>.md` is the source of the page, so the two never
//! disagree. Headings get stable ids and feed the page's table of contents; SQL blocks are
//! highlighted at build time (syntect, CSS classes, no JavaScript); chart images are inlined
//! as SVG so the page works from `file://` with nothing to fetch.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use pulldown_cmark::{
    html, CodeBlockKind, CowStr, Event, HeadingLevel, Options, Parser, Tag, TagEnd,
};
use serde::Serialize;
use syntect::html::{ClassStyle, ClassedHTMLGenerator};
use syntect::parsing::SyntaxSet;
use syntect::util::LinesWithEndings;

/// One entry of a page's table of contents.
#[derive(Debug, Clone, Serialize)]
pub struct TocEntry {
    /// The heading's level (2: a section).
    pub level: u8,
    /// Its anchor id.
    pub id: String,
    /// Its text.
    pub title: String,
}

/// A section of a page for the search index: the heading's id and title, and its text.
#[derive(Debug, Clone, Serialize)]
pub struct Section {
    /// The section's anchor id.
    pub id: String,
    /// Its heading.
    pub heading: String,
    /// Its text, without markup.
    pub text: String,
}

/// A page body, its table of contents and its searchable sections.
#[derive(Debug, Clone)]
pub struct HtmlBody {
    /// The page body.
    pub html: String,
    /// Its table of contents.
    pub toc: Vec<TocEntry>,
    /// Its sections, for the search index.
    pub sections: Vec<Section>,
}

fn syntaxes() -> &'static SyntaxSet {
    static SET: OnceLock<SyntaxSet> = OnceLock::new();
    SET.get_or_init(SyntaxSet::load_defaults_newlines)
}

/// Highlights `code` in `lang` as HTML spans with `hl-` classes; unknown languages are escaped
/// plain text.
pub fn highlight(code: &str, lang: &str) -> String {
    let set = syntaxes();
    let Some(syntax) = set.find_syntax_by_token(lang) else {
        return html_escape(code);
    };
    let mut generator = ClassedHTMLGenerator::new_with_class_style(
        syntax,
        set,
        ClassStyle::SpacedPrefixed { prefix: "hl-" },
    );
    for line in LinesWithEndings::from(code) {
        if generator
            .parse_html_for_line_which_includes_newline(line)
            .is_err()
        {
            return html_escape(code);
        }
    }
    generator.finalize()
}

/// The CSS for the highlight classes, from one of syntect's bundled themes.
pub fn highlight_css(theme: &str) -> String {
    let themes = syntect::highlighting::ThemeSet::load_defaults();
    themes
        .themes
        .get(theme)
        .and_then(|t| {
            syntect::html::css_for_theme_with_class_style(
                t,
                ClassStyle::SpacedPrefixed { prefix: "hl-" },
            )
            .ok()
        })
        .unwrap_or_default()
}

/// `text` with `&`, `<`, `>` and `"` escaped for HTML.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `Revenue per day (R1)` → `revenue-per-day-r1`; repeated titles get `-2`, `-3`.
fn slug(title: &str, used: &mut BTreeMap<String, usize>) -> String {
    let mut slug = String::new();
    for c in title.to_lowercase().chars() {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.ends_with('-') && !slug.is_empty() {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-').to_string();
    let count = used.entry(slug.clone()).or_insert(0);
    *count += 1;
    if *count == 1 {
        slug
    } else {
        format!("{slug}-{count}")
    }
}

/// Converts Markdown to an HTML body. `charts` maps a chart's path (`assets/<id>/<name>.svg`)
/// to its SVG text, which replaces the image.
pub fn markdown_to_html(markdown: &str, charts: &BTreeMap<String, String>) -> HtmlBody {
    let options =
        Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_FOOTNOTES;
    let events: Vec<Event> = Parser::new_ext(markdown, options).collect();
    let mut out: Vec<Event> = Vec::with_capacity(events.len());
    let mut toc = Vec::new();
    let mut sections: Vec<Section> = Vec::new();
    let mut used = BTreeMap::new();
    let mut i = 0;
    while i < events.len() {
        // Prose text (not code, not tables' markup) feeds the current section's search text.
        if let Event::Text(t) = &events[i] {
            if let Some(section) = sections.last_mut() {
                if section.text.len() < 4000 {
                    section.text.push_str(t);
                    section.text.push(' ');
                }
            }
        }
        match &events[i] {
            Event::Start(Tag::Heading { level, .. }) => {
                // Collect the heading's text to make its id and its TOC entry.
                let level = *level;
                let mut j = i + 1;
                let mut title = String::new();
                while !matches!(events[j], Event::End(TagEnd::Heading(_))) {
                    if let Event::Text(t) | Event::Code(t) = &events[j] {
                        title.push_str(t);
                    }
                    j += 1;
                }
                let id = slug(&title, &mut used);
                let n = match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    HeadingLevel::H3 => 3,
                    _ => 4,
                };
                if (2..=3).contains(&n) {
                    toc.push(TocEntry {
                        level: n,
                        id: id.clone(),
                        title: title.clone(),
                    });
                }
                sections.push(Section {
                    id: id.clone(),
                    heading: title.clone(),
                    text: String::new(),
                });
                out.push(Event::Html(CowStr::from(format!(
                    "<h{n} id=\"{id}\"><a class=\"anchor\" href=\"#{id}\">#</a> "
                ))));
                out.extend(events[i + 1..j].iter().cloned());
                out.push(Event::Html(CowStr::from(format!("</h{n}>\n"))));
                i = j + 1;
            }
            Event::Start(Tag::CodeBlock(kind)) => {
                let lang = match kind {
                    CodeBlockKind::Fenced(lang) => lang.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                let mut j = i + 1;
                let mut code = String::new();
                while !matches!(events[j], Event::End(TagEnd::CodeBlock)) {
                    if let Event::Text(t) = &events[j] {
                        code.push_str(t);
                    }
                    j += 1;
                }
                let body = if lang.is_empty() {
                    html_escape(&code)
                } else {
                    highlight(&code, &lang)
                };
                out.push(Event::Html(CowStr::from(format!(
                    "<pre class=\"code lang-{lang}\"><code>{body}</code></pre>\n"
                ))));
                i = j + 1;
            }
            Event::Start(Tag::Image { dest_url, .. }) if charts.contains_key(dest_url.as_ref()) => {
                let svg = &charts[dest_url.as_ref()];
                let mut j = i + 1;
                while !matches!(events[j], Event::End(TagEnd::Image)) {
                    j += 1;
                }
                out.push(Event::Html(CowStr::from(format!(
                    "<span class=\"chart\">{svg}</span>"
                ))));
                i = j + 1;
            }
            Event::Start(Tag::Table(_)) => {
                // Wide tables scroll inside their own box instead of stretching the page.
                out.push(Event::Html(CowStr::from("<div class=\"table-wrap\">")));
                out.push(events[i].clone());
                i += 1;
            }
            Event::End(TagEnd::Table) => {
                out.push(events[i].clone());
                out.push(Event::Html(CowStr::from("</div>")));
                i += 1;
            }
            other => {
                out.push(other.clone());
                i += 1;
            }
        }
    }
    let mut body = String::with_capacity(markdown.len() * 2);
    html::push_html(&mut body, out.into_iter());
    for section in &mut sections {
        section.text = section
            .text
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
    }
    HtmlBody {
        html: body,
        toc,
        sections,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headings_get_unique_ids_and_a_toc() {
        let body = markdown_to_html(
            "## Revenue (R1)\n\n## Revenue (R1)\n\n### Why\n",
            &BTreeMap::new(),
        );
        let ids: Vec<&str> = body.toc.iter().map(|t| t.id.as_str()).collect();
        assert_eq!(ids, ["revenue-r1", "revenue-r1-2", "why"]);
        assert!(body.html.contains("<h2 id=\"revenue-r1\">"));
    }

    #[test]
    fn sql_is_highlighted_and_escaped() {
        let body = markdown_to_html("```sql\nselect a < b from t;\n```\n", &BTreeMap::new());
        assert!(body.html.contains("hl-"), "{}", body.html);
        assert!(body.html.contains("&lt;"));
    }

    #[test]
    fn chart_images_become_inline_svg() {
        let charts = BTreeMap::from([("assets/c/x.svg".to_string(), "<svg>x</svg>".to_string())]);
        let body = markdown_to_html("![caption](assets/c/x.svg)\n", &charts);
        assert!(body.html.contains("<svg>x</svg>"));
        assert!(!body.html.contains("<img"));
    }
}
