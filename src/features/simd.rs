//! Runtime CPU-feature detection for the per-frame loops.
//!
//! The crate is compiled for baseline x86-64 (SSE2) so one binary runs everywhere. The
//! spectrogram's hot loops (windowing, power, square roots, mel sums, logs, the transpose into
//! `[freq, time]`) are plain Rust that LLVM vectorises; compiled for AVX2 they run twice as wide.
//! [`super::Spectrogram`] therefore has a second copy of its frame loop, a method marked
//! `#[target_feature(enable = "avx2,fma")]` into which the `#[inline(always)]` loop body is
//! inlined, and calls it when [`avx2_fma`] says the CPU has both. (Passing a closure to a
//! target-feature function does not work: the closure is a separate function and stays SSE2.)
//!
//! Results are bit-identical either way: Rust never contracts `a * b + c` into an FMA nor
//! reorders floating-point sums on its own, so wider vectors change speed, not values. The FFT is
//! rustfft's, which does its own detection.
//!
//! One kernel is written with intrinsics because LLVM does not find it: [`transpose`]'s 8×8
//! tile (eight row loads, 24 shuffles, eight row stores instead of 64 scattered scalar stores),
//! used to turn frame-major spectra into the bins-major blocks the filterbank and the
//! `[freq, time]` output want. It is the module's only `unsafe`.
#![allow(unsafe_code)]

/// Whether this CPU has AVX2 and FMA (std checks once and caches the answer).
#[inline]
pub(crate) fn avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `dst[c * dst_stride + r] = src[r * src_stride + c]` for `r < rows`, `c < cols`.
///
/// `WIDE` selects the AVX 8×8 tiles; callers pass `true` only from code that runs after
/// [`avx2_fma`] returned true (the spectrogram's AVX2 copy of its frame loop).
///
/// # Panics
/// If either slice is too short for the given shape and strides.
#[inline(always)]
pub(crate) fn transpose<const WIDE: bool>(
    src: &[f32],
    src_stride: usize,
    rows: usize,
    cols: usize,
    dst: &mut [f32],
    dst_stride: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(src_stride >= cols && src.len() >= (rows - 1) * src_stride + cols, "transpose src");
    assert!(dst_stride >= rows && dst.len() >= (cols - 1) * dst_stride + rows, "transpose dst");
    let (full_r, full_c) = if WIDE { (rows / 8 * 8, cols / 8 * 8) } else { (0, 0) };
    #[cfg(target_arch = "x86_64")]
    for r0 in (0..full_r).step_by(8) {
        for c0 in (0..full_c).step_by(8) {
            // SAFETY: the asserts above put every element of the tile in bounds (r0 + 7 < rows,
            // c0 + 7 < cols); WIDE callers run only on CPUs with AVX (documented contract).
            unsafe {
                tile8x8(
                    src.as_ptr().add(r0 * src_stride + c0),
                    src_stride,
                    dst.as_mut_ptr().add(c0 * dst_stride + r0),
                    dst_stride,
                );
            }
        }
    }
    // Whatever the tiles did not cover: the last rows (all columns) and the last columns.
    for r in 0..rows {
        let c_start = if r < full_r { full_c } else { 0 };
        for c in c_start..cols {
            dst[c * dst_stride + r] = src[r * src_stride + c];
        }
    }
}

/// Transposes one 8×8 tile of f32 (the standard unpack / shuffle / permute sequence).
///
/// # Safety
/// The CPU must have AVX; `src + r·ss + c` and `dst + c·ds + r` must be valid for `r, c < 8`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn tile8x8(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
    use std::arch::x86_64::*;
    let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * ss)));
    let t0 = _mm256_unpacklo_ps(r[0], r[1]);
    let t1 = _mm256_unpackhi_ps(r[0], r[1]);
    let t2 = _mm256_unpacklo_ps(r[2], r[3]);
    let t3 = _mm256_unpackhi_ps(r[2], r[3]);
    let t4 = _mm256_unpacklo_ps(r[4], r[5]);
    let t5 = _mm256_unpackhi_ps(r[4], r[5]);
    let t6 = _mm256_unpacklo_ps(r[6], r[7]);
    let t7 = _mm256_unpackhi_ps(r[6], r[7]);
    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
    let out = [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ];
    for (i, v) in out.iter().enumerate() {
        _mm256_storeu_ps(dst.add(i * ds), *v);
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn detection_is_stable() {
        assert_eq!(super::avx2_fma(), super::avx2_fma());
    }

    #[test]
    fn transposes_match_the_definition_for_every_shape() {
        for (rows, cols) in [(16, 257), (8, 8), (3, 20), (17, 9), (1, 1), (16, 1025)] {
            let (ss, ds) = (cols + 3, rows + 5);
            let src: Vec<f32> = (0..rows * ss).map(|i| i as f32).collect();
            let mut narrow = vec![-1.0; cols * ds];
            super::transpose::<false>(&src, ss, rows, cols, &mut narrow, ds);
            for r in 0..rows {
                for c in 0..cols {
                    assert_eq!(narrow[c * ds + r], src[r * ss + c], "{rows}x{cols} at {r},{c}");
                }
            }
            if super::avx2_fma() {
                let mut wide = vec![-1.0; cols * ds];
                super::transpose::<true>(&src, ss, rows, cols, &mut wide, ds);
                assert_eq!(wide, narrow, "{rows}x{cols}");
            }
        }
    }
}
