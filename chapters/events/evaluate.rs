//! The evaluation: every arm's list for every request, scored against the judgments the
//! facets give (never a model's); the HNSW index measured against the exact one, per search
//! beam, with and without filters; and the exact top 10 compared with DuckDB's.

use std::collections::BTreeMap;

use super::arms::{self, Arm, LexicalLists, DEPTH, K};
use super::queries::{Language, Query};
use crate::retrieval::flat::FlatIndex;
use crate::retrieval::hnsw::HnswIndex;
use crate::retrieval::metrics;

/// The search beams the HNSW sweep tries.
pub const EF_SWEEP: [usize; 7] = [10, 16, 24, 40, 64, 128, 256];

/// Every arm's list, per request (in the requests' order).
pub fn rank_all(
    queries: &[Query],
    vectors: &[Vec<f32>],
    exact: &FlatIndex,
    keeps: &[Keep<'_>],
    lexical: &LexicalLists,
) -> Vec<BTreeMap<Arm, Vec<usize>>> {
    // Each request ranks alone: on every core, gathered in the requests' order.
    let requests = queries.len().min(vectors.len()).min(keeps.len());
    crate::parallel::map_in_order(requests, crate::parallel::cores(), |r| {
        arms::rank_request(
            &queries[r].id,
            &vectors[r],
            exact,
            keeps[r].as_ref(),
            lexical,
        )
    })
}

/// An arm's mean scores over a set of requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scores {
    /// Requests averaged.
    pub requests: usize,
    /// Mean nDCG@10.
    pub ndcg: f64,
    /// Mean share of the first 10 that satisfy every facet asked.
    pub precision: f64,
    /// Mean reciprocal rank of the first event that satisfies every facet.
    pub mrr: f64,
}

/// The scores of `arm` over the requests in `language` (all when `None`).
pub fn scores(
    queries: &[Query],
    lists: &[BTreeMap<Arm, Vec<usize>>],
    arm: Arm,
    language: Option<Language>,
) -> Scores {
    let chosen: Vec<(&Query, &Vec<usize>)> = queries
        .iter()
        .zip(lists)
        .filter(|(q, _)| language.is_none_or(|l| q.language == l))
        .map(|(q, l)| (q, &l[&arm]))
        .collect();
    let n = chosen.len().max(1) as f64;
    let mean = |f: &dyn Fn(&Query, &[usize]) -> f64| -> f64 {
        chosen.iter().map(|(q, l)| f(q, l)).sum::<f64>() / n
    };
    Scores {
        requests: chosen.len(),
        ndcg: mean(&|q, l| metrics::ndcg_at(l, &q.judged, K)),
        precision: mean(&|q, l| metrics::precision_at(l, &q.judged, K, 2)),
        mrr: mean(&|q, l| metrics::reciprocal_rank(l, &q.judged, 2)),
    }
}

/// HNSW against the exact index at one search beam: mean recall@10, over every event and
/// with each request's filters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HnswRecall {
    /// The search beam.
    pub ef: usize,
    /// Mean share of the exact top 10 the graph finds, no filter.
    pub recall: f64,
    /// The same with each request's filters applied during the search.
    pub filtered_recall: f64,
}

/// A request's filter: whether a row (an event) satisfies what the request asks. `Sync`, so
/// the requests can be searched on several threads.
pub type Keep<'a> = Box<dyn Fn(usize) -> bool + Sync + 'a>;

/// Recall@10 of `index` against `exact` for every beam of `beams`. The requests are searched
/// on every core (each search reads the graph only), and their recalls summed in request
/// order: the same figures for any number of threads.
pub fn hnsw_sweep(
    index: &HnswIndex,
    vectors: &[Vec<f32>],
    lists: &[BTreeMap<Arm, Vec<usize>>],
    keeps: &[Keep<'_>],
    beams: &[usize],
) -> Vec<HnswRecall> {
    // Per request, per beam: (recall, filtered recall).
    let per_request: Vec<Vec<(f64, f64)>> =
        crate::parallel::map_in_order(vectors.len(), crate::parallel::cores(), |r| {
            let recall_at = |ef: usize, keep: &dyn Fn(usize) -> bool, arm: Arm| {
                let found: Vec<usize> = index
                    .search(&vectors[r], K, ef, keep)
                    .iter()
                    .map(|h| h.row)
                    .collect();
                metrics::overlap_at(&found, &lists[r][&arm], K)
            };
            beams
                .iter()
                .map(|&ef| {
                    (
                        recall_at(ef, &|_| true, Arm::Dense),
                        recall_at(ef, keeps[r].as_ref(), Arm::DenseFiltered),
                    )
                })
                .collect()
        });
    let n = vectors.len().max(1) as f64;
    beams
        .iter()
        .enumerate()
        .map(|(b, &ef)| {
            let (mut recall, mut filtered_recall) = (0.0, 0.0);
            for r in &per_request {
                recall += r[b].0;
                filtered_recall += r[b].1;
            }
            HnswRecall {
                ef,
                recall: recall / n,
                filtered_recall: filtered_recall / n,
            }
        })
        .collect()
}

/// Where an arm ranks a row: its place from 1, or `None` beyond the list's [`DEPTH`].
pub fn rank_of(list: &[usize], row: usize) -> Option<usize> {
    list.iter()
        .take(DEPTH)
        .position(|r| *r == row)
        .map(|p| p + 1)
}

/// How the exact top 10 of Rust and of DuckDB compare, over every request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Agreement {
    /// Requests whose two top 10 hold the same events (ties at the tenth place aside).
    pub agreeing: usize,
    /// The requests that differ, with the events each side has that the other has not.
    pub differing: Vec<String>,
    /// The largest difference between the two scores of one event.
    pub max_score_gap: f64,
}

/// Two scores closer than this are a tie: the two engines add 384 products in different
/// orders, so their last bits may differ.
pub const TIE: f64 = 1e-5;

/// Compares the Rust exact lists (`exact`, scored by `score`) with DuckDB's `top` per request.
pub fn agreement(
    queries: &[Query],
    lists: &[BTreeMap<Arm, Vec<usize>>],
    score: &dyn Fn(usize, usize) -> f64,
    top: &BTreeMap<String, Vec<(usize, f64)>>,
) -> Agreement {
    let mut result = Agreement::default();
    for (i, (q, l)) in queries.iter().zip(lists).enumerate() {
        let ours: Vec<usize> = l[&Arm::Dense].iter().take(K).copied().collect();
        let theirs: &[(usize, f64)] = top.get(&q.id).map(Vec::as_slice).unwrap_or(&[]);
        let tenth = ours
            .last()
            .map(|&r| score(i, r))
            .unwrap_or(f64::NEG_INFINITY);
        for (row, s) in theirs {
            result.max_score_gap = result.max_score_gap.max((s - score(i, *row)).abs());
        }
        // An event only one side has is a disagreement unless it ties the tenth place.
        let only_theirs: Vec<usize> = theirs
            .iter()
            .filter(|(r, s)| !ours.contains(r) && (s - tenth).abs() > TIE)
            .map(|(r, _)| *r)
            .collect();
        let theirs_rows: Vec<usize> = theirs.iter().map(|(r, _)| *r).collect();
        let only_ours: Vec<usize> = ours
            .iter()
            .copied()
            .filter(|r| !theirs_rows.contains(r) && (score(i, *r) - tenth).abs() > TIE)
            .collect();
        if only_theirs.is_empty() && only_ours.is_empty() && theirs.len() == ours.len() {
            result.agreeing += 1;
        } else {
            result.differing.push(format!(
                "{}: DuckDB only rows {:?}, Rust only rows {:?}",
                q.id, only_theirs, only_ours
            ));
        }
    }
    result
}
