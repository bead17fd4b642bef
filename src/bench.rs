//! `bench`: wall-clock measurements, kept out of the committed book and out of tests. Each
//! figure is the median of several runs, reported beside a baseline measured in the same run
//! (running the chapters without rendering), so the ratio survives a noisy machine.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::book::{self, RunOptions};
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
    pub name: String,
    pub runs: usize,
    pub median: Duration,
    pub min: Duration,
    pub max: Duration,
}

fn measure(name: &str, runs: usize, mut work: impl FnMut() -> Result<()>) -> Result<Measurement> {
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        work()?;
        samples.push(start.elapsed());
    }
    let (min, max) = (*samples.iter().min().unwrap(), *samples.iter().max().unwrap());
    Ok(Measurement { name: name.to_string(), runs, median: median(samples), min, max })
}

/// Measures a warm `build` of the whole book into a scratch directory, and the chapters'
/// pipelines alone (`check`) as the baseline.
pub fn bench_build(options: &RunOptions, runs: usize) -> Result<Vec<Measurement>> {
    let runs = runs.max(1);
    let scratch = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
    let out = scratch.path().join("book");
    // One untimed run warms the generated data and the file cache.
    book::build(None, options, &out)?;
    let check = measure("check (run + checks, no render)", runs, || book::run_and_check(None, options).map(|_| ()))?;
    let build = measure("build (run + checks + render + write)", runs, || book::build(None, options, &out).map(|_| ()))?;
    let manifest = Manifest::load(&options.root)?;
    let notebooks = book::run_and_check(None, options)?;
    let render = measure("render only (notebooks → files)", runs, || book::render(&notebooks, &manifest, false).map(|_| ()))?;
    Ok(vec![check, build, render])
}

/// Formats the measurements as a Markdown report (written to the git-ignored
/// `measurements/` folder and printed).
pub fn report(measurements: &[Measurement]) -> String {
    let mut out = String::from("| work | runs | median | min | max | ratio to first line |\n|:---|---:|---:|---:|---:|---:|\n");
    let base = measurements.first().map(|m| m.median.as_secs_f64()).unwrap_or(1.0);
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
