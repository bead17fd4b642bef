//! Restore: read the dump's BSON frame by frame, validate each document against the
//! required fields and types, load the valid ones through the driver, and quarantine the
//! rest with a reason: unreadable bytes, a missing field, a wrong type, an `_id` already
//! restored. read = restored + quarantined, always.

use std::collections::BTreeMap;
use std::path::Path;

use mongodb::bson::{doc, Bson, Document};

use super::generate::REQUIRED;
use crate::backends::docstore::{dump, DocStore, StoreError};

/// The integrity report.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Size of the dump's `listings.bson`.
    pub bson_bytes: usize,
    /// Its sha256.
    pub bson_sha256: String,
    /// Files whose checksum differs from SHA256SUMS (or problems reading it).
    pub checksum_problems: Vec<String>,
    /// Documents read from the dump.
    pub read: usize,
    /// Documents restored into the store.
    pub restored: usize,
    /// Documents refused, per reason (see [`REASONS`]).
    pub quarantined_by_reason: BTreeMap<String, usize>,
    /// Per candidate shard-key field: distinct values and the count of the most frequent one,
    /// over the restored documents.
    pub cardinality: BTreeMap<String, (usize, usize)>,
    /// Per candidate field with at most [`FEW_VALUES`] distinct values, the values (strings
    /// as they are, other types as BSON writes them).
    pub value_sets: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// Per candidate shard-key field, the share (%) of consecutive restored documents, in the
    /// backup's order (the order they were written), whose value is larger than the one before.
    pub increasing_pct: BTreeMap<String, f64>,
    /// The `_id` of the first restored document: what the role probes read (a read by
    /// `_id` is one index lookup; a `find_one({})` scans on the default server).
    pub first_id: Option<Bson>,
}

/// The quarantine reasons, as the report counts them.
pub const DUPLICATE_ID: &str = "duplicate _id";
/// A required field is absent.
pub const MISSING_FIELD: &str = "missing required field";
/// A field has another BSON type than the schema's.
pub const WRONG_TYPE: &str = "wrong field type";
/// The document's bytes end before its declared length.
pub const TRUNCATED: &str = "truncated document";
/// The bytes are not a BSON document.
pub const UNREADABLE: &str = "unreadable bytes";
/// Every reason, in the order the report shows them.
pub const REASONS: [&str; 5] = [
    DUPLICATE_ID,
    MISSING_FIELD,
    WRONG_TYPE,
    TRUNCATED,
    UNREADABLE,
];

/// The candidate shard-key fields the chapter studies.
pub const KEY_CANDIDATES: [&str; 5] = ["city", "neighbourhood", "host_id", "room_type", "_id"];

fn greater(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::String(x), Bson::String(y)) => x.as_bytes() > y.as_bytes(),
        (x, y) => match (
            x.as_i64().or(x.as_i32().map(i64::from)),
            y.as_i64().or(y.as_i32().map(i64::from)),
        ) {
            (Some(x), Some(y)) => x > y,
            _ => false,
        },
    }
}

/// The most distinct values a field may have for the study to list them.
pub const FEW_VALUES: usize = 16;

/// The values of each candidate field that has at most [`FEW_VALUES`] of them.
pub fn value_sets(docs: &[&Document]) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    KEY_CANDIDATES
        .iter()
        .filter_map(|field| {
            let mut values = std::collections::BTreeSet::new();
            for d in docs {
                let value = match d.get(field) {
                    Some(Bson::String(s)) => s.clone(),
                    Some(other) => other.to_string(),
                    None => String::new(),
                };
                values.insert(value);
                if values.len() > FEW_VALUES {
                    return None;
                }
            }
            Some((field.to_string(), values))
        })
        .collect()
}

/// Distinct values and the largest frequency of each candidate field.
pub fn cardinality(docs: &[&Document]) -> BTreeMap<String, (usize, usize)> {
    KEY_CANDIDATES
        .iter()
        .map(|field| {
            let mut counts: std::collections::HashMap<String, usize> =
                std::collections::HashMap::new();
            for d in docs {
                *counts
                    .entry(d.get(field).map(|v| v.to_string()).unwrap_or_default())
                    .or_insert(0) += 1;
            }
            (
                field.to_string(),
                (counts.len(), counts.values().copied().max().unwrap_or(0)),
            )
        })
        .collect()
}

/// How often each field grows from one document to the next: near 100 % is a monotonic key
/// (every insert lands in the last chunk), near 50 % a random one.
pub fn increasing_share(docs: &[Document]) -> BTreeMap<String, f64> {
    let pairs = docs.len().saturating_sub(1).max(1) as f64;
    KEY_CANDIDATES
        .iter()
        .map(|field| {
            let up = docs.windows(2).filter(|w| matches!((w[1].get(field), w[0].get(field)), (Some(b), Some(a)) if greater(b, a))).count();
            (field.to_string(), (10_000.0 * up as f64 / pairs).round() / 100.0)
        })
        .collect()
}

impl Report {
    /// Documents refused, over every reason.
    pub fn quarantined(&self) -> usize {
        self.quarantined_by_reason.values().sum()
    }
}

fn type_name(v: &Bson) -> &'static str {
    match v {
        Bson::Double(_) => "double",
        Bson::String(_) => "string",
        Bson::Int32(_) => "int",
        Bson::Int64(_) => "long",
        Bson::Boolean(_) => "bool",
        Bson::Null => "null",
        Bson::Document(_) => "object",
        Bson::Array(_) => "array",
        _ => "other",
    }
}

/// Why a document cannot be restored, or `None` if it can. `_id` and `host_id` may be int
/// or long (both are integers to MongoDB).
pub fn invalid(d: &Document) -> Option<String> {
    for (field, expected) in REQUIRED {
        match d.get(field) {
            None => return Some(format!("missing field {field}")),
            Some(v) => {
                let found = type_name(v);
                let ok = found == expected || (expected == "long" && found == "int");
                if !ok {
                    return Some(format!(
                        "wrong type for {field}: {found}, expected {expected}"
                    ));
                }
            }
        }
    }
    None
}

/// Why a restore stopped (a damaged document is quarantined, not an error).
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The dump's files could not be read.
    #[error("{0}")]
    File(#[from] crate::Error),
    /// The document store refused a write or stopped answering.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The target collection already holds another document under an `_id` of the backup:
    /// not a rerun of this restore, whose documents would be the same.
    #[error("{namespace} already holds a different document under _id {id}: restore into an empty database, or drop it first")]
    Conflict {
        /// The collection, `db.collection`.
        namespace: String,
        /// The `_id`.
        id: String,
    },
}

/// An `_id` as a key of a set: its BSON bytes (`Bson` has no `Hash`).
fn id_key(document: &Document) -> Vec<u8> {
    let id = document.get("_id").cloned().unwrap_or(Bson::Null);
    mongodb::bson::to_vec(&doc! {"_id": id}).expect("an _id encodes")
}

/// Restores `<dump>/noscites/listings.bson` into `db.listings`, quarantine into
/// `db.quarantine`.
pub fn restore(store: &DocStore, dump_root: &Path, db: &str) -> Result<Report, RestoreError> {
    let bson_path = dump_root.join("noscites").join("listings.bson");
    let bytes = std::fs::read(&bson_path).map_err(crate::Error::io(&bson_path))?;
    let mut report = Report {
        bson_bytes: bytes.len(),
        bson_sha256: crate::dataset::sha256_bytes(&bytes),
        checksum_problems: if dump_root.join("SHA256SUMS").exists() {
            dump::verify_checksums(dump_root)?
        } else {
            vec!["no SHA256SUMS in the dump".into()]
        },
        ..Report::default()
    };
    let contents = dump::parse(&bytes);
    report.read = contents.docs.len() + contents.unreadable.len();
    let mut quarantine: Vec<Document> = Vec::new();
    let mut reason_of = |reason: String, record: Document, quarantine: &mut Vec<Document>| {
        *report
            .quarantined_by_reason
            .entry(reason.split(':').next().unwrap_or(&reason).to_string())
            .or_insert(0) += 1;
        quarantine.push(record);
    };
    for bad in &contents.unreadable {
        let reason = if bad.reason.starts_with("truncated") {
            TRUNCATED
        } else {
            UNREADABLE
        }
        .to_string();
        reason_of(
            reason.clone(),
            doc! {"_id": format!("offset {}", bad.offset), "reason": reason, "detail": &bad.reason, "offset": bad.offset as i64, "bytes": bad.bytes as i64},
            &mut quarantine,
        );
    }
    let mut valid = Vec::new();
    let mut offsets = Vec::new();
    for read in contents.docs {
        match invalid(&read.doc) {
            Some(reason) => {
                let key = if reason.starts_with("missing") {
                    MISSING_FIELD
                } else {
                    WRONG_TYPE
                }
                .to_string();
                reason_of(
                    key.clone(),
                    doc! {"_id": format!("offset {}", read.offset), "reason": key, "detail": reason, "offset": read.offset as i64, "document": read.doc},
                    &mut quarantine,
                );
            }
            None => {
                offsets.push(read.offset);
                valid.push(read.doc);
            }
        }
    }
    report.increasing_pct = increasing_share(&valid);
    let listings = store.collection(db, "listings");
    let outcome = store.insert_unordered(&listings, valid.clone())?;
    // The server refuses an `_id` it holds. The backup's own duplicates are the later copies
    // of an `_id` in the file; a first copy refused was restored by an earlier run of this
    // restore that did not finish (a crash, a server that went away): it is restored, once,
    // provided it is the same document.
    let mut seen = std::collections::HashSet::new();
    let later_copy: Vec<bool> = valid.iter().map(|d| !seen.insert(id_key(d))).collect();
    let already: Vec<usize> = outcome
        .duplicates
        .iter()
        .copied()
        .filter(|i| !later_copy[*i])
        .collect();
    if !already.is_empty() {
        let stored: std::collections::HashMap<Vec<u8>, Document> = store
            .all_by_id(&listings)?
            .into_iter()
            .map(|d| (id_key(&d), d))
            .collect();
        for i in &already {
            let d = &valid[*i];
            if stored.get(&id_key(d)) != Some(d) {
                return Err(RestoreError::Conflict {
                    namespace: listings.namespace().to_string(),
                    id: d.get("_id").map(|b| b.to_string()).unwrap_or_default(),
                });
            }
        }
    }
    for i in outcome.duplicates.iter().filter(|i| later_copy[**i]) {
        let d = &valid[*i];
        let reason = DUPLICATE_ID.to_string();
        reason_of(
            reason.clone(),
            doc! {"_id": format!("offset {}", offsets[*i]), "reason": reason, "detail": format!("_id {} already restored", d.get("_id").cloned().unwrap_or(Bson::Null)), "offset": offsets[*i] as i64, "document": d.clone()},
            &mut quarantine,
        );
    }
    // Counted on the server, not from the insert's own answer: what the collection holds.
    report.restored = store.count(&listings, doc! {})? as usize;
    let _ = outcome.inserted;
    let restored: Vec<&Document> = valid
        .iter()
        .zip(&later_copy)
        .filter(|(_, later)| !**later)
        .map(|(d, _)| d)
        .collect();
    report.first_id = restored.first().and_then(|d| d.get("_id").cloned());
    report.cardinality = cardinality(&restored);
    report.value_sets = value_sets(&restored);
    store.insert_unordered(&store.collection(db, "quarantine"), quarantine)?;
    Ok(report)
}
