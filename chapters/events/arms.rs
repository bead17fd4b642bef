//! The retrieval arms the chapter compares, each a ranked list of events per request:
//!
//! - `bm25`: words only, Okapi BM25 computed in DuckDB (`bm25.sql`, `bm25_top.sql`);
//! - `dense`: meaning only, the exact inner product of MiniLM vectors over every event;
//! - `dense_filtered`: the same over the events that pass the request's filters;
//! - `hybrid`: the filters, then reciprocal-rank fusion of `dense_filtered` and BM25 over the
//!   same filtered events, what the assistant answers with.
//!
//! Every list is cut at [`DEPTH`]; the metrics read its first [`K`].

use std::collections::BTreeMap;

use crate::retrieval::flat::FlatIndex;
use crate::retrieval::{fusion, Hit};

/// How deep each arm's list goes (what the fusion sees, and how far a needle's rank is told).
pub const DEPTH: usize = 100;
/// The cut the metrics are computed at.
pub const K: usize = 10;

/// The arms, in the order the book shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Arm {
    /// Words only.
    Bm25,
    /// Meaning only, over every event.
    Dense,
    /// Meaning, over the events the filters keep.
    DenseFiltered,
    /// Filters, then words and meaning fused.
    Hybrid,
}

impl Arm {
    /// Every arm.
    pub const ALL: [Arm; 4] = [Arm::Bm25, Arm::Dense, Arm::DenseFiltered, Arm::Hybrid];

    /// Its name in tables and findings.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Bm25 => "bm25",
            Arm::Dense => "dense",
            Arm::DenseFiltered => "dense_filtered",
            Arm::Hybrid => "hybrid",
        }
    }
}

/// BM25's lists as DuckDB returned them: per SQL arm name (`bm25`, `bm25_filtered`), per
/// request, the event rows best first.
pub type LexicalLists = BTreeMap<(String, String), Vec<Hit>>;

/// Every arm's list for one request.
pub fn rank_request(
    request: &str,
    vector: &[f32],
    exact: &FlatIndex,
    keep: &dyn Fn(usize) -> bool,
    lexical: &LexicalLists,
) -> BTreeMap<Arm, Vec<usize>> {
    let lex = |arm: &str| -> &[Hit] {
        lexical
            .get(&(arm.to_string(), request.to_string()))
            .map(Vec::as_slice)
            .unwrap_or(&[])
    };
    let dense = exact.search(vector, DEPTH, |_| true);
    let dense_filtered = exact.search(vector, DEPTH, keep);
    let hybrid = fusion::reciprocal_rank(&[&dense_filtered, lex("bm25_filtered")], DEPTH);
    let rows = |hits: &[Hit]| hits.iter().map(|h| h.row).collect::<Vec<usize>>();
    BTreeMap::from([
        (Arm::Bm25, rows(lex("bm25"))),
        (Arm::Dense, rows(&dense)),
        (Arm::DenseFiltered, rows(&dense_filtered)),
        (Arm::Hybrid, rows(&hybrid)),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hybrid_keeps_only_what_the_filters_keep() {
        let vectors: Vec<Vec<f32>> = (0..20)
            .map(|i| {
                let a = i as f32 / 20.0;
                vec![a.cos(), a.sin()]
            })
            .collect();
        let exact = FlatIndex::new(2, &vectors);
        let mut lexical = LexicalLists::new();
        lexical.insert(
            ("bm25_filtered".into(), "Q1".into()),
            vec![Hit { row: 4, score: 3.0 }, Hit { row: 6, score: 2.0 }],
        );
        let even = |row: usize| row.is_multiple_of(2);
        let lists = rank_request("Q1", &[1.0, 0.0], &exact, &even, &lexical);
        assert!(lists[&Arm::Hybrid].iter().all(|r| r.is_multiple_of(2)));
        assert_eq!(lists[&Arm::Dense][0], 0);
        assert!(lists[&Arm::Bm25].is_empty());
        // Row 4 is third by meaning among the even rows and first by words: fused first.
        assert_eq!(lists[&Arm::Hybrid][0], 4, "{:?}", lists[&Arm::Hybrid]);
    }
}
