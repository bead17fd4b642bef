//! Reciprocal-rank fusion (Cormack, Clarke and Büttcher, 2009): each list gives a row
//! `1 / (k + rank)`, ranks counted from 1, and the rows are ordered by the sum. It needs no
//! score calibration between arms (a BM25 score and a cosine are not on one scale), which is
//! why hybrid retrieval uses it.

use std::collections::BTreeMap;

use super::{rank, Hit};

/// The `k` of the original paper: it damps the weight of the very first ranks.
pub const RRF_K: f64 = 60.0;

/// The fused list of `lists` (each best first), the `limit` best, best first; a row's score
/// is its fused score.
pub fn reciprocal_rank(lists: &[&[Hit]], limit: usize) -> Vec<Hit> {
    let mut fused: BTreeMap<usize, f64> = BTreeMap::new();
    for list in lists {
        for (position, hit) in list.iter().enumerate() {
            *fused.entry(hit.row).or_default() += 1.0 / (RRF_K + position as f64 + 1.0);
        }
    }
    let mut hits: Vec<Hit> = fused
        .into_iter()
        .map(|(row, score)| Hit {
            row,
            score: score as f32,
        })
        .collect();
    rank(&mut hits);
    hits.truncate(limit);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(rows: &[usize]) -> Vec<Hit> {
        rows.iter().map(|&row| Hit { row, score: 0.0 }).collect()
    }

    #[test]
    fn a_row_both_lists_rank_well_beats_one_only_one_list_ranks_first() {
        let lexical = list(&[7, 1, 2]);
        let dense = list(&[3, 1, 4]);
        let fused = reciprocal_rank(&[&lexical, &dense], 3);
        assert_eq!(fused[0].row, 1, "{fused:?}");
        // 7 and 3 are each first once: the tie goes to the lower row.
        assert_eq!(fused[1].row, 3);
        assert_eq!(fused[2].row, 7);
    }
}
