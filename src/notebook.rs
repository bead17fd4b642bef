//! The notebook a chapter's pipeline returns: named findings, tables, charts, checks and
//! artifacts, each carrying its provenance (the query or function that produced it and the
//! sha256 of every dataset it read). Rendering only ever reads a notebook; it computes nothing.

use std::collections::BTreeMap;

use polars::prelude::DataFrame;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::frame;
use crate::lineage::Reads;

/// One dataset file a result was computed from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DatasetRef {
    /// The file name as the chapter knows it (relative to its data directory).
    pub file: String,
    /// Hex sha256 of the bytes that were read.
    pub sha256: String,
    /// Rows of data in the file (header excluded), when the chapter counted them.
    pub rows: Option<u64>,
}

/// What produced a result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A named SQL query of the chapter (`chapters/<id>/<name>.sql`), shown in the book.
    Query {
        /// The query's name (its file, without `.sql`).
        name: String,
    },
    /// A Rust function of the chapter or the engine, named by its path.
    Function {
        /// The function's path, from the chapters' root.
        name: String,
    },
    /// A parameter of the run, as given (`--param`) or defaulted.
    Parameter {
        /// The parameter's full key: `noscites.database`.
        name: String,
    },
}

impl Source {
    /// A value a named SQL query computed.
    pub fn query(name: &str) -> Source {
        Source::Query {
            name: name.to_string(),
        }
    }
    /// A value a Rust function (or a document pipeline) computed. Chapters name it with
    /// [`function_source!`](crate::function_source), whose path the compiler checks.
    pub fn function(name: &str) -> Source {
        Source::Function {
            name: name.to_string(),
        }
    }

    /// The source [`function_source!`](crate::function_source) builds: the items' paths as
    /// written (`crate::chapters::seattle::model::folds`), shown from the chapters' root
    /// (`seattle::model::folds`) or the crate's (`backends::docstore::DocStore::count`), generic
    /// arguments dropped, joined by `, ` when several items computed the value together, and the
    /// note, if any, in brackets after them.
    pub fn items(paths: &[&str], note: Option<&str>) -> Source {
        let names: Vec<String> = paths.iter().map(|path| item_name(path)).collect();
        let mut name = names.join(", ");
        if let Some(note) = note {
            name = format!("{name} ({note})");
        }
        Source::Function { name }
    }
    /// A value the run was given: the parameter `key` of `chapter`.
    pub fn parameter(chapter: &str, key: &str) -> Source {
        Source::Parameter {
            name: format!("{chapter}.{key}"),
        }
    }

    /// A short human label: `query revenue_by_day` or `fn audit::late_batch`.
    pub fn label(&self) -> String {
        match self {
            Source::Query { name } => format!("query `{name}`"),
            Source::Function { name } => format!("function `{name}`"),
            Source::Parameter { name } => format!("parameter `{name}`"),
        }
    }
}

/// An item's path as [`stringify!`] writes it, shown from the chapters' root or the crate's.
fn item_name(path: &str) -> String {
    let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
    // `insert_unordered::<Reading>`: the generic arguments only satisfied the compiler's check.
    let path = match path.find("::<") {
        Some(generics) => path[..generics].to_string(),
        None => path,
    };
    let path = path.strip_prefix("crate::").unwrap_or(&path);
    path.strip_prefix("chapters::").unwrap_or(path).to_string()
}

/// The [`Source`] of a value that Rust items computed, named by their paths, which the
/// compiler checks: moving or renaming the function, constant or method without updating the
/// provenance is a build error, never a stale label in the book. Name items from `crate::`;
/// give a generic function its type arguments; add what the item did after a `;`:
///
/// ```
/// # mod model { pub fn folds() {} pub const LIMITS: u32 = 3; }
/// # use auditbook::notebook::Source;
/// let source = auditbook::function_source!(model::folds, model::LIMITS; "per fold");
/// assert_eq!(source, Source::function("model::folds, model::LIMITS (per fold)"));
/// ```
#[macro_export]
macro_rules! function_source {
    ($($path:path),+ $(; $note:literal)?) => {{
        // Only for the compiler: each path must name a function, constant or static.
        $( let _ = &$path; )+
        $crate::notebook::Source::items(&[$(stringify!($path)),+], None $(.or(Some($note)))?)
    }};
}

/// Where a number, table or chart came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Provenance {
    /// What computed it.
    pub source: Source,
    /// The dataset files it was computed from.
    pub datasets: Vec<DatasetRef>,
}

/// A finding's value. Money is an exact decimal; percentages and ratios are floats with a
/// declared number of decimals so their text is stable.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    /// An integer (a count).
    Int(i64),
    /// An exact decimal (money, to the cent).
    Decimal(Decimal),
    /// A float, shown with a fixed number of decimals.
    Float {
        /// The number.
        value: f64,
        /// Decimals shown, and written to JSON.
        decimals: u32,
    },
    /// Text.
    Text(String),
    /// A yes or no.
    Bool(bool),
    /// A table answer: rows as objects, columns in the frame's order.
    Rows(Vec<serde_json::Map<String, serde_json::Value>>),
}

impl Value {
    /// A count of things.
    pub fn count(n: usize) -> Value {
        Value::Int(n as i64)
    }

    /// A measured or computed number, shown (and written to JSON) with `decimals` decimals.
    pub fn float(value: f64, decimals: u32) -> Value {
        Value::Float { value, decimals }
    }

    /// An amount of money, rounded to the cent.
    pub fn money(amount: Decimal) -> Value {
        Value::Decimal(amount.round_dp(2))
    }

    /// `part` as a percentage of `whole`, two decimals (0 when `whole` is 0).
    pub fn percent(part: Decimal, whole: Decimal) -> Value {
        use rust_decimal::prelude::ToPrimitive;
        let value = if whole.is_zero() {
            0.0
        } else {
            (part / whole * Decimal::from(100)).to_f64().unwrap_or(0.0)
        };
        Value::float(value, 2)
    }

    /// The value as plain JSON: numbers without separators, money rounded to the cent as given.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match self {
            Value::Int(v) => J::from(*v),
            Value::Decimal(d) => frame::decimal_to_json(*d),
            Value::Float { value, decimals } => frame::float_to_json(*value, *decimals),
            Value::Text(s) => J::from(s.clone()),
            Value::Bool(b) => J::from(*b),
            Value::Rows(rows) => J::Array(rows.iter().cloned().map(J::Object).collect()),
        }
    }

    /// The value as prose shows it: digits grouped by thin commas, fixed decimals.
    pub fn display(&self) -> String {
        match self {
            Value::Int(v) => frame::group_digits(&v.to_string()),
            Value::Decimal(d) => frame::group_digits(&d.to_string()),
            Value::Float { value, decimals } => {
                frame::group_digits(&format!("{:.*}", *decimals as usize, value))
            }
            Value::Text(s) => s.clone(),
            Value::Bool(b) => if *b { "yes" } else { "no" }.to_string(),
            Value::Rows(rows) => format!("{} rows", rows.len()),
        }
    }
}

/// Whether the path `read` (as the SQL names it: `Fact_vente.csv`, `raw/*.parquet`,
/// `/abs/dir/file.csv`) names the dataset file `file` (relative to the data directory):
/// its last components match the file's, `*` and `?` as globs.
fn names_dataset(read: &str, file: &str) -> bool {
    let depth = file.split('/').count();
    let parts: Vec<&str> = read.split('/').collect();
    if parts.len() < depth {
        return false;
    }
    glob_match(&parts[parts.len() - depth..].join("/"), file)
}

/// `*` (any run of characters but `/`) and `?` (one character) glob matching.
fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // matched[j]: pattern prefix so far matches text prefix of length j.
    let mut matched = vec![false; t.len() + 1];
    matched[0] = true;
    for &pc in &p {
        let mut next = vec![false; t.len() + 1];
        if pc == '*' {
            next[0] = matched[0];
            for j in 1..=t.len() {
                next[j] = matched[j] || (next[j - 1] && t[j - 1] != '/');
            }
        } else {
            for j in 1..=t.len() {
                next[j] = matched[j - 1] && (pc == '?' || pc == t[j - 1]);
            }
        }
        matched = next;
    }
    matched[t.len()]
}

/// A named number (or answer) of the chapter.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The finding's key, `<section>.<name>`.
    pub key: String,
    /// Its value.
    pub value: Value,
    /// Unit shown after the number in the book (`EUR`, `sales`, `%`); never inside the JSON.
    pub unit: Option<String>,
    /// Where it came from.
    pub provenance: Provenance,
}

/// A result table: a Polars frame plus where it came from.
#[derive(Debug, Clone)]
pub struct Table {
    /// The table's name.
    pub name: String,
    /// Its rows.
    pub frame: DataFrame,
    /// Where it came from.
    pub provenance: Provenance,
}

/// The values a chart shows, as a table: the chart's text alternative (shown beside it for
/// readers who cannot see it) and what its tooltips read. Cells are already formatted as the
/// book prints numbers; row `k` is the chart's `k`-th point (or bar, or category).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChartData {
    /// The column headers, units in them.
    pub columns: Vec<String>,
    /// One row per point, bar or category, in drawing order.
    pub rows: Vec<Vec<String>>,
}

/// A chart as drawn: its SVG and the data it shows.
#[derive(Debug, Clone)]
pub struct Drawing {
    /// The SVG.
    pub svg: String,
    /// Its data.
    pub data: ChartData,
}

/// A chart, already drawn as inline SVG.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Chart {
    /// The chart's name.
    pub name: String,
    /// What it shows, in a sentence.
    pub caption: String,
    /// The SVG.
    pub svg: String,
    /// What it shows, as a table.
    pub data: ChartData,
    /// Where its data came from.
    pub provenance: Provenance,
}

/// The outcome of a check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum Status {
    /// The check holds.
    Passed,
    /// The check does not hold; the reason says what was found.
    Failed(String),
    /// The check cannot apply to the data given; the reason says why. Never counted as passed.
    NotApplicable(String),
}

impl Status {
    /// `Passed` when `ok`, else `Failed` with the reason `failure` gives.
    pub fn of(ok: bool, failure: impl FnOnce() -> String) -> Status {
        if ok {
            Status::Passed
        } else {
            Status::Failed(failure())
        }
    }

    /// The status as the book writes it.
    pub fn label(&self) -> &'static str {
        match self {
            Status::Passed => "pass",
            Status::Failed(_) => "FAIL",
            Status::NotApplicable(_) => "n/a",
        }
    }
}

/// An assertion the chapter makes about its own results.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// The check's id, `<section>.<name>`.
    pub id: String,
    /// What it asserts.
    pub title: String,
    /// Its result.
    pub status: Status,
    /// The keys of the findings this check asserts, so the book can show, beside a number,
    /// which check verified it.
    pub findings: Vec<String>,
}

/// A file the chapter wrote into its artifact directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Artifact {
    /// The artifact's name.
    pub name: String,
    /// Where it was written.
    pub file: String,
    /// The sha256 of its bytes.
    pub sha256: String,
}

/// Everything one chapter's run produced.
#[derive(Debug, Clone, Default)]
pub struct Notebook {
    /// The chapter's id.
    pub chapter: String,
    /// Every finding, by key.
    pub findings: BTreeMap<String, Finding>,
    /// Every table, by name.
    pub tables: BTreeMap<String, Table>,
    /// Every chart, by name.
    pub charts: BTreeMap<String, Chart>,
    /// Every check, in the order they ran.
    pub checks: Vec<Check>,
    /// Every file the run wrote for later (a model, an export).
    pub artifacts: BTreeMap<String, Artifact>,
    /// Every SQL text that ran, by name, exactly as it was sent to DuckDB.
    pub queries: BTreeMap<String, String>,
    /// What each query read, as far as its session could trace it (see `lineage`).
    pub query_reads: BTreeMap<String, Reads>,
    /// Every dataset file the chapter read.
    pub datasets: Vec<DatasetRef>,
    /// Parameters in force for this run (defaults included), by name.
    pub params: BTreeMap<String, String>,
}

impl Notebook {
    /// An empty notebook of `chapter` (chapters start from `RunContext::notebook`).
    pub fn new(chapter: &str) -> Notebook {
        Notebook {
            chapter: chapter.to_string(),
            ..Notebook::default()
        }
    }

    /// Provenance pointing at `source` and every dataset this chapter read.
    pub fn provenance(&self, source: Source) -> Provenance {
        Provenance {
            source,
            datasets: self.datasets.clone(),
        }
    }

    /// The datasets a result from `source` was computed from: for a query whose every input
    /// was traced, the dataset files it read; otherwise (a function, a pipeline, an input
    /// not traced) the chapter's whole input, which is wider than the truth, never narrower.
    pub fn datasets_read_by(&self, source: &Source) -> Vec<DatasetRef> {
        let Source::Query { name } = source else {
            return self.datasets.clone();
        };
        let Some(Reads::Files(files)) = self.query_reads.get(name) else {
            return self.datasets.clone();
        };
        let read: Vec<DatasetRef> = self
            .datasets
            .iter()
            .filter(|d| files.iter().any(|f| names_dataset(f, &d.file)))
            .cloned()
            .collect();
        // A file read that is no dataset of the chapter (one a step wrote, say) may stand
        // for any of them: cite them all rather than too few.
        let all_traced = files
            .iter()
            .all(|f| self.datasets.iter().any(|d| names_dataset(f, &d.file)));
        if read.is_empty() || !all_traced {
            self.datasets.clone()
        } else {
            read
        }
    }

    /// Sets every finding's, table's and chart's datasets to what its source read. The
    /// engine calls it once the chapter has run, when every query and dataset is known.
    pub fn narrow_provenance(&mut self) {
        let narrowed = |nb: &Notebook, p: &Provenance| Provenance {
            source: p.source.clone(),
            datasets: nb.datasets_read_by(&p.source),
        };
        let findings: Vec<(String, Provenance)> = self
            .findings
            .iter()
            .map(|(k, f)| (k.clone(), narrowed(self, &f.provenance)))
            .collect();
        for (key, provenance) in findings {
            self.findings
                .get_mut(&key)
                .expect("key just read")
                .provenance = provenance;
        }
        let tables: Vec<(String, Provenance)> = self
            .tables
            .iter()
            .map(|(k, t)| (k.clone(), narrowed(self, &t.provenance)))
            .collect();
        for (key, provenance) in tables {
            self.tables.get_mut(&key).expect("key just read").provenance = provenance;
        }
        let charts: Vec<(String, Provenance)> = self
            .charts
            .iter()
            .map(|(k, c)| (k.clone(), narrowed(self, &c.provenance)))
            .collect();
        for (key, provenance) in charts {
            self.charts.get_mut(&key).expect("key just read").provenance = provenance;
        }
    }

    fn duplicate(&self, what: &str, name: &str) -> Error {
        Error::chapter(&self.chapter, format!("{what} `{name}` is defined twice"))
    }

    /// Records a finding; a key used twice is a bug in the chapter.
    pub fn add_finding(
        &mut self,
        key: &str,
        value: Value,
        unit: Option<&str>,
        source: Source,
    ) -> Result<()> {
        if self.findings.contains_key(key) {
            return Err(self.duplicate("finding", key));
        }
        let provenance = self.provenance(source);
        let finding = Finding {
            key: key.to_string(),
            value,
            unit: unit.map(str::to_string),
            provenance,
        };
        self.findings.insert(key.to_string(), finding);
        Ok(())
    }

    /// Records a result table under `name`.
    pub fn add_table(&mut self, name: &str, frame: DataFrame, source: Source) -> Result<()> {
        if self.tables.contains_key(name) {
            return Err(self.duplicate("table", name));
        }
        let provenance = self.provenance(source);
        self.tables.insert(
            name.to_string(),
            Table {
                name: name.to_string(),
                frame,
                provenance,
            },
        );
        Ok(())
    }

    /// Records a chart under `name`.
    pub fn add_chart(
        &mut self,
        name: &str,
        caption: &str,
        drawing: Drawing,
        source: Source,
    ) -> Result<()> {
        if self.charts.contains_key(name) {
            return Err(self.duplicate("chart", name));
        }
        let provenance = self.provenance(source);
        let chart = Chart {
            name: name.to_string(),
            caption: caption.to_string(),
            svg: drawing.svg,
            data: drawing.data,
            provenance,
        };
        self.charts.insert(name.to_string(), chart);
        Ok(())
    }

    /// Records a check. Every finding it names must exist already: a check that asserts
    /// nothing the reader can see is not worth showing.
    pub fn add_check(
        &mut self,
        id: &str,
        title: &str,
        status: Status,
        findings: &[&str],
    ) -> Result<()> {
        if self.checks.iter().any(|c| c.id == id) {
            return Err(self.duplicate("check", id));
        }
        if let Some(missing) = findings.iter().find(|k| !self.findings.contains_key(**k)) {
            return Err(Error::chapter(
                &self.chapter,
                format!("check `{id}` names unknown finding `{missing}`"),
            ));
        }
        self.checks.push(Check {
            id: id.to_string(),
            title: title.to_string(),
            status,
            findings: findings.iter().map(|s| s.to_string()).collect(),
        });
        Ok(())
    }

    /// The table called `name`, or an error naming it.
    pub fn table(&self, name: &str) -> Result<&Table> {
        self.tables.get(name).ok_or_else(|| {
            Error::chapter(&self.chapter, format!("no table `{name}` in the notebook"))
        })
    }

    /// The finding `key`, or an error naming it and the findings there are.
    fn value(&self, key: &str, kind: &str) -> Result<&Value> {
        self.findings.get(key).map(|f| &f.value).ok_or_else(|| {
            Error::chapter(
                &self.chapter,
                format!("no {kind} finding `{key}` in the notebook"),
            )
        })
    }

    /// A finding that is not of the kind asked for.
    fn not_a(&self, key: &str, kind: &str, value: &Value) -> Error {
        Error::chapter(
            &self.chapter,
            format!("finding `{key}` is not {kind}: it is {}", value.display()),
        )
    }

    /// The integer finding `key`; an error when it is absent or not an integer, so a check
    /// reading it never compares a placeholder.
    pub fn int(&self, key: &str) -> Result<i64> {
        match self.value(key, "integer")? {
            Value::Int(v) => Ok(*v),
            other => Err(self.not_a(key, "an integer", other)),
        }
    }

    /// The decimal (money) finding `key`.
    pub fn decimal(&self, key: &str) -> Result<Decimal> {
        match self.value(key, "decimal")? {
            Value::Decimal(v) => Ok(*v),
            other => Err(self.not_a(key, "a decimal", other)),
        }
    }

    /// The rows of the table-answer finding `key`.
    pub fn rows(&self, key: &str) -> Result<&[serde_json::Map<String, serde_json::Value>]> {
        match self.value(key, "table-answer")? {
            Value::Rows(rows) => Ok(rows),
            other => Err(self.not_a(key, "a table answer", other)),
        }
    }

    /// The text finding `key`.
    pub fn text(&self, key: &str) -> Result<String> {
        match self.value(key, "text")? {
            Value::Text(v) => Ok(v.clone()),
            other => Err(self.not_a(key, "text", other)),
        }
    }

    /// The checks that assert the finding `key`.
    pub fn checks_of(&self, key: &str) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| c.findings.iter().any(|k| k == key))
            .collect()
    }

    /// True when a check recorded so far has failed: a pipeline stops there, and returns
    /// the notebook so that the failed check is what the run reports.
    pub fn has_failures(&self) -> bool {
        self.checks
            .iter()
            .any(|c| matches!(c.status, Status::Failed(_)))
    }

    /// Failed checks, as `id: reason` lines.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .filter_map(|c| match &c.status {
                Status::Failed(reason) => Some(format!("`{}` ({}): {}", c.id, c.title, reason)),
                _ => None,
            })
            .collect()
    }

    /// The findings as one flat JSON object, keys sorted: what `findings <chapter>` prints.
    pub fn findings_json(&self) -> serde_json::Value {
        let map: serde_json::Map<String, serde_json::Value> = self
            .findings
            .iter()
            .map(|(k, f)| (k.clone(), f.value.to_json()))
            .collect();
        serde_json::Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_item_is_named_from_the_chapters_root_or_the_crate_root_without_generics() {
        assert_eq!(
            Source::items(&["crate :: chapters :: seattle :: model :: folds"], None),
            Source::function("seattle::model::folds")
        );
        assert_eq!(
            Source::items(
                &["crate::backends::docstore::DocStore::insert_unordered::<Reading>"],
                Some("bulk")
            ),
            Source::function("backends::docstore::DocStore::insert_unordered (bulk)")
        );
        assert_eq!(
            Source::items(&["crate::chapters::a::f", "crate::chapters::a::g"], None),
            Source::function("a::f, a::g")
        );
    }

    #[test]
    fn a_read_path_names_a_dataset_by_its_last_components_or_a_glob() {
        assert!(names_dataset("Fact_vente.csv", "Fact_vente.csv"));
        assert!(names_dataset(
            "/tmp/x/data/Fact_vente.csv",
            "Fact_vente.csv"
        ));
        assert!(names_dataset("raw/*.parquet", "raw/part-0.parquet"));
        assert!(!names_dataset("raw/*.parquet", "late/part-0.parquet"));
        assert!(!names_dataset("Dim_Date.csv", "Fact_vente.csv"));
        assert!(
            !names_dataset("*.csv", "raw/a.csv"),
            "`*` never crosses a `/`"
        );
    }

    fn dataset(file: &str) -> DatasetRef {
        DatasetRef {
            file: file.into(),
            sha256: "0".repeat(64),
            rows: None,
        }
    }

    #[test]
    fn a_traced_query_cites_what_it_read_and_anything_else_cites_all() {
        let mut nb = Notebook::new("t");
        nb.datasets = vec![dataset("a.csv"), dataset("b.csv")];
        nb.query_reads.insert(
            "one".into(),
            Reads::Files(["a.csv".to_string()].into_iter().collect()),
        );
        nb.query_reads.insert(
            "wrote".into(),
            Reads::Files(
                ["a.csv".to_string(), "out/x.parquet".to_string()]
                    .into_iter()
                    .collect(),
            ),
        );
        nb.query_reads.insert(
            "lost".into(),
            Reads::Unknown("table `t` is not followed".into()),
        );
        let files = |s: Source| -> Vec<String> {
            nb.datasets_read_by(&s)
                .into_iter()
                .map(|d| d.file)
                .collect()
        };
        assert_eq!(files(Source::query("one")), ["a.csv"]);
        assert_eq!(files(Source::query("wrote")), ["a.csv", "b.csv"]);
        assert_eq!(files(Source::query("lost")), ["a.csv", "b.csv"]);
        assert_eq!(files(Source::query("never_ran")), ["a.csv", "b.csv"]);
        assert_eq!(files(Source::function("f")), ["a.csv", "b.csv"]);
    }
}
