//! Seeded Weather Underground workbooks of the real export's exact shape (sheet per local
//! day named DDMMYY, header, blank row, a reading every five minutes at :04, :09 … local
//! time, values as text with their imperial unit after a no-break space), for the two
//! stations of the course. The weather is plausible rather than real: a daily temperature
//! cycle, a slowly drifting pressure, gusty wind from a wandering direction, rain showers.
//! Traps a real feed has are parameters, so the audit and each alarm can be shown firing
//! on data that carries the condition.

use std::path::Path;

use chrono::{DateTime, Duration, NaiveDateTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};

use super::units::{celsius_to_fahrenheit, degrees_to_compass, hpa_to_inhg, kmh_to_mph};
use super::wunderground::HEADER;

/// A generated station: its file, its clock, and the base of its weather.
#[derive(Debug, Clone)]
pub struct StationPlan {
    /// The workbook's file name (`WU_<station>.xlsx`).
    pub file: String,
    /// The station's time zone (the workbook's times are local).
    pub timezone: Tz,
    /// The mean temperature its readings vary around, °C.
    pub mean_c: f64,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Seed of the generator.
    pub seed: u64,
    /// First local instant (station time) of the readings.
    pub from: NaiveDateTime,
    /// Last local instant (station time) of the readings.
    pub until: NaiveDateTime,
    /// The stations to write a workbook for.
    pub stations: Vec<StationPlan>,
    /// Rows per station whose temperature is not a number ("--"), to be quarantined.
    pub bad_rows: usize,
    /// Rows per station written twice (same time, same values), refused by the unique index.
    pub duplicate_rows: usize,
    /// Hours without readings in the middle of the period, first station only.
    pub gap_hours: u32,
    /// Hours the last station stops early (it falls silent before the others).
    pub outage_hours: u32,
}

/// What the generator planted, for the checks to compare with what the audit finds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Planted {
    /// Reading rows written, over every workbook.
    pub rows_written: usize,
    /// Rows whose temperature is `--`.
    pub bad_rows: usize,
    /// Rows written twice.
    pub duplicate_rows: usize,
    /// Rows left blank (the workbooks' day separators).
    pub blank_rows: usize,
}

struct Row {
    local: NaiveDateTime,
    cells: [Option<String>; 11],
    uv: u32,
}

fn text(value: f64, decimals: usize, unit: &str) -> Option<String> {
    Some(format!("{value:.decimals$}\u{a0}{unit}"))
}

/// The rows of one station, in local time order.
fn rows(plan: &Plan, index: usize, station: &StationPlan, rng: &mut ChaCha8Rng) -> Vec<Row> {
    let tz = station.timezone;
    let start: DateTime<Utc> = tz
        .from_local_datetime(&plan.from)
        .earliest()
        .expect("a start that exists")
        .with_timezone(&Utc);
    let mut end: DateTime<Utc> = tz
        .from_local_datetime(&plan.until)
        .latest()
        .expect("an end that exists")
        .with_timezone(&Utc);
    if index + 1 == plan.stations.len() {
        end -= Duration::hours(plan.outage_hours as i64);
    }
    let total_minutes = (end - start).num_minutes();
    let gap = if index == 0 && plan.gap_hours > 0 {
        let mid = start + Duration::minutes(total_minutes / 2);
        Some((mid, mid + Duration::hours(plan.gap_hours as i64)))
    } else {
        None
    };
    let (mut pressure_hpa, mut direction, mut rain_left, mut accum_in) = (
        1014.0 + rng.random_range(-6.0..6.0),
        rng.random_range(0.0..360.0),
        0u32,
        0.0f64,
    );
    let mut out = Vec::new();
    let mut day = None;
    // Readings at minute 4, 9, … of local time: start from the first such UTC instant.
    let mut t = start + Duration::minutes(((4 - start.minute() as i64) % 5 + 5) % 5);
    while t <= end {
        let local = t.with_timezone(&tz).naive_local();
        if gap.is_some_and(|(a, b)| t >= a && t < b) || rng.random_bool(0.004) {
            t += Duration::minutes(5);
            continue;
        }
        if day != Some(local.date()) {
            day = Some(local.date());
            accum_in = 0.0;
        }
        let hour = local.hour() as f64 + local.minute() as f64 / 60.0;
        let daylight = ((hour - 7.5) / 11.0 * std::f64::consts::PI).sin().max(0.0);
        let temp_c = station.mean_c
            + 4.5 * ((hour - 9.0) / 24.0 * 2.0 * std::f64::consts::PI).sin()
            + rng.random_range(-0.3..0.3);
        let spread = 1.5 + 3.0 * daylight + rng.random_range(0.0..0.8);
        let dew_c = temp_c - spread;
        let humidity = (100.0
            * ((17.625 * dew_c) / (243.04 + dew_c) - (17.625 * temp_c) / (243.04 + temp_c)).exp())
        .round()
        .min(100.0);
        pressure_hpa += rng.random_range(-0.12..0.12);
        direction = (direction + rng.random_range(-20.0..20.0) + 360.0) % 360.0;
        let wind_kmh: f64 = (rng.random_range(0.0f64..1.0).powf(1.6) * 28.0).max(0.0);
        let gust_kmh = wind_kmh * rng.random_range(1.1..1.9) + rng.random_range(0.0..3.0);
        if rain_left == 0 && rng.random_bool(0.006) {
            rain_left = rng.random_range(4..30);
        }
        let rate_in = if rain_left > 0 {
            rain_left -= 1;
            rng.random_range(0.01..0.25)
        } else {
            0.0
        };
        accum_in += rate_in / 12.0;
        let solar = (daylight * rng.random_range(250.0..560.0) * 10.0).round() / 10.0;
        let calm = wind_kmh < 0.8;
        out.push(Row {
            local,
            cells: [
                text(celsius_to_fahrenheit(temp_c), 1, "°F"),
                text(celsius_to_fahrenheit(dew_c), 1, "°F"),
                Some(format!("{humidity:.0}\u{a0}%")),
                if calm {
                    None
                } else {
                    Some(degrees_to_compass(direction).to_string())
                },
                text(kmh_to_mph(wind_kmh), 1, "mph"),
                text(kmh_to_mph(gust_kmh), 1, "mph"),
                text(hpa_to_inhg(pressure_hpa), 2, "in"),
                text(rate_in, 2, "in"),
                text(accum_in, 2, "in"),
                None,
                Some(if solar >= 100.0 {
                    format!("{solar:.0}\u{a0}w/m²")
                } else {
                    format!("{solar}\u{a0}w/m²")
                }),
            ],
            uv: (daylight * 3.4).floor() as u32,
        });
        t += Duration::minutes(5);
    }
    out
}

/// A workbook the writer refused, named.
fn xlsx(file: &str) -> impl FnOnce(rust_xlsxwriter::XlsxError) -> crate::Error {
    crate::Error::failed(super::CHAPTER, format!("writing the workbook {file}"))
}

/// Writes one workbook per station into `dir`; returns the file names and what was planted.
pub fn generate(plan: &Plan, dir: &Path) -> crate::Result<(Vec<String>, Planted)> {
    std::fs::create_dir_all(dir).map_err(crate::Error::io(dir))?;
    let mut rng = ChaCha8Rng::seed_from_u64(plan.seed);
    let mut planted = Planted::default();
    let mut files = Vec::new();
    for (index, station) in plan.stations.iter().enumerate() {
        let mut rows = rows(plan, index, station, &mut rng);
        // Traps, at positions drawn from the seed, away from each other.
        let n = rows.len();
        for _ in 0..plan.bad_rows.min(n) {
            let i = rng.random_range(0..n);
            rows[i].cells[0] = Some("--\u{a0}°F".into());
        }
        let mut duplicated = Vec::new();
        for _ in 0..plan.duplicate_rows.min(n) {
            duplicated.push(rng.random_range(0..n));
        }
        duplicated.sort_unstable();
        for (shift, i) in duplicated.iter().enumerate() {
            let copy = Row {
                local: rows[i + shift].local,
                cells: rows[i + shift].cells.clone(),
                uv: rows[i + shift].uv,
            };
            rows.insert(i + shift + 1, copy);
        }
        let bad = rows
            .iter()
            .filter(|r| r.cells[0].as_deref() == Some("--\u{a0}°F"))
            .count();
        planted.bad_rows += bad;
        planted.duplicate_rows += duplicated.len();
        planted.rows_written += rows.len();

        let mut book = Workbook::new();
        // Fixed document dates: the bytes depend only on the plan.
        let created = ExcelDateTime::from_ymd(2024, 10, 7).map_err(xlsx(&station.file))?;
        book.set_properties(&DocProperties::new().set_creation_datetime(&created));
        let time_format = Format::new().set_num_format("h:mm AM/PM");
        let mut days: Vec<chrono::NaiveDate> = rows.iter().map(|r| r.local.date()).collect();
        days.dedup();
        for day in days {
            let sheet = book.add_worksheet();
            sheet
                .set_name(day.format("%d%m%y").to_string())
                .map_err(xlsx(&station.file))?;
            for (c, name) in HEADER.iter().enumerate() {
                sheet
                    .write_string(0, c as u16, *name)
                    .map_err(xlsx(&station.file))?;
            }
            planted.blank_rows += 1; // row 2 stays empty, as in the real export
            for (r, row) in rows.iter().filter(|r| r.local.date() == day).enumerate() {
                let line = r as u32 + 2;
                let fraction = (row.local.hour() * 60 + row.local.minute()) as f64 / 1440.0;
                sheet
                    .write_number_with_format(line, 0, fraction, &time_format)
                    .map_err(xlsx(&station.file))?;
                for (c, cell) in row.cells.iter().enumerate() {
                    if c == 9 {
                        sheet
                            .write_number(line, 10, row.uv as f64)
                            .map_err(xlsx(&station.file))?;
                    } else if let Some(value) = cell {
                        sheet
                            .write_string(line, c as u16 + 1, value)
                            .map_err(xlsx(&station.file))?;
                    }
                }
            }
        }
        let bytes = book.save_to_buffer().map_err(xlsx(&station.file))?;
        let path = dir.join(&station.file);
        std::fs::write(&path, bytes).map_err(crate::Error::io(&path))?;
        files.push(station.file.clone());
    }
    Ok((files, planted))
}
