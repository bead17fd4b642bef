//! Spreadsheets into DuckDB: a worksheet read with calamine becomes a staging table of text
//! columns, one row per sheet row, so the chapter's SQL does every cast and every rejection
//! where the book can show it. Cells keep what the sheet holds: integral floats lose their
//! `.0`, Excel dates become ISO dates, empty cells become NULL.

use std::collections::BTreeMap;
use std::path::Path;

use calamine::{open_workbook_auto, Data, Reader};
use duckdb::appender_params_from_iter;

use crate::error::{Error, Result};
use crate::sql::SqlSession;

/// A worksheet's header row and its data rows as text.
#[derive(Debug, Clone)]
pub struct Sheet {
    /// The header row, trimmed.
    pub header: Vec<String>,
    /// The data rows, every cell as text (`None`: empty).
    pub rows: Vec<Vec<Option<String>>>,
    /// The columns that hold values under an empty header cell.
    pub unnamed: Vec<UnnamedColumn>,
}

/// A column with values but no header: where it is, the name it is staged under, and how
/// many of its cells are filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnnamedColumn {
    /// The column's letter in the sheet.
    pub letter: String,
    /// The name it is staged under.
    pub staged_as: String,
    /// How many of its cells hold a value.
    pub filled: u64,
}

/// Excel serial (1900 system) → ISO date, with the time when there is one.
fn excel_date(serial: f64) -> String {
    let epoch = chrono::NaiveDate::from_ymd_opt(1899, 12, 30).expect("valid epoch");
    let days = serial.floor() as i64;
    let date = epoch + chrono::Duration::days(days);
    let seconds = ((serial - serial.floor()) * 86_400.0).round() as i64;
    if seconds == 0 {
        date.to_string()
    } else {
        (date.and_hms_opt(0, 0, 0).expect("midnight") + chrono::Duration::seconds(seconds))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    }
}

/// One cell as text; `None` for an empty cell.
pub fn cell_text(cell: &Data) -> Option<String> {
    match cell {
        Data::Empty => None,
        Data::String(s) if s.is_empty() => None,
        Data::String(s) => Some(s.clone()),
        Data::Int(i) => Some(i.to_string()),
        Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => Some(format!("{}", *f as i64)),
        Data::Float(f) => Some(format!("{f}")),
        Data::Bool(b) => Some(b.to_string()),
        Data::DateTime(d) => Some(excel_date(d.as_f64())),
        Data::DateTimeIso(s) | Data::DurationIso(s) => Some(s.clone()),
        Data::Error(e) => Some(format!("#ERROR {e:?}")),
    }
}

/// `Surface Carrez du 1er lot` → `surface_carrez_du_1er_lot`; a name starting with a digit
/// gets a `c_` prefix, an empty one `column_<n>`, a repeated one `_2`.
pub fn column_names(header: &[String]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (i, raw) in header.iter().enumerate() {
        let mut name = String::new();
        for c in raw.trim().to_lowercase().chars() {
            if c.is_ascii_alphanumeric() {
                name.push(c);
            } else if !name.ends_with('_') {
                name.push('_');
            }
        }
        let mut name = name.trim_matches('_').to_string();
        if name.is_empty() {
            name = format!("column_{}", i + 1);
        } else if name.starts_with(|c: char| c.is_ascii_digit()) {
            name = format!("c_{name}");
        }
        let base = name.clone();
        let mut n = 2;
        while names.contains(&name) {
            name = format!("{base}_{n}");
            n += 1;
        }
        names.push(name);
    }
    names
}

/// Runs `read`, a reading of a workbook by calamine, turning a panic into `Err` with its
/// message. calamine panics on some malformed workbooks (a cell reference whose row
/// overflows `u32`, found by fuzzing the reader), and a user's bad file must be an error
/// naming it, not a crash.
pub fn guarded<T>(read: impl FnOnce() -> T) -> std::result::Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(read))
        .map_err(|panic| crate::error::panic_message(panic.as_ref()))
}

/// Reads `sheet` of the workbook at `path` (the first sheet when `None`).
pub fn read_sheet(chapter: &str, path: &Path, sheet: Option<&str>) -> Result<Sheet> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    guarded(|| read_sheet_unguarded(chapter, path, sheet)).unwrap_or_else(|panic| {
        Err(Error::Data {
            chapter: chapter.to_string(),
            file,
            row: None,
            message: format!("the workbook is malformed: its reader failed ({panic})"),
        })
    })
}

fn read_sheet_unguarded(chapter: &str, path: &Path, sheet: Option<&str>) -> Result<Sheet> {
    let file = path
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let bad = |message: String| Error::Data {
        chapter: chapter.to_string(),
        file: file.clone(),
        row: None,
        message,
    };
    let mut workbook =
        open_workbook_auto(path).map_err(|e| bad(format!("cannot open the workbook: {e}")))?;
    let name = match sheet {
        Some(s) => s.to_string(),
        None => workbook
            .sheet_names()
            .first()
            .cloned()
            .ok_or_else(|| bad("the workbook has no sheet".into()))?,
    };
    let range = workbook
        .worksheet_range(&name)
        .map_err(|e| bad(format!("cannot read sheet `{name}`: {e}")))?;
    let mut rows = range.rows();
    let header: Vec<String> = rows
        .next()
        .ok_or_else(|| bad(format!("sheet `{name}` is empty")))?
        .iter()
        .map(|c| cell_text(c).unwrap_or_default())
        .collect();
    let width = header.len();
    let mut out = Vec::new();
    let mut unnamed: BTreeMap<usize, u64> = BTreeMap::new();
    for r in rows {
        let mut cells: Vec<Option<String>> = r.iter().map(cell_text).collect();
        cells.resize(width, None);
        // A value in a column the header does not name is kept (staged as `column_<n>`), and
        // counted, so the chapter can say what its queries never read.
        for (c, v) in cells.iter().enumerate() {
            if v.is_some() && header[c].trim().is_empty() {
                *unnamed.entry(c).or_insert(0) += 1;
            }
        }
        out.push(cells);
    }
    let names = column_names(&header);
    let unnamed = unnamed
        .into_iter()
        .map(|(c, filled)| UnnamedColumn {
            letter: column_letter(c),
            staged_as: names[c].clone(),
            filled,
        })
        .collect();
    Ok(Sheet {
        header,
        rows: out,
        unnamed,
    })
}

/// A spreadsheet column's letters: 0 → A, 25 → Z, 26 → AA.
fn column_letter(mut index: usize) -> String {
    let mut letters = Vec::new();
    loop {
        letters.push((b'A' + (index % 26) as u8) as char);
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    letters.iter().rev().collect()
}

/// Loads a sheet into a new table `table`: `source_row` (the row number in the sheet, the
/// header being row 1, so errors can name it) then one text column per header cell. Returns
/// the number of rows loaded.
pub fn stage(session: &SqlSession, table: &str, sheet: &Sheet) -> Result<u64> {
    stage_on(session.connection(), session.chapter(), table, sheet)
}

/// [`stage`] on any DuckDB connection; `chapter` names the errors.
pub fn stage_on(
    conn: &duckdb::Connection,
    chapter: &str,
    table: &str,
    sheet: &Sheet,
) -> Result<u64> {
    let names = column_names(&sheet.header);
    let columns: Vec<String> = std::iter::once("source_row bigint".to_string())
        .chain(names.iter().map(|n| format!("\"{n}\" varchar")))
        .collect();
    let fail = |e: duckdb::Error| Error::Query {
        chapter: chapter.to_string(),
        query: format!("stage {table}"),
        message: e.to_string(),
    };
    conn.execute_batch(&format!("create table {table} ({})", columns.join(", ")))
        .map_err(fail)?;
    let mut appender = conn.appender(table).map_err(fail)?;
    for (i, row) in sheet.rows.iter().enumerate() {
        let number = Some((i + 2).to_string());
        appender
            .append_row(appender_params_from_iter(
                std::iter::once(&number).chain(row.iter()),
            ))
            .map_err(fail)?;
    }
    appender.flush().map_err(fail)?;
    Ok(sheet.rows.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_sql_friendly_and_unique() {
        let header: Vec<String> = ["Valeur fonciere", "1er lot", "", "B/T/Q", "Valeur fonciere"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(
            column_names(&header),
            [
                "valeur_fonciere",
                "c_1er_lot",
                "column_3",
                "b_t_q",
                "valeur_fonciere_2"
            ]
        );
    }

    #[test]
    fn values_under_no_header_are_kept_and_counted_by_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.xlsx");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "a").unwrap();
        sheet.write_string(0, 2, "c").unwrap();
        sheet.write_string(1, 0, "1").unwrap();
        sheet.write_string(1, 1, "stray").unwrap();
        sheet.write_string(2, 1, "again").unwrap();
        sheet.write_string(2, 2, "3").unwrap();
        book.save(&path).unwrap();
        let read = read_sheet("t", &path, None).unwrap();
        assert_eq!(
            read.unnamed,
            [UnnamedColumn {
                letter: "B".into(),
                staged_as: "column_2".into(),
                filled: 2
            }]
        );
        assert_eq!(
            read.rows[0][1].as_deref(),
            Some("stray"),
            "kept, not dropped"
        );
        assert_eq!(column_letter(0), "A");
        assert_eq!(column_letter(27), "AB");
    }

    #[test]
    fn cells_keep_what_the_sheet_holds() {
        assert_eq!(cell_text(&Data::Float(1370.0)), Some("1370".into()));
        assert_eq!(cell_text(&Data::Float(50.42)), Some("50.42".into()));
        assert_eq!(cell_text(&Data::Empty), None);
        assert_eq!(excel_date(43832.0), "2020-01-02");
        assert_eq!(excel_date(43832.5), "2020-01-02 12:00:00");
    }
}
