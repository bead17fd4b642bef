//! The sharding plan, computed without a cluster: the shard key the key study chooses and
//! `zones.toml` declares (`{city: 1, _id: 1}`), zones PARIS → parisReplSet and LYON →
//! lyonReplSet over key ranges, and which shard a document
//! lives on or a query is routed to. The semantics follow MongoDB's documentation of zones:
//! a range includes its lower bound and excludes its upper bound, bounds are compared field
//! by field in BSON order with MinKey below and MaxKey above every value, and a query that
//! does not constrain the shard key's prefix is broadcast to every shard.

use crate::error::Reason;
use std::cmp::Ordering;

/// One field of a shard-key value, in BSON comparison order (MinKey < numbers < strings <
/// MaxKey; the chapter's keys are strings and integers only).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyPart {
    /// Below every value.
    MinKey,
    /// An integer.
    Int(i64),
    /// A string.
    Str(String),
    /// Above every value.
    MaxKey,
}

impl KeyPart {
    fn rank(&self) -> u8 {
        match self {
            KeyPart::MinKey => 0,
            KeyPart::Int(_) => 1,
            KeyPart::Str(_) => 2,
            KeyPart::MaxKey => 3,
        }
    }
}

impl PartialOrd for KeyPart {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(match (self, other) {
            (KeyPart::Int(a), KeyPart::Int(b)) => a.cmp(b),
            // Strings compare by their bytes (simple binary collation).
            (KeyPart::Str(a), KeyPart::Str(b)) => a.as_bytes().cmp(b.as_bytes()),
            _ => self.rank().cmp(&other.rank()),
        })
    }
}

/// A compound key value, compared field by field.
pub type Key = Vec<KeyPart>;

fn compare(a: &Key, b: &Key) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        match x.partial_cmp(y).expect("total on these parts") {
            Ordering::Equal => continue,
            other => return other,
        }
    }
    a.len().cmp(&b.len())
}

/// A zone range: `min` inclusive, `max` exclusive.
#[derive(Debug, Clone)]
pub struct ZoneRange {
    /// The zone's name.
    pub zone: &'static str,
    /// The shard the zone pins its range to.
    pub shard: &'static str,
    /// Lowest key of the range (inclusive).
    pub min: Key,
    /// Key the range ends before (exclusive).
    pub max: Key,
}

impl ZoneRange {
    /// Whether `key` falls in the range.
    pub fn contains(&self, key: &Key) -> bool {
        compare(&self.min, key) != Ordering::Greater && compare(key, &self.max) == Ordering::Less
    }
}

/// The cluster's two shards: Paris and Lyon.
pub const SHARDS: [&str; 2] = ["parisReplSet", "lyonReplSet"];

/// `chapters/noscites/zones.toml` as declared.
#[derive(serde::Deserialize)]
struct PlanFile {
    key: Vec<String>,
    zone: Vec<DeclaredZone>,
}

#[derive(serde::Deserialize)]
struct DeclaredZone {
    zone: String,
    shard: String,
    min: Vec<String>,
    max: Vec<String>,
}

/// The plan file, read as the run reads its declarations (so a fault can edit it).
fn plan_file() -> crate::Result<PlanFile> {
    let file: PlanFile = crate::embedded::declared(super::CHAPTER, "zones.toml")?;
    if file.key.is_empty() {
        return Err(wrong_plan("`key` names no field"));
    }
    Ok(file)
}

/// A plan that parses but says something impossible.
fn wrong_plan(message: impl Into<String>) -> crate::Error {
    crate::Error::Data {
        chapter: super::CHAPTER.to_string(),
        file: "chapters/noscites/zones.toml".into(),
        row: None,
        message: message.into(),
    }
}

/// The shard key the plan declares, its fields in order (each ascending).
pub fn key() -> crate::Result<Vec<String>> {
    Ok(plan_file()?.key)
}

/// A key as the book writes it: `{city: 1, _id: 1}`.
pub fn key_text(fields: &[String]) -> String {
    let parts: Vec<String> = fields.iter().map(|f| format!("{f}: 1")).collect();
    format!("{{{}}}", parts.join(", "))
}

/// What the key study knows of one candidate field, over the restored documents.
#[derive(Debug, Clone, Default)]
pub struct FieldStudy {
    /// Distinct values.
    pub distinct: usize,
    /// The values themselves, when there are few (a zone can only pin a handful).
    pub values: Option<std::collections::BTreeSet<String>>,
}

/// The shard key the study's figures lead to, by the chapter's two rules: the prefix is the
/// field whose values are the ones the zones pin to shards (so that a zone holds whole
/// cities and a query naming one is routed to its shard), and behind it the field that is
/// unique over the documents (so chunks can split inside a zone). Candidates are tried in
/// `candidates` order; the error says which rule no field meets.
pub fn choose_key(
    candidates: &[&str],
    study: &std::collections::BTreeMap<String, FieldStudy>,
    documents: usize,
    zones: &[ZoneRange],
) -> Result<Vec<String>, Reason> {
    let zoned: std::collections::BTreeSet<String> = zones
        .iter()
        .filter_map(|z| match z.min.first() {
            Some(KeyPart::Str(s)) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let prefix = candidates
        .iter()
        .find(|field| {
            study
                .get(**field)
                .and_then(|s| s.values.as_ref())
                .is_some_and(|values| values.len() >= 2 && values.is_subset(&zoned))
        })
        .ok_or_else(|| format!("no candidate's values are all among the zones' {zoned:?}"))?;
    let suffix = candidates
        .iter()
        .filter(|field| *field != prefix)
        .find(|field| documents > 0 && study.get(**field).is_some_and(|s| s.distinct == documents))
        .ok_or_else(|| format!("no candidate is unique over the {documents} documents"))?;
    Ok(vec![prefix.to_string(), suffix.to_string()])
}

/// The plan's zones, as declared in `chapters/noscites/zones.toml`; each bound has one part
/// per field of the key.
pub fn zones() -> crate::Result<Vec<ZoneRange>> {
    let file = plan_file()?;
    let width = file.key.len();
    let part = |s: &str| match s {
        "MinKey" => KeyPart::MinKey,
        "MaxKey" => KeyPart::MaxKey,
        other => other
            .parse::<i64>()
            .map(KeyPart::Int)
            .unwrap_or_else(|_| KeyPart::Str(other.to_string())),
    };
    // Names live for the run; a plan has a handful of zones.
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    file.zone
        .into_iter()
        .map(|z| {
            if z.min.len() != width || z.max.len() != width {
                return Err(wrong_plan(format!(
                    "zone {}'s bounds need {width} parts, one per key field",
                    z.zone
                )));
            }
            if !SHARDS.contains(&z.shard.as_str()) {
                return Err(wrong_plan(format!(
                    "zone {} is pinned to unknown shard {}",
                    z.zone, z.shard
                )));
            }
            Ok(ZoneRange {
                zone: leak(z.zone),
                shard: leak(z.shard),
                min: z.min.iter().map(|p| part(p)).collect(),
                max: z.max.iter().map(|p| part(p)).collect(),
            })
        })
        .collect()
}

/// The shard a document with this key lives on; `None` when no zone holds it (the balancer
/// may then place its chunk on any shard).
pub fn shard_of<'a>(zones: &'a [ZoneRange], key: &Key) -> Option<&'a str> {
    zones.iter().find(|z| z.contains(key)).map(|z| z.shard)
}

/// What a query says about the shard key's first field.
#[derive(Debug, Clone)]
pub enum CityFilter {
    /// `city` equals this.
    Equals(String),
    /// `city` is one of these.
    In(Vec<String>),
    /// No condition on `city`: the router cannot target.
    None,
}

/// The shards a query is sent to. With an equality (or `$in`) on the key's prefix, the
/// router targets the ranges that can hold those values; without one it broadcasts. Keys
/// outside every zone may be on any shard, so a value no zone covers is sent everywhere.
pub fn route(zones: &[ZoneRange], filter: &CityFilter) -> Vec<&'static str> {
    let values = match filter {
        CityFilter::Equals(v) => vec![v.clone()],
        CityFilter::In(vs) => vs.clone(),
        CityFilter::None => return SHARDS.to_vec(),
    };
    let mut out: Vec<&'static str> = Vec::new();
    for v in values {
        let low = vec![KeyPart::Str(v.clone()), KeyPart::MinKey];
        let high = vec![KeyPart::Str(v.clone()), KeyPart::MaxKey];
        // Every key of the city lies in [low, high]; a zone is hit if it overlaps that span.
        let hit: Vec<&ZoneRange> = zones
            .iter()
            .filter(|z| {
                compare(&z.min, &high) == Ordering::Less && compare(&low, &z.max) == Ordering::Less
            })
            .collect();
        let covered = hit
            .iter()
            .any(|z| z.contains(&low) && compare(&high, &z.max) != Ordering::Greater);
        if !covered {
            return SHARDS.to_vec();
        }
        for z in hit {
            if !out.contains(&z.shard) {
                out.push(z.shard);
            }
        }
    }
    out.sort_unstable();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn zone(city: &str) -> ZoneRange {
        ZoneRange {
            zone: "Z",
            shard: "parisReplSet",
            min: vec![KeyPart::Str(city.into()), KeyPart::MinKey],
            max: vec![KeyPart::Str(city.into()), KeyPart::MaxKey],
        }
    }

    fn study(rows: &[(&str, usize, &[&str])]) -> BTreeMap<String, FieldStudy> {
        rows.iter()
            .map(|(field, distinct, values)| {
                let values = (!values.is_empty()).then(|| {
                    values
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<BTreeSet<_>>()
                });
                (
                    field.to_string(),
                    FieldStudy {
                        distinct: *distinct,
                        values,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn the_zoned_field_leads_and_the_unique_one_follows() {
        let s = study(&[
            (
                "room_type",
                3,
                &["Entire home", "Private room", "Shared room"],
            ),
            ("city", 2, &["Lyon", "Paris"]),
            ("host_id", 40, &[]),
            ("_id", 100, &[]),
        ]);
        let zones = [zone("Paris"), zone("Lyon")];
        let candidates = ["room_type", "city", "host_id", "_id"];
        assert_eq!(
            choose_key(&candidates, &s, 100, &zones).unwrap(),
            ["city", "_id"]
        );
        // A third city in the data that no zone pins: no field meets the first rule.
        let s3 = study(&[
            ("city", 3, &["Lyon", "Marseille", "Paris"]),
            ("_id", 100, &[]),
        ]);
        assert!(choose_key(&["city", "_id"], &s3, 100, &zones).is_err());
        // No unique field (duplicated ids): no field meets the second rule.
        let dup = study(&[("city", 2, &["Lyon", "Paris"]), ("_id", 99, &[])]);
        let err = choose_key(&["city", "_id"], &dup, 100, &zones).unwrap_err();
        assert!(err.contains("unique"), "{err}");
    }

    #[test]
    fn a_key_is_written_as_the_book_writes_it() {
        assert_eq!(
            key_text(&["city".into(), "_id".into()]),
            "{city: 1, _id: 1}"
        );
    }
}
