//! The chapter contract: what a chapter declares about itself (`Meta`), what it is given to
//! run (`RunContext`: data directory, parameters, backends, artifact directory, progress),
//! and the one method it implements.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::notebook::{DatasetRef, Notebook};
use crate::progress::Progress;

/// One `--param` a chapter accepts, with its default and meaning (shown in the book and in
/// `findings --help`).
#[derive(Debug, Clone, Copy)]
pub struct ParamSpec {
    /// The parameter's name, as given to `--param`.
    pub name: &'static str,
    /// Its default, as text.
    pub default: &'static str,
    /// What it means, for `--help` and the book's parameter table.
    pub help: &'static str,
    /// The values it accepts: anything else is refused before the run (exit 2), naming the
    /// parameter and this range.
    pub allowed: Allowed,
}

/// The values a parameter accepts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Allowed {
    /// Any text the chapter parses itself (a date, an instant, a name).
    Any,
    /// A whole number from `min` to `max`, both included.
    Int {
        /// The smallest value allowed.
        min: i64,
        /// The largest value allowed.
        max: i64,
    },
    /// A finite number from `min` to `max`, both included.
    Number {
        /// The smallest value allowed.
        min: f64,
        /// The largest value allowed.
        max: f64,
    },
    /// `true` or `false`.
    Bool,
    /// A calendar day, `YYYY-MM-DD`.
    Date,
}

impl Allowed {
    /// Why `raw` is not allowed, if it is not.
    pub fn refuse(&self, raw: &str) -> Option<String> {
        match *self {
            Allowed::Any => None,
            Allowed::Int { min, max } => match raw.parse::<i64>() {
                Ok(v) if (min..=max).contains(&v) => None,
                _ => Some(self.describe()),
            },
            Allowed::Number { min, max } => match raw.parse::<f64>() {
                Ok(v) if v.is_finite() && v >= min && v <= max => None,
                _ => Some(self.describe()),
            },
            Allowed::Bool => (raw != "true" && raw != "false").then(|| self.describe()),
            Allowed::Date => chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                .is_err()
                .then(|| self.describe()),
        }
    }

    /// The range in words: "an integer from 1 to 64".
    pub fn describe(&self) -> String {
        match self {
            Allowed::Any => "any value".into(),
            Allowed::Int { min, max } if *max == i64::MAX => {
                format!("an integer of at least {min}")
            }
            Allowed::Int { min, max } => format!("an integer from {min} to {max}"),
            Allowed::Number { min, max } => format!("a number from {min} to {max}"),
            Allowed::Bool => "true or false".into(),
            Allowed::Date => "a date, YYYY-MM-DD".into(),
        }
    }
}

/// A file a chapter looks for in its data directory (documented for `--data DIR`).
#[derive(Debug, Clone, Copy)]
pub struct InputFile {
    /// The file's name in the data folder.
    pub name: &'static str,
    /// Whether the chapter cannot run without it.
    pub required: bool,
    /// What it holds.
    pub help: &'static str,
}

/// What a chapter says about itself.
#[derive(Debug, Clone, Copy)]
pub struct Meta {
    /// Stable id: the folder under `chapters/`, the page name, the findings prefix.
    pub id: &'static str,
    /// The chapter's number in the book.
    pub number: u32,
    /// The chapter's title, written here once (pages, links and the index take it from here).
    pub title: &'static str,
    /// Its parameters.
    pub params: &'static [ParamSpec],
    /// The files it reads with `--data`.
    pub inputs: &'static [InputFile],
}

/// A chapter: a pipeline that turns its data into a notebook.
pub trait Chapter: Sync {
    /// Its id, number, title, parameters and input files.
    fn meta(&self) -> &Meta;
    /// Runs the pipeline on `ctx`'s data and parameters into a notebook (findings, tables,
    /// charts, checks); the engine renders it.
    fn run(&self, ctx: &RunContext) -> Result<Notebook>;

    /// Chapters whose default data is generated write it into `dir` at the run's parameters
    /// and return the files written; `data verify` compares them with the manifest.
    fn generate(&self, _ctx: &RunContext, _dir: &Path) -> Result<Option<Vec<DatasetRef>>> {
        Ok(None)
    }

    /// Commands the chapter adds to the CLI beside the book (a service that serves what the
    /// chapter built, say): `auditbook <name> ARGS…` calls [`Chapter::run_command`] with ARGS.
    fn commands(&self) -> &'static [ChapterCommand] {
        &[]
    }

    /// Runs one of [`Chapter::commands`]; `args` are the words after its name.
    fn run_command(&self, _ctx: &RunContext, name: &str, _args: &[String]) -> Result<()> {
        Err(crate::Error::Usage(format!(
            "chapter `{}` has no command `{name}`",
            self.meta().id
        )))
    }
}

/// A command a chapter adds to the CLI.
#[derive(Debug, Clone, Copy)]
pub struct ChapterCommand {
    /// The command's name (`auditbook <name> …`).
    pub name: &'static str,
    /// What it does, for `--help`.
    pub about: &'static str,
}

/// The parameters of one chapter run, validated against the chapter's `ParamSpec`s.
#[derive(Debug, Clone)]
pub struct Params {
    chapter: &'static str,
    values: BTreeMap<String, String>,
}

impl Params {
    /// Merges `given` over the chapter's defaults; an unknown key is a usage error that
    /// lists the keys the chapter knows.
    pub fn resolve(meta: &Meta, given: &BTreeMap<String, String>) -> Result<Params> {
        let mut values: BTreeMap<String, String> = meta
            .params
            .iter()
            .map(|p| (p.name.to_string(), p.default.to_string()))
            .collect();
        for (key, value) in given {
            if !values.contains_key(key) {
                let known: Vec<&str> = meta.params.iter().map(|p| p.name).collect();
                return Err(Error::Usage(format!(
                    "chapter `{}` has no parameter `{key}` (it knows: {})",
                    meta.id,
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )));
            }
            values.insert(key.clone(), value.clone());
        }
        for p in meta.params {
            let raw = &values[p.name];
            if let Some(allowed) = p.allowed.refuse(raw) {
                return Err(Error::Usage(format!(
                    "chapter `{}`: parameter `{}={raw}` is not allowed: it takes {allowed}",
                    meta.id, p.name
                )));
            }
        }
        Ok(Params {
            chapter: meta.id,
            values,
        })
    }

    /// The parameter `name` parsed as `T`, with an error naming the chapter and the value.
    pub fn get<T: FromStr>(&self, name: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        let raw = self.values.get(name).ok_or_else(|| {
            Error::chapter(
                self.chapter,
                format!("parameter `{name}` is not declared in the chapter's meta"),
            )
        })?;
        raw.parse::<T>().map_err(|e| {
            Error::Usage(format!(
                "chapter `{}`: parameter `{name}={raw}` is not valid: {e}",
                self.chapter
            ))
        })
    }

    /// All values in force, defaults included.
    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// True when every parameter has its default value.
    pub fn are_defaults(&self, meta: &Meta) -> bool {
        meta.params
            .iter()
            .all(|p| self.values.get(p.name).map(String::as_str) == Some(p.default))
    }
}

/// Addresses of real servers; `None` means the embedded default.
#[derive(Debug, Clone, Default)]
pub struct Backends {
    /// `--brokers`: Kafka-protocol bootstrap servers.
    pub kafka_brokers: Option<String>,
    /// `--mongo-uri`: a MongoDB server.
    pub mongo_uri: Option<String>,
    /// `--s3-endpoint`: an S3-compatible endpoint.
    pub s3_endpoint: Option<String>,
    /// `--s3-bucket`: the bucket on that endpoint.
    pub s3_bucket: Option<String>,
    /// `--spark`: a Spark Connect server (`sc://host:port`); the chapters that have a Spark
    /// version of their pipeline run it beside their own and compare.
    pub spark_remote: Option<String>,
    /// The local MongoDB-wire server the chapters of this run share when `mongo_uri` is
    /// `None` (one server, not one per chapter).
    pub local_docstore: crate::backends::docstore::SharedLocal,
}

/// Everything a chapter run is given.
pub struct RunContext {
    /// The chapter's metadata.
    pub meta: Meta,
    /// The project root (holds `datasets/`).
    pub root: PathBuf,
    /// `--data DIR` when the user gave one: it replaces the chapter's own data.
    pub data_override: Option<PathBuf>,
    /// Where a chapter writes generated data (under `target/`, never committed).
    pub generated_dir: PathBuf,
    /// Where a chapter writes artifacts (model files, exports).
    pub artifact_dir: PathBuf,
    /// The run's parameters, resolved against the defaults.
    pub params: Params,
    /// The servers the user named (the embedded defaults where `None`).
    pub backends: Backends,
    /// Where the run says what it is doing.
    pub progress: Progress,
    /// The fault in force for this run (`--fault NAME`), if any.
    pub fault: Option<std::sync::Arc<crate::fault::ActiveFault>>,
}

/// A folder of this run's own under the chapter's generated folder: removed when dropped,
/// and by the interrupt handler if the run is stopped (see [`crate::interrupt`]).
pub struct ScratchDir {
    dir: tempfile::TempDir,
    _interrupt: crate::interrupt::Registered,
}

impl ScratchDir {
    /// The folder's path.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl RunContext {
    /// The folder a generator writes for `plan`: one per plan (named by the sha256 of its
    /// `Debug` form), so runs with different plans never share files and a repeated plan
    /// reuses its folder.
    pub fn generated_data_dir(&self, plan: &impl std::fmt::Debug) -> PathBuf {
        let fingerprint = crate::dataset::sha256_bytes(format!("{plan:?}").as_bytes());
        self.generated_dir.join("data").join(&fingerprint[..16])
    }

    /// The chapter's notebook, empty but for what the engine knows: the chapter's id and the
    /// parameters of this run (every chapter starts here; none copies them itself).
    pub fn notebook(&self) -> crate::notebook::Notebook {
        let mut nb = crate::notebook::Notebook::new(self.meta.id);
        nb.params = self.params.all().clone();
        nb
    }

    /// A new folder of this run's own, named `<prefix>XXXXXX`, under `generated_dir`: runs
    /// at the same time never share one.
    pub fn scratch_dir(&self, prefix: &str) -> Result<ScratchDir> {
        std::fs::create_dir_all(&self.generated_dir).map_err(Error::io(&self.generated_dir))?;
        let (dir, _interrupt) = crate::interrupt::create_removed_on_interrupt(|| {
            tempfile::Builder::new()
                .prefix(prefix)
                .tempdir_in(&self.generated_dir)
        })
        .map_err(Error::io(&self.generated_dir))?;
        Ok(ScratchDir { dir, _interrupt })
    }

    /// The chapter's committed data folder, `datasets/<id>/`.
    pub fn dataset_dir(&self) -> PathBuf {
        self.root.join("datasets").join(self.meta.id)
    }

    /// The data directory to read: `--data DIR` if given, else `default`, passed through
    /// [`RunContext::input_dir`].
    pub fn data_dir_or(&self, default: &Path) -> Result<PathBuf> {
        self.input_dir(
            &self
                .data_override
                .clone()
                .unwrap_or_else(|| default.to_path_buf()),
        )
    }

    /// The folder a chapter reads its input from, once it knows `dir` (after generating its
    /// data, so that a planted record stays known): `dir` itself, or, when a fault is in
    /// force, a copy of it with the fault's data edits applied. Every chapter reads its input
    /// through this, so that `--fault` can reach it; `dir` itself is never changed.
    pub fn input_dir(&self, dir: &Path) -> Result<PathBuf> {
        match &self.fault {
            Some(fault) => fault.input_dir(self, dir),
            None => Ok(dir.to_path_buf()),
        }
    }
}

/// The arguments of the chapter command `auditbook NAME ARGS…`, parsed by clap: `None` when
/// they asked for help or the version (clap's text is printed), a usage error when they do
/// not parse.
pub fn command_args<T: clap::Parser>(name: &str, args: &[String]) -> Result<Option<T>> {
    match T::try_parse_from(
        std::iter::once(format!("auditbook {name}")).chain(args.iter().cloned()),
    ) {
        Ok(parsed) => Ok(Some(parsed)),
        Err(e) if e.use_stderr() => Err(Error::Usage(e.to_string())),
        Err(e) => {
            print!("{e}");
            Ok(None)
        }
    }
}
