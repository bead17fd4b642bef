//! Chapter 7, NosCités: restore a MongoDB backup of rental listings (mongodump's format, read
//! frame by frame with the `bson` crate), quarantine what is damaged with a reason, answer the
//! business questions with aggregation pipelines, study the shard key, plan the Paris and
//! Lyon shards from zone ranges, and declare the three roles. Everything goes through the
//! official driver, to the local server by default or a real one with `--mongo-uri`.

mod analyses;
pub mod deploy;
pub mod generate;
pub mod live;
mod report;
pub mod restore;
pub mod roles;
pub mod shard;

use std::path::{Path, PathBuf};

use mongodb::bson::{doc, Bson, Document};

use crate::backends::docstore::{pipeline_text, to_frame, DocStore};
use crate::chapter::{Allowed, Chapter, InputFile, Meta, ParamSpec, RunContext};
use crate::error::{Error, Result};
use crate::notebook::{DatasetRef, Notebook, Source, Value};
use crate::progress::profile;

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
    /// The generator's plan from the chapter's parameters.
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

impl Chapter for NosCites {
    fn meta(&self) -> &Meta {
        &META
    }

    fn run(&self, ctx: &RunContext) -> Result<Notebook> {
        let mut nb = ctx.notebook();
        let mut clock = std::time::Instant::now();
        let (dump_root, planted): (PathBuf, Option<generate::Planted>) = match &ctx.data_override {
            Some(dir) => (ctx.input_dir(&dir.join("dump"))?, None),
            None => {
                ctx.progress.step("generating the damaged backup");
                let plan = Self::plan(ctx)?;
                let dir = ctx.generated_data_dir(&plan);
                let planted = generate::generate(&plan, &dir)?;
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
        let store = DocStore::open(
            ctx.backends.mongo_uri.as_deref(),
            &ctx.backends.local_docstore,
        )
        .map_err(|e| Error::no_document_store(CHAPTER, e))?;
        let db: String = ctx.params.get("database")?;
        if ctx.backends.mongo_uri.is_none() {
            store.drop_database(&db).map_err(Error::within(CHAPTER))?;
        }
        profile(CHAPTER, "connect", &mut clock);
        let report = restore::restore(&store, &dump_root, &db).map_err(Error::within(CHAPTER))?;
        nb.add_finding(
            "store.server",
            Value::Text(store.server.clone()),
            None,
            crate::function_source!(crate::backends::docstore::DocStore::open),
        )?;
        nb.add_finding(
            "store_db",
            Value::Text(db.clone()),
            None,
            Source::parameter(CHAPTER, "database"),
        )?;
        report::integrity(&mut nb, &report, planted.as_ref())?;

        profile(CHAPTER, "restore", &mut clock);
        ctx.progress.step("aggregations");
        let listings = store.collection(&db, "listings");
        // One pass over the collection: the analyses run as the branches of one `$facet`
        // (each is shown on its own below its table).
        let analyses = analyses::analyses();
        let facet: Document = analyses
            .iter()
            .map(|(name, pipeline, _)| {
                (
                    name.to_string(),
                    Bson::Array(pipeline.iter().cloned().map(Bson::Document).collect()),
                )
            })
            .collect();
        // No `$project` before the `$facet`: MongoDB reads only the fields a pipeline uses
        // anyway, and SecantusDB rebuilt every document for it (6 of its 18 s here,
        // measured with py-spy on 105k listings).
        let combined = vec![doc! {"$facet": facet}];
        let out = store
            .aggregate(&listings, combined)
            .map_err(Error::failed(CHAPTER, "analyses"))?;
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
                to_frame(&docs, &columns).map_err(Error::within(CHAPTER))?,
                Source::query(name),
            )?;
            results.insert(name, docs);
        }
        profile(CHAPTER, "aggregations", &mut clock);
        report::analysis_findings(&mut nb, &results)?;
        report::key_study(&mut nb, &report)?;
        profile(CHAPTER, "key_study", &mut clock);
        report::sharding(&mut nb, &results["per_city"])?;
        report::live_cluster(&mut nb, &store, &db, ctx.backends.mongo_uri.is_some())?;
        profile(CHAPTER, "sharding", &mut clock);
        ctx.progress.step("trying the roles");
        // A fault may leave nothing restored: the probe then reads an id no listing has.
        let read_id = report
            .first_id
            .clone()
            .unwrap_or(mongodb::bson::Bson::Int64(-1));
        let cells = roles::probe(&store, &db, &read_id)?;
        report::roles(&mut nb, &cells)?;
        profile(CHAPTER, "roles", &mut clock);
        Ok(nb)
    }

    fn generate(&self, ctx: &RunContext, dir: &Path) -> Result<Option<Vec<DatasetRef>>> {
        generate::generate(&Self::plan(ctx)?, dir)?;
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
