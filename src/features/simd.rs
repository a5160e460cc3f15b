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

#[cfg(test)]
mod tests {
    #[test]
    fn detection_is_stable() {
        assert_eq!(super::avx2_fma(), super::avx2_fma());
    }
}
