//! A notebook as the run cache stores it: JSON that reads back into the same notebook, bit
//! for bit. The book's own JSON (`findings.json`) is written for readers and loses what a
//! reader does not need (a value's kind, a column's type), so the cache has its own form:
//! values tagged with their kind, tables as typed columns, floats written to round-trip.

use std::collections::BTreeMap;

use polars::prelude::{AnyValue, Column, DataFrame, DataType, Series, TimeUnit};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::lineage::Reads;
use crate::notebook::{Artifact, Chart, Check, DatasetRef, Finding, Notebook, Provenance, Value};

/// A notebook in the cache's form.
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredNotebook {
    chapter: String,
    findings: Vec<StoredFinding>,
    tables: Vec<StoredTable>,
    charts: Vec<Chart>,
    checks: Vec<Check>,
    artifacts: Vec<Artifact>,
    queries: BTreeMap<String, String>,
    query_reads: BTreeMap<String, StoredReads>,
    datasets: Vec<DatasetRef>,
    params: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredFinding {
    key: String,
    value: StoredValue,
    unit: Option<String>,
    provenance: Provenance,
}

/// [`Value`] with its kind written out (the book's JSON leaves it to be guessed).
#[derive(Debug, Serialize, Deserialize)]
enum StoredValue {
    Int(i64),
    Decimal(Decimal),
    Float { value: f64, decimals: u32 },
    Text(String),
    Bool(bool),
    Rows(Vec<serde_json::Map<String, serde_json::Value>>),
}

#[derive(Debug, Serialize, Deserialize)]
enum StoredReads {
    Files(std::collections::BTreeSet<String>),
    Unknown(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredTable {
    name: String,
    columns: Vec<StoredColumn>,
    provenance: Provenance,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredColumn {
    name: String,
    dtype: StoredType,
    cells: Vec<StoredCell>,
}

/// The column types the chapters' tables hold. Another type makes the notebook one the
/// cache does not keep (it is rerun every time, never stored lossily).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum StoredType {
    Null,
    Boolean,
    Int8,
    Int16,
    Int32,
    Int64,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    Float32,
    Float64,
    String,
    Date,
    /// A timestamp without a time zone, in the unit given.
    Datetime(StoredUnit),
    /// Precision and scale.
    Decimal(Option<usize>, Option<usize>),
}

#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
enum StoredUnit {
    Nanoseconds,
    Microseconds,
    Milliseconds,
}

#[derive(Debug, Serialize, Deserialize)]
enum StoredCell {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    /// The unscaled integer, as text (JSON numbers stop at 64 bits).
    Decimal(String),
    Date(i32),
    Datetime(i64),
}

impl StoredNotebook {
    /// The notebook in the cache's form, or why it cannot be stored (a column type the
    /// cache does not know).
    pub fn of(nb: &Notebook) -> Result<StoredNotebook, String> {
        let tables = nb
            .tables
            .values()
            .map(|t| {
                Ok(StoredTable {
                    name: t.name.clone(),
                    columns: t
                        .frame
                        .get_columns()
                        .iter()
                        .map(|c| store_column(c.as_materialized_series()))
                        .collect::<Result<_, String>>()
                        .map_err(|why| format!("table `{}`: {why}", t.name))?,
                    provenance: t.provenance.clone(),
                })
            })
            .collect::<Result<_, String>>()?;
        Ok(StoredNotebook {
            chapter: nb.chapter.clone(),
            findings: nb
                .findings
                .values()
                .map(|f| StoredFinding {
                    key: f.key.clone(),
                    value: match &f.value {
                        Value::Int(v) => StoredValue::Int(*v),
                        Value::Decimal(d) => StoredValue::Decimal(*d),
                        Value::Float { value, decimals } => StoredValue::Float {
                            value: *value,
                            decimals: *decimals,
                        },
                        Value::Text(s) => StoredValue::Text(s.clone()),
                        Value::Bool(b) => StoredValue::Bool(*b),
                        Value::Rows(r) => StoredValue::Rows(r.clone()),
                    },
                    unit: f.unit.clone(),
                    provenance: f.provenance.clone(),
                })
                .collect(),
            tables,
            charts: nb.charts.values().cloned().collect(),
            checks: nb.checks.clone(),
            artifacts: nb.artifacts.values().cloned().collect(),
            queries: nb.queries.clone(),
            query_reads: nb
                .query_reads
                .iter()
                .map(|(k, r)| {
                    let stored = match r {
                        Reads::Files(f) => StoredReads::Files(f.clone()),
                        Reads::Unknown(why) => StoredReads::Unknown(why.clone()),
                    };
                    (k.clone(), stored)
                })
                .collect(),
            datasets: nb.datasets.clone(),
            params: nb.params.clone(),
        })
    }

    /// The notebook back, or why the stored text does not make one.
    pub fn into_notebook(self) -> Result<Notebook, String> {
        let mut nb = Notebook::new(&self.chapter);
        for f in self.findings {
            let value = match f.value {
                StoredValue::Int(v) => Value::Int(v),
                StoredValue::Decimal(d) => Value::Decimal(d),
                StoredValue::Float { value, decimals } => Value::Float { value, decimals },
                StoredValue::Text(s) => Value::Text(s),
                StoredValue::Bool(b) => Value::Bool(b),
                StoredValue::Rows(r) => Value::Rows(r),
            };
            nb.findings.insert(
                f.key.clone(),
                Finding {
                    key: f.key,
                    value,
                    unit: f.unit,
                    provenance: f.provenance,
                },
            );
        }
        for t in self.tables {
            let columns = t
                .columns
                .into_iter()
                .map(restore_column)
                .collect::<Result<Vec<Column>, String>>()
                .map_err(|why| format!("table `{}`: {why}", t.name))?;
            let frame = DataFrame::new(columns).map_err(|e| format!("table `{}`: {e}", t.name))?;
            nb.tables.insert(
                t.name.clone(),
                crate::notebook::Table {
                    name: t.name,
                    frame,
                    provenance: t.provenance,
                },
            );
        }
        nb.charts = self
            .charts
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect();
        nb.checks = self.checks;
        nb.artifacts = self
            .artifacts
            .into_iter()
            .map(|a| (a.name.clone(), a))
            .collect();
        nb.queries = self.queries;
        nb.query_reads = self
            .query_reads
            .into_iter()
            .map(|(k, r)| {
                let reads = match r {
                    StoredReads::Files(f) => Reads::Files(f),
                    StoredReads::Unknown(why) => Reads::Unknown(why),
                };
                (k, reads)
            })
            .collect();
        nb.datasets = self.datasets;
        nb.params = self.params;
        Ok(nb)
    }
}

fn stored_type(dtype: &DataType) -> Result<StoredType, String> {
    Ok(match dtype {
        DataType::Null => StoredType::Null,
        DataType::Boolean => StoredType::Boolean,
        DataType::Int8 => StoredType::Int8,
        DataType::Int16 => StoredType::Int16,
        DataType::Int32 => StoredType::Int32,
        DataType::Int64 => StoredType::Int64,
        DataType::UInt8 => StoredType::UInt8,
        DataType::UInt16 => StoredType::UInt16,
        DataType::UInt32 => StoredType::UInt32,
        DataType::UInt64 => StoredType::UInt64,
        DataType::Float32 => StoredType::Float32,
        DataType::Float64 => StoredType::Float64,
        DataType::String => StoredType::String,
        DataType::Date => StoredType::Date,
        DataType::Datetime(unit, None) => StoredType::Datetime(match unit {
            TimeUnit::Nanoseconds => StoredUnit::Nanoseconds,
            TimeUnit::Microseconds => StoredUnit::Microseconds,
            TimeUnit::Milliseconds => StoredUnit::Milliseconds,
        }),
        DataType::Decimal(precision, scale) => StoredType::Decimal(*precision, *scale),
        other => {
            return Err(format!(
                "a column of type {other} is not one the cache keeps"
            ))
        }
    })
}

fn data_type(stored: StoredType) -> DataType {
    match stored {
        StoredType::Null => DataType::Null,
        StoredType::Boolean => DataType::Boolean,
        StoredType::Int8 => DataType::Int8,
        StoredType::Int16 => DataType::Int16,
        StoredType::Int32 => DataType::Int32,
        StoredType::Int64 => DataType::Int64,
        StoredType::UInt8 => DataType::UInt8,
        StoredType::UInt16 => DataType::UInt16,
        StoredType::UInt32 => DataType::UInt32,
        StoredType::UInt64 => DataType::UInt64,
        StoredType::Float32 => DataType::Float32,
        StoredType::Float64 => DataType::Float64,
        StoredType::String => DataType::String,
        StoredType::Date => DataType::Date,
        StoredType::Datetime(unit) => DataType::Datetime(time_unit(unit), None),
        StoredType::Decimal(precision, scale) => DataType::Decimal(precision, scale),
    }
}

fn time_unit(unit: StoredUnit) -> TimeUnit {
    match unit {
        StoredUnit::Nanoseconds => TimeUnit::Nanoseconds,
        StoredUnit::Microseconds => TimeUnit::Microseconds,
        StoredUnit::Milliseconds => TimeUnit::Milliseconds,
    }
}

fn store_column(series: &Series) -> Result<StoredColumn, String> {
    let dtype = stored_type(series.dtype())?;
    let cells = series
        .iter()
        .map(|cell| {
            Ok(match cell {
                AnyValue::Null => StoredCell::Null,
                AnyValue::Boolean(b) => StoredCell::Bool(b),
                AnyValue::Int8(v) => StoredCell::Int(v.into()),
                AnyValue::Int16(v) => StoredCell::Int(v.into()),
                AnyValue::Int32(v) => StoredCell::Int(v.into()),
                AnyValue::Int64(v) => StoredCell::Int(v),
                AnyValue::UInt8(v) => StoredCell::UInt(v.into()),
                AnyValue::UInt16(v) => StoredCell::UInt(v.into()),
                AnyValue::UInt32(v) => StoredCell::UInt(v.into()),
                AnyValue::UInt64(v) => StoredCell::UInt(v),
                AnyValue::Float32(v) => StoredCell::Float(v.into()),
                AnyValue::Float64(v) => StoredCell::Float(v),
                AnyValue::String(s) => StoredCell::Str(s.to_string()),
                AnyValue::StringOwned(s) => StoredCell::Str(s.to_string()),
                AnyValue::Date(days) => StoredCell::Date(days),
                AnyValue::Datetime(v, _, _) | AnyValue::DatetimeOwned(v, _, _) => {
                    StoredCell::Datetime(v)
                }
                AnyValue::Decimal(raw, _) => StoredCell::Decimal(raw.to_string()),
                other => return Err(format!("a cell {other} is not one the cache keeps")),
            })
        })
        .collect::<Result<_, String>>()
        .map_err(|why| format!("column `{}`: {why}", series.name()))?;
    Ok(StoredColumn {
        name: series.name().to_string(),
        dtype,
        cells,
    })
}

fn restore_column(column: StoredColumn) -> Result<Column, String> {
    let dtype = data_type(column.dtype);
    let bad =
        |cell: &StoredCell| format!("column `{}`: cell {cell:?} is not a {dtype}", column.name);
    let cells: Vec<AnyValue<'static>> = column
        .cells
        .iter()
        .map(|cell| {
            Ok(match (cell, column.dtype) {
                (StoredCell::Null, _) => AnyValue::Null,
                (StoredCell::Bool(b), StoredType::Boolean) => AnyValue::Boolean(*b),
                (StoredCell::Int(v), StoredType::Int8) => {
                    AnyValue::Int8(i8::try_from(*v).map_err(|_| bad(cell))?)
                }
                (StoredCell::Int(v), StoredType::Int16) => {
                    AnyValue::Int16(i16::try_from(*v).map_err(|_| bad(cell))?)
                }
                (StoredCell::Int(v), StoredType::Int32) => {
                    AnyValue::Int32(i32::try_from(*v).map_err(|_| bad(cell))?)
                }
                (StoredCell::Int(v), StoredType::Int64) => AnyValue::Int64(*v),
                (StoredCell::UInt(v), StoredType::UInt8) => {
                    AnyValue::UInt8(u8::try_from(*v).map_err(|_| bad(cell))?)
                }
                (StoredCell::UInt(v), StoredType::UInt16) => {
                    AnyValue::UInt16(u16::try_from(*v).map_err(|_| bad(cell))?)
                }
                (StoredCell::UInt(v), StoredType::UInt32) => {
                    AnyValue::UInt32(u32::try_from(*v).map_err(|_| bad(cell))?)
                }
                (StoredCell::UInt(v), StoredType::UInt64) => AnyValue::UInt64(*v),
                // An f32 widened to f64 narrows back to the same f32.
                (StoredCell::Float(v), StoredType::Float32) => AnyValue::Float32(*v as f32),
                (StoredCell::Float(v), StoredType::Float64) => AnyValue::Float64(*v),
                (StoredCell::Str(s), StoredType::String) => {
                    AnyValue::StringOwned(s.as_str().into())
                }
                (StoredCell::Date(d), StoredType::Date) => AnyValue::Date(*d),
                (StoredCell::Datetime(v), StoredType::Datetime(unit)) => {
                    AnyValue::Datetime(*v, time_unit(unit), None)
                }
                (StoredCell::Decimal(raw), StoredType::Decimal(_, Some(scale))) => {
                    AnyValue::Decimal(raw.parse().map_err(|_| bad(cell))?, scale)
                }
                _ => return Err(bad(cell)),
            })
        })
        .collect::<Result<_, String>>()?;
    let series =
        Series::from_any_values_and_dtype(column.name.as_str().into(), &cells, &dtype, true)
            .map_err(|e| format!("column `{}`: {e}", column.name))?;
    Ok(series.into())
}
