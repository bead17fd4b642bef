//! A DuckDB session for one chapter: runs the chapter's named queries (`chapters/<id>/*.sql`,
//! embedded at compile time) and returns their results as Polars frames. It records every SQL
//! text exactly as it ran, so the book shows what produced each table.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use duckdb::Connection;
use polars::prelude::{Column, DataFrame, DataType};

use crate::embedded;
use crate::error::{Error, Result};
use crate::lineage::{Lineage, Reads};
use crate::notebook::Notebook;

/// An in-memory DuckDB database plus the chapter's query files.
pub struct SqlSession {
    chapter: String,
    conn: Connection,
    /// Every statement that ran, by query name, in the order the names were first used.
    ran: BTreeMap<String, String>,
    /// The files behind every table the statements made, and what each named query read.
    lineage: Lineage,
    reads: BTreeMap<String, Reads>,
}

impl SqlSession {
    /// Opens an in-memory database whose relative file paths resolve in `data_dir`, so query
    /// files say `read_csv('Fact_vente.csv')` and run unchanged on any data directory.
    pub fn open(chapter: &str, data_dir: &Path) -> Result<SqlSession> {
        let conn = Connection::open_in_memory().map_err(|e| Error::Query {
            chapter: chapter.to_string(),
            query: "(open)".into(),
            message: e.to_string(),
        })?;
        SqlSession::with_connection(chapter, conn, data_dir)
    }

    /// The session over `conn`: relative paths resolve in `data_dir`; two threads.
    fn with_connection(chapter: &str, conn: Connection, data_dir: &Path) -> Result<SqlSession> {
        let session = SqlSession {
            chapter: chapter.to_string(),
            conn,
            ran: BTreeMap::new(),
            lineage: Lineage::default(),
            reads: BTreeMap::new(),
        };
        let dir = data_dir.to_string_lossy().replace('\'', "''");
        // One thread per chapter: results are deterministic in order and the machine's two
        // cores are shared with the other work of a build.
        session.batch(
            "(setup)",
            &format!("set file_search_path = '{dir}'; set threads = 2;"),
        )?;
        Ok(session)
    }

    /// Opens the database file `database` read-only (one a flow wrote, say), relative paths
    /// resolving in `data_dir` as with [`SqlSession::open`].
    pub fn open_database(chapter: &str, data_dir: &Path, database: &Path) -> Result<SqlSession> {
        let config = duckdb::Config::default()
            .access_mode(duckdb::AccessMode::ReadOnly)
            .map_err(|e| Error::Query {
                chapter: chapter.to_string(),
                query: "(open)".into(),
                message: e.to_string(),
            })?;
        let conn = Connection::open_with_flags(database, config).map_err(|e| Error::Query {
            chapter: chapter.to_string(),
            query: format!("(open {})", database.display()),
            message: e.to_string(),
        })?;
        SqlSession::with_connection(chapter, conn, data_dir)
    }

    /// Records a statement that ran elsewhere (a flow's task) under `name`, so the book shows
    /// it like the session's own.
    pub fn record(&mut self, name: &str, sql: &str) {
        self.ran.insert(name.to_string(), sql.to_string());
        self.follow(name, sql);
    }

    /// Declares that `table` was filled from the dataset file `file` outside SQL (a workbook
    /// staged from Rust, a flow's load task), so the queries over it cite that file.
    pub fn loaded_from(&mut self, table: &str, file: &str) {
        self.lineage.loaded_from(table, file);
    }

    /// Follows what `sql` (which ran under `name`) read and made.
    fn follow(&mut self, name: &str, sql: &str) {
        let reads = self.lineage.absorb(&self.conn, sql);
        self.reads.insert(name.to_string(), reads);
    }

    /// The text of the chapter's query file `<name>.sql`.
    pub fn text(&self, name: &str) -> Result<&'static str> {
        embedded::chapter_file(&self.chapter, &format!("{name}.sql")).ok_or_else(|| Error::Query {
            chapter: self.chapter.clone(),
            query: name.to_string(),
            message: format!("no file `chapters/{}/{name}.sql`", self.chapter),
        })
    }

    fn batch(&self, name: &str, sql: &str) -> Result<()> {
        let started = std::time::Instant::now();
        let result = self
            .conn
            .execute_batch(sql)
            .map_err(|e| self.error(name, e.to_string()));
        self.profile(name, started);
        result
    }

    /// With `AUDITBOOK_PROFILE` set, each query's wall time goes to stderr for `bench`; it
    /// never reaches the notebook, so the book stays deterministic.
    fn profile(&self, name: &str, mut started: std::time::Instant) {
        crate::progress::profile(&self.chapter, name, &mut started);
    }

    fn error(&self, query: &str, message: String) -> Error {
        Error::Query {
            chapter: self.chapter.clone(),
            query: query.to_string(),
            message,
        }
    }

    /// Runs every statement of `<name>.sql` (DDL, loads, views) and records it.
    pub fn execute(&mut self, name: &str) -> Result<()> {
        let sql = self.text(name)?;
        self.batch(name, sql)?;
        self.record(name, sql);
        Ok(())
    }

    /// Runs the single select of `<name>.sql` and returns its result.
    /// Runs `name`, whose header declares a finding for each column of its one-row result
    /// (see [`crate::declared`]), and adds `<prefix>.<column>` for each to `nb`, typed and
    /// with its unit. Returns the result, for a table or a check.
    pub fn declared_findings(
        &mut self,
        nb: &mut Notebook,
        prefix: &str,
        name: &str,
    ) -> Result<DataFrame> {
        let frame = self.query(name)?;
        let declared = crate::declared::checked(&self.chapter, name, self.text(name)?, &frame)?;
        for d in &declared {
            nb.add_finding(
                &format!("{prefix}.{}", d.column),
                d.value(&frame, name)?,
                d.unit().as_deref(),
                crate::notebook::Source::query(name),
            )?;
        }
        Ok(frame)
    }

    /// Runs the query `name` and returns its result.
    pub fn query(&mut self, name: &str) -> Result<DataFrame> {
        let sql = self.text(name)?;
        let frame = self.select(name, sql)?;
        self.record(name, sql);
        Ok(frame)
    }

    /// Runs SQL the engine or chapter built at run time (e.g. the null-rate query of the data
    /// dictionary); recorded under `name` like a file query.
    pub fn query_generated(&mut self, name: &str, sql: &str) -> Result<DataFrame> {
        let frame = self.select(name, sql)?;
        self.record(name, sql);
        Ok(frame)
    }

    /// Runs statements that are not shown in the book (settings, scratch tables of a test);
    /// the tables they make are followed all the same.
    pub fn execute_unrecorded(&mut self, name: &str, sql: &str) -> Result<()> {
        self.batch(name, sql)?;
        self.lineage.absorb(&self.conn, sql);
        Ok(())
    }

    fn select(&self, name: &str, sql: &str) -> Result<DataFrame> {
        let started = std::time::Instant::now();
        let frame = self.select_frame(name, sql);
        self.profile(name, started);
        frame
    }

    fn select_frame(&self, name: &str, sql: &str) -> Result<DataFrame> {
        let mut stmt = self
            .conn
            .prepare(sql)
            .map_err(|e| self.error(name, e.to_string()))?;
        let batches = stmt
            .query_polars([])
            .map_err(|e| self.error(name, e.to_string()))?;
        // The duckdb crate panics when a result chunk cannot become a frame (an unsupported
        // type): turn that into an error naming the query instead of aborting the book.
        let collected = catch_unwind(AssertUnwindSafe(|| batches.collect::<Vec<DataFrame>>()))
            .map_err(|_| {
                self.error(name, "a result column has a type Polars cannot hold".into())
            })?;
        let mut frames = collected.into_iter();
        let Some(mut frame) = frames.next() else {
            // No rows: keep the column names so the empty table still renders with a header.
            let columns: Vec<Column> = stmt
                .column_names()
                .into_iter()
                .map(|n| Column::new_empty(n.into(), &DataType::String))
                .collect();
            return DataFrame::new(columns).map_err(|e| self.error(name, e.to_string()));
        };
        for next in frames {
            frame
                .vstack_mut(&next)
                .map_err(|e| self.error(name, e.to_string()))?;
        }
        frame.align_chunks_par();
        Ok(frame)
    }

    /// Every SQL text that ran, by name.
    pub fn ran(&self) -> &BTreeMap<String, String> {
        &self.ran
    }

    /// What each named query read, as far as it could be traced.
    pub fn reads(&self) -> &BTreeMap<String, Reads> {
        &self.reads
    }

    /// Hands the notebook every query that ran and what each read, so the book shows the
    /// SQL and each result's provenance cites the files its query read.
    pub fn hand_over(&self, nb: &mut Notebook) {
        nb.queries
            .extend(self.ran.iter().map(|(k, v)| (k.clone(), v.clone())));
        nb.query_reads
            .extend(self.reads.iter().map(|(k, v)| (k.clone(), v.clone())));
    }

    /// The underlying connection, for engine helpers that read DuckDB's catalog.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The chapter this session runs for.
    pub fn chapter(&self) -> &str {
        &self.chapter
    }
}
