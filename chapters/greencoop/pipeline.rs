//! The pipeline, end to end, independent of the book: stage the raw files in object storage,
//! read them back from there, normalise, load into the document store (twice, to show a
//! re-run loads nothing), audit, measure, back up and restore. Tests call it directly.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use mongodb::bson::{doc, Document};

use super::audit::{self, Pipeline};
use super::reading::{Parsed, ShapeError};
use super::{infoclimat, wunderground};
use crate::backends::docstore::{
    content_hash, dump, number, ConnectError, DocStore, InsertOutcome, StoreError,
};
use crate::backends::objstore::{Storage, StorageError, Target};
use crate::progress::profile;

/// A Weather Underground station as `stations.toml` declares it.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct StationDecl {
    /// Its workbook's file name.
    pub file: String,
    /// The station id the documents carry.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its country.
    pub country: String,
    /// The IANA time zone of its workbook's local times.
    pub timezone: String,
    /// Latitude, degrees.
    pub latitude: f64,
    /// Longitude, degrees.
    pub longitude: f64,
    /// The mean temperature the generator gives it, °C.
    pub mean_c: f64,
}

/// Where the restore reads the backup it fetched: the folder itself, or a copy a fault has
/// damaged (`RunContext::input_dir`).
pub type RestoreInput<'a> = dyn Fn(&Path) -> crate::error::Result<PathBuf> + Sync + 'a;

/// Everything one run needs.
pub struct Config<'a> {
    /// The InfoClimat JSON exports to stage.
    pub infoclimat: Vec<PathBuf>,
    /// The Weather Underground workbooks to stage.
    pub workbooks: Vec<PathBuf>,
    /// The stations the workbooks belong to.
    pub stations: Vec<StationDecl>,
    /// Load Weather Underground pressure in inHg as if it were hPa (the bug the range audit catches).
    pub pressure_bug: bool,
    /// The server the user named; the run's shared local one when absent.
    pub mongo_uri: Option<String>,
    /// The run's local server (started by the first chapter that needs it).
    pub local_store: crate::backends::docstore::SharedLocal,
    /// The database the readings are loaded into.
    pub database: String,
    /// Where the raw files are staged and the backup is written.
    pub landing: Target,
    /// A folder of this run's own for the backup.
    pub work_dir: PathBuf,
    /// MiB of filler documents written to the database (to show the storage alarm firing).
    pub ballast_mib: u64,
    /// The longest gap between two readings of one station the gap audit allows, minutes.
    pub max_gap_min: i64,
    /// Where the restore reads the fetched backup from.
    pub restore_input: &'a RestoreInput<'a>,
}

/// One raw file as staged and read back.
#[derive(Debug, Clone)]
pub struct Staged {
    /// Its object key in the landing zone.
    pub key: String,
    /// The source it came from (`infoclimat`, `wunderground`).
    pub source: &'static str,
    /// Its size.
    pub bytes: usize,
    /// Rows read from it.
    pub rows_read: usize,
    /// Readings parsed from it.
    pub readings: usize,
    /// Rows quarantined, each with its reason.
    pub quarantined: usize,
    /// Blank rows skipped.
    pub blank_rows: usize,
}

/// The backup and its restore.
#[derive(Debug, Clone)]
pub struct Backup {
    /// (object key, bytes, sha256) of each file of the dump.
    pub files: Vec<(String, usize, String)>,
    /// Documents backed up.
    pub documents: usize,
    /// Documents restored from the backup.
    pub restored: usize,
    /// Content hash of the collection before the backup.
    pub hash_original: String,
    /// Content hash of the restored collection.
    pub hash_restored: String,
    /// Files whose checksum did not match their manifest entry.
    pub checksum_problems: Vec<String>,
}

/// What a run did.
pub struct Outcome {
    /// The server's name and version, as it reports them.
    pub server: String,
    /// Each raw file as staged.
    pub staged: Vec<Staged>,
    /// The readings and quarantined rows parsed from them.
    pub parsed: Parsed,
    /// Distinct reading keys (station, time) among the parsed readings.
    pub distinct_readings: usize,
    /// Keys read more than once whose copies differ (a copy refused by the store is then a
    /// reading lost, not a duplicate), each once.
    pub conflicting_keys: Vec<String>,
    /// Copies refused by the store that differ from the reading kept under their key.
    pub conflicting_copies: usize,
    /// The first load into the store.
    pub first_load: InsertOutcome,
    /// The rerun's load: the same readings again, every one refused by key.
    pub second_load: InsertOutcome,
    /// Quarantined rows stored, with their reasons.
    pub quarantine_stored: u64,
    /// Documents of this run's readings found in the store after loading.
    pub ours_in_store: u64,
    /// Documents in the readings collection (ours and any already there).
    pub documents_in_store: u64,
    /// Each audit pipeline and its result.
    pub audits: Vec<(Pipeline, Vec<Document>)>,
    /// Bytes the database uses (`dbStats.dataSize`).
    pub storage_used_bytes: i64,
    /// The backup and its restore.
    pub backup: Backup,
}

impl Outcome {
    /// The result of the audit pipeline `name` (empty when it did not run).
    pub fn audit(&self, name: &str) -> &[Document] {
        self.audits
            .iter()
            .find(|(p, _)| p.name == name)
            .map(|(_, d)| d.as_slice())
            .unwrap_or(&[])
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default()
}

fn sha256(bytes: &[u8]) -> String {
    crate::dataset::sha256_bytes(bytes)
}

/// A file read back from the landing zone: its key, its source kind, its bytes.
type Landed = (String, &'static str, Vec<u8>);

/// Puts each raw file in the landing zone and returns what is read back from there, so the
/// rest of the pipeline reads what the landing zone holds, as a replication job would.
pub(super) fn stage(
    storage: &mut Storage,
    files: &[(PathBuf, &'static str)],
) -> Result<Vec<Landed>, PipelineError> {
    let mut out = Vec::new();
    for (path, source) in files {
        let bytes = std::fs::read(path).map_err(crate::error::Error::io(path))?;
        let key = format!("landing/{source}/{}", file_name(path));
        storage.put(&key, bytes.clone())?;
        let lost = |problem: &str| PipelineError::Landing {
            key: key.clone(),
            problem: problem.to_string(),
        };
        let back = storage
            .get(&key)?
            .ok_or_else(|| lost("not in the landing zone after writing it"))?;
        if back != bytes {
            return Err(lost("the landing zone returned different bytes"));
        }
        out.push((key, *source, back));
    }
    Ok(out)
}

/// Why the pipeline stopped, with its cause: no document store or a store that stopped
/// answering (the tool could not run), or bad input, a refused write, a damaged backup
/// (the book is wrong), each saying what and where.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// No document store could be had.
    #[error("no document store")]
    NoStore(#[source] ConnectError),
    /// The document store refused a call or stopped answering.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The landing zone or the backup store refused a call.
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A raw file is not its source's shape.
    #[error(transparent)]
    Shape(#[from] ShapeError),
    /// A file of the run could not be read or written, or a declaration is wrong.
    #[error("{0}")]
    Engine(#[from] crate::error::Error),
    /// A workbook with no station declared for it, or a declaration that does not parse.
    #[error("{0}")]
    Declaration(String),
    /// An object the landing zone or the backup store should hold is not as written.
    #[error("{key}: {problem}")]
    Landing {
        /// The object's key.
        key: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The server's statistics lack a figure the audit reads.
    #[error("dbStats on {db}: no {field}")]
    Stats {
        /// The database.
        db: String,
        /// The figure missing.
        field: &'static str,
    },
    /// The fetched backup holds bytes that are not a document.
    #[error("the backup's readings.bson at byte {offset}: {reason}")]
    Backup {
        /// Where in the file.
        offset: usize,
        /// What the reader found there.
        reason: String,
    },
}

/// Stages, parses, loads twice, audits, backs up and restores, against the store `cfg` names.
pub fn run(cfg: &Config) -> Result<Outcome, PipelineError> {
    let mut clock = std::time::Instant::now();
    let mut storage = Storage::open(&cfg.landing)?;
    let mut files: Vec<(PathBuf, &'static str)> = cfg
        .infoclimat
        .iter()
        .map(|p| (p.clone(), infoclimat::SOURCE))
        .collect();
    files.extend(
        cfg.workbooks
            .iter()
            .map(|p| (p.clone(), wunderground::SOURCE)),
    );
    let landed = stage(&mut storage, &files)?;

    // Normalise what landed.
    let mut parsed = Parsed::default();
    let mut staged = Vec::new();
    let mut station_docs: Vec<Document> = Vec::new();
    for (key, source, bytes) in &landed {
        let name = key.rsplit('/').next().unwrap_or(key).to_string();
        let one = if *source == infoclimat::SOURCE {
            let (p, stations) = infoclimat::parse(&name, bytes)?;
            station_docs.extend(stations);
            p
        } else {
            let decl = cfg.stations.iter().find(|s| s.file == name).ok_or_else(|| {
                PipelineError::Declaration(format!("{name}: no station declared for this workbook in chapters/greencoop/stations.toml (its id, clock and place are not in the file)"))
            })?;
            let timezone = decl.timezone.parse().map_err(|e| {
                PipelineError::Declaration(format!(
                    "stations.toml, {}: timezone {}: {e}",
                    decl.file, decl.timezone
                ))
            })?;
            station_docs.push(doc! {
                "_id": &decl.id, "name": &decl.name, "source": wunderground::SOURCE, "kind": "personal weather station",
                "country": &decl.country, "latitude": decl.latitude, "longitude": decl.longitude, "timezone": &decl.timezone,
                "licence": "not open (course material); the book's default is generated",
            });
            wunderground::parse(
                &name,
                bytes,
                &wunderground::Station {
                    id: decl.id.clone(),
                    timezone,
                    pressure_bug: cfg.pressure_bug,
                },
            )?
        };
        staged.push(Staged {
            key: key.clone(),
            source,
            bytes: bytes.len(),
            rows_read: one.rows_read(),
            readings: one.readings.len(),
            quarantined: one.quarantined.len(),
            blank_rows: one.blank_rows,
        });
        parsed.extend(one);
    }

    profile(super::CHAPTER, "stage_and_parse", &mut clock);
    let store = DocStore::open(cfg.mongo_uri.as_deref(), &cfg.local_store)
        .map_err(PipelineError::NoStore)?;
    let db = cfg.database.as_str();
    if cfg.mongo_uri.is_none() {
        // The local server is shared with the other chapters of the run: start from an
        // empty database of ours, whatever ran before.
        store.drop_database(db)?;
    }
    let readings = store.collection(db, "readings");
    store.unique_index(&readings, doc! {"station": 1, "ts": 1}, "station_ts")?;
    let stations = store.collection(db, "stations");
    store.insert_unordered(&stations, station_docs)?;

    profile(super::CHAPTER, "connect", &mut clock);
    let documents: Vec<Document> = parsed.readings.iter().map(|r| r.to_document()).collect();
    let ids: BTreeSet<String> = parsed.readings.iter().map(|r| r.id()).collect();
    // The first reading of each key is the one the store keeps; a later copy must be the
    // same reading, or refusing it loses data.
    // Same reading: the same document but for where it was read (`origin`).
    let measured = |d: &Document| {
        let mut d = d.clone();
        d.remove("origin");
        d
    };
    let mut first: std::collections::BTreeMap<String, Document> = std::collections::BTreeMap::new();
    let (mut conflicting_keys, mut conflicting_copies) = (Vec::new(), 0);
    for (reading, document) in parsed.readings.iter().zip(&documents) {
        let id = reading.id();
        match first.get(&id) {
            None => {
                first.insert(id, measured(document));
            }
            Some(kept) if *kept != measured(document) => {
                conflicting_copies += 1;
                if !conflicting_keys.contains(&id) {
                    conflicting_keys.push(id);
                }
            }
            Some(_) => {}
        }
    }
    let first_load = store.insert_unordered(&readings, documents.clone())?;
    profile(super::CHAPTER, "first_load", &mut clock);
    // The same files again, as a scheduled re-run would: the unique index refuses them all.
    let second_load = store.insert_unordered(&readings, documents)?;
    profile(super::CHAPTER, "second_load", &mut clock);
    let quarantine = store.collection(db, "quarantine");
    store.insert_unordered(
        &quarantine,
        parsed.quarantined.iter().map(|q| q.to_document()).collect(),
    )?;
    profile(super::CHAPTER, "quarantine_load", &mut clock);
    let file_names: Vec<String> = staged
        .iter()
        .map(|s| s.key.rsplit('/').next().unwrap_or_default().to_string())
        .collect();
    let quarantine_stored = store.count(&quarantine, doc! {"file": {"$in": &file_names}})?;
    // Which of this run's readings the store holds: its ids, intersected here (a `$in` of
    // thousands of ids is slow on the default server).
    let stored: BTreeSet<String> = store
        .ids(&readings)?
        .into_iter()
        .filter_map(|id| id.as_str().map(str::to_string))
        .collect();
    let ours_in_store = ids.intersection(&stored).count() as u64;
    let documents_in_store = store.count(&readings, doc! {})?;

    profile(super::CHAPTER, "counts", &mut clock);
    if cfg.ballast_mib > 0 {
        // Filler documents of 64 KiB: the storage condition, put into the data.
        let ballast = store.collection(db, "ballast");
        let filler = "x".repeat(64 * 1024);
        let docs: Vec<Document> = (0..cfg.ballast_mib * 16)
            .map(|i| doc! {"_id": i as i64, "filler": &filler})
            .collect();
        store.insert_unordered(&ballast, docs)?;
    }

    let mut audits = Vec::new();
    for pipeline in [
        audit::per_station(),
        audit::completeness(),
        audit::violations(),
        audit::duplicate_keys(),
        audit::gaps(cfg.max_gap_min),
    ] {
        let rows = store.aggregate(&readings, pipeline.stages.clone())?;
        audits.push((pipeline, rows));
    }
    let reasons = audit::quarantine_reasons();
    let rows = store.aggregate(&quarantine, reasons.stages.clone())?;
    audits.push((reasons, rows));

    profile(super::CHAPTER, "audit", &mut clock);
    let stats = store.command(db, doc! {"dbStats": 1})?;
    let storage_used_bytes = number(&stats, "dataSize").ok_or_else(|| PipelineError::Stats {
        db: db.to_string(),
        field: "dataSize",
    })? as i64;

    profile(super::CHAPTER, "stats", &mut clock);
    let backup = backup_and_restore(&store, db, &mut storage, &cfg.work_dir, cfg.restore_input)?;
    profile(super::CHAPTER, "backup", &mut clock);
    Ok(Outcome {
        server: store.server.clone(),
        staged,
        distinct_readings: ids.len(),
        conflicting_keys,
        conflicting_copies,
        parsed,
        first_load,
        second_load,
        quarantine_stored,
        ours_in_store,
        documents_in_store,
        audits,
        storage_used_bytes,
        backup,
    })
}

/// Dumps `readings` in mongodump's format with checksums, ships the dump to object storage,
/// fetches it back into another folder, verifies the checksums, restores it into an empty
/// database and compares documents: count and content hash in `_id` order.
pub(super) fn backup_and_restore(
    store: &DocStore,
    db: &str,
    storage: &mut Storage,
    work: &Path,
    restore_input: &RestoreInput,
) -> Result<Backup, PipelineError> {
    let readings = store.collection(db, "readings");
    let original = store.all_by_id(&readings)?;
    let dump_dir = work.join("backup");
    let _ = std::fs::remove_dir_all(&dump_dir);
    let index = dump::IndexSpec {
        name: "station_ts".into(),
        keys: doc! {"station": 1, "ts": 1},
        unique: true,
    };
    dump::write(&dump_dir, db, "readings", &original, &[index])?;
    let mut files = Vec::new();
    for rel in [
        format!("{db}/readings.bson"),
        format!("{db}/readings.metadata.json"),
        "SHA256SUMS".to_string(),
    ] {
        let path = dump_dir.join(&rel);
        let bytes = std::fs::read(&path).map_err(crate::error::Error::io(&path))?;
        files.push((format!("backup/{rel}"), bytes.len(), sha256(&bytes)));
        storage.put(&format!("backup/{rel}"), bytes)?;
    }

    let restore_dir = work.join("restore");
    let _ = std::fs::remove_dir_all(&restore_dir);
    for (key, _, _) in &files {
        let bytes = storage.get(key)?.ok_or_else(|| PipelineError::Landing {
            key: key.clone(),
            problem: "missing from the backup store".into(),
        })?;
        let path = restore_dir.join(key.trim_start_matches("backup/"));
        std::fs::create_dir_all(path.parent().expect("a folder"))
            .map_err(crate::error::Error::io(&path))?;
        std::fs::write(&path, bytes).map_err(crate::error::Error::io(&path))?;
    }
    let restore_dir = restore_input(&restore_dir)?;
    let checksum_problems = dump::verify_checksums(&restore_dir)?;
    if !checksum_problems.is_empty() {
        // A damaged backup is never restored: the check shows the problems.
        return Ok(Backup {
            files,
            documents: original.len(),
            restored: 0,
            hash_original: content_hash(&original),
            hash_restored: String::new(),
            checksum_problems,
        });
    }
    let bson = restore_dir.join(db).join("readings.bson");
    let contents = dump::parse(&std::fs::read(&bson).map_err(crate::error::Error::io(&bson))?);
    if let Some(bad) = contents.unreadable.first() {
        return Err(PipelineError::Backup {
            offset: bad.offset,
            reason: bad.reason.clone(),
        });
    }
    let restored_db = format!("{db}_restore");
    store.drop_database(&restored_db)?;
    let restored = store.collection(&restored_db, "readings");
    store.unique_index(&restored, doc! {"station": 1, "ts": 1}, "station_ts")?;
    store.insert_unordered(
        &restored,
        contents.docs.into_iter().map(|r| r.doc).collect(),
    )?;
    let back = store.all_by_id(&restored)?;
    Ok(Backup {
        files,
        documents: original.len(),
        restored: back.len(),
        hash_original: content_hash(&original),
        hash_restored: content_hash(&back),
        checksum_problems,
    })
}
