//! Weather Underground station workbooks: one sheet per day named `DDMMYY`, a header row, a
//! blank row, then a reading every five minutes. Times are the station's local clock;
//! values are text with their imperial unit after a no-break space ("56.8 °F", "8.2 mph",
//! "29.48 in"); wind direction is a compass point ("WSW", "North").

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::reading::{Origin, Parsed, Quarantined, Reading, ShapeError};
use super::units::{
    compass_to_degrees, fahrenheit_to_celsius, inches_to_mm, inhg_to_hpa, mph_to_kmh, parse_number,
    round_to, value_with_unit,
};
use crate::error::Reason;

/// The `source` field of the documents read from Weather Underground workbooks.
pub const SOURCE: &str = "wunderground";

/// The header every sheet must have, in this order.
pub const HEADER: [&str; 12] = [
    "Time",
    "Temperature",
    "Dew Point",
    "Humidity",
    "Wind",
    "Speed",
    "Gust",
    "Pressure",
    "Precip. Rate.",
    "Precip. Accum.",
    "UV",
    "Solar",
];

/// How to read a workbook.
#[derive(Debug, Clone)]
pub struct Station {
    /// The station id the documents carry.
    pub id: String,
    /// The time zone of the workbook's local times.
    pub timezone: Tz,
    /// Reproduces the classic bug for the audit's test: inHg stored as if it were hPa.
    pub pressure_bug: bool,
}

/// Parses a workbook. A sheet whose name is not a date or whose header differs is an error
/// for the file (the shape is wrong); a row with a value that does not parse is quarantined.
pub fn parse(file: &str, bytes: &[u8], station: &Station) -> Result<Parsed, ShapeError> {
    crate::xlsx::guarded(|| parse_unguarded(file, bytes, station)).unwrap_or_else(|panic| {
        Err(ShapeError::new(
            file,
            None,
            format!("the workbook is malformed: its reader failed ({panic})"),
        ))
    })
}

fn parse_unguarded(file: &str, bytes: &[u8], station: &Station) -> Result<Parsed, ShapeError> {
    let mut book = Xlsx::new(Cursor::new(bytes.to_vec()))
        .map_err(|e| ShapeError::new(file, None, "not an xlsx workbook").because(e))?;
    let mut parsed = Parsed::default();
    for sheet in book.sheet_names() {
        let day = NaiveDate::parse_from_str(&sheet, "%d%m%y").map_err(|_| {
            ShapeError::new(
                file,
                None,
                format!("sheet `{sheet}` is not a day written DDMMYY"),
            )
        })?;
        let range = book.worksheet_range(&sheet).map_err(|e| {
            ShapeError::new(file, Some(&sheet), "the sheet cannot be read").because(e)
        })?;
        let first_row = range.start().map(|(r, _)| r as usize).unwrap_or(0);
        let mut rows = range.rows();
        let header: Vec<String> = rows
            .next()
            .map(|r| r.iter().map(|c| c.to_string().trim().to_string()).collect())
            .unwrap_or_default();
        if header != HEADER {
            return Err(ShapeError::new(
                file,
                Some(&sheet),
                format!("header is {header:?}, expected {HEADER:?}"),
            ));
        }
        let mut clock = LocalClock::default();
        for (i, row) in rows.enumerate() {
            let origin = Origin {
                file: file.to_string(),
                sheet: sheet.clone(),
                row: first_row + i + 2,
            };
            if row.iter().all(|c| matches!(c, Data::Empty)) {
                parsed.blank_rows += 1;
                continue;
            }
            match reading(day, row, station, &mut clock, origin.clone()) {
                Ok(r) => parsed.readings.push(r),
                Err(reason) => {
                    let raw = row
                        .iter()
                        .map(|c| c.to_string())
                        .collect::<Vec<_>>()
                        .join(" | ");
                    parsed.quarantined.push(Quarantined {
                        origin,
                        reason,
                        raw,
                    });
                }
            }
        }
    }
    Ok(parsed)
}

/// Tracks a sheet's local clock to resolve the hour that occurs twice when summer time ends:
/// once the times go back, the repeated hour is the second (standard-time) one.
#[derive(Default)]
struct LocalClock {
    previous: Option<NaiveDateTime>,
    folded: bool,
}

impl LocalClock {
    fn utc_of(&mut self, local: NaiveDateTime, tz: Tz) -> Result<chrono::DateTime<Utc>, Reason> {
        if self.previous.is_some_and(|p| local < p) {
            self.folded = true;
        }
        self.previous = Some(local);
        match tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
            chrono::LocalResult::Ambiguous(first, second) => Ok(if self.folded { second } else { first }.with_timezone(&Utc)),
            chrono::LocalResult::None => Err(format!("local time {local} does not exist in {tz} (the hour skipped when summer time starts)")),
        }
    }
}

/// A time cell: an Excel time (fraction of a day) or text such as "12:04 AM" or "00:04".
fn time_of_day(cell: &Data) -> Result<NaiveTime, Reason> {
    let from_fraction = |f: f64| {
        let minutes = (f.fract() * 1440.0).round() as u32;
        NaiveTime::from_hms_opt(minutes / 60 % 24, minutes % 60, 0)
            .ok_or_else(|| format!("time {f} out of range"))
    };
    match cell {
        Data::DateTime(d) => from_fraction(d.as_f64()),
        Data::Float(f) => from_fraction(*f),
        Data::String(s) => NaiveTime::parse_from_str(s.trim(), "%I:%M %p")
            .or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M"))
            .or_else(|_| NaiveTime::parse_from_str(s.trim(), "%H:%M:%S"))
            .map_err(|_| format!("Time: `{s}` is not a time of day")),
        Data::Empty => Err("Time: empty".into()),
        other => Err(format!("Time: `{other}` is not a time of day")),
    }
}

/// A cell of value and unit, `None` when empty.
fn measured(cell: &Data, column: &str, unit: &str) -> Result<Option<f64>, Reason> {
    match cell {
        Data::Empty => Ok(None),
        Data::String(s) if s.trim().is_empty() => Ok(None),
        Data::String(s) => value_with_unit(s, unit)
            .map(Some)
            .map_err(|e| format!("{column}: {e}")),
        other => Err(format!("{column}: `{other}` has no unit {unit}")),
    }
}

fn reading(
    day: NaiveDate,
    row: &[Data],
    station: &Station,
    clock: &mut LocalClock,
    origin: Origin,
) -> Result<Reading, Reason> {
    let cell = |i: usize| row.get(i).unwrap_or(&Data::Empty);
    let local = day.and_time(time_of_day(cell(0))?);
    let at = clock.utc_of(local, station.timezone)?;
    let f_to_c = |v: Option<f64>| v.map(|f| round_to(fahrenheit_to_celsius(f), 2));
    let mph = |v: Option<f64>| v.map(|m| round_to(mph_to_kmh(m), 2));
    let inch = |v: Option<f64>| v.map(|i| round_to(inches_to_mm(i), 2));
    let wind_dir = match cell(4) {
        Data::Empty => None,
        Data::String(s) if s.trim().is_empty() => None,
        Data::String(s) => Some(
            compass_to_degrees(s).ok_or_else(|| format!("Wind: `{s}` is not a compass point"))?,
        ),
        other => return Err(format!("Wind: `{other}` is not a compass point")),
    };
    let pressure = measured(cell(7), "Pressure", "in")?;
    let pressure = if station.pressure_bug {
        pressure
    } else {
        pressure.map(|p| round_to(inhg_to_hpa(p), 2))
    };
    let uv = match cell(10) {
        Data::Empty => None,
        Data::Int(i) => Some(*i as f64),
        Data::Float(f) => Some(*f),
        Data::String(s) => Some(parse_number(s).map_err(|e| format!("UV: {e}"))?),
        other => return Err(format!("UV: `{other}` is not a number")),
    };
    let values = [
        f_to_c(measured(cell(1), "Temperature", "°F")?),
        f_to_c(measured(cell(2), "Dew Point", "°F")?),
        measured(cell(3), "Humidity", "%")?,
        pressure,
        wind_dir,
        mph(measured(cell(5), "Speed", "mph")?),
        mph(measured(cell(6), "Gust", "mph")?),
        inch(measured(cell(8), "Precip. Rate.", "in")?),
        inch(measured(cell(9), "Precip. Accum.", "in")?),
        uv,
        measured(cell(11), "Solar", "w/m²")?,
    ];
    Ok(Reading {
        station: station.id.clone(),
        source: SOURCE,
        at,
        values,
        extra: vec![],
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repeated_hour_resolves_in_order() {
        let tz: Tz = "Europe/Paris".parse().unwrap();
        let day = NaiveDate::from_ymd_opt(2024, 10, 27).unwrap();
        let mut clock = LocalClock::default();
        let t = |h, m| day.and_hms_opt(h, m, 0).unwrap();
        // 02:30 CEST (00:30 UTC), 02:55 CEST, then the clock goes back: 02:00 CET (01:00 UTC).
        assert_eq!(
            clock.utc_of(t(2, 30), tz).unwrap().to_rfc3339(),
            "2024-10-27T00:30:00+00:00"
        );
        assert_eq!(
            clock.utc_of(t(2, 55), tz).unwrap().to_rfc3339(),
            "2024-10-27T00:55:00+00:00"
        );
        assert_eq!(
            clock.utc_of(t(2, 0), tz).unwrap().to_rfc3339(),
            "2024-10-27T01:00:00+00:00"
        );
        assert_eq!(
            clock.utc_of(t(3, 0), tz).unwrap().to_rfc3339(),
            "2024-10-27T02:00:00+00:00"
        );
        let spring = NaiveDate::from_ymd_opt(2024, 3, 31)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert!(LocalClock::default()
            .utc_of(spring, tz)
            .unwrap_err()
            .contains("does not exist"));
    }

    #[test]
    fn time_cells() {
        assert_eq!(
            time_of_day(&Data::Float(4.0 / 1440.0)).unwrap(),
            NaiveTime::from_hms_opt(0, 4, 0).unwrap()
        );
        assert_eq!(
            time_of_day(&Data::String("12:04 PM".into())).unwrap(),
            NaiveTime::from_hms_opt(12, 4, 0).unwrap()
        );
        assert!(time_of_day(&Data::String("noon".into())).is_err());
    }
}
