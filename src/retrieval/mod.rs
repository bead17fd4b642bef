//! Retrieval over embedded documents: the pieces a chapter that recommends from a vector
//! index is built from, none of them knowing which chapter uses them.
//!
//! - [`flat`]: the exact index, top-k by inner product over every vector: the ground truth
//!   every approximate answer is measured against.
//! - [`hnsw`]: the approximate index, HNSW from the `hnsw_rs` crate, built deterministically
//!   (its level generator has a fixed seed; insertion is single-threaded, in row order).
//! - [`dot`]: the inner product they rank by, in fixed-order lanes (AVX where the CPU has
//!   it, the same bits without).
//! - [`fusion`]: reciprocal-rank fusion of several ranked lists (the hybrid arm).
//! - [`metrics`]: recall@k, MRR and nDCG@k over graded judgments.
//!
//! Rows are numbered from 0 in the order the vectors were given; a filter (dates, places,
//! price) is a predicate over rows, applied before ranking, never after.

pub mod dot;
pub mod flat;
pub mod fusion;
pub mod hnsw;
pub mod metrics;

/// One retrieved row and its score (higher is better), in rank order within a result list.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hit {
    /// The row of the document.
    pub row: usize,
    /// Its score: the inner product with the query for the vector indexes.
    pub score: f32,
}

/// Orders hits best first; equal scores by row, so that the order never depends on how the
/// hits were found.
pub fn rank(hits: &mut [Hit]) {
    hits.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.row.cmp(&b.row)));
}
