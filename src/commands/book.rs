//! The book's commands as library functions: run chapters into notebooks, check them, build
//! and write the site atomically, verify datasets. `main.rs` only parses arguments and calls
//! these. Every chapter's failure is collected before returning, so one run reports them all.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::chapter::{Backends, Chapter, Meta, Params, RunContext};
use crate::chapters;
use crate::dataset::{self, Manifest, Verified};
use crate::embedded;
use crate::error::{Error, Result};
use crate::notebook::{Notebook, Status};
use crate::progress::Progress;
use crate::render::site::{self, ChapterInput};

/// Options shared by every command that runs chapters.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// The project root (holds `datasets/` and `chapters/`).
    pub root: PathBuf,
    /// `--data DIR`: replaces the data of the (single) chapter being run.
    pub data: Option<PathBuf>,
    /// Parameters per chapter id.
    pub params: BTreeMap<String, BTreeMap<String, String>>,
    /// The servers the user named.
    pub backends: Backends,
    /// Show progress on stderr (only drawn when it is a terminal).
    pub progress: bool,
    /// `--fault NAME`: a declared fault of the (single) chapter being run.
    pub fault: Option<String>,
    /// The run cache to reuse and fill (`build` and `serve`; `--no-cache` and the tests run
    /// without one, so every chapter runs).
    pub cache: Option<std::sync::Arc<crate::run_cache::RunCache>>,
}

/// Finds the project root: the nearest ancestor of `start` holding `datasets/MANIFEST.toml`,
/// else the directory this binary was built from.
pub fn find_root(start: &Path) -> PathBuf {
    let mut dir = Some(start);
    while let Some(d) = dir {
        if d.join("datasets").join("MANIFEST.toml").is_file() {
            return d.to_path_buf();
        }
        dir = d.parent();
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The chapter with id `id`, or a usage error listing the ids.
pub fn chapter_by_id(id: &str) -> Result<&'static dyn Chapter> {
    chapters::all()
        .into_iter()
        .find(|c| c.meta().id == id)
        .ok_or_else(|| {
            let ids: Vec<&str> = chapters::all().iter().map(|c| c.meta().id).collect();
            Error::Usage(format!("no chapter `{id}` (chapters: {})", ids.join(", ")))
        })
}

/// Every chapter's metadata, in book order.
pub fn all_meta() -> Vec<&'static Meta> {
    chapters::all().into_iter().map(|c| c.meta()).collect()
}

/// The run context of one chapter.
pub fn context(chapter: &dyn Chapter, options: &RunOptions) -> Result<RunContext> {
    let meta = *chapter.meta();
    let mut given = options.params.get(meta.id).cloned().unwrap_or_default();
    let fault = match &options.fault {
        None => None,
        Some(name) => {
            let fault = crate::fault::find(meta.id, name)?;
            if let Some(why) = fault.missing_server(&options.backends) {
                return Err(Error::Usage(why));
            }
            for (key, value) in &fault.params {
                if given.contains_key(key) {
                    return Err(Error::Usage(format!(
                        "fault `{name}` sets `{key}`: do not give `--param {key}` with it"
                    )));
                }
                given.insert(key.clone(), value.clone());
            }
            Some(std::sync::Arc::new(crate::fault::ActiveFault::start(
                meta.id, fault,
            )?))
        }
    };
    let work = options.root.join("target").join("auditbook");
    let params = Params::resolve(&meta, &given)?;
    // What a run leaves for later (Seattle's model file) belongs to its parameters, data and
    // fault: `default` for the book's own run, a folder of its own for any other, so two runs
    // never overwrite each other's.
    let run_key = if params.are_defaults(&meta) && options.data.is_none() && fault.is_none() {
        "default".to_string()
    } else {
        let key = format!("{:?} {:?} {:?}", params.all(), options.data, options.fault);
        crate::dataset::sha256_bytes(key.as_bytes())[..16].to_string()
    };
    Ok(RunContext {
        meta,
        root: options.root.clone(),
        data_override: options.data.clone(),
        generated_dir: work.join("generated").join(meta.id),
        artifact_dir: work.join("artifacts").join(meta.id).join(run_key),
        params,
        backends: options.backends.clone(),
        progress: if options.progress {
            Progress::stderr(meta.id)
        } else {
            Progress::hidden()
        },
        fault,
    })
}

/// Runs one chapter's pipeline.
pub fn run_chapter(chapter: &dyn Chapter, options: &RunOptions) -> Result<Notebook> {
    let ctx = context(chapter, options)?;
    if let Some(dir) = &ctx.data_override {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "`--data {}`: {}",
                dir.display(),
                if dir.exists() {
                    "not a directory (give the folder that holds the chapter's files)"
                } else {
                    "no such directory"
                }
            )));
        }
    }
    // A run reads its declarations as they are, unless its own fault has edited them.
    let _declarations = match &ctx.fault {
        Some(fault) if fault.edits_declarations() => None,
        _ => Some(crate::embedded::read_declarations(ctx.meta.id)),
    };
    ctx.progress.start();
    let run = || {
        chapter
            .run(&ctx)
            .map(|mut nb| {
                nb.narrow_provenance();
                nb
            })
            .and_then(|nb| match &ctx.fault {
                Some(fault) => fault.finish().map(|()| nb),
                None => Ok(nb),
            })
    };
    let (result, reused) = match &options.cache {
        None => (run(), false),
        Some(cache) => match cache.run(&ctx, run) {
            Ok((nb, reuse)) => (Ok(nb), reuse == crate::run_cache::Reuse::Reused),
            Err(e) => (Err(e), false),
        },
    };
    ctx.progress.end(&match &result {
        Ok(nb) if reused => format!(
            "reused from the run cache: {} findings, {} checks",
            nb.findings.len(),
            nb.checks.len()
        ),
        Ok(nb) => {
            let failed = nb.failures().len();
            let passed = nb
                .checks
                .iter()
                .filter(|c| c.status == Status::Passed)
                .count();
            let verdict = if failed == 0 {
                "done".to_string()
            } else {
                format!("{failed} check(s) FAILED")
            };
            format!(
                "{verdict}: {} findings, {passed} of {} checks passed",
                nb.findings.len(),
                nb.checks.len()
            )
        }
        Err(_) => "stopped with an error (below)".to_string(),
    });
    result
}

/// Runs the chapters (all, or the one named) on parallel threads and returns each one's
/// result in book order; failed checks are in the notebooks, not errors.
pub fn run_selected(
    only: Option<&str>,
    options: &RunOptions,
) -> Result<Vec<(&'static dyn Chapter, Result<Notebook>)>> {
    let selected: Vec<&'static dyn Chapter> = match only {
        Some(id) => vec![chapter_by_id(id)?],
        None => chapters::all(),
    };
    if options.data.is_some() && selected.len() != 1 {
        return Err(Error::Usage(
            "`--data` replaces one chapter's data: name the chapter with `--chapter`".into(),
        ));
    }
    if options.fault.is_some() && selected.len() != 1 {
        return Err(Error::Usage(
            "`--fault` breaks one chapter's input: name the chapter with `--chapter`".into(),
        ));
    }
    for id in options.params.keys() {
        chapter_by_id(id)?;
    }
    // Chapters are independent (each has its own in-memory DuckDB): run them on parallel
    // threads, then gather the results in book order so output stays deterministic.
    let results: Vec<Result<Notebook>> = std::thread::scope(|scope| {
        let handles: Vec<_> = selected
            .iter()
            .map(|chapter| scope.spawn(move || run_chapter(*chapter, options)))
            .collect();
        handles
            .into_iter()
            .zip(&selected)
            .map(|(h, chapter)| {
                h.join()
                    .unwrap_or_else(|panic| Err(Error::panicked(chapter.meta().id, &*panic)))
            })
            .collect()
    });
    Ok(selected.into_iter().zip(results).collect())
}

/// Runs the chapters (all, or the one named) and returns their notebooks. A chapter whose
/// checks fail is an error; every chapter runs before the errors are returned together.
pub fn run_and_check(
    only: Option<&str>,
    options: &RunOptions,
) -> Result<Vec<(&'static dyn Chapter, Notebook)>> {
    let mut done = Vec::new();
    let mut errors = Vec::new();
    for (chapter, result) in run_selected(only, options)? {
        match result {
            Ok(nb) => {
                let failed = nb.failures();
                if failed.is_empty() {
                    done.push((chapter, nb));
                } else {
                    errors.push(Error::ChecksFailed {
                        chapter: chapter.meta().id.to_string(),
                        failed,
                    });
                }
            }
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(done),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
    }
}

/// The prose of a chapter.
fn prose(meta: &Meta) -> Result<&'static str> {
    embedded::chapter_file(meta.id, "chapter.md").ok_or_else(|| {
        Error::chapter(
            meta.id,
            format!("no prose file `chapters/{}/chapter.md`", meta.id),
        )
    })
}

/// Renders the notebooks into the site's files (nothing written).
pub fn render(
    notebooks: &[(&'static dyn Chapter, Notebook)],
    manifest: &Manifest,
    partial: bool,
) -> Result<BTreeMap<String, Vec<u8>>> {
    let all = all_meta();
    let mut inputs = Vec::new();
    for (chapter, nb) in notebooks {
        inputs.push(ChapterInput {
            meta: chapter.meta(),
            notebook: nb,
            prose: prose(chapter.meta())?,
        });
    }
    if partial {
        // One chapter: its pages and the shared assets; the index keeps its last full build.
        // References to other chapters cannot be checked without them: a full build does.
        let refs = site::reference_targets(&inputs)?;
        let mut files = site::assets()?;
        for input in &inputs {
            files
                .extend(site::chapter_files(&all, input, &refs, &site::changed_params(&inputs))?.1);
        }
        Ok(files)
    } else {
        site::site_files(&all, &inputs, manifest)
    }
}

/// Writes `files` as the new `out` directory, atomically: everything is written into a
/// temporary sibling first and swapped in only when complete, so a failure leaves the
/// previous book intact. With `keep_existing`, files of the previous book not in `files`
/// are carried over (a one-chapter build).
pub fn write_book(
    out: &Path,
    files: &BTreeMap<String, Vec<u8>>,
    keep_existing: bool,
) -> Result<()> {
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(Error::io(parent))?;
    let name = out
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "book".into());
    // Unique per process and per call, so two builds in one process never share a folder.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = parent.join(format!(".{name}.tmp-{}-{call}", std::process::id()));
    let old = parent.join(format!(".{name}.old-{}-{call}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    let _tmp_on_interrupt = crate::interrupt::remove_on_interrupt(tmp.clone());
    // A failure (a full disk, a permission) removes what was written: nothing partial stays.
    let written = (|| {
        if keep_existing && out.is_dir() {
            copy_dir(out, &tmp)?;
        }
        for (path, bytes) in files {
            let target = tmp.join(path);
            if let Some(dir) = target.parent() {
                std::fs::create_dir_all(dir).map_err(Error::io(dir))?;
            }
            std::fs::write(&target, bytes).map_err(Error::io(&target))?;
        }
        Ok(())
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    {
        // An interrupt waits for both renames: `out` is the old book or the new, never absent.
        let _swap = crate::interrupt::critical();
        let had_book = out.exists();
        if had_book {
            std::fs::rename(out, &old).map_err(Error::io(out))?;
        }
        if let Err(e) = std::fs::rename(&tmp, out) {
            if had_book {
                let _ = std::fs::rename(&old, out);
            }
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(Error::io(out)(e));
        }
    }
    let _old_on_interrupt = crate::interrupt::remove_on_interrupt(old.clone());
    let _ = std::fs::remove_dir_all(&old);
    Ok(())
}

/// Copies the folder `from` into `to`, recursively.
pub fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).map_err(Error::io(to))?;
    for entry in std::fs::read_dir(from).map_err(Error::io(from))? {
        let entry = entry.map_err(Error::io(from))?;
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target)?;
        } else {
            // The file written is named: that is where a full disk shows.
            std::fs::copy(&path, &target).map_err(Error::io(&target))?;
        }
    }
    Ok(())
}

/// `build`: run every chapter (or one), check, render, write atomically into `out`.
pub fn build(
    only: Option<&str>,
    options: &RunOptions,
    out: &Path,
) -> Result<Vec<(&'static dyn Chapter, Notebook)>> {
    let manifest = Manifest::load(&options.root)?;
    let notebooks = run_and_check(only, options)?;
    if let Some(fault) = &options.fault {
        // A fault exists to make a check fail; a book is never written from broken input.
        // `--fault` is refused without `--chapter`, so one chapter ran.
        let chapter = notebooks.first().map_or("", |(c, _)| c.meta().id);
        return Err(Error::ChecksFailed {
            chapter: chapter.to_string(),
            failed: vec![format!(
                "fault `{fault}` was applied and no check failed: the book is not written"
            )],
        });
    }
    let files = render(&notebooks, &manifest, only.is_some())?;
    write_book(out, &files, only.is_some())?;
    Ok(notebooks)
}

/// `data verify`: the sha256 of every committed file, and every generated dataset
/// regenerated at its default parameters and compared with the manifest.
pub fn verify_data(root: &Path) -> Result<Vec<Verified>> {
    let manifest = Manifest::load(root)?;
    let mut report = dataset::verify_files(root, &manifest)?;
    for record in &manifest.generated {
        let chapter = chapter_by_id(&record.chapter)?;
        let options = RunOptions {
            root: root.to_path_buf(),
            ..RunOptions::default()
        };
        let ctx = context(chapter, &options)?;
        let dir = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
        let produced = chapter.generate(&ctx, dir.path())?.unwrap_or_default();
        report.extend(dataset::verify_generated(record, &produced));
    }
    for model in &manifest.models {
        // The models the book uses; another package is a manifest the tool cannot check,
        // which is an error rather than a pass.
        use crate::backends::embedding::{model as minilm, multilingual};
        let minilm_package = format!("{}=={}", minilm::PACKAGE, minilm::VERSION);
        let e5_package = format!("{}=={}", multilingual::PACKAGE, multilingual::VERSION);
        let found = if model.package == minilm_package {
            minilm::locate()?.weights_sha256
        } else if model.package == e5_package {
            multilingual::locate()?.sha256
        } else {
            return Err(Error::Usage(format!(
                "datasets/MANIFEST.toml names the model package `{}`, which this tool does not install (it installs `{minilm_package}` and `{e5_package}`)",
                model.package
            )));
        };
        report.push(dataset::verify_model(model, &found));
    }
    Ok(report)
}
