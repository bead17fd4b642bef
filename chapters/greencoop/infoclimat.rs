//! The InfoClimat API export: stations with their licences, and `hourly.<station>` arrays of
//! readings in metric units where every value is a string, `null` or empty. `hourly` also
//! holds `_params`, the list of parameters, which is not a station.

use chrono::{NaiveDateTime, TimeZone, Utc};
use mongodb::bson::{doc, Bson, Document};
use serde_json::Value;

use super::reading::{Origin, Parsed, Quarantined, Reading, ShapeError};
use super::units::parse_number;
use crate::error::Reason;

/// The `source` field of the documents read from InfoClimat.
pub const SOURCE: &str = "infoclimat";

/// Source field → index in the schema's `FIELDS` (units already metric: °C, hPa, %, °, km/h,
/// mm in the last hour, which is the mean rate in mm/h over that hour).
const SCHEMA: [(&str, usize); 8] = [
    ("temperature", 0),
    ("point_de_rosee", 1),
    ("humidite", 2),
    ("pression", 3),
    ("vent_direction", 4),
    ("vent_moyen", 5),
    ("vent_rafales", 6),
    ("pluie_1h", 7),
];

/// Source fields kept under `extra` with their unit in the name.
const EXTRA: [(&str, &str); 5] = [
    ("visibilite", "visibility_m"),
    ("pluie_3h", "precip_3h_mm"),
    ("neige_au_sol", "snow_depth_cm"),
    ("nebulosite", "cloud_octas"),
    ("temps_omm", "present_weather_code"),
];

/// The stations of the export as documents (`_id` = station id), licence included.
pub fn stations(json: &Value) -> Vec<Document> {
    let mut out = Vec::new();
    for s in json
        .get("stations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let text = |k: &str| {
            s.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let num = |k: &str| {
            s.get(k)
                .and_then(Value::as_f64)
                .map(Bson::Double)
                .unwrap_or(Bson::Null)
        };
        let licence = s.get("license").cloned().unwrap_or(Value::Null);
        out.push(doc! {
            "_id": text("id"), "name": text("name"), "source": SOURCE, "kind": text("type"),
            "latitude": num("latitude"), "longitude": num("longitude"), "elevation_m": num("elevation"),
            "timezone": "UTC",
            "licence": licence.get("license").and_then(Value::as_str).unwrap_or_default(),
            "licence_url": licence.get("url").and_then(Value::as_str).unwrap_or_default(),
            "attribution": licence.get("source").and_then(Value::as_str).unwrap_or_default(),
        });
    }
    out
}

/// Parses the export's readings. A file that is not the export's shape is an error; a row
/// with a value that is not a number, an unknown field or a bad time is quarantined.
pub fn parse(file: &str, bytes: &[u8]) -> Result<(Parsed, Vec<Document>), ShapeError> {
    let json: Value = serde_json::from_slice(bytes)
        .map_err(|e| ShapeError::new(file, None, "not JSON").because(e))?;
    let hourly = json
        .get("hourly")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            ShapeError::new(file, None, "no `hourly` object (not an InfoClimat export)")
        })?;
    let mut parsed = Parsed::default();
    for (station, rows) in hourly {
        if station == "_params" {
            continue;
        }
        let rows = rows.as_array().ok_or_else(|| {
            ShapeError::new(file, None, format!("hourly.{station} is not an array"))
        })?;
        for (i, row) in rows.iter().enumerate() {
            let origin = Origin {
                file: file.to_string(),
                sheet: format!("hourly.{station}"),
                row: i,
            };
            match reading(station, row, origin.clone()) {
                Ok(r) => parsed.readings.push(r),
                Err(reason) => parsed.quarantined.push(Quarantined {
                    origin,
                    reason,
                    raw: row.to_string(),
                }),
            }
        }
    }
    Ok((parsed, stations(&json)))
}

/// A value that is a string holding a number, or null/empty (not measured).
fn number(field: &str, v: &Value) -> Result<Option<f64>, Reason> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) if s.trim().is_empty() => Ok(None),
        Value::String(s) => parse_number(s)
            .map(Some)
            .map_err(|e| format!("{field}: {e}")),
        Value::Number(n) => n
            .as_f64()
            .map(Some)
            .ok_or_else(|| format!("{field}: {n} is not a finite number")),
        other => Err(format!("{field}: {other} is not a number")),
    }
}

fn reading(station: &str, row: &Value, origin: Origin) -> Result<Reading, Reason> {
    let object = row.as_object().ok_or("not an object")?;
    let id = object
        .get("id_station")
        .and_then(Value::as_str)
        .ok_or("no id_station")?;
    if id != station {
        return Err(format!("id_station `{id}` under hourly.{station}"));
    }
    let when = object
        .get("dh_utc")
        .and_then(Value::as_str)
        .ok_or("no dh_utc")?;
    let naive = NaiveDateTime::parse_from_str(when, "%Y-%m-%d %H:%M:%S")
        .map_err(|e| format!("dh_utc `{when}`: {e}"))?;
    let mut values = [None; 11];
    let mut extra = Vec::new();
    for (key, v) in object {
        if key == "id_station" || key == "dh_utc" {
            continue;
        }
        if let Some((_, index)) = SCHEMA.iter().find(|(k, _)| k == key) {
            values[*index] = number(key, v)?;
        } else if let Some((_, name)) = EXTRA.iter().find(|(k, _)| k == key) {
            if let Some(x) = number(key, v)? {
                extra.push((name.to_string(), Bson::Double(x)));
            }
        } else {
            return Err(format!("unknown field `{key}`"));
        }
    }
    Ok(Reading {
        station: station.to_string(),
        source: SOURCE,
        at: Utc.from_utc_datetime(&naive),
        values,
        extra,
        origin,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_nulls_and_empties() {
        let json = r#"{"stations":[{"id":"X","name":"Ex","latitude":50.5,"longitude":3.0,"elevation":10,"type":"static","license":{"license":"CC BY"}}],
            "hourly":{"X":[{"id_station":"X","dh_utc":"2024-10-05 00:10:00","temperature":"6.3","pression":"1019.1","humidite":"95","vent_rafales":null,"nebulosite":"","pluie_3h":"0.2"},
                           {"id_station":"X","dh_utc":"2024-10-05 00:20:00","temperature":"n/a"},
                           {"id_station":"X","dh_utc":"2024-10-05 00:30:00","ozone":"3"}],"_params":["temperature"]}}"#;
        let (parsed, stations) = parse("f.json", json.as_bytes()).unwrap();
        assert_eq!(stations.len(), 1);
        assert_eq!(parsed.readings.len(), 1);
        let r = &parsed.readings[0];
        assert_eq!(r.values[0], Some(6.3));
        assert_eq!(r.values[3], Some(1019.1));
        assert_eq!(r.values[6], None);
        assert_eq!(
            r.extra,
            vec![("precip_3h_mm".to_string(), Bson::Double(0.2))]
        );
        assert_eq!(r.id(), "X/2024-10-05T00:10:00Z");
        assert_eq!(parsed.quarantined.len(), 2);
        assert_eq!(
            parsed.quarantined[0].reason,
            "temperature: `n/a` is not a number"
        );
        assert_eq!(
            (
                parsed.quarantined[0].origin.sheet.as_str(),
                parsed.quarantined[0].origin.row
            ),
            ("hourly.X", 1)
        );
        assert_eq!(parsed.quarantined[1].reason, "unknown field `ozone`");
    }
}
