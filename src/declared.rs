//! Findings declared beside their SQL. A query whose result is one row says, in its header,
//! what each column is:
//!
//! ```sql
//! -- finding apartments_sold: count, apartments
//! -- finding weighted_price_eur_m2: number 2, EUR/m²
//! -- finding growth_pct: percent
//! -- finding revenue_eur: money
//! -- finding sale_day: text
//! ```
//!
//! [`SqlSession::declared_findings`](crate::sql::SqlSession::declared_findings) runs it and
//! adds the finding `<prefix>.<column>` for every column, typed by its kind: `count` an
//! integer, `money` a decimal rounded to the cent in EUR, `percent` two decimals in %,
//! `number N` N decimals, `text` a string (`none` when NULL), each with the unit declared
//! after the comma. No chapter reads those cells one by one. A column without a declaration,
//! a declaration without its column, or a result that is not one row is an error that names
//! the query.

use polars::prelude::DataFrame;

use crate::error::{Error, Reason, Result};
use crate::frame::{get_decimal, get_f64, get_i64, get_text};
use crate::notebook::Value;

/// What a column's value is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// An integer count.
    Count,
    /// An amount in EUR, rounded to the cent.
    Money,
    /// A percentage, two decimals.
    Percent,
    /// A number shown with this many decimals.
    Number(u32),
    /// Text.
    Text,
}

/// One column's declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Declared {
    /// The result column, and the last part of the finding's key.
    pub column: String,
    /// Its kind.
    pub kind: Kind,
    /// Its unit, as the prose shows it after the number.
    pub unit: Option<String>,
}

impl Declared {
    /// The unit the finding carries: the declared one, or the kind's own (EUR, %).
    pub fn unit(&self) -> Option<String> {
        self.unit.clone().or_else(|| match self.kind {
            Kind::Money => Some("EUR".into()),
            Kind::Percent => Some("%".into()),
            _ => None,
        })
    }

    /// The column's value in row 0 of `frame` (from query `query`), typed by its kind.
    pub fn value(&self, frame: &DataFrame, query: &str) -> Result<Value> {
        let c = self.column.as_str();
        Ok(match self.kind {
            Kind::Count => Value::Int(get_i64(frame, query, 0, c)?),
            Kind::Money => Value::money(get_decimal(frame, query, 0, c)?),
            Kind::Percent => Value::float(get_f64(frame, query, 0, c)?, 2),
            Kind::Number(decimals) => Value::float(get_f64(frame, query, 0, c)?, decimals),
            Kind::Text => {
                Value::Text(get_text(frame, query, 0, c)?.unwrap_or_else(|| "none".into()))
            }
        })
    }
}

/// The `-- finding` lines of a query's text, in order.
pub fn parse(sql: &str) -> std::result::Result<Vec<Declared>, Reason> {
    let mut out = Vec::new();
    for (n, line) in sql.lines().enumerate() {
        let Some(rest) = line.trim().strip_prefix("-- finding ") else {
            continue;
        };
        let at = |why: String| {
            format!(
                "line {}: {why} (write `-- finding COLUMN: KIND[, UNIT]`)",
                n + 1
            )
        };
        let (column, declaration) = rest
            .split_once(':')
            .ok_or_else(|| at(format!("`{rest}` has no `:`")))?;
        let (kind, unit) = match declaration.split_once(',') {
            Some((kind, unit)) => (kind.trim(), Some(unit.trim().to_string())),
            None => (declaration.trim(), None),
        };
        let kind = match kind.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["count"] => Kind::Count,
            ["money"] => Kind::Money,
            ["percent"] => Kind::Percent,
            ["text"] => Kind::Text,
            ["number", decimals] => Kind::Number(
                decimals
                    .parse()
                    .map_err(|_| at(format!("`{decimals}` is not a number of decimals")))?,
            ),
            _ => {
                return Err(at(format!(
                    "unknown kind `{kind}` (count, money, percent, number N, text)"
                )))
            }
        };
        out.push(Declared {
            column: column.trim().to_string(),
            kind,
            unit: unit.filter(|u| !u.is_empty()),
        });
    }
    Ok(out)
}

/// The declarations of `sql` checked against the result `frame` of query `query` in chapter
/// `chapter`: one row, every column declared, every declaration a column.
pub fn checked(chapter: &str, query: &str, sql: &str, frame: &DataFrame) -> Result<Vec<Declared>> {
    let wrong = |message: String| Error::Query {
        chapter: chapter.to_string(),
        query: query.to_string(),
        message,
    };
    let declared = parse(sql).map_err(wrong)?;
    if frame.height() != 1 {
        return Err(wrong(format!(
            "declares findings, so it must return one row; it returned {}",
            frame.height()
        )));
    }
    let columns: Vec<String> = frame
        .get_column_names()
        .iter()
        .map(|c| c.to_string())
        .collect();
    if let Some(missing) = columns
        .iter()
        .find(|c| !declared.iter().any(|d| &d.column == *c))
    {
        return Err(wrong(format!(
            "column `{missing}` has no `-- finding {missing}: ...` line"
        )));
    }
    if let Some(extra) = declared.iter().find(|d| !columns.contains(&d.column)) {
        return Err(wrong(format!(
            "declares `{}`, which the result does not have (it has {columns:?})",
            extra.column
        )));
    }
    Ok(declared)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_parse_with_kinds_and_units() {
        let sql = "-- Q5.\n-- finding house_sales: count, sales\n-- finding price: number 2, EUR/m²\n-- finding growth_pct: percent\n-- finding total: money\n-- finding day: text\nselect 1";
        let d = parse(sql).unwrap();
        assert_eq!(d.len(), 5);
        assert_eq!(
            (d[0].kind.clone(), d[0].unit()),
            (Kind::Count, Some("sales".into()))
        );
        assert_eq!(
            (d[1].kind.clone(), d[1].unit()),
            (Kind::Number(2), Some("EUR/m²".into()))
        );
        assert_eq!(d[2].unit(), Some("%".into()));
        assert_eq!(d[3].unit(), Some("EUR".into()));
        assert_eq!((d[4].kind.clone(), d[4].unit()), (Kind::Text, None));
    }

    #[test]
    fn a_wrong_declaration_names_its_line() {
        let err = parse("select 1\n-- finding x: gallons").unwrap_err();
        assert!(err.starts_with("line 2: unknown kind `gallons`"), "{err}");
        assert!(parse("-- finding x count")
            .unwrap_err()
            .contains("has no `:`"));
    }

    #[test]
    fn every_column_is_declared_and_the_result_is_one_row() {
        use polars::prelude::*;
        let frame = df!("a" => [1i64], "b" => [2i64]).unwrap();
        let err = checked("c", "q", "-- finding a: count", &frame)
            .unwrap_err()
            .to_string();
        assert!(err.contains("column `b` has no"), "{err}");
        let err = checked(
            "c",
            "q",
            "-- finding a: count\n-- finding b: count\n-- finding z: count",
            &frame,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("declares `z`"), "{err}");
        let two = df!("a" => [1i64, 2]).unwrap();
        assert!(checked("c", "q", "-- finding a: count", &two).is_err());
        assert_eq!(
            checked("c", "q", "-- finding a: count\n-- finding b: count", &frame)
                .unwrap()
                .len(),
            2
        );
    }
}
