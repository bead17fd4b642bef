//! Polars frames as the book shows them: deterministic text and JSON for every cell, Markdown
//! tables, and typed access to single cells for findings. One formatting rule for the whole
//! book lives here (fixed decimals, ISO dates, grouped digits in prose only).

use chrono::{DateTime, NaiveDate};
use polars::prelude::{AnyValue, DataFrame, TimeUnit};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;

use crate::error::{Error, Result};

/// `value` rounded to `decimals` places, as the book shows it (so a table and a finding
/// computed from the same number agree).
pub fn round_to(value: f64, decimals: u32) -> f64 {
    let scale = 10f64.powi(decimals as i32);
    (value * scale).round() / scale
}

/// Decimals shown for floating-point cells in tables and JSON rows.
pub const FLOAT_DECIMALS: u32 = 4;

/// `1234567.5` → `1,234,567.5`; leaves signs and decimals alone.
pub fn group_digits(number: &str) -> String {
    let (sign, rest) = number
        .strip_prefix('-')
        .map(|r| ("-", r))
        .unwrap_or(("", number));
    let (int, frac) = rest
        .split_once('.')
        .map(|(i, f)| (i, Some(f)))
        .unwrap_or((rest, None));
    if !int.chars().all(|c| c.is_ascii_digit()) {
        return number.to_string();
    }
    let mut grouped = String::with_capacity(int.len() + int.len() / 3);
    for (i, c) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    match frac {
        Some(f) => format!("{sign}{grouped}.{f}"),
        None => format!("{sign}{grouped}"),
    }
}

/// An exact decimal as a JSON number (shortest float text that reads back to it).
pub fn decimal_to_json(d: Decimal) -> serde_json::Value {
    match d.to_f64().and_then(serde_json::Number::from_f64) {
        Some(n) => serde_json::Value::Number(n),
        None => serde_json::Value::String(d.to_string()),
    }
}

/// A float rounded to `decimals` places, as a JSON number; NaN and infinities become null.
pub fn float_to_json(value: f64, decimals: u32) -> serde_json::Value {
    let factor = 10f64.powi(decimals as i32);
    let rounded = (value * factor).round() / factor;
    // -0.0 would print as "-0.0": normalise it.
    let rounded = if rounded == 0.0 { 0.0 } else { rounded };
    serde_json::Number::from_f64(rounded)
        .map(serde_json::Value::Number)
        .unwrap_or(serde_json::Value::Null)
}

fn date_from_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(days + 719_163)
}

fn datetime_text(value: i64, unit: TimeUnit) -> String {
    let nanos = match unit {
        TimeUnit::Nanoseconds => value,
        TimeUnit::Microseconds => value.saturating_mul(1_000),
        TimeUnit::Milliseconds => value.saturating_mul(1_000_000),
    };
    DateTime::from_timestamp_nanos(nanos)
        .naive_utc()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn decimal_from(raw: i128, scale: usize) -> Decimal {
    Decimal::from_i128_with_scale(raw, scale as u32)
}

/// A cell as text, the same everywhere: tables, snapshots, findings.
pub fn cell_text(value: &AnyValue) -> String {
    match value {
        AnyValue::Null => String::new(),
        AnyValue::Boolean(b) => b.to_string(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        AnyValue::Float32(f) => format!("{:.*}", FLOAT_DECIMALS as usize, f),
        AnyValue::Float64(f) => format!("{:.*}", FLOAT_DECIMALS as usize, f),
        AnyValue::Decimal(raw, scale) => decimal_from(*raw, *scale).to_string(),
        AnyValue::Date(days) => date_from_days(*days)
            .map(|d| d.to_string())
            .unwrap_or_default(),
        AnyValue::Datetime(v, unit, _) => datetime_text(*v, *unit),
        AnyValue::DatetimeOwned(v, unit, _) => datetime_text(*v, *unit),
        other => other.to_string(),
    }
}

/// A cell as JSON: integers and decimals as numbers, floats rounded, dates as ISO text.
pub fn cell_json(value: &AnyValue) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        AnyValue::Null => J::Null,
        AnyValue::Boolean(b) => J::from(*b),
        AnyValue::Int8(v) => J::from(*v),
        AnyValue::Int16(v) => J::from(*v),
        AnyValue::Int32(v) => J::from(*v),
        AnyValue::Int64(v) => J::from(*v),
        AnyValue::UInt8(v) => J::from(*v),
        AnyValue::UInt16(v) => J::from(*v),
        AnyValue::UInt32(v) => J::from(*v),
        AnyValue::UInt64(v) => J::from(*v),
        AnyValue::Float32(f) => float_to_json(*f as f64, FLOAT_DECIMALS),
        AnyValue::Float64(f) => float_to_json(*f, FLOAT_DECIMALS),
        AnyValue::Decimal(raw, scale) => decimal_to_json(decimal_from(*raw, *scale)),
        other => J::from(cell_text(other)),
    }
}

/// True for the column types that are right-aligned in tables.
fn is_numeric(value: &AnyValue) -> bool {
    matches!(
        value,
        AnyValue::Int8(_)
            | AnyValue::Int16(_)
            | AnyValue::Int32(_)
            | AnyValue::Int64(_)
            | AnyValue::UInt8(_)
            | AnyValue::UInt16(_)
            | AnyValue::UInt32(_)
            | AnyValue::UInt64(_)
            | AnyValue::Float32(_)
            | AnyValue::Float64(_)
            | AnyValue::Decimal(..)
    )
}

fn cell(frame: &DataFrame, row: usize, column: usize) -> AnyValue<'_> {
    frame.get_columns()[column]
        .get(row)
        .unwrap_or(AnyValue::Null)
}

/// Every row as a JSON object, columns in the frame's order.
pub fn rows_json(frame: &DataFrame) -> Vec<serde_json::Map<String, serde_json::Value>> {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    (0..frame.height())
        .map(|row| {
            names
                .iter()
                .enumerate()
                .map(|(col, name)| (name.clone(), cell_json(&cell(frame, row, col))))
                .collect()
        })
        .collect()
}

/// Whether a numeric column holds identifiers or codes rather than quantities, by its name
/// (`sale_id`, `sku`, `year`, `postal_code`…): their digits are shown as stored, never
/// grouped by thousands (sale 33,735 is not a sale).
fn names_an_identifier(column: &str) -> bool {
    let name = column.to_ascii_lowercase();
    let words: Vec<&str> = name.split(['_', ' ', '-']).collect();
    words.iter().any(|w| {
        matches!(
            *w,
            "id" | "sku" | "year" | "code" | "zip" | "postcode" | "siren" | "siret" | "insee"
        )
    })
}

/// A numeric cell as the book's tables show it: thousands grouped as in the prose, unless
/// its column holds identifiers. The findings JSON and snapshots keep [`cell_text`].
fn table_cell_text(value: &AnyValue, identifier: bool) -> String {
    let text = cell_text(value);
    if is_numeric(value) && !identifier {
        group_digits(&text)
    } else {
        text
    }
}

/// A GitHub-flavoured Markdown table; numeric columns right-aligned, thousands grouped. `max_rows` keeps long
/// tables readable: the rest is summarised in a last line, never silently cut.
pub fn markdown_table(frame: &DataFrame, max_rows: usize) -> String {
    let names: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let numeric: Vec<bool> = (0..names.len())
        .map(|col| (0..frame.height()).any(|row| is_numeric(&cell(frame, row, col))))
        .collect();
    let escape = |s: String| s.replace('|', "\\|");
    let mut out = String::new();
    out.push_str(&format!(
        "| {} |\n",
        names
            .iter()
            .map(|n| escape(n.clone()))
            .collect::<Vec<_>>()
            .join(" | ")
    ));
    out.push_str(&format!(
        "|{}|\n",
        numeric
            .iter()
            .map(|n| if *n { "---:" } else { ":---" })
            .collect::<Vec<_>>()
            .join("|")
    ));
    let identifiers: Vec<bool> = names.iter().map(|n| names_an_identifier(n)).collect();
    for row in 0..frame.height().min(max_rows) {
        let cells: Vec<String> = (0..names.len())
            .map(|col| escape(table_cell_text(&cell(frame, row, col), identifiers[col])))
            .collect();
        out.push_str(&format!("| {} |\n", cells.join(" | ")));
    }
    if frame.height() > max_rows {
        out.push_str(&format!(
            "\n*{} more rows not shown ({} in all).*\n",
            frame.height() - max_rows,
            frame.height()
        ));
    }
    out
}

fn lookup<'a>(
    frame: &'a DataFrame,
    context: &str,
    row: usize,
    column: &str,
) -> Result<AnyValue<'a>> {
    let col = frame
        .column(column)
        .map_err(|_| Error::Usage(format!("{context}: no column `{column}` in the result")))?;
    col.get(row).map_err(|_| {
        Error::Usage(format!(
            "{context}: no row {row} in the result (it has {})",
            frame.height()
        ))
    })
}

fn mistyped(context: &str, column: &str, want: &str, got: &AnyValue) -> Error {
    Error::Usage(format!(
        "{context}: column `{column}` should hold {want}, found `{got}`"
    ))
}

/// The integer in `column` at `row` (DuckDB's HUGEINT sums arrive as DECIMAL with scale 0).
pub fn get_i64(frame: &DataFrame, context: &str, row: usize, column: &str) -> Result<i64> {
    let value = lookup(frame, context, row, column)?;
    match value {
        AnyValue::Decimal(raw, 0) => {
            i64::try_from(raw).map_err(|_| mistyped(context, column, "an i64", &value))
        }
        AnyValue::Float32(_) | AnyValue::Float64(_) => {
            Err(mistyped(context, column, "an integer", &value))
        }
        ref v => v
            .extract::<i64>()
            .ok_or_else(|| mistyped(context, column, "an integer", v)),
    }
}

/// The exact decimal in `column` at `row` (DuckDB DECIMAL or an integer).
pub fn get_decimal(frame: &DataFrame, context: &str, row: usize, column: &str) -> Result<Decimal> {
    let value = lookup(frame, context, row, column)?;
    match value {
        AnyValue::Decimal(raw, scale) => Ok(decimal_from(raw, scale)),
        ref v => match v.extract::<i64>() {
            Some(i) if !matches!(v, AnyValue::Float32(_) | AnyValue::Float64(_)) => {
                Ok(Decimal::from(i))
            }
            _ => Err(mistyped(context, column, "a DECIMAL", v)),
        },
    }
}

/// The float in `column` at `row`.
pub fn get_f64(frame: &DataFrame, context: &str, row: usize, column: &str) -> Result<f64> {
    let value = lookup(frame, context, row, column)?;
    match value {
        AnyValue::Decimal(raw, scale) => decimal_from(raw, scale)
            .to_f64()
            .ok_or_else(|| mistyped(context, column, "a number", &value)),
        ref v => v
            .extract::<f64>()
            .ok_or_else(|| mistyped(context, column, "a number", v)),
    }
}

/// The cell in `column` at `row` as text (dates as ISO), or `None` when null.
pub fn get_text(
    frame: &DataFrame,
    context: &str,
    row: usize,
    column: &str,
) -> Result<Option<String>> {
    let value = lookup(frame, context, row, column)?;
    Ok(if matches!(value, AnyValue::Null) {
        None
    } else {
        Some(cell_text(&value))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_cells_group_quantities_but_not_identifiers() {
        let frame = polars::df!(
            "sale_id" => [33735i64],
            "revenue_eur" => [10564.44f64],
            "sales" => [1379i64],
            "year" => [2020i64],
            "station" => ["00052"],
        )
        .unwrap();
        let table = markdown_table(&frame, 10);
        let row = table.lines().nth(2).unwrap();
        assert_eq!(row, "| 33735 | 10,564.4400 | 1,379 | 2020 | 00052 |");
        assert!(names_an_identifier("product_id") && names_an_identifier("SKU"));
        assert!(!names_an_identifier("rows_read") && !names_an_identifier("idle_ms"));
    }

    #[test]
    fn digits_are_grouped_by_three() {
        assert_eq!(group_digits("1234567.891"), "1,234,567.891");
        assert_eq!(group_digits("-1000"), "-1,000");
        assert_eq!(group_digits("999"), "999");
        assert_eq!(group_digits("abc"), "abc");
    }

    #[test]
    fn floats_round_and_lose_negative_zero() {
        assert_eq!(float_to_json(3.6789, 2), serde_json::json!(3.68));
        assert_eq!(float_to_json(-0.0001, 2), serde_json::json!(0.0));
        assert_eq!(float_to_json(f64::NAN, 2), serde_json::Value::Null);
    }

    #[test]
    fn money_reads_back_to_the_cent() {
        let d = Decimal::new(1234567, 2);
        assert_eq!(decimal_to_json(d).to_string(), "12345.67");
    }
}
