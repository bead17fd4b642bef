//! `load` tasks: a spreadsheet (`<name>.xlsx`, read with calamine) or a CSV (`<name>.csv`,
//! read by DuckDB as text) becomes a staging table of text columns with `source_row`, the
//! row number in the file (header = 1), so a gate's failing rows point back into the file.
//! The same flow thus runs on the course's Excel exports and on CSV copies of them.

use std::path::{Path, PathBuf};

use duckdb::Connection;

use super::error::FlowError;
use crate::xlsx::{self, Sheet};

/// Why a `load` task failed.
pub enum LoadError {
    /// Neither file exists.
    Missing(FlowError),
    /// The file exists but cannot be read as a table.
    Data(String),
    /// DuckDB failed while staging.
    Database(String),
}

/// The file a `load` of `name` reads: `<data_dir>/<name>.xlsx` if it exists, else `.csv`;
/// the error names both.
pub fn input_file(chapter: &str, data_dir: &Path, name: &str) -> Result<PathBuf, FlowError> {
    let xlsx_path = data_dir.join(format!("{name}.xlsx"));
    let csv_path = data_dir.join(format!("{name}.csv"));
    if xlsx_path.is_file() {
        Ok(xlsx_path)
    } else if csv_path.is_file() {
        Ok(csv_path)
    } else {
        Err(FlowError::NoInput {
            chapter: chapter.to_string(),
            xlsx: xlsx_path,
            csv: csv_path,
        })
    }
}

/// Loads the [`input_file`] of `name` into `table`, replacing it. Returns the file read and
/// the rows loaded.
pub fn load(
    conn: &Connection,
    chapter: &str,
    data_dir: &Path,
    name: &str,
    table: &str,
) -> Result<(PathBuf, i64), LoadError> {
    let path = input_file(chapter, data_dir, name).map_err(LoadError::Missing)?;
    let sheet = if path.extension().is_some_and(|e| e == "xlsx") {
        xlsx::read_sheet(chapter, &path, None).map_err(|e| LoadError::Data(e.to_string()))?
    } else {
        read_csv(conn, &path)?
    };
    conn.execute_batch(&format!("drop table if exists {table}"))
        .map_err(|e| LoadError::Database(e.to_string()))?;
    let rows = xlsx::stage_on(conn, chapter, table, &sheet)
        .map_err(|e| LoadError::Database(e.to_string()))?;
    Ok((path, rows as i64))
}

/// Reads a CSV with DuckDB's sniffer, every column as text, rows in file order.
fn read_csv(conn: &Connection, path: &Path) -> Result<Sheet, LoadError> {
    let target = path.display().to_string().replace('\'', "''");
    let sql = format!("select * from read_csv('{target}', header = true, all_varchar = true)");
    let (header, rows) =
        text_rows(conn, &sql).map_err(|e| LoadError::Data(format!("{}: {e}", path.display())))?;
    // DuckDB's sniffer names every column (`column05`): none is left without a header.
    Ok(Sheet {
        header,
        rows,
        unnamed: Vec::new(),
    })
}

/// A query's column names and rows, every value as text (NULL as `None`).
/// A result's column names and its rows as text (NULL as `None`).
pub type TextRows = (Vec<String>, Vec<Vec<Option<String>>>);

/// A query's column names and rows, every value as text.
pub fn text_rows(conn: &Connection, sql: &str) -> duckdb::Result<TextRows> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    let mut width = None;
    while let Some(row) = rows.next()? {
        let n = *width.get_or_insert_with(|| row.as_ref().column_count());
        out.push(
            (0..n)
                .map(|i| row.get::<_, Option<String>>(i))
                .collect::<duckdb::Result<Vec<_>>>()?,
        );
    }
    drop(rows);
    Ok((stmt.column_names(), out))
}
