//! The exact index: every vector compared with the query, the `k` best kept. O(n·d) per
//! query, which at ten thousand 384-float vectors is a few milliseconds: the reference the
//! approximate index is measured against, and what DuckDB's `array_inner_product` must agree
//! with.

use super::{rank, Hit};

/// Unit vectors in one contiguous block, row after row.
#[derive(Debug, Clone)]
pub struct FlatIndex {
    dimensions: usize,
    values: Vec<f32>,
}

impl FlatIndex {
    /// An index of `vectors`, each of `dimensions` floats (row `i` is `vectors[i]`).
    ///
    /// # Panics
    /// When a vector has another length: vectors come from one model.
    pub fn new(dimensions: usize, vectors: &[Vec<f32>]) -> FlatIndex {
        let mut values = Vec::with_capacity(dimensions * vectors.len());
        for (row, vector) in vectors.iter().enumerate() {
            assert_eq!(vector.len(), dimensions, "row {row} has another length");
            values.extend_from_slice(vector);
        }
        FlatIndex { dimensions, values }
    }

    /// How many rows it holds.
    pub fn len(&self) -> usize {
        self.values.len() / self.dimensions.max(1)
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Row `row`'s vector.
    pub fn vector(&self, row: usize) -> &[f32] {
        &self.values[row * self.dimensions..(row + 1) * self.dimensions]
    }

    /// The `k` rows `keep` accepts with the highest inner product with `query`, best first
    /// (ties by row).
    pub fn search(&self, query: &[f32], k: usize, keep: impl Fn(usize) -> bool) -> Vec<Hit> {
        let mut hits: Vec<Hit> = (0..self.len())
            .filter(|&row| keep(row))
            .map(|row| Hit {
                row,
                score: dot(query, self.vector(row)),
            })
            .collect();
        rank(&mut hits);
        hits.truncate(k);
        hits
    }
}

pub use super::dot::dot;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_best_row_comes_first_and_the_filter_applies_before_ranking() {
        let index = FlatIndex::new(2, &[vec![1.0, 0.0], vec![0.0, 1.0], vec![0.6, 0.8]]);
        let hits = index.search(&[1.0, 0.0], 2, |_| true);
        assert_eq!(hits.iter().map(|h| h.row).collect::<Vec<_>>(), [0, 2]);
        let hits = index.search(&[1.0, 0.0], 2, |row| row != 0);
        assert_eq!(hits.iter().map(|h| h.row).collect::<Vec<_>>(), [2, 1]);
    }

    proptest! {
        #[test]
        fn search_is_a_sort_of_every_kept_score(
            rows in proptest::collection::vec(proptest::collection::vec(-1.0f32..1.0, 3), 0..40),
            query in proptest::collection::vec(-1.0f32..1.0, 3),
            k in 0usize..50,
        ) {
            let index = FlatIndex::new(3, &rows);
            let hits = index.search(&query, k, |row| row % 3 != 1);
            let kept = (0..rows.len()).filter(|r| r % 3 != 1).count();
            prop_assert_eq!(hits.len(), k.min(kept));
            for pair in hits.windows(2) {
                prop_assert!(pair[0].score >= pair[1].score);
            }
            // Nothing left out scores higher than the last hit.
            if let Some(last) = hits.last() {
                for row in (0..rows.len()).filter(|r| r % 3 != 1) {
                    if !hits.iter().any(|h| h.row == row) {
                        prop_assert!(dot(&query, &rows[row]) <= last.score);
                    }
                }
            }
        }
    }
}
