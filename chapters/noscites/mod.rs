//! Chapter 7, NosCités: restore a MongoDB backup of rental listings (mongodump's format, read
//! frame by frame with the `bson` crate), quarantine what is damaged with a reason, answer the
//! business questions with aggregation pipelines, study the shard key, plan the Paris and
//! Lyon shards from zone ranges, and declare the three roles. Everything goes through the
//! official driver, to the local server by default or a real one with `--mongo-uri`.

pub mod deploy;
pub mod generate;
pub mod live;
pub mod restore;
pub mod roles;
pub mod shard;

use std::path::{Path, PathBuf};

use mongodb::bson::{doc, Bson, Document};

use crate::chapter::{Allowed, Chapter, InputFile, Meta, ParamSpec, RunContext};
use crate::dataset::sha256_bytes;
use crate::docstore::{number, pipeline_text, to_frame, DocStore};
use crate::error::{Error, Result};
use crate::notebook::{DatasetRef, Notebook, Source, Status, Value};
use crate::progress::profile;
use shard::{CityFilter, KeyPart};

/// The NosCités chapter.
pub struct NosCites;

const CHAPTER: &str = "noscites";

const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        name: "seed",
        default: "75",
        help: "seed of the generated listings",
        allowed: Allowed::Int {
            min: 0,
            max: i64::MAX,
        },
    },
    ParamSpec {
        name: "paris",
        default: "95000",
        help: "Paris listings",
        allowed: Allowed::Int {
            min: 1,
            max: 1_000_000,
        },
    },
    ParamSpec {
        name: "lyon",
        default: "10000",
        help: "Lyon listings",
        allowed: Allowed::Int {
            min: 1,
            max: 1_000_000,
        },
    },
    ParamSpec {
        name: "duplicate_ids",
        default: "12",
        help: "documents written a second time with the same _id",
        allowed: Allowed::Int {
            min: 0,
            max: 10_000,
        },
    },
    ParamSpec {
        name: "missing_fields",
        default: "21",
        help: "documents missing a required field",
        allowed: Allowed::Int {
            min: 0,
            max: 10_000,
        },
    },
    ParamSpec {
        name: "wrong_types",
        default: "16",
        help: "documents with a field of the wrong type (price as text, availability as a string)",
        allowed: Allowed::Int {
            min: 0,
            max: 10_000,
        },
    },
    ParamSpec {
        name: "truncate_last",
        default: "true",
        help: "cut the dump's last document in half (the crash)",
        allowed: Allowed::Bool,
    },
    ParamSpec {
        name: "database",
        default: "noscites_restored",
        help: "database the backup is restored into",
        allowed: Allowed::Any,
    },
];

const INPUTS: &[InputFile] = &[InputFile {
    name: "dump/noscites/listings.bson",
    required: true,
    help: "mongodump directory: listings.bson, listings.metadata.json, optional SHA256SUMS",
}];

static META: Meta = Meta {
    id: CHAPTER,
    number: 7,
    title: "NosCités: restore, audit and shard a MongoDB backup",
    params: PARAMS,
    inputs: INPUTS,
};

impl NosCites {
    pub fn plan(ctx: &RunContext) -> Result<generate::Plan> {
        let p = &ctx.params;
        Ok(generate::Plan {
            seed: p.get("seed")?,
            paris: p.get("paris")?,
            lyon: p.get("lyon")?,
            duplicate_ids: p.get("duplicate_ids")?,
            missing_fields: p.get("missing_fields")?,
            wrong_types: p.get("wrong_types")?,
            truncate_last: p.get("truncate_last")?,
        })
    }
}

/// The chapter's analysis pipelines on `listings`, each with the columns its table shows.
pub fn analyses() -> Vec<(&'static str, Vec<Document>, Vec<&'static str>)> {
    let booking = doc! {"$divide": [{"$subtract": [30, "$availability_30"]}, 30]};
    vec![
        (
            "rooms",
            vec![
                doc! {"$group": {"_id": {"city": "$city", "room_type": "$room_type"}, "listings": {"$sum": 1}}},
                doc! {"$project": {"_id": 0, "city": "$_id.city", "room_type": "$_id.room_type", "listings": 1}},
                doc! {"$sort": {"city": -1, "listings": -1}},
            ],
            vec!["city", "room_type", "listings"],
        ),
        (
            "hosts",
            vec![
                doc! {"$group": {"_id": {"city": "$city", "host": "$host_id"}, "listings": {"$sum": 1}, "superhost": {"$max": "$host_is_superhost"}}},
                doc! {"$group": {"_id": "$_id.city", "listings": {"$sum": "$listings"}, "hosts": {"$sum": 1},
                "superhosts": {"$sum": {"$cond": ["$superhost", 1, 0]}}, "hosts_over_100": {"$sum": {"$cond": [{"$gt": ["$listings", 100]}, 1, 0]}}}},
                doc! {"$project": {"_id": 0, "city": "$_id", "listings": 1, "hosts": 1, "superhosts": 1,
                "superhost_pct": {"$round": [{"$multiply": [100, {"$divide": ["$superhosts", "$hosts"]}]}, 2]}, "hosts_over_100": 1}},
                doc! {"$sort": {"city": -1}},
            ],
            vec![
                "city",
                "listings",
                "hosts",
                "superhosts",
                "superhost_pct",
                "hosts_over_100",
            ],
        ),
        (
            "big_hosts",
            vec![
                doc! {"$group": {"_id": {"host_id": "$host_id", "city": "$city"}, "listings": {"$sum": 1}}},
                doc! {"$match": {"listings": {"$gt": 100}}},
                doc! {"$project": {"_id": 0, "host_id": "$_id.host_id", "city": "$_id.city", "listings": 1}},
                doc! {"$sort": {"listings": -1, "host_id": 1}},
            ],
            vec!["host_id", "city", "listings"],
        ),
        (
            "booking_by_room_type",
            vec![
                doc! {"$group": {"_id": "$room_type", "listings": {"$sum": 1}, "rate": {"$avg": booking.clone()}}},
                doc! {"$project": {"_id": 0, "room_type": "$_id", "listings": 1, "booking_rate_pct": {"$round": [{"$multiply": ["$rate", 100]}, 2]}}},
                doc! {"$sort": {"listings": -1}},
            ],
            vec!["room_type", "listings", "booking_rate_pct"],
        ),
        (
            "neighbourhoods",
            vec![
                doc! {"$group": {"_id": {"city": "$city", "neighbourhood": "$neighbourhood"}, "listings": {"$sum": 1}, "rate": {"$avg": booking}}},
                doc! {"$project": {"_id": 0, "city": "$_id.city", "neighbourhood": "$_id.neighbourhood", "listings": 1, "booking_rate_pct": {"$round": [{"$multiply": ["$rate", 100]}, 2]}}},
                doc! {"$sort": {"listings": -1, "neighbourhood": 1}},
            ],
            vec!["city", "neighbourhood", "listings", "booking_rate_pct"],
        ),
        (
            "per_city",
            vec![
                doc! {"$group": {"_id": "$city", "listings": {"$sum": 1}, "min_id": {"$min": "$_id"}, "max_id": {"$max": "$_id"}}},
                doc! {"$project": {"_id": 0, "city": "$_id", "listings": 1, "min_id": 1, "max_id": 1}},
                doc! {"$sort": {"city": -1}},
            ],
            vec!["city", "listings", "min_id", "max_id"],
        ),
    ]
}

impl Chapter for NosCites {
    fn meta(&self) -> &Meta {
        &META
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        let mut nb = Notebook::new(CHAPTER);
        nb.params = ctx.params.all().clone();
        let mut clock = std::time::Instant::now();
        let (dump_root, planted): (PathBuf, Option<generate::Planted>) = match &ctx.data_override {
            Some(dir) => (ctx.input_dir(&dir.join("dump"))?, None),
            None => {
                ctx.progress.step("generating the damaged backup");
                let plan = Self::plan(ctx)?;
                let dir = ctx
                    .generated_dir
                    .join("data")
                    .join(&sha256_bytes(format!("{plan:?}").as_bytes())[..16]);
                let planted =
                    generate::generate(&plan, &dir).map_err(|e| Error::chapter(CHAPTER, e))?;
                (ctx.input_dir(&dir.join("dump"))?, Some(planted))
            }
        };
        let bson = dump_root.join("noscites").join("listings.bson");
        if !bson.is_file() {
            return Err(Error::Usage(format!(
                "chapter `{CHAPTER}`: no mongodump backup at {}",
                bson.display()
            )));
        }
        nb.datasets.push(crate::dataset::dataset_ref(
            &dump_root,
            "noscites/listings.bson",
            None,
        )?);

        profile(CHAPTER, "generate", &mut clock);
        ctx.progress.step("restoring through the driver");
        // The default server runs with authentication on, so the roles below are enforced
        // by a real server, not only declared.
        let store = match ctx.backends.mongo_uri.as_deref() {
            Some(uri) => DocStore::connect(Some(uri)),
            None => DocStore::connect_local_with_auth("auditbook-admin", "auditbook-local-only"),
        }
        .map_err(|e| Error::no_document_store(CHAPTER, e))?;
        let db: String = ctx.params.get("database")?;
        if ctx.backends.mongo_uri.is_none() {
            store
                .drop_database(&db)
                .map_err(|e| Error::chapter(CHAPTER, e))?;
        }
        profile(CHAPTER, "connect", &mut clock);
        let report =
            restore::restore(&store, &dump_root, &db).map_err(|e| Error::chapter(CHAPTER, e))?;
        nb.add_finding(
            "store.server",
            Value::Text(store.server.clone()),
            None,
            Source::function("docstore::DocStore::connect"),
        )?;
        nb.add_finding(
            "store_db",
            Value::Text(db.clone()),
            None,
            Source::function("noscites (parameter database)"),
        )?;
        integrity(&mut nb, &report, planted.as_ref())?;

        profile(CHAPTER, "restore", &mut clock);
        ctx.progress.step("aggregations");
        let listings = store.collection(&db, "listings");
        // One pass over the collection: the analyses run as the branches of one `$facet`
        // (each is shown on its own below its table).
        let analyses = analyses();
        let facet: Document = analyses
            .iter()
            .map(|(name, pipeline, _)| {
                (
                    name.to_string(),
                    Bson::Array(pipeline.iter().cloned().map(Bson::Document).collect()),
                )
            })
            .collect();
        let projection: Document = [
            "city",
            "room_type",
            "host_id",
            "host_is_superhost",
            "availability_30",
            "neighbourhood",
        ]
        .iter()
        .map(|f| (f.to_string(), Bson::Int32(1)))
        .collect();
        let combined = vec![doc! {"$project": projection}, doc! {"$facet": facet}];
        let out = store
            .aggregate(&listings, combined)
            .map_err(|e| Error::chapter(CHAPTER, format!("analyses: {e}")))?;
        let branches = out.into_iter().next().unwrap_or_default();
        let mut results = std::collections::BTreeMap::new();
        for (name, pipeline, columns) in analyses {
            let docs: Vec<Document> = branches
                .get_array(name)
                .map(|a| a.iter().filter_map(|d| d.as_document().cloned()).collect())
                .unwrap_or_default();
            nb.queries
                .insert(name.to_string(), pipeline_text(&pipeline));
            nb.add_table(
                name,
                to_frame(&docs, &columns).map_err(|e| Error::chapter(CHAPTER, e))?,
                Source::query(name),
            )?;
            results.insert(name, docs);
        }
        profile(CHAPTER, "aggregations", &mut clock);
        analysis_findings(&mut nb, &results)?;
        key_study(&mut nb, &report)?;
        profile(CHAPTER, "key_study", &mut clock);
        sharding(&mut nb, &results["per_city"])?;
        live_cluster(&mut nb, &store, &db, ctx.backends.mongo_uri.is_some())?;
        profile(CHAPTER, "sharding", &mut clock);
        ctx.progress.step("trying the roles");
        let cells = roles::probe(&store, &db).map_err(|e| Error::chapter(CHAPTER, e))?;
        roles(&mut nb, &cells)?;
        profile(CHAPTER, "roles", &mut clock);
        Ok(nb)
    }

    fn generate(&self, ctx: &RunContext, dir: &Path) -> Result<Option<Vec<DatasetRef>>> {
        generate::generate(&Self::plan(ctx)?, dir).map_err(|e| Error::chapter(CHAPTER, e))?;
        let files = [
            "dump/noscites/listings.bson",
            "dump/noscites/listings.metadata.json",
            "dump/SHA256SUMS",
        ];
        Ok(Some(
            files
                .iter()
                .map(|f| crate::dataset::dataset_ref(dir, f, None))
                .collect::<Result<Vec<_>>>()?,
        ))
    }
}

fn int(v: usize) -> Value {
    Value::Int(v as i64)
}

fn integrity(
    nb: &mut Notebook,
    r: &restore::Report,
    planted: Option<&generate::Planted>,
) -> Result<()> {
    let src = Source::function("noscites::restore::restore");
    nb.add_finding("restore.read", int(r.read), Some("documents"), src.clone())?;
    nb.add_finding(
        "restore.restored",
        int(r.restored),
        Some("documents"),
        src.clone(),
    )?;
    nb.add_finding(
        "restore.quarantined",
        int(r.quarantined()),
        Some("documents"),
        src.clone(),
    )?;
    nb.add_finding(
        "restore.bson_bytes",
        int(r.bson_bytes),
        Some("bytes"),
        src.clone(),
    )?;
    nb.add_finding(
        "restore.bson_sha256",
        Value::Text(r.bson_sha256[..16].to_string()),
        None,
        src.clone(),
    )?;
    nb.add_finding(
        "restore.checksum_problems",
        int(r.checksum_problems.len()),
        Some("files"),
        Source::function("docstore::dump::verify_checksums"),
    )?;
    let rows: Vec<Document> = restore::REASONS.iter().map(|reason| doc! {"reason": *reason, "documents": *r.quarantined_by_reason.get(*reason).unwrap_or(&0) as i64}).collect();
    for reason in restore::REASONS {
        let key = format!(
            "quarantine.{}",
            reason.replace([' ', '_'], "_").replace("__", "_")
        );
        nb.add_finding(
            &key,
            int(*r.quarantined_by_reason.get(reason).unwrap_or(&0)),
            Some("documents"),
            src.clone(),
        )?;
    }
    nb.add_table(
        "quarantine",
        to_frame(&rows, &["reason", "documents"]).map_err(|e| Error::chapter(CHAPTER, e))?,
        src,
    )?;
    let status = match planted {
        Some(p) => {
            let got = |k: &str| *r.quarantined_by_reason.get(k).unwrap_or(&0);
            Status::of(
                got(restore::DUPLICATE_ID) == p.duplicate_ids
                    && got(restore::MISSING_FIELD) == p.missing_fields
                    && got(restore::WRONG_TYPE) == p.wrong_types
                    && got(restore::TRUNCATED) == p.truncated
                    && r.restored
                        + p.duplicate_ids
                        + p.missing_fields
                        + p.wrong_types
                        + p.truncated
                        == p.listings + p.duplicate_ids,
                || {
                    format!(
                        "planted {p:?}, quarantined {:?}, restored {}",
                        r.quarantined_by_reason, r.restored
                    )
                },
            )
        }
        None => Status::NotApplicable(
            "the backup was given with --data: nothing was planted to compare with".into(),
        ),
    };
    nb.add_check("restore.damage_found", "each planted damage is quarantined with its reason, and every undamaged listing is in the restored collection (counted on the server)", status, &["restore.quarantined", "restore.restored"])?;
    Ok(())
}

fn analysis_findings(
    nb: &mut Notebook,
    results: &std::collections::BTreeMap<&str, Vec<Document>>,
) -> Result<()> {
    let sum = |name: &str, field: &str| {
        results[name]
            .iter()
            .filter_map(|d| number(d, field))
            .sum::<f64>() as i64
    };
    nb.add_finding(
        "analysis.listings",
        Value::Int(sum("rooms", "listings")),
        Some("listings"),
        Source::query("rooms"),
    )?;
    nb.add_finding(
        "analysis.hosts",
        Value::Int(sum("hosts", "hosts")),
        Some("hosts"),
        Source::query("hosts"),
    )?;
    nb.add_finding(
        "analysis.hosts_over_100",
        Value::Int(results["big_hosts"].len() as i64),
        Some("hosts"),
        Source::query("big_hosts"),
    )?;
    let superhosts = sum("hosts", "superhosts");
    let hosts = sum("hosts", "hosts");
    nb.add_finding(
        "analysis.superhost_pct",
        Value::Float {
            value: if hosts == 0 {
                0.0
            } else {
                100.0 * superhosts as f64 / hosts as f64
            },
            decimals: 2,
        },
        Some("%"),
        Source::query("hosts"),
    )?;
    let top = results["neighbourhoods"]
        .first()
        .cloned()
        .unwrap_or_default();
    nb.add_finding(
        "analysis.densest",
        Value::Text(top.get_str("neighbourhood").unwrap_or_default().to_string()),
        None,
        Source::query("neighbourhoods"),
    )?;
    Ok(())
}

/// Cardinality, frequency of the most common value and monotonicity (in the backup's
/// order, which is creation order here) of each candidate shard-key field, over the restored
/// documents as the restore read them.
fn key_study(nb: &mut Notebook, report: &restore::Report) -> Result<()> {
    let mut rows = Vec::new();
    for field in restore::KEY_CANDIDATES {
        let (distinct, top) = report.cardinality.get(field).copied().unwrap_or((0, 0));
        let increasing = report.increasing_pct.get(field).copied().unwrap_or(0.0);
        let top_pct = if report.restored == 0 {
            0.0
        } else {
            round2(100.0 * top as f64 / report.restored as f64)
        };
        rows.push(doc! {"field": field, "distinct_values": distinct as i64, "top_value_pct": top_pct, "increasing_pct": increasing});
    }
    let src = Source::function("noscites::restore::{cardinality, increasing_share}");
    let study: std::collections::BTreeMap<String, shard::FieldStudy> = restore::KEY_CANDIDATES
        .iter()
        .map(|field| {
            let distinct = report.cardinality.get(*field).map_or(0, |c| c.0);
            let values = report.value_sets.get(*field).cloned();
            (field.to_string(), shard::FieldStudy { distinct, values })
        })
        .collect();
    let zones = shard::zones().map_err(|e| Error::chapter(CHAPTER, e))?;
    let chosen = shard::choose_key(&restore::KEY_CANDIDATES, &study, report.restored, &zones);
    let declared = shard::key().map_err(|e| Error::chapter(CHAPTER, e))?;
    let choose = Source::function("noscites::shard::choose_key");
    nb.add_finding(
        "key.chosen",
        Value::Text(match &chosen {
            Ok(fields) => shard::key_text(fields),
            Err(why) => format!("none ({why})"),
        }),
        None,
        choose.clone(),
    )?;
    nb.add_finding(
        "key.declared",
        Value::Text(shard::key_text(&declared)),
        None,
        Source::function("noscites::shard::key (zones.toml)"),
    )?;
    let describe = |field: &String| match report.cardinality.get(field) {
        Some((distinct, _)) => format!(
            "{field} has {distinct} distinct values over {} documents",
            report.restored
        ),
        None => format!("{field} is not a studied candidate"),
    };
    nb.add_check(
        "key.chosen_by_study",
        "the plan's shard key (zones.toml) is the one the key study's rules choose from the data",
        Status::of(chosen.as_ref() == Ok(&declared), || {
            let facts: Vec<String> = declared.iter().map(describe).collect();
            format!(
                "the plan declares {}, the study chooses {}: {}",
                shard::key_text(&declared),
                match &chosen {
                    Ok(fields) => shard::key_text(fields),
                    Err(why) => format!("none ({why})"),
                },
                facts.join("; ")
            )
        }),
        &["key.chosen", "key.declared"],
    )?;
    nb.add_finding(
        "key.id_increasing_pct",
        Value::Float {
            value: report.increasing_pct.get("_id").copied().unwrap_or(0.0),
            decimals: 2,
        },
        Some("%"),
        src.clone(),
    )?;
    nb.add_finding(
        "key.city_distinct",
        Value::Int(
            report
                .cardinality
                .get("city")
                .map(|c| c.0 as i64)
                .unwrap_or(0),
        ),
        Some("values"),
        src.clone(),
    )?;
    nb.add_table(
        "key_study",
        to_frame(
            &rows,
            &[
                "field",
                "distinct_values",
                "top_value_pct",
                "increasing_pct",
            ],
        )
        .map_err(|e| Error::chapter(CHAPTER, e))?,
        src,
    )?;
    Ok(())
}

pub fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Planned documents per shard, and the routing of each of the chapter's queries.
fn sharding(nb: &mut Notebook, per_city: &[Document]) -> Result<()> {
    let zones = shard::zones().map_err(|e| Error::chapter(CHAPTER, e))?;
    let mut per_shard: std::collections::BTreeMap<String, i64> =
        shard::SHARDS.iter().map(|s| (s.to_string(), 0)).collect();
    let mut unzoned = 0i64;
    for d in per_city {
        let city = d.get_str("city").unwrap_or_default().to_string();
        let n = number(d, "listings").unwrap_or(0.0) as i64;
        let id = |k: &str| KeyPart::Int(number(d, k).unwrap_or(0.0) as i64);
        // Ranges are intervals: the lowest and highest key of a city in one zone put every
        // key of that city in it.
        let low = shard::shard_of(&zones, &vec![KeyPart::Str(city.clone()), id("min_id")]);
        let high = shard::shard_of(&zones, &vec![KeyPart::Str(city.clone()), id("max_id")]);
        match (low, high) {
            (Some(a), Some(b)) if a == b => *per_shard.get_mut(a).expect("a known shard") += n,
            _ => unzoned += n,
        }
    }
    let rows: Vec<Document> = per_shard
        .iter()
        .map(|(s, n)| doc! {"shard": s, "planned_listings": n})
        .collect();
    for (s, n) in &per_shard {
        nb.add_finding(
            &format!("shard.{s}"),
            Value::Int(*n),
            Some("listings"),
            Source::function("noscites::shard::shard_of"),
        )?;
    }
    nb.add_finding(
        "shard.unzoned",
        Value::Int(unzoned),
        Some("listings"),
        Source::function("noscites::shard::shard_of"),
    )?;
    nb.add_table(
        "planned_distribution",
        to_frame(&rows, &["shard", "planned_listings"]).map_err(|e| Error::chapter(CHAPTER, e))?,
        Source::function("noscites::shard::shard_of"),
    )?;

    let queries: [(&str, &str, CityFilter); 5] = [
        (
            "Paris listings of a neighbourhood",
            "{city: \"Paris\", neighbourhood: \"Temple\"}",
            CityFilter::Equals("Paris".into()),
        ),
        (
            "Lyon booking rate",
            "{city: \"Lyon\"}",
            CityFilter::Equals("Lyon".into()),
        ),
        (
            "both cities",
            "{city: {$in: [\"Paris\", \"Lyon\"]}}",
            CityFilter::In(vec!["Paris".into(), "Lyon".into()]),
        ),
        ("a host's listings", "{host_id: 2000001}", CityFilter::None),
        (
            "a city no zone covers",
            "{city: \"Marseille\"}",
            CityFilter::Equals("Marseille".into()),
        ),
    ];
    let mut routing = Vec::new();
    for (what, filter, city) in &queries {
        let shards = shard::route(&zones, city);
        routing.push(doc! {"query": *what, "filter": *filter, "shards": shards.join(", "), "targeted": shards.len() == 1});
    }
    let paris_only =
        shard::route(&zones, &CityFilter::Equals("Paris".into())) == vec!["parisReplSet"];
    nb.add_finding(
        "shard.paris_query_shards",
        Value::Text(shard::route(&zones, &CityFilter::Equals("Paris".into())).join(", ")),
        None,
        Source::function("noscites::shard::route"),
    )?;
    nb.add_table(
        "routing",
        to_frame(&routing, &["query", "filter", "shards", "targeted"])
            .map_err(|e| Error::chapter(CHAPTER, e))?,
        Source::function("noscites::shard::route"),
    )?;
    nb.add_check(
        "shard.paris_never_touches_lyon",
        "in the plan, a query on Paris is routed to the Paris shard only, and every listing lies in a zone",
        Status::of(paris_only && unzoned == 0, || format!("Paris routed to {:?}; {unzoned} listings outside every zone", shard::route(&zones, &CityFilter::Equals("Paris".into())))),
        &["shard.paris_query_shards", "shard.unzoned"],
    )?;
    Ok(())
}

/// With a mongos given, the plan applied and checked by `explain()`; otherwise said plainly.
fn live_cluster(nb: &mut Notebook, store: &DocStore, db: &str, uri_given: bool) -> Result<()> {
    let src = Source::function("noscites::live::apply_and_explain");
    if !(uri_given && live::is_router(store).map_err(|e| Error::chapter(CHAPTER, e))?) {
        nb.add_finding(
            "shard.mode",
            Value::Text(
                "the plan, computed from the zone ranges (no mongos router was given)".into(),
            ),
            None,
            src,
        )?;
        return Ok(());
    }
    let reached = live::apply_and_explain(store, db).map_err(|e| Error::chapter(CHAPTER, e))?;
    nb.add_finding(
        "shard.mode",
        Value::Text(
            "a live cluster: zones applied through the router, targeting read from explain()"
                .into(),
        ),
        None,
        src.clone(),
    )?;
    let paris = reached
        .iter()
        .find(|(c, _)| c == "Paris")
        .map(|(_, s)| s.join(", "))
        .unwrap_or_default();
    nb.add_finding(
        "shard.live_paris_shards",
        Value::Text(paris.clone()),
        None,
        src,
    )?;
    nb.add_check(
        "shard.live_paris_targeted",
        "on the live cluster, explain() of a Paris query names the Paris shard only",
        Status::of(paris == "parisReplSet", || {
            format!("explain() names {paris:?}")
        }),
        &["shard.live_paris_shards"],
    )?;
    Ok(())
}

fn roles(nb: &mut Notebook, cells: &[roles::Cell]) -> Result<()> {
    let declared = deploy::roles().map_err(|e| Error::chapter(CHAPTER, e))?;
    let rows: Vec<Document> = declared
        .iter()
        .map(|r| doc! {"role": &r.user, "built_in_roles": r.roles.join(", "), "may": &r.may})
        .collect();
    nb.add_table(
        "roles",
        to_frame(&rows, &["role", "built_in_roles", "may"])
            .map_err(|e| Error::chapter(CHAPTER, e))?,
        Source::function("noscites::deploy::roles (roles.toml)"),
    )?;
    let yes_no = |b: bool| if b { "allowed" } else { "refused" };
    let mut matrix = Vec::new();
    for operation in roles::OPERATIONS {
        let mut row = doc! {"operation": operation};
        for r in &declared {
            let cell = cells
                .iter()
                .find(|c| c.role == r.user && c.operation == operation);
            row.insert(
                &r.user,
                cell.map(|c| yes_no(c.allowed)).unwrap_or("not tried"),
            );
        }
        matrix.push(row);
    }
    let src = Source::function("noscites::roles::probe");
    nb.add_table(
        "role_matrix",
        to_frame(&matrix, &["operation", "Admin", "Operator", "Viewer"])
            .map_err(|e| Error::chapter(CHAPTER, e))?,
        src.clone(),
    )?;
    let agree = cells.iter().filter(|c| c.allowed == c.expected).count();
    let refused = cells.iter().filter(|c| !c.allowed).count();
    let matrix_rows: Vec<serde_json::Map<String, serde_json::Value>> = cells
        .iter()
        .map(|c| {
            let mut m = serde_json::Map::new();
            m.insert("role".into(), c.role.clone().into());
            m.insert("operation".into(), c.operation.into());
            m.insert("expected".into(), yes_no(c.expected).into());
            m.insert("server".into(), yes_no(c.allowed).into());
            m
        })
        .collect();
    nb.add_finding("roles.matrix", Value::Rows(matrix_rows), None, src.clone())?;
    nb.add_finding(
        "roles.cells",
        int(cells.len()),
        Some("operations"),
        src.clone(),
    )?;
    nb.add_finding(
        "roles.as_expected",
        int(agree),
        Some("operations"),
        src.clone(),
    )?;
    nb.add_finding("roles.refused", int(refused), Some("operations"), src)?;
    let mut wrong: Vec<String> = cells
        .iter()
        .filter(|c| c.allowed != c.expected)
        .map(|c| format!("{} {} was {}", c.role, c.operation, yes_no(c.allowed)))
        .collect();
    // A refusal counts only when it is the server's authorization error: any other failure
    // (a typo in a command, a server down) would otherwise pass for an enforced role.
    wrong.extend(
        cells
            .iter()
            .filter(|c| !c.allowed && !c.unauthorized)
            .map(|c| {
                format!(
                    "{} {} failed, but not with MongoDB's authorization error (code 13): {}",
                    c.role,
                    c.operation,
                    c.refusal.as_deref().unwrap_or_default()
                )
            }),
    );
    nb.add_check(
        "roles.enforced",
        "every role was allowed exactly its operations by the server: the forbidden ones were refused",
        Status::of(cells.len() == 15 && wrong.is_empty(), || if wrong.is_empty() { format!("{} operations tried, expected 15", cells.len()) } else { wrong.join("; ") }),
        &["roles.matrix", "roles.cells", "roles.as_expected", "roles.refused"],
    )?;
    Ok(())
}
