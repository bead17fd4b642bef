//! The sharding plan, computed without a cluster: the shard key `{city: 1, _id: 1}`, zones
//! PARIS → parisReplSet and LYON → lyonReplSet over key ranges, and which shard a document
//! lives on or a query is routed to. The semantics follow MongoDB's documentation of zones:
//! a range includes its lower bound and excludes its upper bound, bounds are compared field
//! by field in BSON order with MinKey below and MaxKey above every value, and a query that
//! does not constrain the shard key's prefix is broadcast to every shard.

use std::cmp::Ordering;

/// One field of a shard-key value, in BSON comparison order (MinKey < numbers < strings <
/// MaxKey; the chapter's keys are strings and integers only).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyPart {
    MinKey,
    Int(i64),
    Str(String),
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
    pub zone: &'static str,
    pub shard: &'static str,
    pub min: Key,
    pub max: Key,
}

impl ZoneRange {
    pub fn contains(&self, key: &Key) -> bool {
        compare(&self.min, key) != Ordering::Greater && compare(key, &self.max) == Ordering::Less
    }
}

pub const SHARDS: [&str; 2] = ["parisReplSet", "lyonReplSet"];

/// The plan's zones, as declared in `chapters/noscites/zones.toml` (read as the run reads
/// its declarations, so a fault can edit them).
pub fn zones() -> Result<Vec<ZoneRange>, String> {
    #[derive(serde::Deserialize)]
    struct File {
        zone: Vec<Declared>,
    }
    #[derive(serde::Deserialize)]
    struct Declared {
        zone: String,
        shard: String,
        min: Vec<String>,
        max: Vec<String>,
    }
    let text = crate::embedded::chapter_file("noscites", "zones.toml")
        .ok_or("no chapters/noscites/zones.toml")?;
    let file: File =
        toml::from_str(text).map_err(|e| format!("chapters/noscites/zones.toml: {e}"))?;
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
            if !SHARDS.contains(&z.shard.as_str()) {
                return Err(format!(
                    "chapters/noscites/zones.toml: zone {} is pinned to unknown shard {}",
                    z.zone, z.shard
                ));
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
    Equals(String),
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
