//! Strict validation of the API's input, as Pydantic would do it: a JSON object with exactly
//! the declared fields, each of the declared type and inside its range or enumeration.
//! Every problem is reported (not just the first), each naming its field. The rules are one
//! table, [`FIELDS`]: the validator reads it, and so does the OpenAPI document, so the docs
//! cannot drift from what the server enforces. No rule spans two fields: the floor area is
//! given as building plus parking (the total is their sum, as in every row of the city's
//! file), so parking can never exceed the total and the schema alone says what is valid.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};

use super::model::Building;
use crate::error::Reason;

/// What one field must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// One of the values the model was trained on (the model file's `domains`).
    OneOf {
        /// The categorical input whose training values are the domain.
        domain: &'static str,
    },
    /// A whole number in `min..=max`.
    Integer {
        /// Lowest value.
        min: i64,
        /// Highest value.
        max: i64,
    },
    /// A number in the range; `exclusive_min` makes `min` itself invalid (areas > 0).
    Number {
        /// Lowest value.
        min: f64,
        /// Highest value.
        max: f64,
        /// Whether `min` itself is refused.
        exclusive_min: bool,
    },
}

/// One input field.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    /// The field's name in the request body.
    pub name: &'static str,
    /// What a value must be.
    pub rule: Rule,
    /// Whether a body without it is refused.
    pub required: bool,
    /// What the field means, for the OpenAPI document.
    pub help: &'static str,
    /// The value in the example body (a number written as text for numeric fields).
    pub example: &'static str,
}

/// Seattle's city limits, slightly widened: a building outside is not a Seattle building.
const LATITUDE: (f64, f64) = (47.48, 47.74);
const LONGITUDE: (f64, f64) = (-122.46, -122.22);
/// The largest floor area accepted: about twice the largest campus in the data.
const MAX_AREA: f64 = 20_000_000.0;

/// The input fields, in the order the docs list them.
pub const FIELDS: &[Field] = &[
    Field {
        name: "building_type",
        rule: Rule::OneOf {
            domain: "building_type",
        },
        required: true,
        help: "the city's building type (non-residential only)",
        example: "NonResidential",
    },
    Field {
        name: "primary_property_type",
        rule: Rule::OneOf {
            domain: "primary_property_type",
        },
        required: true,
        help: "the primary property use",
        example: "Small- and Mid-Sized Office",
    },
    Field {
        name: "neighborhood",
        rule: Rule::OneOf {
            domain: "neighborhood",
        },
        required: true,
        help: "the city's neighbourhood, upper case",
        example: "DOWNTOWN",
    },
    Field {
        name: "largest_use_type",
        rule: Rule::OneOf {
            domain: "largest_use_type",
        },
        required: false,
        help: "the largest property use; `Unknown` when absent",
        example: "Office",
    },
    Field {
        name: "year_built",
        rule: Rule::Integer {
            min: 1850,
            max: 2030,
        },
        required: true,
        help: "year of construction (planned buildings up to 2030)",
        example: "1985",
    },
    Field {
        name: "number_of_buildings",
        rule: Rule::Integer { min: 0, max: 500 },
        required: true,
        help: "buildings on the property",
        example: "1",
    },
    Field {
        name: "number_of_floors",
        rule: Rule::Integer { min: 0, max: 150 },
        required: true,
        help: "floors of the main building",
        example: "6",
    },
    Field {
        name: "gfa_building_sqft",
        rule: Rule::Number {
            min: 0.0,
            max: MAX_AREA,
            exclusive_min: true,
        },
        required: true,
        help: "gross floor area of the building(s), parking excluded, square feet",
        example: "76000",
    },
    Field {
        name: "gfa_parking_sqft",
        rule: Rule::Number {
            min: 0.0,
            max: MAX_AREA,
            exclusive_min: false,
        },
        required: true,
        help: "gross floor area of parking, square feet (0 when none)",
        example: "12000",
    },
    Field {
        name: "largest_use_gfa_sqft",
        rule: Rule::Number {
            min: 0.0,
            max: MAX_AREA,
            exclusive_min: true,
        },
        required: false,
        help: "floor area of the largest use, square feet; the building area when absent",
        example: "70000",
    },
    Field {
        name: "latitude",
        rule: Rule::Number {
            min: LATITUDE.0,
            max: LATITUDE.1,
            exclusive_min: false,
        },
        required: true,
        help: "WGS 84 latitude, within Seattle",
        example: "47.6097",
    },
    Field {
        name: "longitude",
        rule: Rule::Number {
            min: LONGITUDE.0,
            max: LONGITUDE.1,
            exclusive_min: false,
        },
        required: true,
        help: "WGS 84 longitude, within Seattle",
        example: "-122.3331",
    },
];

/// One problem with the input, as the 422 answer lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Path of the field: `year_built`, or `buildings[2].year_built` in a batch; `body` for
    /// the document as a whole.
    pub field: String,
    /// What is wrong, in words.
    pub message: String,
}

impl FieldError {
    /// An error on `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldError {
        FieldError {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// The categorical domains the model accepts, by domain name.
pub type Domains = BTreeMap<String, Vec<String>>;

/// Validates one building at `path` (empty for a top-level body): either a building or
/// every problem found.
pub fn building(value: &Value, path: &str, domains: &Domains) -> Result<Building, Vec<FieldError>> {
    let at = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let Some(object) = value.as_object() else {
        return Err(vec![FieldError::new(
            if path.is_empty() { "body" } else { path },
            format!("expected a JSON object, got {}", kind(value)),
        )]);
    };
    let mut errors = Vec::new();
    for key in object.keys() {
        if !FIELDS.iter().any(|f| f.name == key) {
            errors.push(FieldError::new(at(key), "unknown field"));
        }
    }
    let mut text = BTreeMap::new();
    let mut number = BTreeMap::new();
    for field in FIELDS {
        match object.get(field.name) {
            None | Some(Value::Null) if field.required => {
                errors.push(FieldError::new(at(field.name), "field required"))
            }
            None | Some(Value::Null) => {}
            Some(v) => match check(field, v, domains) {
                Ok(Checked::Text(s)) => {
                    text.insert(field.name, s);
                }
                Ok(Checked::Number(n)) => {
                    number.insert(field.name, n);
                }
                Err(message) => errors.push(FieldError::new(at(field.name), message)),
            },
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let building_area = number["gfa_building_sqft"];
    let parking = number["gfa_parking_sqft"];
    let total = building_area + parking;
    Ok(Building {
        building_type: text.remove("building_type").unwrap_or_default(),
        primary_property_type: text.remove("primary_property_type").unwrap_or_default(),
        neighborhood: text.remove("neighborhood").unwrap_or_default(),
        largest_use_type: text
            .remove("largest_use_type")
            .unwrap_or_else(|| "Unknown".to_string()),
        year_built: number["year_built"],
        number_of_buildings: number["number_of_buildings"],
        number_of_floors: number["number_of_floors"],
        gfa_total_sqft: total,
        gfa_parking_sqft: parking,
        gfa_building_sqft: building_area,
        largest_use_gfa_sqft: number
            .get("largest_use_gfa_sqft")
            .copied()
            .unwrap_or(building_area),
        latitude: number["latitude"],
        longitude: number["longitude"],
    })
}

/// Validates a batch body `{"buildings": [...]}` of 1 to `max` buildings.
pub fn batch(
    value: &Value,
    max: usize,
    domains: &Domains,
) -> Result<Vec<Building>, Vec<FieldError>> {
    let Some(object) = value.as_object() else {
        return Err(vec![FieldError::new(
            "body",
            format!("expected a JSON object, got {}", kind(value)),
        )]);
    };
    let mut errors: Vec<FieldError> = object
        .keys()
        .filter(|k| *k != "buildings")
        .map(|k| FieldError::new(k.as_str(), "unknown field"))
        .collect();
    let items = match object.get("buildings") {
        Some(Value::Array(items)) if items.is_empty() => {
            errors.push(FieldError::new(
                "buildings",
                "at least one building is required",
            ));
            return Err(errors);
        }
        Some(Value::Array(items)) if items.len() > max => {
            errors.push(FieldError::new(
                "buildings",
                format!("{} buildings: at most {max} per request", items.len()),
            ));
            return Err(errors);
        }
        Some(Value::Array(items)) => items,
        Some(other) => {
            errors.push(FieldError::new(
                "buildings",
                format!("expected an array, got {}", kind(other)),
            ));
            return Err(errors);
        }
        None => {
            errors.push(FieldError::new("buildings", "field required"));
            return Err(errors);
        }
    };
    let mut buildings = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        match building(item, &format!("buildings[{i}]"), domains) {
            Ok(b) => buildings.push(b),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() {
        Ok(buildings)
    } else {
        Err(errors)
    }
}

enum Checked {
    Text(String),
    Number(f64),
}

fn check(field: &Field, value: &Value, domains: &Domains) -> Result<Checked, Reason> {
    match field.rule {
        Rule::OneOf { domain } => {
            let Value::String(s) = value else {
                return Err(format!("expected a string, got {}", kind(value)));
            };
            let allowed = domains.get(domain).map(Vec::as_slice).unwrap_or_default();
            if allowed.iter().any(|a| a == s) {
                Ok(Checked::Text(s.clone()))
            } else {
                Err(format!("{s:?} is not one of the {} accepted values (see the OpenAPI enum or GET /model)", allowed.len()))
            }
        }
        Rule::Integer { min, max } => {
            // 1998 and 1998.0 are the same integer in JSON; 1998.5 is not an integer.
            let n = value
                .as_f64()
                .filter(|_| value.is_number())
                .ok_or_else(|| format!("expected an integer, got {}", kind(value)))?;
            if n.fract() != 0.0 {
                return Err(format!("expected an integer, got {n}"));
            }
            if n < min as f64 || n > max as f64 {
                return Err(format!("{n} is outside {min}..={max}"));
            }
            Ok(Checked::Number(n))
        }
        Rule::Number {
            min,
            max,
            exclusive_min,
        } => {
            let n = value
                .as_f64()
                .filter(|_| value.is_number())
                .ok_or_else(|| format!("expected a number, got {}", kind(value)))?;
            let low_ok = if exclusive_min { n > min } else { n >= min };
            if !low_ok || n > max {
                let low = if exclusive_min {
                    format!("greater than {min}")
                } else {
                    format!("at least {min}")
                };
                return Err(format!("{n} must be {low} and at most {max}"));
            }
            Ok(Checked::Number(n))
        }
    }
}

/// The JSON type of a value, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The example body: each field's example, an enumerated one replaced by the domain's first
/// value if the model does not know it. Valid by construction; used by the docs, the
/// chapter's rule checks and the tests.
pub fn example(domains: &Domains) -> Value {
    let mut m = Map::new();
    for field in FIELDS {
        let v = match field.rule {
            Rule::OneOf { domain } => {
                let known = domains.get(domain).map(Vec::as_slice).unwrap_or_default();
                let chosen = if known.iter().any(|k| k == field.example) {
                    Some(field.example)
                } else {
                    known.first().map(String::as_str)
                };
                chosen.map(Value::from).unwrap_or(Value::Null)
            }
            Rule::Integer { .. } => {
                Value::from(field.example.parse::<i64>().expect("integer example"))
            }
            Rule::Number { .. } => {
                Value::from(field.example.parse::<f64>().expect("number example"))
            }
        };
        m.insert(field.name.to_string(), v);
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domains() -> Domains {
        [
            "building_type",
            "primary_property_type",
            "neighborhood",
            "largest_use_type",
        ]
        .iter()
        .map(|d| (d.to_string(), vec!["A".to_string(), "B".to_string()]))
        .collect()
    }

    #[test]
    fn the_example_is_valid_and_fills_the_optional_area() {
        let b = building(&example(&domains()), "", &domains()).unwrap();
        assert_eq!(b.gfa_building_sqft, 76_000.0);
        assert_eq!(b.largest_use_gfa_sqft, 70_000.0);
        assert_eq!(
            b.building_type, "A",
            "an example the domain lacks falls back to its first value"
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_field() {
        let mut body = example(&domains());
        body["year_built"] = Value::from(1998.5);
        body["neighborhood"] = Value::from("Nowhere");
        body["gfa_parking_sqft"] = Value::from(1e9);
        body["colour"] = Value::from("red");
        body.as_object_mut().unwrap().remove("latitude");
        let mut fields: Vec<String> = building(&body, "", &domains())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "colour",
                "gfa_parking_sqft",
                "latitude",
                "neighborhood",
                "year_built"
            ]
        );
    }

    #[test]
    fn the_total_area_is_building_plus_parking() {
        let b = building(&example(&domains()), "", &domains()).unwrap();
        assert_eq!(b.gfa_total_sqft, 88_000.0);
        assert!(b.gfa_parking_sqft <= b.gfa_total_sqft);
    }
}
