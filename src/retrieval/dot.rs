//! The inner product every index ranks by: [`auditbook_kernels::dot`], in fixed-order lanes
//! (AVX where the CPU has it, the same bits without), built optimised in its own crate.

pub use auditbook_kernels::dot;

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The AVX path and the portable one give the same bits, close to the exact sum
        /// (lengths around and past the 32 lanes, tails included).
        #[test]
        fn every_path_gives_the_same_bits(
            pairs in proptest::collection::vec((-1.0f32..1.0, -1.0f32..1.0), 0..500),
        ) {
            let (a, b): (Vec<f32>, Vec<f32>) = pairs.into_iter().unzip();
            let fast = dot(&a, &b);
            prop_assert_eq!(fast.to_bits(), auditbook_kernels::dot_lanes(&a, &b).to_bits());
            let exact: f64 = a.iter().zip(&b).map(|(x, y)| *x as f64 * *y as f64).sum();
            prop_assert!((fast as f64 - exact).abs() < 1e-4, "{} vs {}", fast, exact);
        }
    }

    #[test]
    fn a_unit_vector_with_itself_is_one() {
        let v: Vec<f32> = (0..384).map(|i| if i == 7 { 1.0 } else { 0.0 }).collect();
        assert_eq!(dot(&v, &v), 1.0);
    }
}
