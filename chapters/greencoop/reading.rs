//! The one document schema every source is normalised to, and what happens to a row that
//! cannot be: it is quarantined with its file, sheet, row and reason, and counted.

use chrono::{DateTime, SecondsFormat, Utc};
use mongodb::bson::{doc, Bson, Document};

use crate::error::BoxError;

/// A raw file whose shape is not its source's (not a workbook, a sheet that is not a day, a
/// header that differs): the whole file is refused. A row with a bad value is quarantined
/// instead, with its reason as text.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {problem}", sheet.as_ref().map(|s| format!(", sheet {s}")).unwrap_or_default())]
pub struct ShapeError {
    /// The file, as it landed.
    pub file: String,
    /// The sheet (workbooks) or the station array (JSON), when the problem is inside one.
    pub sheet: Option<String>,
    /// What is wrong.
    pub problem: String,
    /// What the reader said, when a library refused the bytes.
    #[source]
    pub source: Option<BoxError>,
}

impl ShapeError {
    /// A refusal of `file` (or of one of its sheets) for `problem`.
    pub fn new(file: &str, sheet: Option<&str>, problem: impl Into<String>) -> ShapeError {
        ShapeError {
            file: file.to_string(),
            sheet: sheet.map(str::to_string),
            problem: problem.into(),
            source: None,
        }
    }

    /// The same, with the library error that refused the bytes.
    pub fn because(mut self, source: impl Into<BoxError>) -> ShapeError {
        self.source = Some(source.into());
        self
    }
}

/// A measured quantity of the schema: document field, unit, and the range rule the audit
/// applies (`None` when the issue declares no range for it).
pub struct Field {
    /// The document field.
    pub name: &'static str,
    /// Its unit, after normalisation.
    pub unit: &'static str,
    /// The lowest and highest value the range audit accepts.
    pub range: Option<(f64, f64)>,
}

/// The schema's measurements, in document order. Wind range: 0…50 m/s = 0…180 km/h.
pub const FIELDS: [Field; 11] = [
    Field {
        name: "temperature_c",
        unit: "°C",
        range: Some((-50.0, 50.0)),
    },
    Field {
        name: "dew_point_c",
        unit: "°C",
        range: Some((-50.0, 50.0)),
    },
    Field {
        name: "humidity_pct",
        unit: "%",
        range: Some((0.0, 100.0)),
    },
    Field {
        name: "pressure_hpa",
        unit: "hPa",
        range: Some((800.0, 1100.0)),
    },
    Field {
        name: "wind_dir_deg",
        unit: "°",
        range: Some((0.0, 360.0)),
    },
    Field {
        name: "wind_kmh",
        unit: "km/h",
        range: Some((0.0, 180.0)),
    },
    Field {
        name: "gust_kmh",
        unit: "km/h",
        range: Some((0.0, 180.0)),
    },
    Field {
        name: "precip_rate_mm_h",
        unit: "mm/h",
        range: None,
    },
    Field {
        name: "precip_accum_mm",
        unit: "mm",
        range: None,
    },
    Field {
        name: "uv_index",
        unit: "",
        range: None,
    },
    Field {
        name: "solar_w_m2",
        unit: "W/m²",
        range: None,
    },
];

/// Where a row came from, kept on its document and on its quarantine record.
#[derive(Debug, Clone, PartialEq)]
pub struct Origin {
    /// The raw file's name.
    pub file: String,
    /// The workbook sheet, or the JSON path (`hourly.07015`).
    pub sheet: String,
    /// 1-based row in the sheet, or 0-based index in the JSON array.
    pub row: usize,
}

/// One normalised reading.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// The station id.
    pub station: String,
    /// The source it was read from (`infoclimat`, `wunderground`).
    pub source: &'static str,
    /// The instant of the reading, UTC.
    pub at: DateTime<Utc>,
    /// The values of [`FIELDS`], in that order.
    pub values: [Option<f64>; 11],
    /// Source fields outside the schema, kept rather than dropped (visibility, 3-hour rain…).
    pub extra: Vec<(String, Bson)>,
    /// The file, sheet and row it was read from.
    pub origin: Origin,
}

impl Reading {
    /// The document key: station and instant (`07015/2024-10-05T00:00:00Z`), so a rerun finds the same key.
    pub fn id(&self) -> String {
        format!(
            "{}/{}",
            self.station,
            self.at.to_rfc3339_opts(SecondsFormat::Secs, true)
        )
    }

    /// The stored document: a deterministic `_id` (station and instant), every schema field
    /// present (null when not measured, so completeness is countable), the extras, the origin.
    pub fn to_document(&self) -> Document {
        let mut d = doc! {
            "_id": self.id(),
            "station": &self.station,
            "source": self.source,
            "ts": mongodb::bson::DateTime::from_millis(self.at.timestamp_millis()),
        };
        for (field, value) in FIELDS.iter().zip(self.values) {
            d.insert(field.name, value.map(Bson::Double).unwrap_or(Bson::Null));
        }
        if !self.extra.is_empty() {
            d.insert("extra", self.extra.iter().cloned().collect::<Document>());
        }
        d.insert("origin", doc! {"file": &self.origin.file, "sheet": &self.origin.sheet, "row": self.origin.row as i64});
        d
    }
}

/// A row that could not be normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Quarantined {
    /// The file, sheet and row it was read from.
    pub origin: Origin,
    /// Why it was refused, naming the field.
    pub reason: String,
    /// The row as read, for whoever repairs it.
    pub raw: String,
}

impl Quarantined {
    /// The quarantine record, keyed by file, sheet and row (a rerun replaces it).
    pub fn to_document(&self) -> Document {
        doc! {
            "_id": format!("{}#{}#{}", self.origin.file, self.origin.sheet, self.origin.row),
            "file": &self.origin.file, "sheet": &self.origin.sheet, "row": self.origin.row as i64,
            "reason": &self.reason, "raw": &self.raw,
        }
    }
}

/// What a parser made of one file.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    /// The rows normalised.
    pub readings: Vec<Reading>,
    /// The rows refused, each with its reason.
    pub quarantined: Vec<Quarantined>,
    /// Rows with no value at all (Weather Underground's blank second row).
    pub blank_rows: usize,
}

impl Parsed {
    /// Rows that held data: each became a reading or a quarantine record.
    pub fn rows_read(&self) -> usize {
        self.readings.len() + self.quarantined.len()
    }

    /// Adds another file's rows.
    pub fn extend(&mut self, other: Parsed) {
        self.readings.extend(other.readings);
        self.quarantined.extend(other.quarantined);
        self.blank_rows += other.blank_rows;
    }
}
