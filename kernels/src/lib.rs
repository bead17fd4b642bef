//! auditbook's hot numeric loops, in a crate of their own: the main crate is built at
//! opt-level 1 (for compile time), where these loops ran several times slower; this one is
//! always built at opt-level 3 (the main Cargo.toml's `[profile.dev.package]`).
//!
//! [`dot`]: the inner product every index ranks by, fast and the same bits on every machine.
//!
//! The products are summed in 32 lanes (lane `l` takes elements `l`, `l + 32`, `l + 64`, …),
//! each lane a plain multiply then add, then the lanes are added in lane order and the tail
//! (past the last full 32) after them. That order is fixed: on a CPU with AVX the 32 lanes are
//! four 8-float registers, and elsewhere the same sums are made one float at a time, so both
//! give identical results (no fused multiply-add, which would round differently). A plain
//! left-to-right sum would be one long chain of dependent additions; the lanes let the CPU
//! work on several at once, and the AVX path eight at a time.

/// Floats summed side by side.
const LANES: usize = 32;

/// The inner product of `a` and `b` (of equal length).
///
/// # Panics
/// When the lengths differ: two vectors from one model have one length.
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "vectors of different lengths");
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx") {
        // SAFETY: the CPU was just found to have AVX.
        return unsafe { dot_avx(a, b) };
    }
    dot_lanes(a, b)
}

/// The lanes one float at a time: what [`dot`] does on a CPU without AVX, and the
/// reference the AVX path is tested against (same bits).
pub fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0.0f32; LANES];
    let full = a.len() / LANES * LANES;
    for (ca, cb) in a[..full]
        .chunks_exact(LANES)
        .zip(b[..full].chunks_exact(LANES))
    {
        for l in 0..LANES {
            lanes[l] += ca[l] * cb[l];
        }
    }
    finish(&lanes, &a[full..], &b[full..])
}

/// The lanes in four AVX registers of eight.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn dot_avx(a: &[f32], b: &[f32]) -> f32 {
    use std::arch::x86_64::{
        _mm256_add_ps, _mm256_loadu_ps, _mm256_mul_ps, _mm256_setzero_ps, _mm256_storeu_ps,
    };
    let full = a.len() / LANES * LANES;
    let mut acc = [_mm256_setzero_ps(); 4];
    for (ca, cb) in a[..full]
        .chunks_exact(LANES)
        .zip(b[..full].chunks_exact(LANES))
    {
        for (j, lane) in acc.iter_mut().enumerate() {
            // SAFETY: each chunk holds 32 floats, so 8j + 8 <= 32; loadu takes any alignment.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_ps(ca.as_ptr().add(8 * j)),
                    _mm256_loadu_ps(cb.as_ptr().add(8 * j)),
                )
            };
            *lane = _mm256_add_ps(*lane, _mm256_mul_ps(x, y));
        }
    }
    let mut lanes = [0.0f32; LANES];
    for (j, lane) in acc.iter().enumerate() {
        // SAFETY: lanes has room for 8 floats at 8j.
        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr().add(8 * j), *lane) };
    }
    finish(&lanes, &a[full..], &b[full..])
}

/// The lanes added in lane order, then the tail's products one by one.
fn finish(lanes: &[f32; LANES], a: &[f32], b: &[f32]) -> f32 {
    let mut sum = 0.0f32;
    for lane in lanes {
        sum += lane;
    }
    for (x, y) in a.iter().zip(b) {
        sum += x * y;
    }
    sum
}
