//! Rendering: prose to Markdown (`markdown`), Markdown to HTML pages (`html`, `site`),
//! charts and the schema diagram as SVG (`chart`, `schema`), the book as one PDF (`pdf`). Rendering reads notebooks and
//! computes nothing of its own.

pub mod chart;
pub mod html;
pub mod markdown;
pub mod pdf;
pub mod schema;
pub mod site;
