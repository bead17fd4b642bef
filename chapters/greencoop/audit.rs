//! The quality audit, run in the document store as aggregation pipelines (the seed's
//! quality_audit.py, done where the data lives): documents per source and station,
//! completeness per field, range violations, duplicate keys, time gaps per station. The
//! pipelines are built from the schema's rule table, so the book shows exactly what ran.

use mongodb::bson::{doc, Bson, Document};

use super::reading::FIELDS;

/// A pipeline with the name the book shows it under.
pub struct Pipeline {
    /// The name the book shows it under (its table and query).
    pub name: &'static str,
    /// The aggregation stages, run against the readings collection.
    pub stages: Vec<Document>,
    /// The result's columns, in the order the table shows them.
    pub columns: Vec<String>,
}

/// Documents, first and last reading per source and station.
pub fn per_station() -> Pipeline {
    Pipeline {
        name: "per_station",
        stages: vec![
            doc! {"$group": {"_id": {"source": "$source", "station": "$station"}, "documents": {"$sum": 1}, "first": {"$min": "$ts"}, "last": {"$max": "$ts"}}},
            doc! {"$project": {"_id": 0, "source": "$_id.source", "station": "$_id.station", "documents": 1,
            "first_utc": {"$dateToString": {"format": "%Y-%m-%d %H:%M", "date": "$first"}},
            "last_utc": {"$dateToString": {"format": "%Y-%m-%d %H:%M", "date": "$last"}}}},
            doc! {"$sort": {"source": 1, "station": 1}},
        ],
        columns: ["source", "station", "documents", "first_utc", "last_utc"]
            .map(String::from)
            .to_vec(),
    }
}

/// Per source, the share of documents where each field has a value, in percent.
pub fn completeness() -> Pipeline {
    let mut group = doc! {"_id": "$source", "documents": {"$sum": 1}};
    for f in &FIELDS {
        group.insert(f.name, doc! {"$sum": {"$cond": [{"$eq": [{"$ifNull": [format!("${}", f.name), Bson::Null]}, Bson::Null]}, 0, 1]}});
    }
    let mut project = doc! {"_id": 0, "source": "$_id", "documents": 1};
    for f in &FIELDS {
        project.insert(f.name, doc! {"$round": [{"$multiply": [100, {"$divide": [format!("${}", f.name), "$documents"]}]}, 1]});
    }
    let mut columns = vec!["source".to_string(), "documents".to_string()];
    columns.extend(FIELDS.iter().map(|f| f.name.to_string()));
    Pipeline {
        name: "completeness",
        stages: vec![
            doc! {"$group": group},
            doc! {"$project": project},
            doc! {"$sort": {"source": 1}},
        ],
        columns,
    }
}

/// Per station, the documents breaking each range rule of the schema.
pub fn violations() -> Pipeline {
    let mut group = doc! {"_id": "$station", "documents": {"$sum": 1}};
    let mut any = Vec::new();
    let mut columns = vec!["station".to_string(), "documents".to_string()];
    for f in FIELDS.iter() {
        let Some((low, high)) = f.range else { continue };
        let field = format!("${}", f.name);
        // A null is missing, not a violation: `$lt` would order it below every number.
        let broken = doc! {"$and": [{"$ne": [{"$ifNull": [&field, Bson::Null]}, Bson::Null]}, {"$or": [{"$lt": [&field, low]}, {"$gt": [&field, high]}]}]};
        group.insert(f.name, doc! {"$sum": {"$cond": [broken.clone(), 1, 0]}});
        any.push(Bson::Document(broken));
        columns.push(f.name.to_string());
    }
    group.insert("any_rule", doc! {"$sum": {"$cond": [{"$or": any}, 1, 0]}});
    columns.push("any_rule".to_string());
    Pipeline {
        name: "violations",
        stages: vec![
            doc! {"$group": group},
            doc! {"$addFields": {"station": "$_id"}},
            doc! {"$project": {"_id": 0}},
            doc! {"$sort": {"station": 1}},
        ],
        columns,
    }
}

/// Keys held more than once (the unique index should make this empty).
pub fn duplicate_keys() -> Pipeline {
    Pipeline {
        name: "duplicate_keys",
        stages: vec![
            doc! {"$group": {"_id": {"station": "$station", "ts": "$ts"}, "n": {"$sum": 1}}},
            doc! {"$match": {"n": {"$gt": 1}}},
            doc! {"$project": {"_id": 0, "station": "$_id.station", "ts": "$_id.ts", "n": 1}},
            doc! {"$sort": {"station": 1, "ts": 1}},
        ],
        columns: ["station", "ts", "n"].map(String::from).to_vec(),
    }
}

/// Per station: the usual interval between readings (the most frequent one), the longest
/// gap, and the gaps longer than `max_gap_min`.
pub fn gaps(max_gap_min: i64) -> Pipeline {
    Pipeline {
        name: "gaps",
        stages: vec![
            doc! {"$setWindowFields": {"partitionBy": "$station", "sortBy": {"ts": 1}, "output": {"previous": {"$shift": {"output": "$ts", "by": -1}}}}},
            doc! {"$match": {"previous": {"$ne": Bson::Null}}},
            doc! {"$project": {"station": 1, "minutes": {"$dateDiff": {"startDate": "$previous", "endDate": "$ts", "unit": "minute"}}}},
            doc! {"$group": {"_id": {"station": "$station", "minutes": "$minutes"}, "n": {"$sum": 1}}},
            doc! {"$sort": {"_id.station": 1, "n": -1, "_id.minutes": 1}},
            doc! {"$group": {"_id": "$_id.station", "usual_min": {"$first": "$_id.minutes"}, "longest_gap_min": {"$max": "$_id.minutes"},
            "gaps_over_limit": {"$sum": {"$cond": [{"$gt": ["$_id.minutes", max_gap_min]}, "$n", 0]}}}},
            doc! {"$project": {"_id": 0, "station": "$_id", "usual_min": 1, "longest_gap_min": 1, "gaps_over_limit": 1}},
            doc! {"$sort": {"station": 1}},
        ],
        columns: ["station", "usual_min", "longest_gap_min", "gaps_over_limit"]
            .map(String::from)
            .to_vec(),
    }
}

/// Quarantined rows per file and reason.
pub fn quarantine_reasons() -> Pipeline {
    Pipeline {
        name: "quarantine_reasons",
        stages: vec![
            doc! {"$group": {"_id": {"file": "$file", "reason": "$reason"}, "rows": {"$sum": 1}}},
            doc! {"$project": {"_id": 0, "file": "$_id.file", "reason": "$_id.reason", "rows": 1}},
            doc! {"$sort": {"file": 1, "reason": 1}},
        ],
        columns: ["file", "reason", "rows"].map(String::from).to_vec(),
    }
}
