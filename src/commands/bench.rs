//! `bench`: wall-clock measurements, kept out of the committed book and out of tests. Each
//! figure is the median of several runs, reported beside a baseline measured in the same run
//! (running the chapters without rendering), so the ratio survives a noisy machine.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::commands::book::{self, RunOptions};
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

fn measure(name: &str, runs: usize, mut work: impl FnMut() -> Result<()>) -> Result<Measurement> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        work()?;
        samples.push(start.elapsed());
    }
    let (min, max) = (
        *samples.iter().min().unwrap(),
        *samples.iter().max().unwrap(),
    );
    Ok(Measurement {
        name: name.to_string(),
        runs,
        median: median(samples),
        min,
        max,
    })
}

/// Measures a warm `build` of the whole book into a scratch directory, and the chapters'
/// pipelines alone (`check`) as the baseline.
pub fn bench_build(options: &RunOptions, runs: usize) -> Result<Vec<Measurement>> {
    let runs = runs.max(1);
    let scratch = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
    let out = scratch.path().join("book");
    // One untimed run warms the generated data and the file cache.
    book::build(None, options, &out)?;
    let check = measure("check (run + checks, no render)", runs, || {
        book::run_and_check(None, options).map(|_| ())
    })?;
    let build = measure("build (run + checks + render + write)", runs, || {
        book::build(None, options, &out).map(|_| ())
    })?;
    // The rebuild with nothing changed (or only prose, which is not in the key): every
    // chapter reused from the run cache, the book rendered and written. One untimed build
    // fills the cache.
    let cached = RunOptions {
        cache: Some(std::sync::Arc::new(crate::run_cache::RunCache::under(
            &options.root,
        ))),
        ..options.clone()
    };
    book::build(None, &cached, &out)?;
    let reused = measure(
        "build, every chapter reused from the run cache (no-op or prose-only rebuild)",
        runs,
        || book::build(None, &cached, &out).map(|_| ()),
    )?;
    let manifest = Manifest::load(&options.root)?;
    let notebooks = book::run_and_check(None, options)?;
    let render = measure("render only (notebooks → files)", runs, || {
        book::render(&notebooks, &manifest, false).map(|_| ())
    })?;
    Ok(vec![check, build, reused, render])
}

/// Formats the measurements as a Markdown report (written to the git-ignored
/// `measurements/` folder and printed).
pub fn report(measurements: &[Measurement]) -> String {
    let mut out = String::from("| work | runs | median | min | max | ratio to first line |\n|:---|---:|---:|---:|---:|---:|\n");
    let base = measurements
        .first()
        .map(|m| m.median.as_secs_f64())
        .unwrap_or(1.0);
    for m in measurements {
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
    out
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
