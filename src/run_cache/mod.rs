//! The run cache: a chapter's notebook kept under a key of everything that decides it, so a
//! rebuild reruns exactly the chapters whose inputs changed and reuses the others.
//!
//! The key is the sha256 of, in order:
//! - the crate's code: every Rust source, `Cargo.lock` and the build script, hashed by
//!   `build.rs` when the binary is compiled ([`CODE_SHA256`]);
//! - the chapter and its parameters (defaults included);
//! - the bytes of every file of the chapter's data folder (`datasets/<id>/`), of the
//!   manifest, and of a `--data` folder when one is given;
//! - the text of every declaration of the chapter (`chapters/<id>/*.sql|toml|yaml`) as the
//!   run reads it (the checkout's copy when the tool runs inside one, else the embedded one);
//! - the environment variables that change what a model computes ([`RESULT_ENV`]).
//!
//! Generated data is not hashed: it is a function of the code and the parameters, both in
//! the key. Prose (`chapter.md`) and templates are not in the key either: they are rendered
//! at every build, so editing them never reruns a chapter. The data and declarations hashed
//! are the chapter's whole folders, a superset of what one run reads: a change there may
//! rerun a chapter that would not have needed it, never the reverse.
//!
//! Never cached: a run with a fault, or against a server the user named (what is behind an
//! address can change without any byte here changing). An entry is one file written beside
//! and renamed, its first line the sha256 of the rest: a partial or corrupt entry is seen,
//! removed and rerun, never trusted. An entry whose artifacts (Seattle's model file, say)
//! are gone or changed is rerun too.

pub mod stored;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use sha2::{Digest, Sha256};

use crate::chapter::RunContext;
use crate::dataset::sha256_file;
use crate::error::{Error, Result};
use crate::notebook::Notebook;
use stored::StoredNotebook;

/// The sha256 of the crate's Rust sources, lock file and build script, from `build.rs`.
pub const CODE_SHA256: &str = env!("AUDITBOOK_CODE_SHA256");

/// Environment variables that change what a run computes: the model files the embedders
/// read (their weights' sha256 is in the provenance too).
pub const RESULT_ENV: &[&str] = &["AUDITBOOK_MINILM_DIR", "AUDITBOOK_E5_MODEL"];

/// How many entries a chapter keeps (other parameters, other data); the oldest go first.
const ENTRIES_KEPT: usize = 8;

const HEADER: &str = "auditbook-run-cache 1";

/// What became of one chapter's run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reuse {
    /// The stored notebook was reused.
    Reused,
    /// The chapter ran; the reason says why the cache could not serve it.
    Ran(String),
    /// The run is one the cache never keeps (a fault, a named server).
    NotCacheable(String),
}

/// The cache of one project: its folder, and what each chapter's run did (for `build`'s
/// report and for the tests).
#[derive(Debug)]
pub struct RunCache {
    dir: PathBuf,
    log: Mutex<BTreeMap<String, Reuse>>,
}

/// A run's key, and its parts (kept in the entry, to say what differed).
#[derive(Debug, Clone)]
pub struct Key {
    sha256: String,
    parts: Vec<(String, String)>,
}

impl RunCache {
    /// The cache under `root/target/auditbook/cache/`.
    pub fn under(root: &Path) -> RunCache {
        RunCache {
            dir: root.join("target").join("auditbook").join("cache"),
            log: Mutex::new(BTreeMap::new()),
        }
    }

    /// What each chapter's last run through this cache did.
    pub fn log(&self) -> BTreeMap<String, Reuse> {
        self.log.lock().expect("cache log").clone()
    }

    fn record(&self, chapter: &str, reuse: Reuse) {
        self.log
            .lock()
            .expect("cache log")
            .insert(chapter.to_string(), reuse);
    }

    fn entry_dir(&self, chapter: &str) -> PathBuf {
        self.dir.join(chapter)
    }

    fn entry_path(&self, chapter: &str, key: &Key) -> PathBuf {
        self.entry_dir(chapter)
            .join(format!("{}.json", &key.sha256[..32]))
    }

    /// Runs the chapter through the cache: the stored notebook when one matches, else
    /// `run`, whose notebook is then stored.
    pub fn run(
        &self,
        ctx: &RunContext,
        run: impl FnOnce() -> Result<Notebook>,
    ) -> Result<(Notebook, Reuse)> {
        let chapter = ctx.meta.id;
        let key = match key(ctx)? {
            Err(why) => {
                self.record(chapter, Reuse::NotCacheable(why.clone()));
                return Ok((run()?, Reuse::NotCacheable(why)));
            }
            Ok(key) => key,
        };
        let why = match self.lookup(ctx, &key) {
            Ok(nb) => {
                self.record(chapter, Reuse::Reused);
                return Ok((nb, Reuse::Reused));
            }
            Err(why) => why,
        };
        let nb = run()?;
        // A store that fails costs the next build a rerun, nothing more: say so and go on.
        if let Err(e) = self.store(chapter, &key, &nb) {
            eprintln!("{chapter}: the run cache could not keep this run: {e}");
        }
        self.record(chapter, Reuse::Ran(why.clone()));
        Ok((nb, Reuse::Ran(why)))
    }

    /// The stored notebook for `key`, or why there is none to reuse.
    fn lookup(&self, ctx: &RunContext, key: &Key) -> std::result::Result<Notebook, String> {
        let path = self.entry_path(ctx.meta.id, key);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(_) => return Err(self.nothing_matches(ctx.meta.id, key)),
        };
        let nb = match parse_entry(&text) {
            Ok((parts, nb)) if parts == key.parts => nb,
            Ok(_) => return Err(self.nothing_matches(ctx.meta.id, key)),
            Err(why) => {
                let _ = std::fs::remove_file(&path);
                return Err(format!(
                    "the entry {} was unreadable ({why})",
                    path.display()
                ));
            }
        };
        for artifact in nb.artifacts.values() {
            let file = ctx.artifact_dir.join(&artifact.file);
            match sha256_file(&file) {
                Ok(sha) if sha == artifact.sha256 => {}
                _ => {
                    return Err(format!(
                        "its artifact {} is gone or changed",
                        file.display()
                    ))
                }
            }
        }
        Ok(nb)
    }

    /// Why no entry matches: the parts that differ from the chapter's newest entry.
    fn nothing_matches(&self, chapter: &str, key: &Key) -> String {
        let Some(newest) = entries_newest_first(&self.entry_dir(chapter))
            .into_iter()
            .next()
        else {
            return "no run of it is cached".to_string();
        };
        let parts = std::fs::read_to_string(newest)
            .ok()
            .and_then(|text| entry_parts(&text));
        let Some(parts) = parts else {
            return "no cached run matches".to_string();
        };
        let old: BTreeMap<&str, &str> = parts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let new: BTreeMap<&str, &str> = key
            .parts
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let mut changed: Vec<&str> = new
            .iter()
            .filter(|(k, v)| old.get(*k) != Some(*v))
            .map(|(k, _)| *k)
            .chain(old.keys().filter(|k| !new.contains_key(*k)).copied())
            .collect();
        changed.dedup();
        if changed.is_empty() {
            return "no cached run matches".to_string();
        }
        let shown: Vec<&str> = changed.iter().take(3).copied().collect();
        let more = changed.len().saturating_sub(shown.len());
        format!(
            "changed since the last cached run: {}{}",
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        )
    }

    /// Writes the entry beside its final name and renames it, then drops the oldest.
    fn store(&self, chapter: &str, key: &Key, nb: &Notebook) -> Result<()> {
        let stored = match StoredNotebook::of(nb) {
            Ok(stored) => stored,
            Err(why) => {
                eprintln!("{chapter}: not cached: {why}");
                return Ok(());
            }
        };
        let body = serde_json::to_string(&Entry {
            parts: key.parts.clone(),
            notebook: stored,
        })
        .expect("a stored notebook serialises");
        let text = format!(
            "{HEADER} {}\n{body}",
            hex::encode(Sha256::digest(body.as_bytes()))
        );
        let dir = self.entry_dir(chapter);
        std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
        let path = self.entry_path(chapter, key);
        let mut partial = tempfile::NamedTempFile::new_in(&dir).map_err(Error::io(&dir))?;
        std::io::Write::write_all(&mut partial, text.as_bytes())
            .map_err(Error::io(partial.path()))?;
        partial
            .persist(&path)
            .map_err(|e| Error::io(&path)(e.error))?;
        for old in entries_newest_first(&dir).into_iter().skip(ENTRIES_KEPT) {
            let _ = std::fs::remove_file(old);
        }
        Ok(())
    }
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    parts: Vec<(String, String)>,
    notebook: StoredNotebook,
}

/// An entry's key parts and notebook, after checking its sha256.
fn parse_entry(text: &str) -> std::result::Result<(Vec<(String, String)>, Notebook), String> {
    let (header, body) = text.split_once('\n').ok_or("no header line")?;
    let sha = header
        .strip_prefix(HEADER)
        .map(str::trim)
        .ok_or("not a cache entry of this version")?;
    if hex::encode(Sha256::digest(body.as_bytes())) != sha {
        return Err("its content does not match its sha256: partial or altered".into());
    }
    let entry: Entry = serde_json::from_str(body).map_err(|e| e.to_string())?;
    Ok((entry.parts, entry.notebook.into_notebook()?))
}

fn entry_parts(text: &str) -> Option<Vec<(String, String)>> {
    let (_, body) = text.split_once('\n')?;
    #[derive(serde::Deserialize)]
    struct Parts {
        parts: Vec<(String, String)>,
    }
    serde_json::from_str::<Parts>(body).ok().map(|p| p.parts)
}

fn entries_newest_first(dir: &Path) -> Vec<PathBuf> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut entries: Vec<(std::time::SystemTime, PathBuf)> = read
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    entries.sort_by(|a, b| b.cmp(a));
    entries.into_iter().map(|(_, p)| p).collect()
}

/// The run's key, or why the run is one the cache never keeps.
pub fn key(ctx: &RunContext) -> Result<std::result::Result<Key, String>> {
    if let Some(fault) = &ctx.fault {
        return Ok(Err(format!("fault `{}` in force", fault.fault.name)));
    }
    let b = &ctx.backends;
    for (flag, given) in [
        ("--brokers", &b.kafka_brokers),
        ("--mongo-uri", &b.mongo_uri),
        ("--s3-endpoint", &b.s3_endpoint),
        ("--spark", &b.spark_remote),
    ] {
        if given.is_some() {
            return Ok(Err(format!("run against the server named by {flag}")));
        }
    }
    let id = ctx.meta.id;
    let mut parts: Vec<(String, String)> = vec![
        ("code".into(), CODE_SHA256.into()),
        ("chapter".into(), id.into()),
    ];
    for (name, value) in ctx.params.all() {
        parts.push((format!("parameter {name}"), value.clone()));
    }
    let manifest = ctx.root.join("datasets").join("MANIFEST.toml");
    parts.push((
        "datasets/MANIFEST.toml".into(),
        sha256_or_absent(&manifest)?,
    ));
    files_of(&ctx.dataset_dir(), &format!("datasets/{id}"), &mut parts)?;
    if let Some(dir) = &ctx.data_override {
        parts.push(("--data".into(), dir.display().to_string()));
        files_of(dir, &format!("--data {}", dir.display()), &mut parts)?;
    }
    for (path, text) in crate::embedded::chapter_declarations(id) {
        let hashed = text.map_or("absent".to_string(), |t| hex::encode(Sha256::digest(t)));
        parts.push((path, hashed));
    }
    for name in RESULT_ENV {
        if let Some(value) = std::env::var_os(name) {
            parts.push((format!("${name}"), value.to_string_lossy().into_owned()));
        }
    }
    let mut hasher = Sha256::new();
    for (name, value) in &parts {
        // Lengths first, so no two lists of parts hash alike by shifting a boundary.
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update((value.len() as u64).to_le_bytes());
        hasher.update(value.as_bytes());
    }
    Ok(Ok(Key {
        sha256: hex::encode(hasher.finalize()),
        parts,
    }))
}

fn sha256_or_absent(path: &Path) -> Result<String> {
    if path.is_file() {
        sha256_file(path)
    } else {
        Ok("absent".into())
    }
}

/// Every file under `dir` (recursively, in name order) with its sha256, named `label/...`.
fn files_of(dir: &Path, label: &str, parts: &mut Vec<(String, String)>) -> Result<()> {
    let Ok(read) = std::fs::read_dir(dir) else {
        parts.push((label.to_string(), "absent".into()));
        return Ok(());
    };
    let mut paths: Vec<PathBuf> = read.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let name = format!(
            "{label}/{}",
            path.file_name().unwrap_or_default().to_string_lossy()
        );
        if path.is_dir() {
            files_of(&path, &name, parts)?;
        } else {
            parts.push((name, sha256_file(&path)?));
        }
    }
    Ok(())
}
