//! Two engines' answers to one question, compared cell by cell: the rows of a DuckDB result
//! (a Polars frame) and of another engine's (Spark's typed rows) read into one [`Grid`]
//! form, then every cell held equal, in order.
//!
//! Equal means: texts, dates, timestamps and integers identical; exact numbers (decimals
//! and integers) equal as decimals, so money agrees to the cent; a number where either
//! engine computed in floating point equal within [`FLOAT_RELATIVE`] of its size, because
//! the two engines add up doubles in different orders.

use polars::prelude::{AnyValue, DataFrame, TimeUnit};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

/// The relative tolerance of a comparison that involves a float: the last few bits of a
/// double sum depend on the order its terms were added in.
pub const FLOAT_RELATIVE: f64 = 1e-9;

/// A value as the comparison reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// No value.
    Null,
    /// A boolean.
    Bool(bool),
    /// An integer of any width.
    Int(i128),
    /// An exact decimal.
    Exact(Decimal),
    /// A floating-point number.
    Float(f64),
    /// Text.
    Text(String),
    /// Days since 1970-01-01.
    Date(i32),
    /// Microseconds since 1970-01-01 00:00 UTC.
    Timestamp(i64),
}

impl Cell {
    /// The cell as text, for a difference's report.
    pub fn text(&self) -> String {
        match self {
            Cell::Null => "null".into(),
            Cell::Bool(b) => b.to_string(),
            Cell::Int(v) => v.to_string(),
            Cell::Exact(d) => d.normalize().to_string(),
            Cell::Float(f) => format!("{f}"),
            Cell::Text(s) => format!("`{s}`"),
            Cell::Date(days) => chrono::DateTime::from_timestamp(*days as i64 * 86_400, 0)
                .map(|t| t.format("%Y-%m-%d").to_string())
                .unwrap_or_else(|| format!("day {days}")),
            Cell::Timestamp(micros) => chrono::DateTime::from_timestamp_micros(*micros)
                .map(|t| t.format("%Y-%m-%d %H:%M:%S%.f").to_string())
                .unwrap_or_else(|| format!("{micros} µs")),
        }
    }

    fn exact(&self) -> Option<Decimal> {
        match self {
            Cell::Int(v) => Decimal::from_i128_with_scale(*v, 0).into(),
            Cell::Exact(d) => Some(*d),
            _ => None,
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Cell::Float(f) => Some(*f),
            _ => self.exact().and_then(|d| d.to_f64()),
        }
    }
}

/// Whether two cells hold the same value (see the module's header).
pub fn same(a: &Cell, b: &Cell) -> bool {
    if let (Some(x), Some(y)) = (a.exact(), b.exact()) {
        return x == y;
    }
    if matches!(a, Cell::Float(_)) || matches!(b, Cell::Float(_)) {
        if let (Some(x), Some(y)) = (a.number(), b.number()) {
            return (x - y).abs() <= FLOAT_RELATIVE * x.abs().max(y.abs()).max(1.0);
        }
    }
    a == b
}

/// A result: its column names, and its rows in the engine's order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Grid {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each a cell per column.
    pub rows: Vec<Vec<Cell>>,
}

impl Grid {
    /// The rows of a DuckDB (Polars) result.
    pub fn of_frame(frame: &DataFrame) -> Grid {
        let columns = frame
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        let rows = (0..frame.height())
            .map(|row| {
                frame
                    .get_columns()
                    .iter()
                    .map(|column| column.get(row).map(|v| cell(&v)).unwrap_or(Cell::Null))
                    .collect()
            })
            .collect();
        Grid { columns, rows }
    }

    /// How many cells it has.
    pub fn cells(&self) -> usize {
        self.rows.iter().map(Vec::len).sum()
    }
}

fn cell(value: &AnyValue) -> Cell {
    match value {
        AnyValue::Null => Cell::Null,
        AnyValue::Boolean(b) => Cell::Bool(*b),
        AnyValue::Int8(v) => Cell::Int(*v as i128),
        AnyValue::Int16(v) => Cell::Int(*v as i128),
        AnyValue::Int32(v) => Cell::Int(*v as i128),
        AnyValue::Int64(v) => Cell::Int(*v as i128),
        AnyValue::Int128(v) => Cell::Int(*v),
        AnyValue::UInt8(v) => Cell::Int(*v as i128),
        AnyValue::UInt16(v) => Cell::Int(*v as i128),
        AnyValue::UInt32(v) => Cell::Int(*v as i128),
        AnyValue::UInt64(v) => Cell::Int(*v as i128),
        AnyValue::Float32(v) => Cell::Float(*v as f64),
        AnyValue::Float64(v) => Cell::Float(*v),
        AnyValue::Decimal(raw, scale) => {
            Cell::Exact(Decimal::from_i128_with_scale(*raw, *scale as u32))
        }
        AnyValue::String(s) => Cell::Text(s.to_string()),
        AnyValue::StringOwned(s) => Cell::Text(s.to_string()),
        AnyValue::Date(days) => Cell::Date(*days),
        AnyValue::Datetime(v, unit, _) | AnyValue::DatetimeOwned(v, unit, _) => {
            Cell::Timestamp(match unit {
                TimeUnit::Nanoseconds => v.div_euclid(1_000),
                TimeUnit::Microseconds => *v,
                TimeUnit::Milliseconds => v.saturating_mul(1_000),
            })
        }
        other => Cell::Text(other.to_string()),
    }
}

/// One cell that differs, or a row one side has and the other has not.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// The row (1 = the first).
    pub row: usize,
    /// The column, or `(row)` when a whole row is missing on one side.
    pub column: String,
    /// The first engine's value.
    pub left: String,
    /// The second engine's value.
    pub right: String,
}

/// Every difference between `left` and `right`, row by row in order, column by column by
/// name (so two engines may name the same columns in a different order, but not other ones).
pub fn differences(left: &Grid, right: &Grid) -> Vec<Difference> {
    let mut out = Vec::new();
    let missing = |side: &Grid, other: &Grid| -> Vec<String> {
        side.columns
            .iter()
            .filter(|c| !other.columns.contains(c))
            .cloned()
            .collect()
    };
    let (only_left, only_right) = (missing(left, right), missing(right, left));
    if !only_left.is_empty() || !only_right.is_empty() {
        out.push(Difference {
            row: 0,
            column: "(columns)".into(),
            left: left.columns.join(", "),
            right: right.columns.join(", "),
        });
        return out;
    }
    for row in 0..left.rows.len().max(right.rows.len()) {
        match (left.rows.get(row), right.rows.get(row)) {
            (Some(a), Some(b)) => {
                for (i, column) in left.columns.iter().enumerate() {
                    let j = right.columns.iter().position(|c| c == column).unwrap_or(i);
                    let (x, y) = (&a[i], &b[j]);
                    if !same(x, y) {
                        out.push(Difference {
                            row: row + 1,
                            column: column.clone(),
                            left: x.text(),
                            right: y.text(),
                        });
                    }
                }
            }
            (a, b) => out.push(Difference {
                row: row + 1,
                column: "(row)".into(),
                left: a.map_or("absent".into(), |r| row_text(r)),
                right: b.map_or("absent".into(), |r| row_text(r)),
            }),
        }
    }
    out
}

fn row_text(row: &[Cell]) -> String {
    row.iter().map(Cell::text).collect::<Vec<_>>().join(" | ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_agrees_to_the_cent_and_floats_within_their_tolerance() {
        let cents = |s: &str| Cell::Exact(s.parse().unwrap());
        assert!(same(&cents("12.30"), &cents("12.3")));
        assert!(!same(&cents("12.30"), &cents("12.31")));
        assert!(same(&Cell::Int(7), &cents("7.00")));
        assert!(same(&Cell::Float(1234.5600000000001), &cents("1234.56")));
        assert!(!same(&Cell::Float(1234.57), &cents("1234.56")));
        assert!(!same(&Cell::Text("7".into()), &Cell::Int(7)));
    }

    #[test]
    fn a_row_more_or_a_cell_off_is_reported_where_it_is() {
        let grid = |rows: Vec<Vec<Cell>>| Grid {
            columns: vec!["a".into(), "b".into()],
            rows,
        };
        let left = grid(vec![vec![Cell::Int(1), Cell::Text("x".into())]]);
        let right = grid(vec![
            vec![Cell::Int(1), Cell::Text("y".into())],
            vec![Cell::Int(2), Cell::Null],
        ]);
        let found = differences(&left, &right);
        assert_eq!(found.len(), 2);
        assert_eq!((found[0].row, found[0].column.as_str()), (1, "b"));
        assert_eq!((found[1].row, found[1].column.as_str()), (2, "(row)"));
        assert!(differences(&left, &left).is_empty());
    }
}
