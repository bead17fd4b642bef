//! The data dictionary and the relational schema, read from DuckDB's own catalog (so they
//! describe the database that actually ran, not a hand-kept copy) and joined with the
//! chapter's `dictionary.toml` of meanings. Null rates come from a generated query that the
//! book shows like any other.

use std::collections::BTreeMap;

use polars::prelude::{Column, DataFrame};

use crate::error::{Error, Result};
use crate::frame;
use crate::notebook::{Notebook, Status, Value};
use crate::sql::SqlSession;

/// One column of a table in the catalog.
#[derive(Debug, Clone)]
pub struct ColumnInfo {
    /// The column's name.
    pub name: String,
    /// Its DuckDB type.
    pub data_type: String,
    /// Whether it refuses NULL.
    pub not_null: bool,
    /// Whether it is (part of) the primary key.
    pub primary_key: bool,
    /// `(table, column)` this column references.
    pub references: Option<(String, String)>,
}

/// One table of the catalog, its columns in declaration order.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// The table's name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<ColumnInfo>,
}

/// The user tables of a session, in creation order.
pub fn catalog(session: &mut SqlSession) -> Result<Vec<TableInfo>> {
    let columns = session.query_generated(
        "catalog_columns",
        "select c.table_name, c.column_name, c.data_type, not c.is_nullable as not_null\n\
         from duckdb_columns() c\n\
         join duckdb_tables() t on t.table_oid = c.table_oid\n\
         where not t.temporary and not t.internal\n\
         order by t.table_oid, c.column_index",
    )?;
    let keys = session.query_generated(
        "catalog_keys",
        "select table_name, constraint_type, array_to_string(constraint_column_names, ',') as columns,\n\
                referenced_table, array_to_string(referenced_column_names, ',') as referenced_columns\n\
         from duckdb_constraints()\n\
         where constraint_type in ('PRIMARY KEY', 'FOREIGN KEY') and database_name <> 'temp'\n\
         order by table_name, constraint_type, columns",
    )?;
    let mut tables: Vec<TableInfo> = Vec::new();
    for row in 0..columns.height() {
        let text = |c: &str| {
            frame::get_text(&columns, "catalog_columns", row, c).map(Option::unwrap_or_default)
        };
        let table = text("table_name")?;
        if tables.last().map(|t| t.name != table).unwrap_or(true) {
            tables.push(TableInfo {
                name: table.clone(),
                columns: Vec::new(),
            });
        }
        tables
            .last_mut()
            .expect("pushed above")
            .columns
            .push(ColumnInfo {
                name: text("column_name")?,
                data_type: text("data_type")?,
                not_null: text("not_null")? == "true",
                primary_key: false,
                references: None,
            });
    }
    for row in 0..keys.height() {
        let text =
            |c: &str| frame::get_text(&keys, "catalog_keys", row, c).map(Option::unwrap_or_default);
        let (table, kind, cols) = (
            text("table_name")?,
            text("constraint_type")?,
            text("columns")?,
        );
        let (ref_table, ref_cols) = (text("referenced_table")?, text("referenced_columns")?);
        let Some(info) = tables.iter_mut().find(|t| t.name == table) else {
            continue;
        };
        for (i, col) in cols.split(',').enumerate() {
            let Some(column) = info.columns.iter_mut().find(|c| c.name == col) else {
                continue;
            };
            if kind == "PRIMARY KEY" {
                column.primary_key = true;
            } else if !ref_table.is_empty() {
                let target = ref_cols.split(',').nth(i).unwrap_or_default().to_string();
                column.references = Some((ref_table.clone(), target));
            }
        }
    }
    Ok(tables)
}

/// Meanings from a chapter's `dictionary.toml`: table → column → text (`_` is the table's).
pub type Meanings = BTreeMap<String, BTreeMap<String, String>>;

/// Parses a chapter's `dictionary.toml`.
pub fn parse_meanings(chapter: &str, text: &str) -> Result<Meanings> {
    toml::from_str(text).map_err(|e| Error::Data {
        chapter: chapter.to_string(),
        file: format!("chapters/{chapter}/dictionary.toml"),
        row: None,
        message: e.to_string(),
    })
}

/// The dictionary table and the disagreements between catalog and meanings (empty when the
/// dictionary is complete).
pub fn dictionary(
    session: &mut SqlSession,
    tables: &[TableInfo],
    meanings: &Meanings,
) -> Result<(DataFrame, Vec<String>)> {
    // Null counts of every column, one generated query the book shows.
    let selects: Vec<String> = tables
        .iter()
        .flat_map(|t| {
            t.columns.iter().map(move |c| {
                format!(
                    "select '{table}' as table_name, '{column}' as column_name, count(*) as row_count, count(*) - count(\"{column}\") as null_count from \"{table}\"",
                    table = t.name,
                    column = c.name
                )
            })
        })
        .collect();
    let nulls = if selects.is_empty() {
        None
    } else {
        Some(session.query_generated(
            "dictionary_null_counts",
            &(selects.join("\nunion all\n") + "\norder by table_name, column_name"),
        )?)
    };
    let mut null_rates: BTreeMap<(String, String), f64> = BTreeMap::new();
    if let Some(nulls) = &nulls {
        for row in 0..nulls.height() {
            let key = (
                frame::get_text(nulls, "dictionary_null_counts", row, "table_name")?
                    .unwrap_or_default(),
                frame::get_text(nulls, "dictionary_null_counts", row, "column_name")?
                    .unwrap_or_default(),
            );
            let rows = frame::get_i64(nulls, "dictionary_null_counts", row, "row_count")?;
            let null = frame::get_i64(nulls, "dictionary_null_counts", row, "null_count")?;
            let rate = if rows == 0 {
                0.0
            } else {
                (null as f64 * 10_000.0 / rows as f64).round() / 100.0
            };
            null_rates.insert(key, rate);
        }
    }

    let mut problems = Vec::new();
    let (
        mut t_col,
        mut c_col,
        mut type_col,
        mut key_col,
        mut nn_col,
        mut rate_col,
        mut meaning_col,
    ) = (vec![], vec![], vec![], vec![], vec![], vec![], vec![]);
    for table in tables {
        let table_meanings = meanings.get(&table.name);
        if table_meanings.and_then(|m| m.get("_")).is_none() {
            problems.push(format!("table `{}` has no description", table.name));
        }
        for column in &table.columns {
            let meaning = table_meanings.and_then(|m| m.get(&column.name)).cloned();
            if meaning.is_none() {
                problems.push(format!(
                    "column `{}.{}` has no meaning",
                    table.name, column.name
                ));
            }
            let key = match (&column.primary_key, &column.references) {
                (true, Some((t, c))) => format!("PK, FK → {t}.{c}"),
                (true, None) => "PK".to_string(),
                (false, Some((t, c))) => format!("FK → {t}.{c}"),
                (false, None) => String::new(),
            };
            t_col.push(table.name.clone());
            c_col.push(column.name.clone());
            type_col.push(column.data_type.clone());
            key_col.push(key);
            nn_col.push(column.not_null);
            rate_col.push(
                null_rates
                    .get(&(table.name.clone(), column.name.clone()))
                    .copied()
                    .unwrap_or(0.0),
            );
            meaning_col.push(meaning.unwrap_or_default());
        }
    }
    for (table, columns) in meanings {
        let Some(info) = tables.iter().find(|t| &t.name == table) else {
            problems.push(format!(
                "`dictionary.toml` describes table `{table}`, which the database does not have"
            ));
            continue;
        };
        for column in columns.keys().filter(|c| *c != "_") {
            if !info.columns.iter().any(|c| &c.name == column) {
                problems.push(format!("`dictionary.toml` describes column `{table}.{column}`, which the database does not have"));
            }
        }
    }
    let frame = DataFrame::new(vec![
        Column::new("table".into(), t_col),
        Column::new("column".into(), c_col),
        Column::new("type".into(), type_col),
        Column::new("key".into(), key_col),
        Column::new("not_null".into(), nn_col),
        Column::new("null_rate_pct".into(), rate_col),
        Column::new("meaning".into(), meaning_col),
    ])
    .map_err(Error::failed(session.chapter(), "dictionary frame"))?;
    Ok((frame, problems))
}

/// Documents a chapter's model in its notebook, the same way for every chapter: the
/// `dictionary` table and the `schema` figure from the catalog; findings
/// `dictionary.tables`, `dictionary.columns`, `dictionary.problems` and
/// `dictionary.money_columns_not_decimal`; checks `dictionary.complete` (against the
/// chapter's `dictionary.toml`) and `money.decimal` (every `_eur` column is DECIMAL; not added when the model has none).
pub fn document(nb: &mut Notebook, db: &mut SqlSession) -> Result<Vec<TableInfo>> {
    let chapter = nb.chapter.clone();
    let text = crate::embedded::chapter_file(&chapter, "dictionary.toml").ok_or_else(|| {
        Error::chapter(&chapter, format!("no `chapters/{chapter}/dictionary.toml`"))
    })?;
    let meanings = parse_meanings(&chapter, text)?;
    let tables = catalog(db)?;
    let (frame, problems) = dictionary(db, &tables, &meanings)?;
    let all_money: Vec<_> = tables
        .iter()
        .flat_map(|t| {
            t.columns
                .iter()
                .filter(|c| c.name.ends_with("_eur"))
                .map(move |c| (t, c))
        })
        .collect();
    let money_columns: Vec<String> = all_money
        .iter()
        .filter(|(_, c)| !c.data_type.starts_with("DECIMAL"))
        .map(|(t, c)| format!("{}.{} is {}", t.name, c.name, c.data_type))
        .collect();
    let source = crate::function_source!(crate::dictionary::document);
    nb.add_finding(
        "dictionary.tables",
        Value::Int(tables.len() as i64),
        Some("tables"),
        source.clone(),
    )?;
    nb.add_finding(
        "dictionary.columns",
        Value::Int(frame.height() as i64),
        Some("columns"),
        source.clone(),
    )?;
    nb.add_finding(
        "dictionary.problems",
        Value::Int(problems.len() as i64),
        Some("problems"),
        source.clone(),
    )?;
    nb.add_finding(
        "dictionary.money_columns_not_decimal",
        Value::Int(money_columns.len() as i64),
        Some("columns"),
        source.clone(),
    )?;
    nb.add_table("dictionary", frame, source)?;
    let svg = crate::render::schema::diagram(&tables)
        .map_err(Error::failed(&chapter, "schema diagram"))?;
    nb.add_chart(
        "schema",
        "The relational schema, drawn from DuckDB's catalog: primary keys marked PK, lines from each foreign key to the key it references.",
        svg,
        crate::function_source!(crate::render::schema::diagram),
    )?;
    let complete = if problems.is_empty() {
        Status::Passed
    } else {
        Status::Failed(problems.join("; "))
    };
    nb.add_check(
        "dictionary.complete",
        "every table and column has a meaning, and every meaning a column",
        complete,
        &["dictionary.problems"],
    )?;
    if all_money.is_empty() {
        // A model without money has nothing for this check to guard: it is not shown.
        return Ok(tables);
    }
    let decimal = if money_columns.is_empty() {
        Status::Passed
    } else {
        Status::Failed(money_columns.join("; "))
    };
    nb.add_check(
        "money.decimal",
        "every money column (`_eur`) of the model is DECIMAL, never a float",
        decimal,
        &["dictionary.money_columns_not_decimal"],
    )?;
    Ok(tables)
}
