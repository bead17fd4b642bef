//! How good a ranked list is, against graded judgments (2 = satisfies the request, 1 = partly,
//! 0 or absent = not relevant): recall@k, the reciprocal rank of the first fully relevant
//! row, precision@k, and nDCG@k with the usual `(2^grade − 1) / log2(rank + 1)` gain.

use std::collections::BTreeMap;

/// A query's judgments: row → grade (rows absent are grade 0).
pub type Judgments = BTreeMap<usize, u8>;

/// The share of the rows graded at least `min_grade` that appear in the first `k` of
/// `ranked` (1 when there are none to find).
pub fn recall_at(ranked: &[usize], judged: &Judgments, k: usize, min_grade: u8) -> f64 {
    let wanted: Vec<usize> = judged
        .iter()
        .filter(|(_, grade)| **grade >= min_grade)
        .map(|(row, _)| *row)
        .collect();
    if wanted.is_empty() {
        return 1.0;
    }
    let top = &ranked[..k.min(ranked.len())];
    wanted.iter().filter(|row| top.contains(row)).count() as f64 / wanted.len() as f64
}

/// The share of the first `k` of `ranked` graded at least `min_grade` (a list shorter than
/// `k` counts its missing places as misses).
pub fn precision_at(ranked: &[usize], judged: &Judgments, k: usize, min_grade: u8) -> f64 {
    if k == 0 {
        return 0.0;
    }
    let hits = ranked
        .iter()
        .take(k)
        .filter(|row| judged.get(row).copied().unwrap_or(0) >= min_grade)
        .count();
    hits as f64 / k as f64
}

/// The share of `truth`'s rows that `found` holds: recall@k of an approximate list against
/// the exact one (both cut to their first `k`).
pub fn overlap_at(found: &[usize], truth: &[usize], k: usize) -> f64 {
    let truth = &truth[..k.min(truth.len())];
    if truth.is_empty() {
        return 1.0;
    }
    let found = &found[..k.min(found.len())];
    truth.iter().filter(|row| found.contains(row)).count() as f64 / truth.len() as f64
}

/// `1 / rank` of the first row graded at least `min_grade` (0 when none is retrieved).
pub fn reciprocal_rank(ranked: &[usize], judged: &Judgments, min_grade: u8) -> f64 {
    ranked
        .iter()
        .position(|row| judged.get(row).copied().unwrap_or(0) >= min_grade)
        .map_or(0.0, |position| 1.0 / (position as f64 + 1.0))
}

/// nDCG@k: the discounted gain of the first `k` of `ranked`, divided by the gain of the best
/// possible order of the judged rows (1 when no row is relevant).
pub fn ndcg_at(ranked: &[usize], judged: &Judgments, k: usize) -> f64 {
    let gain = |grade: u8| 2f64.powi(grade as i32) - 1.0;
    let discount = |position: usize| (position as f64 + 2.0).log2();
    let dcg: f64 = ranked
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, row)| gain(judged.get(row).copied().unwrap_or(0)) / discount(i))
        .sum();
    let mut ideal: Vec<u8> = judged.values().copied().filter(|g| *g > 0).collect();
    ideal.sort_unstable_by(|a, b| b.cmp(a));
    let idcg: f64 = ideal
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, grade)| gain(*grade) / discount(i))
        .sum();
    if idcg == 0.0 {
        1.0
    } else {
        dcg / idcg
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn judged(pairs: &[(usize, u8)]) -> Judgments {
        pairs.iter().copied().collect()
    }

    #[test]
    fn the_worked_example() {
        let j = judged(&[(1, 2), (2, 1), (3, 2)]);
        let ranked = [9, 1, 2, 8];
        assert_eq!(recall_at(&ranked, &j, 2, 2), 0.5);
        assert_eq!(recall_at(&ranked, &j, 10, 1), 2.0 / 3.0);
        assert_eq!(reciprocal_rank(&ranked, &j, 2), 0.5);
        // DCG = 3/log2(3) + 1/log2(4); ideal = 3/1 + 3/log2(3) + 1/2.
        let dcg = 3.0 / 3f64.log2() + 1.0 / 2.0;
        let idcg = 3.0 + 3.0 / 3f64.log2() + 0.5;
        assert!((ndcg_at(&ranked, &j, 10) - dcg / idcg).abs() < 1e-12);
    }

    proptest! {
        #[test]
        fn the_ideal_order_scores_one_and_every_score_is_a_share(
            grades in proptest::collection::vec(0u8..3, 1..30),
            shuffle in proptest::collection::vec(0usize..1000, 30),
        ) {
            let j: Judgments = grades.iter().enumerate().map(|(row, g)| (row, *g)).collect();
            let mut ideal: Vec<usize> = (0..grades.len()).collect();
            ideal.sort_by_key(|row| (std::cmp::Reverse(grades[*row]), *row));
            prop_assert!((ndcg_at(&ideal, &j, 10) - 1.0).abs() < 1e-12);
            let mut other: Vec<usize> = (0..grades.len()).collect();
            other.sort_by_key(|row| shuffle[*row]);
            for score in [ndcg_at(&other, &j, 10), recall_at(&other, &j, 10, 1), reciprocal_rank(&other, &j, 2)] {
                prop_assert!((0.0..=1.0 + 1e-12).contains(&score));
            }
        }
    }
}
