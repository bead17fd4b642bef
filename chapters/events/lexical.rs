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

/// Loads the events (from the file), the requests with their parsed filters and the
/// week-end they mean, and builds the BM25 tables.
pub fn prepare(
    db: &mut SqlSession,
    events: &[Event],
    requests: &[Request],
    filters: &[Filters],
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
    {
        let mut app = db
            .connection()
            .appender("event_rows")
            .map_err(|e| query_error("event_rows", e))?;
        for e in events {
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
            .map_err(|e| query_error("event_rows", e))?;
        }
        app.flush().map_err(|e| query_error("event_rows", e))?;
    }
    db.loaded_from("event_rows", super::events_file::FILE);
    db.execute("load_events")?;
    db.execute_unrecorded(
        "requests",
        "create or replace table requests (request VARCHAR, language VARCHAR, text VARCHAR, \
         free BOOLEAN, weekend BOOLEAN, commune VARCHAR, accessible BOOLEAN, audience VARCHAR)",
    )?;
    {
        let mut app = db
            .connection()
            .appender("requests")
            .map_err(|e| query_error("requests", e))?;
        for (r, f) in requests.iter().zip(filters) {
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
            .map_err(|e| query_error("requests", e))?;
        }
        app.flush().map_err(|e| query_error("requests", e))?;
    }
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

/// BM25's lists, per SQL arm and request, as event rows.
pub fn bm25_lists(db: &mut SqlSession, row_of: &HashMap<&str, usize>) -> Result<LexicalLists> {
    let frame = db.query("bm25_top")?;
    let mut lists = LexicalLists::new();
    for i in 0..frame.height() {
        let arm = text(&frame, "bm25_top", i, "arm")?;
        let request = text(&frame, "bm25_top", i, "request")?;
        let id = text(&frame, "bm25_top", i, "id")?;
        let score = frame::get_f64(&frame, "bm25_top", i, "score")?;
        let row = *row_of.get(id.as_str()).ok_or_else(|| {
            query_error(
                "bm25_top",
                format!("event `{id}` is not among the events read"),
            )
        })?;
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
    row_of: &HashMap<&str, usize>,
) -> Result<BTreeMap<String, Vec<(usize, f64)>>> {
    db.execute_unrecorded(
        "vectors",
        "create or replace table event_vector_text (id VARCHAR, vector VARCHAR); \
         create or replace table request_vector_text (request VARCHAR, vector VARCHAR);",
    )?;
    {
        let conn = db.connection();
        let mut app = conn
            .appender("event_vector_text")
            .map_err(|e| query_error("vectors", e))?;
        for (event, vector) in events.iter().zip(event_vectors) {
            app.append_row(params![event.id, literal(vector)])
                .map_err(|e| query_error("vectors", e))?;
        }
        app.flush().map_err(|e| query_error("vectors", e))?;
        let mut app = conn
            .appender("request_vector_text")
            .map_err(|e| query_error("vectors", e))?;
        for (q, vector) in queries.iter().zip(request_vectors) {
            app.append_row(params![q.id, literal(vector)])
                .map_err(|e| query_error("vectors", e))?;
        }
        app.flush().map_err(|e| query_error("vectors", e))?;
    }
    db.execute("load_vectors")?;
    let frame = db.query("exact_top")?;
    let mut top: BTreeMap<String, Vec<(usize, f64)>> = BTreeMap::new();
    for i in 0..frame.height() {
        let request = text(&frame, "exact_top", i, "request")?;
        let id = text(&frame, "exact_top", i, "id")?;
        let score = frame::get_f64(&frame, "exact_top", i, "score")?;
        let row = *row_of.get(id.as_str()).ok_or_else(|| {
            query_error(
                "exact_top",
                format!("event `{id}` is not among the events read"),
            )
        })?;
        top.entry(request).or_default().push((row, score));
    }
    Ok(top)
}
