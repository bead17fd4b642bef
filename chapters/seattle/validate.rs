//! What the API accepts: one table, [`FIELDS`], checked by the engine's strict validator
//! ([`crate::api::rules`]: exactly the declared fields, each of its type and inside its
//! range or enumeration, every problem reported with its field) and written into the OpenAPI
//! document from the same table, so the docs cannot drift from what the server enforces. No rule spans two fields: the floor area is
//! given as building plus parking (the total is their sum, as in every row of the city's
//! file), so parking can never exceed the total and the schema alone says what is valid.

use serde_json::Value;

use super::model::Building;
use crate::api::rules::{self, kind};
pub use crate::api::rules::{Domains, Field, FieldError, Rule};

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

/// Validates one building at `path` (empty for a top-level body): either a building or
/// every problem found.
pub fn building(value: &Value, path: &str, domains: &Domains) -> Result<Building, Vec<FieldError>> {
    let valid = rules::object(value, path, FIELDS, domains)?;
    let (mut text, number) = (valid.text, valid.number);
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

/// The example body, valid by construction; used by the docs, the chapter's rule checks and
/// the tests.
pub fn example(domains: &Domains) -> Value {
    rules::example(FIELDS, domains)
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
