//! `bench`: wall-clock measurements, kept out of the committed book and out of tests. Each
//! figure is the median of several runs, reported beside a baseline measured in the same run
//! (running the chapters without rendering), so the ratio survives a noisy machine.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::backends::docstore::calls::{self, Tally};
use crate::commands::book::{self, RunOptions};
use crate::cpu_time::CpuTime;
use crate::dataset::Manifest;
use crate::error::{Error, Result};

/// The median of a set of durations.
pub fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// One measured line.
#[derive(Debug, Clone)]
pub struct Measurement {
    /// What was measured.
    pub name: String,
    /// How many runs.
    pub runs: usize,
    /// The median run.
    pub median: Duration,
    /// The fastest run.
    pub min: Duration,
    /// The slowest run.
    pub max: Duration,
}

impl Measurement {
    /// The line for `samples` (at least one).
    fn of(name: &str, samples: Vec<Duration>) -> Measurement {
        let (min, max) = (
            samples.iter().min().copied().unwrap_or_default(),
            samples.iter().max().copied().unwrap_or_default(),
        );
        Measurement {
            name: name.to_string(),
            runs: samples.len(),
            median: median(samples),
            min,
            max,
        }
    }
}

fn measure(name: &str, runs: usize, mut work: impl FnMut() -> Result<()>) -> Result<Measurement> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        work()?;
        samples.push(start.elapsed());
    }
    Ok(Measurement::of(name, samples))
}

/// One chapter run alone (no cache): its wall time and its waits on the document store.
#[derive(Debug, Clone)]
pub struct ChapterShare {
    /// The chapter.
    pub id: &'static str,
    /// Its run, checks included, alone on the machine.
    pub wall: Duration,
    /// Its waits on the document store, per kind of call.
    pub store: BTreeMap<&'static str, Tally>,
    /// The CPU time it used: ours, and the local document-store server's (a child process,
    /// counted once it has stopped, at the end of the run).
    pub cpu: CpuTime,
}

/// What `bench` measures of the whole book.
#[derive(Debug, Clone)]
pub struct BuildBench {
    /// The timed lines, the baseline first.
    pub measurements: Vec<Measurement>,
    /// Each chapter alone.
    pub chapters: Vec<ChapterShare>,
    /// The document-store calls of one full build (the timed builds' calls ÷ their number).
    pub store_per_build: BTreeMap<&'static str, Tally>,
    /// The CPU time of one full build without the cache (the timed builds' ÷ their number).
    pub cpu_per_build: CpuTime,
}

/// Measures a warm `build` of the whole book into a scratch directory without the cache and
/// with it (nothing changed, then one chapter's prose edited before each run), the
/// chapters' pipelines alone (`check`) as the baseline, and each chapter alone with its
/// share spent waiting on the document store.
pub fn bench_build(options: &RunOptions, runs: usize) -> Result<BuildBench> {
    let runs = runs.max(1);
    let options = &RunOptions {
        cache: None,
        ..options.clone()
    };
    let scratch = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
    let out = scratch.path().join("book");
    // One untimed run warms the generated data and the file cache.
    book::build(None, options, &out)?;
    let check = measure("check (run + checks, no render)", runs, || {
        book::run_and_check(None, options).map(|_| ())
    })?;
    let before = calls::snapshot();
    let cpu_before = CpuTime::now();
    let build = measure(
        "build --no-cache (run + checks + render + write)",
        runs,
        || book::build(None, options, &out).map(|_| ()),
    )?;
    let cpu_used = CpuTime::now() - cpu_before;
    let cpu_per_build = CpuTime {
        ours: cpu_used.ours / runs as u32,
        children: cpu_used.children / runs as u32,
    };
    let store_per_build = calls::since(&before)
        .into_iter()
        .map(|(kind, t)| {
            (
                kind,
                Tally {
                    calls: t.calls / runs as u64,
                    time: t.time / runs as u32,
                },
            )
        })
        .collect();
    // The rebuilds with the run cache: one untimed build fills it.
    let cached = RunOptions {
        cache: Some(std::sync::Arc::new(crate::run_cache::RunCache::under(
            scratch.path(),
        ))),
        ..options.clone()
    };
    book::build(None, &cached, &out)?;
    let noop = measure(
        "build, nothing changed (every chapter reused from the run cache)",
        runs,
        || book::build(None, &cached, &out).map(|_| ()),
    )?;
    let prose = measure_prose_edit(&cached, &out, runs)?;
    let manifest = Manifest::load(&options.root)?;
    let notebooks = book::run_and_check(None, options)?;
    let render = measure("render only (notebooks → files)", runs, || {
        book::render(&notebooks, &manifest, false).map(|_| ())
    })?;
    let mut chapters = Vec::new();
    for chapter in crate::chapters::all() {
        let id = chapter.meta().id;
        let before = calls::snapshot();
        let cpu_before = CpuTime::now();
        let started = Instant::now();
        book::run_and_check(Some(id), options)?;
        chapters.push(ChapterShare {
            id,
            wall: started.elapsed(),
            store: calls::since(&before),
            cpu: CpuTime::now() - cpu_before,
        });
    }
    Ok(BuildBench {
        measurements: vec![check, build, noop, prose, render],
        chapters,
        store_per_build,
        cpu_per_build,
    })
}

/// The prose-only rebuild: before each timed run, one chapter's prose gains a sentence (an
/// edit held in memory, the checkout untouched); the run must reuse every chapter and the
/// page must show the sentence.
fn measure_prose_edit(cached: &RunOptions, out: &Path, runs: usize) -> Result<Measurement> {
    let chapter = crate::chapters::all()[0].meta().id;
    let path = format!("chapters/{chapter}/chapter.md");
    let original = crate::embedded::file(&path)
        .ok_or_else(|| Error::chapter(chapter, "no chapter.md"))?
        .to_string();
    let mut samples = Vec::with_capacity(runs);
    let result = (|| {
        for run in 0..runs {
            let marker = format!(
                "Edited by the benchmark, run {}.",
                "abcdefghijklmnopqrstuvwxyz"
                    .chars()
                    .cycle()
                    .nth(run)
                    .unwrap_or('z')
            );
            crate::embedded::set_overlay(&path, Some(format!("{original}\n\n{marker}\n")));
            let started = Instant::now();
            book::build(None, cached, out)?;
            samples.push(started.elapsed());
            let page = out.join(format!("{chapter}.html"));
            let html = std::fs::read_to_string(&page).map_err(Error::io(&page))?;
            if !html.contains(&marker) {
                return Err(Error::chapter(
                    chapter,
                    format!("bench: the prose edit did not reach {}", page.display()),
                ));
            }
        }
        Ok(())
    })();
    crate::embedded::clear_overlay(&path);
    result?;
    Ok(Measurement::of(
        "build, one chapter's prose edited (every chapter reused, the page re-rendered)",
        samples,
    ))
}

/// Formats the measurements as a Markdown report (written to the git-ignored
/// `measurements/` folder and printed).
pub fn report(bench: &BuildBench) -> String {
    let mut out = String::from("| work | runs | median | min | max | ratio to first line |\n|:---|---:|---:|---:|---:|---:|\n");
    let base = bench
        .measurements
        .first()
        .map(|m| m.median.as_secs_f64())
        .unwrap_or(1.0);
    for m in &bench.measurements {
        out.push_str(&format!(
            "| {} | {} | {:.3} s | {:.3} s | {:.3} s | {:.2}× |\n",
            m.name,
            m.runs,
            m.median.as_secs_f64(),
            m.min.as_secs_f64(),
            m.max.as_secs_f64(),
            m.median.as_secs_f64() / base
        ));
    }
    out.push_str(
        "\nEach chapter alone, one run each (no cache); the waits on the document store are \
         the server's work plus the wire and the driver:\n\n\
         | chapter | wall | waiting on the document store | share | ours | CPU, ours | CPU, the server |\n|:---|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in &bench.chapters {
        let store: Duration = c.store.values().map(|t| t.time).sum();
        let wall = c.wall.as_secs_f64();
        out.push_str(&format!(
            "| {} | {:.3} s | {:.3} s | {:.0} % | {:.3} s | {:.1} s | {:.1} s |\n",
            c.id,
            wall,
            store.as_secs_f64(),
            100.0 * store.as_secs_f64() / wall.max(f64::EPSILON),
            wall - store.as_secs_f64().min(wall),
            c.cpu.ours.as_secs_f64(),
            c.cpu.children.as_secs_f64(),
        ));
    }
    let kinds: std::collections::BTreeSet<&str> = bench
        .chapters
        .iter()
        .flat_map(|c| c.store.keys().copied())
        .collect();
    if !kinds.is_empty() {
        out.push_str("\nDocument-store calls per chapter alone (calls, time waited):\n\n| call |");
        let with_store: Vec<&ChapterShare> = bench
            .chapters
            .iter()
            .filter(|c| !c.store.is_empty())
            .collect();
        for c in &with_store {
            out.push_str(&format!(" {} |", c.id));
        }
        out.push_str("\n|:---|");
        out.push_str(&"---:|".repeat(with_store.len()));
        out.push('\n');
        for kind in kinds {
            out.push_str(&format!("| {kind} |"));
            for c in &with_store {
                let t = c.store.get(kind).copied().unwrap_or_default();
                out.push_str(&format!(" {} · {:.3} s |", t.calls, t.time.as_secs_f64()));
            }
            out.push('\n');
        }
    }
    let per_build: Duration = bench.store_per_build.values().map(|t| t.time).sum();
    out.push_str(&format!(
        "\nIn one full build (chapters in parallel), {:.3} s of waits on the document store, summed over the chapters' threads.\n",
        per_build.as_secs_f64()
    ));
    let cpu = bench.cpu_per_build;
    let cores = crate::parallel::cores();
    out.push_str(&format!(
        "\nCPU time of one full build (mean of the timed builds): {:.1} s, of which ours {:.1} s \
         and the local document-store server's {:.1} s (its child process, counted when it stops). \
         On {} core(s), a build cannot take less than {:.1} s of wall time, however well its work \
         is scheduled.\n",
        cpu.total().as_secs_f64(),
        cpu.ours.as_secs_f64(),
        cpu.children.as_secs_f64(),
        cores,
        wall_floor(cpu, cores).as_secs_f64(),
    ));
    out
}

/// The least wall time `cpu` can take on `cores` cores: all of them busy all the time.
pub fn wall_floor(cpu: CpuTime, cores: usize) -> Duration {
    cpu.total() / cores.max(1) as u32
}

/// Writes the report under `measurements/` (git-ignored: wall-clock figures never enter the book).
pub fn save(root: &Path, name: &str, text: &str) -> Result<std::path::PathBuf> {
    let dir = root.join("measurements");
    std::fs::create_dir_all(&dir).map_err(Error::io(&dir))?;
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(Error::io(&path))?;
    Ok(path)
}

/// One chapter run measured in a child process: wall time, peak resident memory, and the
/// summed wall time of the queries whose name starts with `query_prefix`.
#[derive(Debug, Clone)]
pub struct ChapterRun {
    /// Wall time of the whole run.
    pub wall: Duration,
    /// Peak resident memory of the process, KiB.
    pub peak_rss_kib: u64,
    /// Time spent in DuckDB queries.
    pub queries: Duration,
}

/// Runs `auditbook check --chapter ID --param …` as a child process with profiling on, and
/// reads its peak memory from the kernel's accounting of the child.
pub fn run_child(
    root: &Path,
    chapter: &str,
    params: &[String],
    query_prefix: &str,
) -> Result<ChapterRun> {
    let exe = std::env::current_exe().map_err(Error::io("current executable"))?;
    let mut command = std::process::Command::new(&exe);
    command
        .arg("--root")
        .arg(root)
        .args(["check", "--chapter", chapter])
        .env("AUDITBOOK_PROFILE", "1")
        .env(crate::lock::HELD_BY_PARENT, root);
    for p in params {
        command.args(["--param", p]);
    }
    let started = Instant::now();
    let output = command.output().map_err(Error::io(&exe))?;
    let wall = started.elapsed();
    if !output.status.success() {
        return Err(Error::chapter(
            chapter,
            format!(
                "bench run failed: {}",
                String::from_utf8_lossy(&output.stderr)
            ),
        ));
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let mut queries = Duration::ZERO;
    let mut peak_rss_kib = 0;
    for line in stderr.lines() {
        let fields: Vec<&str> = line.split('\t').collect();
        match fields.as_slice() {
            ["profile", _, name, ms] if name.starts_with(query_prefix) => {
                queries += Duration::from_secs_f64(ms.parse::<f64>().unwrap_or(0.0) / 1000.0);
            }
            ["peak_rss_kib", kib] => peak_rss_kib = kib.parse().unwrap_or(0),
            _ => {}
        }
    }
    Ok(ChapterRun {
        wall,
        peak_rss_kib,
        queries,
    })
}

/// Peak resident memory of this process (Linux `VmHWM`), in KiB; 0 where unknown.
pub fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_string)
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

/// Measures a chapter at each parameter set, `runs` times each, and reports medians.
pub fn bench_chapter(
    root: &Path,
    chapter: &str,
    param_sets: &[Vec<String>],
    query_prefix: &str,
    runs: usize,
) -> Result<String> {
    let mut out = format!(
        "| {chapter} parameters | runs | median wall | median queries `{query_prefix}*` | peak memory (median) |\n|:---|---:|---:|---:|---:|\n"
    );
    for params in param_sets {
        let mut samples = Vec::new();
        for _ in 0..runs.max(1) {
            samples.push(run_child(root, chapter, params, query_prefix)?);
        }
        let wall = median(samples.iter().map(|s| s.wall).collect());
        let queries = median(samples.iter().map(|s| s.queries).collect());
        let mut peaks: Vec<u64> = samples.iter().map(|s| s.peak_rss_kib).collect();
        peaks.sort();
        out.push_str(&format!(
            "| {} | {} | {:.3} s | {:.3} s | {:.0} MiB |\n",
            if params.is_empty() {
                "defaults".to_string()
            } else {
                params.join(" ")
            },
            samples.len(),
            wall.as_secs_f64(),
            queries.as_secs_f64(),
            peaks[peaks.len() / 2] as f64 / 1024.0
        ));
    }
    Ok(out)
}
