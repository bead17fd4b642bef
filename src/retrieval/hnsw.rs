//! The approximate index: HNSW (hierarchical navigable small-world graphs) from the `hnsw_rs`
//! crate. Built the same way every time: the crate draws each point's level from a generator
//! with a fixed seed, and the points are inserted one by one in row order (its parallel
//! insertion would make the graph depend on thread timing). Searched with a beam of `ef`
//! candidates: larger `ef`, closer to the exact answer, slower.

use hnsw_rs::prelude::{Distance, Hnsw};

use super::{rank, Hit};

/// How the graph is built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Neighbours kept per point and layer (HNSW's `M`).
    pub connections: usize,
    /// Candidates explored while inserting a point.
    pub ef_construction: usize,
}

impl Default for HnswParams {
    /// faiss's `IndexHNSWFlat(d, 32)` and hnswlib's usual construction beam.
    fn default() -> Self {
        HnswParams {
            connections: 32,
            ef_construction: 200,
        }
    }
}

/// `1 − inner product`, floored at 0: for unit vectors, a distance whose order is the
/// inner product's. (The crate's own `DistDot` asserts the result is not negative, which
/// float rounding breaks for two equal unit vectors.)
#[derive(Debug, Clone, Copy, Default)]
pub struct InnerProductDistance;

impl Distance<f32> for InnerProductDistance {
    fn eval(&self, a: &[f32], b: &[f32]) -> f32 {
        (1.0 - super::flat::dot(a, b)).max(0.0)
    }
}

/// An HNSW graph over unit vectors.
pub struct HnswIndex {
    graph: Hnsw<'static, f32, InnerProductDistance>,
    rows: usize,
}

impl HnswIndex {
    /// Builds the graph over `vectors` (row `i` is `vectors[i]`).
    pub fn build(vectors: &[Vec<f32>], params: HnswParams) -> HnswIndex {
        // The crate's layer count: enough levels for the number of points at this fan-out.
        let layers = 16;
        let mut graph = Hnsw::new(
            params.connections,
            vectors.len().max(1),
            layers,
            params.ef_construction,
            InnerProductDistance,
        );
        for (row, vector) in vectors.iter().enumerate() {
            graph.insert_slice((vector, row));
        }
        graph.set_searching_mode(true);
        HnswIndex {
            graph,
            rows: vectors.len(),
        }
    }

    /// How many rows it holds.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The `k` rows `keep` accepts nearest to `query`, searched with a beam of `ef`
    /// candidates (at least `k`), best first. The filter is applied inside the graph walk, so
    /// rows it refuses never take a place in the answer.
    pub fn search(
        &self,
        query: &[f32],
        k: usize,
        ef: usize,
        keep: impl Fn(usize) -> bool,
    ) -> Vec<Hit> {
        if k == 0 || self.rows == 0 {
            return Vec::new();
        }
        let filter = |row: &usize| keep(*row);
        let mut hits: Vec<Hit> = self
            .graph
            .search_filter(query, k, ef.max(k), Some(&filter))
            .into_iter()
            .map(|n| Hit {
                row: n.d_id,
                // Back from the distance: the inner product, to within one float rounding.
                score: 1.0 - n.distance,
            })
            .collect();
        rank(&mut hits);
        hits.truncate(k);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::retrieval::flat::FlatIndex;
    use rand::{Rng, SeedableRng};

    fn unit_vectors(n: usize, dimensions: usize, seed: u64) -> Vec<Vec<f32>> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        (0..n)
            .map(|_| {
                let v: Vec<f32> = (0..dimensions)
                    .map(|_| rng.random_range(-1.0..1.0))
                    .collect();
                let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
                v.into_iter().map(|x| x / norm).collect()
            })
            .collect()
    }

    #[test]
    fn with_a_wide_beam_it_finds_what_the_exact_index_finds_and_builds_the_same_twice() {
        let vectors = unit_vectors(2000, 16, 7);
        let queries = unit_vectors(50, 16, 8);
        let exact = FlatIndex::new(16, &vectors);
        let index = HnswIndex::build(&vectors, HnswParams::default());
        let again = HnswIndex::build(&vectors, HnswParams::default());
        let mut found = 0;
        for q in &queries {
            let truth: Vec<usize> = exact
                .search(q, 10, |_| true)
                .iter()
                .map(|h| h.row)
                .collect();
            let approx: Vec<usize> = index
                .search(q, 10, 200, |_| true)
                .iter()
                .map(|h| h.row)
                .collect();
            let twice: Vec<usize> = again
                .search(q, 10, 200, |_| true)
                .iter()
                .map(|h| h.row)
                .collect();
            assert_eq!(approx, twice, "the same vectors gave two graphs");
            found += approx.iter().filter(|r| truth.contains(r)).count();
        }
        let recall = found as f64 / (10 * queries.len()) as f64;
        assert!(recall >= 0.98, "recall@10 {recall}");
    }

    #[test]
    fn a_filter_keeps_refused_rows_out_and_duplicates_do_not_panic() {
        let mut vectors = unit_vectors(300, 8, 1);
        vectors.push(vectors[0].clone());
        let index = HnswIndex::build(&vectors, HnswParams::default());
        let hits = index.search(&vectors[0], 5, 64, |row| row % 2 == 0 && row != 0);
        assert_eq!(hits.len(), 5);
        assert!(
            hits.iter().all(|h| h.row % 2 == 0 && h.row != 0),
            "{hits:?}"
        );
        assert_eq!(
            hits[0].row, 300,
            "row 0 refused, its duplicate is the nearest"
        );
    }
}
