//! Strict validation of a JSON body, as Pydantic would do it: an object with exactly the
//! declared fields, each of the declared type and inside its range, enumeration or length.
//! Every problem is reported (not just the first), each naming its field. An API declares its
//! body as one table of [`Field`]s: the validator reads it, and so does the OpenAPI document
//! ([`document`]), so the docs cannot drift from what the server enforces.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::openapi::schema::{AdditionalProperties, Object};

use crate::error::Reason;

/// What one field must be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// One of the values of a domain the API knows at run time (e.g. what a model was
    /// trained on, or the communes of the events served).
    OneOf {
        /// The domain's name in [`Domains`].
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
    /// A string of `min_chars..=max_chars` characters, not counting the spaces around it.
    Text {
        /// Fewest characters.
        min_chars: usize,
        /// Most characters.
        max_chars: usize,
    },
}

impl Rule {
    /// The JSON type and what is accepted, in words (for the book's table of rules).
    pub fn describe(&self, domains: &Domains) -> (&'static str, String) {
        match *self {
            Rule::OneOf { domain } => (
                "string",
                format!("one of {} values", domains.get(domain).map_or(0, Vec::len)),
            ),
            Rule::Integer { min, max } => ("integer", format!("{min} to {max}")),
            Rule::Number {
                min,
                max,
                exclusive_min: true,
            } => ("number", format!("> {min}, ≤ {max}")),
            Rule::Number { min, max, .. } => ("number", format!("{min} to {max}")),
            Rule::Text {
                min_chars,
                max_chars,
            } => ("string", format!("{min_chars} to {max_chars} characters")),
        }
    }

    /// A value of the right type that the rule refuses (just outside its range or
    /// enumeration), to show in the book that each rule is enforced.
    pub fn broken_value(&self) -> Value {
        match *self {
            Rule::OneOf { .. } => Value::from("NOT A KNOWN VALUE"),
            Rule::Integer { min, .. } => Value::from(min - 1),
            Rule::Number {
                min,
                exclusive_min: true,
                ..
            } => Value::from(min),
            Rule::Number { min, .. } => Value::from(min - 1.0),
            Rule::Text { max_chars, .. } => Value::from("x".repeat(max_chars + 1)),
        }
    }
}

/// One field of a body.
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

/// The values a [`Rule::OneOf`] field accepts, by domain name.
pub type Domains = BTreeMap<String, Vec<String>>;

/// A body that passed: its text and number fields by name (an absent optional field is in
/// neither).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Valid {
    /// Fields of [`Rule::OneOf`] and [`Rule::Text`], as given (text trimmed).
    pub text: BTreeMap<&'static str, String>,
    /// Fields of [`Rule::Integer`] and [`Rule::Number`].
    pub number: BTreeMap<&'static str, f64>,
}

/// The path of field `name` inside the object at `path` (empty for a top-level body).
pub fn at(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Validates the object at `path` against `fields`: its values, or every problem found.
/// `null` counts as absent.
pub fn object(
    value: &Value,
    path: &str,
    fields: &[Field],
    domains: &Domains,
) -> Result<Valid, Vec<FieldError>> {
    let Some(object) = value.as_object() else {
        return Err(vec![FieldError::new(
            if path.is_empty() { "body" } else { path },
            format!("expected a JSON object, got {}", kind(value)),
        )]);
    };
    let mut errors = Vec::new();
    for key in object.keys() {
        if !fields.iter().any(|f| f.name == key) {
            errors.push(FieldError::new(at(path, key), "unknown field"));
        }
    }
    let mut valid = Valid::default();
    for field in fields {
        match object.get(field.name) {
            None | Some(Value::Null) if field.required => {
                errors.push(FieldError::new(at(path, field.name), "field required"))
            }
            None | Some(Value::Null) => {}
            Some(v) => match check(field, v, domains) {
                Ok(Checked::Text(s)) => {
                    valid.text.insert(field.name, s);
                }
                Ok(Checked::Number(n)) => {
                    valid.number.insert(field.name, n);
                }
                Err(message) => errors.push(FieldError::new(at(path, field.name), message)),
            },
        }
    }
    if errors.is_empty() {
        Ok(valid)
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
                Err(format!(
                    "{s:?} is not one of the {} accepted values (see the OpenAPI enum)",
                    allowed.len()
                ))
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
        Rule::Text {
            min_chars,
            max_chars,
        } => {
            let Value::String(s) = value else {
                return Err(format!("expected a string, got {}", kind(value)));
            };
            let s = s.trim();
            let n = s.chars().count();
            if n < min_chars || n > max_chars {
                return Err(format!(
                    "{n} characters: expected {min_chars} to {max_chars}"
                ));
            }
            Ok(Checked::Text(s.to_string()))
        }
    }
}

/// The JSON type of a value, for messages.
pub fn kind(value: &Value) -> &'static str {
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
/// value if the domain lacks it. Valid by construction (a test holds every API to it).
pub fn example(fields: &[Field], domains: &Domains) -> Value {
    let mut m = Map::new();
    for field in fields {
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
            Rule::Text { .. } => Value::from(field.example),
        };
        m.insert(field.name.to_string(), v);
    }
    Value::Object(m)
}

/// Writes the table's constraints into the OpenAPI schema of the body: no other property,
/// the required ones, and each field's description, range, length or enumeration.
pub fn document(schema: &mut Object, fields: &[Field], domains: &Domains) {
    use utoipa::openapi::schema::Schema;
    use utoipa::openapi::RefOr;
    schema.additional_properties = Some(Box::new(AdditionalProperties::FreeForm(false)));
    schema.required = fields
        .iter()
        .filter(|f| f.required)
        .map(|f| f.name.to_string())
        .collect();
    for field in fields {
        let Some(RefOr::T(Schema::Object(property))) = schema.properties.get_mut(field.name) else {
            continue;
        };
        property.description = Some(field.help.to_string());
        match field.rule {
            Rule::OneOf { domain } => {
                let values = domains.get(domain).cloned().unwrap_or_default();
                let mut values: Vec<Value> = values.into_iter().map(Value::from).collect();
                // An optional field may be null (the validator takes null as absent).
                if !field.required {
                    values.push(Value::Null);
                }
                property.enum_values = Some(values);
            }
            Rule::Integer { min, max } => {
                property.minimum = Some(min.into());
                property.maximum = Some(max.into());
            }
            Rule::Number {
                min,
                max,
                exclusive_min,
            } => {
                if exclusive_min {
                    property.exclusive_minimum = Some(min.into());
                } else {
                    property.minimum = Some(min.into());
                }
                property.maximum = Some(max.into());
            }
            Rule::Text {
                min_chars,
                max_chars,
            } => {
                property.min_length = Some(min_chars);
                property.max_length = Some(max_chars);
            }
        }
    }
    schema.example = Some(example(fields, domains));
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[Field] = &[
        Field {
            name: "colour",
            rule: Rule::OneOf { domain: "colour" },
            required: true,
            help: "a colour",
            example: "green",
        },
        Field {
            name: "count",
            rule: Rule::Integer { min: 1, max: 9 },
            required: false,
            help: "how many",
            example: "3",
        },
        Field {
            name: "note",
            rule: Rule::Text {
                min_chars: 2,
                max_chars: 5,
            },
            required: true,
            help: "a note",
            example: "hello",
        },
    ];

    fn domains() -> Domains {
        [("colour".to_string(), vec!["red".to_string()])].into()
    }

    #[test]
    fn the_example_is_valid_and_an_unknown_enumerated_example_falls_back() {
        let valid = object(&example(FIELDS, &domains()), "", FIELDS, &domains()).unwrap();
        assert_eq!(valid.text["colour"], "red");
        assert_eq!(valid.number["count"], 3.0);
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        let body = serde_json::json!({"count": 2.5, "note": "  a  ", "size": 1});
        let mut fields: Vec<String> = object(&body, "items[0]", FIELDS, &domains())
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        fields.sort();
        assert_eq!(
            fields,
            [
                "items[0].colour",
                "items[0].count",
                "items[0].note",
                "items[0].size"
            ]
        );
    }

    #[test]
    fn text_is_counted_in_characters_after_trimming() {
        let body = serde_json::json!({"colour": "red", "note": " été "});
        assert_eq!(
            object(&body, "", FIELDS, &domains()).unwrap().text["note"],
            "été"
        );
    }
}
