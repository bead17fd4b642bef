//! Which dataset files a query read. Every SQL statement a session runs is followed table by
//! table: `create table t as select …`, `insert into t select …`, `create view v as …` and
//! `copy (select …) to 'f'` give their target the files their select read, directly
//! (`read_csv('Fact_vente.csv')`) or through the tables and views it names; a table filled
//! from Rust (a staged workbook) is declared with [`Lineage::loaded_from`]. The tables a
//! select reads come from DuckDB's own plan of it (`explain (format json)`), never from
//! matching words in the text, so views are expanded and CTE names and aliases are never
//! taken for tables; the files come from the `read_*` calls' string arguments.
//!
//! A query whose inputs cannot all be traced (a table nobody declared, a file that is not a
//! dataset, a statement DuckDB cannot plan) resolves to [`Reads::Unknown`], and its
//! provenance then cites the chapter's whole input: wider than the truth, never narrower.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::Reason;
use duckdb::Connection;

/// What one query read, as far as it can be traced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reads {
    /// Every input traced: the files (as the SQL names them: `Fact_vente.csv`, `raw/*.parquet`).
    Files(BTreeSet<String>),
    /// Some input could not be traced; the reason says which.
    Unknown(String),
}

/// The files behind each table, view and written file a session has seen.
#[derive(Debug, Clone, Default)]
pub struct Lineage {
    /// Lowercased table or view name, or a written file's path as the SQL names it → the
    /// input files its rows came from (`None`: filled by something not traced).
    sources: BTreeMap<String, Option<BTreeSet<String>>>,
}

/// The direct inputs of one select: tables (and views) it names, and files its table
/// functions read.
#[derive(Debug, Default, PartialEq, Eq)]
struct Direct {
    tables: BTreeSet<String>,
    files: BTreeSet<String>,
}

impl Lineage {
    /// Declares that `table` holds rows read from `file` (a load done outside SQL).
    pub fn loaded_from(&mut self, table: &str, file: &str) {
        self.sources.insert(
            table.to_lowercase(),
            Some(BTreeSet::from([file.to_string()])),
        );
    }

    /// Follows every statement of `sql` (a batch that has just run on `conn`), in order,
    /// and returns what the batch read: the files behind every select in it.
    pub fn absorb(&mut self, conn: &Connection, sql: &str) -> Reads {
        let mut read = Ok(BTreeSet::new());
        for statement in split_statements(sql) {
            let Some(effect) = effect(statement) else {
                if is_select(statement) {
                    merge(&mut read, self.resolve(conn, statement));
                }
                continue;
            };
            let files = match &effect.select {
                Some(select) => self.resolve(conn, select),
                None => Ok(BTreeSet::new()),
            };
            merge(&mut read, files.clone());
            let entry = self
                .sources
                .entry(effect.target)
                .or_insert(Some(BTreeSet::new()));
            match (effect.replaces, files.ok()) {
                (true, files) => *entry = files,
                (false, Some(files)) => {
                    if let Some(known) = entry {
                        known.extend(files);
                    }
                }
                (false, None) => *entry = None,
            }
        }
        match read {
            Ok(files) if files.is_empty() => Reads::Unknown("no dataset file traced".into()),
            Ok(files) => Reads::Files(files),
            Err(why) => Reads::Unknown(why),
        }
    }

    fn resolve(&self, conn: &Connection, sql: &str) -> Result<BTreeSet<String>, Reason> {
        let direct = direct_inputs(conn, sql)?;
        let mut files = direct.files;
        for table in &direct.tables {
            match self.sources.get(table) {
                Some(Some(known)) if !known.is_empty() => files.extend(known.iter().cloned()),
                Some(_) => return Err(format!("table `{table}` has no traced input")),
                None => return Err(format!("table `{table}` is not followed")),
            }
        }
        // A file the session wrote itself stands for the files it was written from.
        let mut resolved = BTreeSet::new();
        for file in files {
            match self.sources.get(&file) {
                Some(Some(known)) => resolved.extend(known.iter().cloned()),
                Some(None) => return Err(format!("file `{file}` has no traced input")),
                None => {
                    resolved.insert(file);
                }
            }
        }
        Ok(resolved)
    }
}

/// Adds `more` to what a batch read; the first untraced input makes the whole unknown.
fn merge(read: &mut Result<BTreeSet<String>, String>, more: Result<BTreeSet<String>, String>) {
    match (read.as_mut(), more) {
        (Ok(files), Ok(more)) => files.extend(more),
        (Ok(_), Err(why)) => *read = Err(why),
        (Err(_), _) => {}
    }
}

/// A statement that only reads (`select`, `with`, `from`, `values`, a parenthesised query).
fn is_select(statement: &str) -> bool {
    tokens(statement).first().is_some_and(|t| {
        ["select", "with", "from", "values", "("]
            .iter()
            .any(|w| t.text.eq_ignore_ascii_case(w))
    })
}

/// What a statement writes: its target and the select that fills it.
#[derive(Debug, PartialEq, Eq)]
struct Effect {
    target: String,
    select: Option<String>,
    /// `create` starts the target afresh; `insert` adds to it.
    replaces: bool,
}

/// The effect of one statement, when it is one lineage follows.
fn effect(statement: &str) -> Option<Effect> {
    let tokens = tokens(statement);
    let word = |i: usize| tokens.get(i).map(|t| t.text.to_lowercase());
    let mut i = 0;
    let first = word(0)?;
    match first.as_str() {
        "create" => {
            i += 1;
            if word(i).as_deref() == Some("or") {
                i += 2;
            }
            while matches!(word(i).as_deref(), Some("temp" | "temporary")) {
                i += 1;
            }
            if !matches!(word(i).as_deref(), Some("table" | "view")) {
                return None;
            }
            i += 1;
            if word(i).as_deref() == Some("if") {
                i += 3;
            }
            let target = name_at(&tokens, &mut i)?;
            // The select follows the first top-level `as`.
            let select = top_level(&tokens, i, &["as"]).map(|t| statement[t.end..].to_string());
            Some(Effect {
                target,
                select,
                replaces: true,
            })
        }
        "insert" => {
            while word(i).as_deref() != Some("into") {
                i += 1;
                tokens.get(i)?;
            }
            i += 1;
            let target = name_at(&tokens, &mut i)?;
            // The select starts at its first top-level keyword (the keyword included).
            let select =
                top_level(&tokens, i, &["select", "with", "from"]).map(|t| &statement[t.start..]);
            Some(Effect {
                target,
                select: Some(select.unwrap_or("select 1").to_string()),
                replaces: false,
            })
        }
        "copy" => {
            // `copy (select …) to 'file'` or `copy table to 'file'`; `copy t from 'f'` loads.
            let to = tokens
                .iter()
                .position(|t| t.depth == 0 && t.text.eq_ignore_ascii_case("to"))?;
            let file = tokens.get(to + 1).filter(|t| t.text.starts_with('\''))?;
            let select = if tokens.get(1).map(|t| t.text) == Some("(") {
                statement[tokens[1].end..tokens[to - 1].start].to_string()
            } else {
                format!("from {}", tokens.get(1)?.text)
            };
            Some(Effect {
                target: unquote(file.text),
                select: Some(select),
                replaces: true,
            })
        }
        _ => None,
    }
}

/// The (possibly qualified, possibly quoted) name at token `i`, lowercased, its last part.
fn name_at(tokens: &[Token<'_>], i: &mut usize) -> Option<String> {
    let mut name = unquote(tokens.get(*i)?.text).to_lowercase();
    *i += 1;
    while tokens.get(*i).map(|t| t.text) == Some(".") {
        name = unquote(tokens.get(*i + 1)?.text).to_lowercase();
        *i += 2;
    }
    Some(name)
}

/// The first keyword of `words` from token `i` on, at token `i`'s parenthesis depth.
fn top_level<'t, 'a>(tokens: &'t [Token<'a>], i: usize, words: &[&str]) -> Option<&'t Token<'a>> {
    let base = tokens.get(i)?.depth;
    tokens[i..]
        .iter()
        .find(|t| t.depth == base && words.iter().any(|w| t.text.eq_ignore_ascii_case(w)))
}

fn unquote(text: &str) -> String {
    let quoted = |q: char| text.len() >= 2 && text.starts_with(q) && text.ends_with(q);
    if quoted('"') || quoted('\'') {
        let q = &text[..1];
        text[1..text.len() - 1].replace(&format!("{q}{q}"), q)
    } else {
        text.to_string()
    }
}

/// The tables and files one select reads. Tables come from DuckDB's own plan of it
/// (`explain (format json)`): views are expanded and CTEs resolved by the engine that runs the
/// query, so a CTE or an alias is never taken for a table. Files come from the text: the
/// string arguments of the `read_*` table functions, and `from 'file'`.
fn direct_inputs(conn: &Connection, sql: &str) -> Result<Direct, Reason> {
    let statement = split_statements(sql)
        .into_iter()
        .next()
        .ok_or("an empty statement")?;
    // Unoptimised: the optimiser may answer `count(*)` from a table's statistics or fold a
    // filter away, and the plan would then scan nothing, though the query reads the table.
    let toggle = |on: bool| {
        conn.execute_batch(if on {
            "pragma enable_optimizer"
        } else {
            "pragma disable_optimizer"
        })
        .map_err(|e| format!("cannot switch the optimiser: {e}"))
    };
    toggle(false)?;
    let plan: Result<String, Reason> = conn
        .query_row(&format!("explain (format json) {statement}"), [], |row| {
            row.get(1)
        })
        .map_err(|e| format!("DuckDB cannot plan it: {e}"));
    toggle(true)?;
    let plan = plan?;
    let plan: serde_json::Value =
        serde_json::from_str(&plan).map_err(|e| format!("unreadable plan: {e}"))?;
    let mut direct = Direct {
        files: files_named(statement),
        ..Direct::default()
    };
    scanned_tables(&plan, &mut direct.tables);
    Ok(direct)
}

/// The tables the plan scans (`extra_info.Table`, `memory.main.sale` → `sale`).
fn scanned_tables(node: &serde_json::Value, out: &mut BTreeSet<String>) {
    use serde_json::Value as J;
    match node {
        J::Array(items) => items.iter().for_each(|n| scanned_tables(n, out)),
        J::Object(map) => {
            if let Some(table) = map
                .get("extra_info")
                .and_then(|e| e.get("Table"))
                .and_then(J::as_str)
            {
                let name = table.rsplit('.').next().unwrap_or(table);
                out.insert(name.to_lowercase());
            }
            map.values().for_each(|v| scanned_tables(v, out));
        }
        _ => {}
    }
}

/// The files a statement names: the string arguments of `read_csv(…)`, `read_parquet([…])`
/// and the like (options such as `delim = ';'` are not files), and `from 'file.csv'`.
fn files_named(statement: &str) -> BTreeSet<String> {
    let tokens = tokens(statement);
    let mut files = BTreeSet::new();
    let is_string = |t: &Token<'_>| t.text.starts_with('\'');
    for (i, token) in tokens.iter().enumerate() {
        let lower = token.text.to_lowercase();
        if lower.starts_with("read_") && tokens.get(i + 1).map(|t| t.text) == Some("(") {
            match tokens.get(i + 2) {
                Some(t) if is_string(t) => {
                    files.insert(unquote(t.text));
                }
                Some(t) if t.text == "[" => {
                    for t in tokens[i + 3..].iter().take_while(|t| t.text != "]") {
                        if is_string(t) {
                            files.insert(unquote(t.text));
                        }
                    }
                }
                _ => {}
            }
        } else if (lower == "from" || lower == "join") && tokens.get(i + 1).is_some_and(is_string) {
            files.insert(unquote(tokens[i + 1].text));
        }
    }
    files
}

/// A token of SQL text with its byte span and parenthesis depth.
#[derive(Debug, Clone, Copy)]
struct Token<'a> {
    text: &'a str,
    start: usize,
    end: usize,
    depth: u32,
}

/// Words, quoted names, strings and single punctuation; comments and spaces skipped.
fn tokens(sql: &str) -> Vec<Token<'_>> {
    let bytes = sql.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0u32;
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        if c.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if sql[i..].starts_with("--") {
            i = sql[i..].find('\n').map_or(bytes.len(), |n| i + n);
            continue;
        }
        if sql[i..].starts_with("/*") {
            i = sql[i + 2..]
                .find("*/")
                .map_or(bytes.len(), |n| i + 2 + n + 2);
            continue;
        }
        if c == b'\'' || c == b'"' {
            i += 1;
            while i < bytes.len() {
                if bytes[i] == c {
                    if bytes.get(i + 1) == Some(&c) {
                        i += 2;
                        continue;
                    }
                    i += 1;
                    break;
                }
                i += 1;
            }
        } else if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80)
            {
                i += 1;
            }
        } else {
            i += 1;
        }
        let text = &sql[start..i];
        if text == ")" {
            depth = depth.saturating_sub(1);
        }
        out.push(Token {
            text,
            start,
            end: i,
            depth,
        });
        if text == "(" {
            depth += 1;
        }
    }
    out
}

/// The statements of a batch, split on top-level `;` (not inside strings or comments).
pub fn split_statements(sql: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut from = 0;
    for token in tokens(sql) {
        if token.text == ";" {
            out.push(&sql[from..token.start]);
            from = token.end;
        }
    }
    out.push(&sql[from..]);
    out.into_iter().filter(|s| !tokens(s).is_empty()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(reads: Reads) -> Vec<String> {
        match reads {
            Reads::Files(f) => f.into_iter().collect(),
            Reads::Unknown(why) => panic!("unknown: {why}"),
        }
    }

    /// A database whose relative paths resolve in a folder holding `files` (one column `d`).
    fn session(files: &[&str]) -> (tempfile::TempDir, Connection) {
        let dir = tempfile::tempdir().unwrap();
        for f in files {
            std::fs::write(dir.path().join(f), "d,x\n2024-01-02,1\n").unwrap();
        }
        let conn = Connection::open_in_memory().unwrap();
        let path = dir.path().to_string_lossy().replace('\'', "''");
        conn.execute_batch(&format!("set file_search_path = '{path}'"))
            .unwrap();
        (dir, conn)
    }

    /// Runs `sql` and follows it, as a session does.
    fn run(lineage: &mut Lineage, conn: &Connection, sql: &str) -> Reads {
        conn.execute_batch(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        lineage.absorb(conn, sql)
    }

    #[test]
    fn statements_split_outside_strings_and_comments() {
        let sql = "create table a as select ';' as x; -- a comment; still one\ninsert into a select 1;\n/* ; */ select 2";
        let parts = split_statements(sql);
        assert_eq!(parts.len(), 3, "{parts:?}");
        assert!(parts[0].contains("';'"));
    }

    #[test]
    fn a_query_over_one_table_reads_that_tables_file_only() {
        let (_dir, conn) = session(&["Dim_Date.csv", "Fact_vente.csv"]);
        let mut lineage = Lineage::default();
        let load = "create table calendar (d date, x int);\n\
                    insert into calendar select * from read_csv('Dim_Date.csv', delim = ',', header = true);\n\
                    create table sale as select s.d, s.x as y from read_csv('Fact_vente.csv') s join calendar using (d);\n\
                    create view daily as with s as (select * from sale) select d, count(*) as n from s group by d";
        run(&mut lineage, &conn, load);
        assert_eq!(
            files(run(
                &mut lineage,
                &conn,
                "select count(*) from calendar c where c.d > '2024-01-01'"
            )),
            ["Dim_Date.csv"]
        );
        // Through a view, a CTE and a join: both files, the CTE name not taken for a table.
        assert_eq!(
            files(run(
                &mut lineage,
                &conn,
                "with sale as (select * from daily) select * from sale"
            )),
            ["Dim_Date.csv", "Fact_vente.csv"]
        );
    }

    #[test]
    fn what_cannot_be_traced_is_unknown_never_empty() {
        let (_dir, conn) = session(&[]);
        let mut lineage = Lineage::default();
        run(&mut lineage, &conn, "create table filled_from_rust (x int)");
        assert!(matches!(
            lineage.absorb(&conn, "select * from filled_from_rust"),
            Reads::Unknown(_)
        ));
        assert!(matches!(
            lineage.absorb(&conn, "select * from never_seen"),
            Reads::Unknown(_)
        ));
        lineage.loaded_from("filled_from_rust", "book.xlsx");
        assert_eq!(
            files(lineage.absorb(&conn, "select * from filled_from_rust")),
            ["book.xlsx"]
        );
    }

    #[test]
    fn a_written_file_stands_for_its_inputs() {
        let (dir, conn) = session(&["in.csv"]);
        std::fs::create_dir(dir.path().join("out")).unwrap();
        let out = dir.path().join("out").to_string_lossy().replace('\'', "''");
        let mut lineage = Lineage::default();
        run(
            &mut lineage,
            &conn,
            &format!(
                "create table t as select * from read_csv('in.csv');\n\
                 copy (select * from t where x > 0) to '{out}/kept.parquet' (format parquet);\n\
                 copy t to '{out}/all.csv'"
            ),
        );
        assert_eq!(
            files(run(
                &mut lineage,
                &conn,
                &format!("select * from read_parquet('{out}/kept.parquet')")
            )),
            ["in.csv"]
        );
        assert_eq!(
            files(run(
                &mut lineage,
                &conn,
                &format!("select * from read_csv('{out}/all.csv')")
            )),
            ["in.csv"]
        );
    }

    #[test]
    fn create_or_replace_starts_afresh_and_insert_adds() {
        let (_dir, conn) = session(&["a.csv", "b.csv", "c.csv"]);
        let mut lineage = Lineage::default();
        run(
            &mut lineage,
            &conn,
            "create table t as select * from read_csv('a.csv');\n\
             insert into t (d, x) select * from read_csv(['b.csv']);",
        );
        assert_eq!(
            files(run(&mut lineage, &conn, "from t")),
            ["a.csv", "b.csv"]
        );
        run(
            &mut lineage,
            &conn,
            "create or replace table t as select * from 'c.csv'",
        );
        assert_eq!(files(run(&mut lineage, &conn, "from t")), ["c.csv"]);
    }
}
