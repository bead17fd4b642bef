//! The plan applied to a real cluster: when `--mongo-uri` points at a mongos, the zones and
//! the shard key are set through the driver with MongoDB's admin commands, and `explain()`
//! of a Paris query says which shards it reaches. No mongos runs where the book is built, so
//! this path is kept to the documented commands and is not exercised by the tests.

use mongodb::bson::{doc, Bson, Document};

use super::shard::{self, zones, KeyPart};
use crate::backends::docstore::{DocStore, StoreError};

/// Why the plan could not be applied to the cluster.
#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    /// The cluster refused a command or stopped answering.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plan's declaration is wrong.
    #[error("{0}")]
    Plan(#[from] crate::Error),
    /// The cluster lacks a shard the zones pin data to.
    #[error(
        "the cluster has no shard {shard} (it has {names:?}): run deploy/noscites/init.js first"
    )]
    NoShard {
        /// The shard the zones need.
        shard: String,
        /// The shards the cluster has.
        names: Vec<String>,
    },
    /// The collection could not be sharded on the planned key (sharded on another one?).
    #[error("shardCollection {namespace} on {key}")]
    ShardCollection {
        /// `db.collection`.
        namespace: String,
        /// The shard key asked for.
        key: String,
        /// What the server said.
        #[source]
        source: StoreError,
    },
}

/// True when the server is a mongos router (`hello` answers `msg: "isdbgrid"`).
pub fn is_router(store: &DocStore) -> Result<bool, StoreError> {
    let hello = store.command("admin", doc! {"hello": 1})?;
    Ok(hello.get_str("msg").is_ok_and(|m| m == "isdbgrid"))
}

fn bound(fields: &[String], parts: &[KeyPart]) -> Document {
    let value = |p: &KeyPart| match p {
        KeyPart::MinKey => Bson::MinKey,
        KeyPart::MaxKey => Bson::MaxKey,
        KeyPart::Int(i) => Bson::Int64(*i),
        KeyPart::Str(s) => Bson::String(s.clone()),
    };
    fields
        .iter()
        .zip(parts)
        .map(|(field, part)| (field.clone(), value(part)))
        .collect()
}

/// Zones, key ranges and the shard key on `db.listings`, then the shards `explain()` names
/// for a query on each city: (city, shards).
pub fn apply_and_explain(
    store: &DocStore,
    db: &str,
) -> Result<Vec<(String, Vec<String>)>, LiveError> {
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
            return Err(LiveError::NoShard {
                shard: z.shard.to_string(),
                names,
            });
        }
        store.command("admin", doc! {"addShardToZone": z.shard, "zone": z.zone})?;
    }
    let namespace = format!("{db}.listings");
    let key = shard::key()?;
    let spec: Document = key.iter().map(|f| (f.clone(), Bson::Int32(1))).collect();
    let index_name = key
        .iter()
        .map(|f| format!("{f}_1"))
        .collect::<Vec<_>>()
        .join("_");
    store.command(
        db,
        doc! {"createIndexes": "listings", "indexes": [{"key": spec.clone(), "name": index_name}]},
    )?;
    store.command("admin", doc! {"enableSharding": db})?;
    for z in zones()? {
        store.command("admin", doc! {"updateZoneKeyRange": &namespace, "min": bound(&key, &z.min), "max": bound(&key, &z.max), "zone": z.zone})?;
    }
    // Sharding a collection that is already sharded on this key answers ok; on another key,
    // or any other refusal, the plan was not applied and the run says why.
    store
        .command("admin", doc! {"shardCollection": &namespace, "key": spec})
        .map_err(|source| LiveError::ShardCollection {
            namespace: namespace.clone(),
            key: shard::key_text(&key),
            source,
        })?;
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
