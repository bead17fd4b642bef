//! What DuckDB does in this chapter: it holds the events the reader read, ranks by BM25 (the
//! lexical arm, in SQL the reader can rerun), and recomputes the exact dense top 10 of every
//! request with `array_inner_product` over the vectors the Rust embedder made, so that the
//! Rust flat index is checked by an engine that shares none of its code.

use std::collections::{BTreeMap, HashMap};

use chrono::NaiveDate;
use duckdb::params;

use super::arms::LexicalLists;
use super::filters::Filters;
use super::generate::Event;
use super::queries::Query;
use super::CHAPTER;
use crate::error::{Error, Result};
use crate::frame;
use crate::retrieval::Hit;
use crate::sql::SqlSession;

fn query_error(query: &str, e: impl std::fmt::Display) -> Error {
    Error::Query {
        chapter: CHAPTER.into(),
        query: query.into(),
        message: e.to_string(),
    }
}

/// A request as DuckDB is given it.
pub struct Request<'a> {
    /// Its id.
    pub id: &'a str,
    /// `fr` or `en` (`?` when not known).
    pub language: &'a str,
    /// What the user typed.
    pub text: &'a str,
}

impl<'a> Request<'a> {
    /// The request of a sampled query.
    pub fn of(q: &'a Query) -> Request<'a> {
        Request {
            id: &q.id,
            language: q.language.code(),
            text: &q.text,
        }
    }
}

/// The text in `column` of row `i` of `query`'s result (an empty cell is an error).
fn text(frame: &polars::prelude::DataFrame, query: &str, i: usize, column: &str) -> Result<String> {
    frame::get_text(frame, query, i, column)?
        .ok_or_else(|| query_error(query, format!("row {i}: `{column}` is empty")))
}

/// The row of event `id`, which `query` returned: an id the events do not have is an error.
fn row_of_id(row_of: &HashMap<String, usize>, query: &str, id: &str) -> Result<usize> {
    row_of
        .get(id)
        .copied()
        .ok_or_else(|| query_error(query, format!("event `{id}` is not among the events read")))
}

/// Rows appended to `table` through DuckDB's appender, each error naming the table.
fn append_rows<R>(
    db: &SqlSession,
    table: &str,
    rows: impl IntoIterator<Item = R>,
    row: impl Fn(&mut duckdb::Appender, R) -> duckdb::Result<()>,
) -> Result<()> {
    let mut app = db
        .connection()
        .appender(table)
        .map_err(|e| query_error(table, e))?;
    for r in rows {
        row(&mut app, r).map_err(|e| query_error(table, e))?;
    }
    app.flush().map_err(|e| query_error(table, e))
}

/// Loads the events (read from `file`) and the week-end "ce week-end" means, and builds BM25's
/// index of their words: once per run, whatever the number of requests.
pub fn load_events(
    db: &mut SqlSession,
    events: &[Event],
    file: &str,
    weekend: (NaiveDate, NaiveDate),
) -> Result<()> {
    // The bundled DuckDB has no JSON reader (its extension would be downloaded): the rows
    // come from the Rust reader, through the appender, and the lineage says from which file.
    db.execute_unrecorded(
        "event_rows",
        "create or replace table event_rows (id VARCHAR, title VARCHAR, description VARCHAR, \
         kind VARCHAR, family VARCHAR, audience VARCHAR, price_eur INTEGER, date VARCHAR, \
         start VARCHAR, commune_code VARCHAR, commune VARCHAR, indoor BOOLEAN, accessible BOOLEAN)",
    )?;
    append_rows(db, "event_rows", events, |app, e| {
        app.append_row(params![
            e.id,
            e.title,
            e.description,
            e.kind,
            e.family,
            e.audience,
            e.price_eur,
            e.date.to_string(),
            e.start,
            e.commune_code,
            e.commune,
            e.indoor,
            e.accessible
        ])
    })?;
    db.loaded_from("event_rows", file);
    db.execute("load_events")?;
    let weekend_sql = format!(
        "-- The week-end a request's \"ce week-end\" means: the Saturday and Sunday of the\n\
         -- chapter's `today` (or the next ones, on a weekday).\n\
         create or replace table weekend as\n\
         select DATE '{}' as first_day, DATE '{}' as last_day;",
        weekend.0, weekend.1
    );
    db.execute_unrecorded("weekend", &weekend_sql)?;
    db.record("weekend", &weekend_sql);
    db.execute("bm25")
}

/// BM25's lists of `requests` (with the filters read from each), per SQL arm and request,
/// as event rows. The events must have been loaded by [`load_events`].
pub fn rank(
    db: &mut SqlSession,
    requests: &[Request],
    filters: &[Filters],
    row_of: &HashMap<String, usize>,
) -> Result<LexicalLists> {
    db.execute_unrecorded(
        "requests",
        "create or replace table requests (request VARCHAR, language VARCHAR, text VARCHAR, \
         free BOOLEAN, weekend BOOLEAN, commune VARCHAR, accessible BOOLEAN, audience VARCHAR)",
    )?;
    append_rows(
        db,
        "requests",
        requests.iter().zip(filters),
        |app, (r, f)| {
            app.append_row(params![
                r.id,
                r.language,
                r.text,
                f.free,
                f.weekend,
                f.commune,
                f.accessible,
                f.audience
            ])
        },
    )?;
    let frame = db.query("bm25_top")?;
    let mut lists = LexicalLists::new();
    for i in 0..frame.height() {
        let arm = text(&frame, "bm25_top", i, "arm")?;
        let request = text(&frame, "bm25_top", i, "request")?;
        let id = text(&frame, "bm25_top", i, "id")?;
        let score = frame::get_f64(&frame, "bm25_top", i, "score")?;
        let row = row_of_id(row_of, "bm25_top", &id)?;
        lists.entry((arm, request)).or_default().push(Hit {
            row,
            score: score as f32,
        });
    }
    Ok(lists)
}

/// A vector as DuckDB reads an array literal: each float in the shortest form that reads
/// back to the same `f32`.
fn literal(vector: &[f32]) -> String {
    let items: Vec<String> = vector.iter().map(|x| format!("{x:?}")).collect();
    format!("[{}]", items.join(", "))
}

/// DuckDB's exact top 10 of every request: request id → (event row, score), best first.
pub fn exact_top(
    db: &mut SqlSession,
    events: &[Event],
    event_vectors: &[Vec<f32>],
    queries: &[Query],
    request_vectors: &[Vec<f32>],
    row_of: &HashMap<String, usize>,
) -> Result<BTreeMap<String, Vec<(usize, f64)>>> {
    db.execute_unrecorded(
        "vectors",
        "create or replace table event_vector_text (id VARCHAR, vector VARCHAR); \
         create or replace table request_vector_text (request VARCHAR, vector VARCHAR);",
    )?;
    append_rows(
        db,
        "event_vector_text",
        events.iter().zip(event_vectors),
        |app, (e, v)| app.append_row(params![e.id, literal(v)]),
    )?;
    append_rows(
        db,
        "request_vector_text",
        queries.iter().zip(request_vectors),
        |app, (q, v)| app.append_row(params![q.id, literal(v)]),
    )?;
    db.execute("load_vectors")?;
    let frame = db.query("exact_top")?;
    let mut top: BTreeMap<String, Vec<(usize, f64)>> = BTreeMap::new();
    for i in 0..frame.height() {
        let request = text(&frame, "exact_top", i, "request")?;
        let id = text(&frame, "exact_top", i, "id")?;
        let score = frame::get_f64(&frame, "exact_top", i, "score")?;
        let row = row_of_id(row_of, "exact_top", &id)?;
        top.entry(request).or_default().push((row, score));
    }
    Ok(top)
}
