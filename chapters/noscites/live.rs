//! The plan applied to a real cluster: when `--mongo-uri` points at a mongos, the zones and
//! the shard key are set through the driver with MongoDB's admin commands, and `explain()`
//! of a Paris query says which shards it reaches. No mongos runs where the book is built, so
//! this path is kept to the documented commands and is not exercised by the tests.

use mongodb::bson::{doc, Bson, Document};

use super::shard::{zones, KeyPart};
use crate::docstore::DocStore;

/// True when the server is a mongos router (`hello` answers `msg: "isdbgrid"`).
pub fn is_router(store: &DocStore) -> Result<bool, String> {
    let hello = store.command("admin", doc! {"hello": 1})?;
    Ok(hello.get_str("msg").is_ok_and(|m| m == "isdbgrid"))
}

fn bound(parts: &[KeyPart]) -> Document {
    let value = |p: &KeyPart| match p {
        KeyPart::MinKey => Bson::MinKey,
        KeyPart::MaxKey => Bson::MaxKey,
        KeyPart::Int(i) => Bson::Int64(*i),
        KeyPart::Str(s) => Bson::String(s.clone()),
    };
    doc! {"city": value(&parts[0]), "_id": value(&parts[1])}
}

/// Zones, key ranges and the shard key on `db.listings`, then the shards `explain()` names
/// for a query on each city: (city, shards).
pub fn apply_and_explain(store: &DocStore, db: &str) -> Result<Vec<(String, Vec<String>)>, String> {
    let shards = store.command("admin", doc! {"listShards": 1})?;
    let names: Vec<String> = shards
        .get_array("shards")
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_document()?.get_str("_id").ok().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    for z in zones()? {
        if !names.iter().any(|n| n == z.shard) {
            return Err(format!(
                "the cluster has no shard {} (it has {names:?}): run deploy/noscites/init.js first",
                z.shard
            ));
        }
        store.command("admin", doc! {"addShardToZone": z.shard, "zone": z.zone})?;
    }
    let namespace = format!("{db}.listings");
    store.command(db, doc! {"createIndexes": "listings", "indexes": [{"key": {"city": 1, "_id": 1}, "name": "city_1__id_1"}]})?;
    store.command("admin", doc! {"enableSharding": db})?;
    for z in zones()? {
        store.command("admin", doc! {"updateZoneKeyRange": &namespace, "min": bound(&z.min), "max": bound(&z.max), "zone": z.zone})?;
    }
    let _ = store.command(
        "admin",
        doc! {"shardCollection": &namespace, "key": {"city": 1, "_id": 1}},
    );
    let mut out = Vec::new();
    for city in ["Paris", "Lyon"] {
        let plan = store.command(db, doc! {"explain": {"find": "listings", "filter": {"city": city}}, "verbosity": "queryPlanner"})?;
        let mut reached: Vec<String> = plan
            .get_document("queryPlanner")
            .and_then(|q| q.get_document("winningPlan"))
            .and_then(|w| w.get_array("shards"))
            .map(|a| {
                a.iter()
                    .filter_map(|s| {
                        s.as_document()?
                            .get_str("shardName")
                            .ok()
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        reached.sort();
        out.push((city.to_string(), reached));
    }
    Ok(out)
}
