//! Runtime CPU-feature dispatch for the per-frame loops.
//!
//! The crate is compiled for baseline x86-64 (SSE2) so one binary runs everywhere. The
//! spectrogram's hot loops (windowing, power, square roots, mel sums, logs, the transpose into
//! `[freq, time]`) are plain Rust that LLVM vectorises; compiled for AVX2 they run twice as wide.
//! [`run_wide`] calls a closure through a function compiled with `avx2,fma` enabled when the CPU
//! has them (checked once by std and cached), so the closure's body, inlined into it, is
//! vectorised for those features; elsewhere it just calls the closure.
//!
//! Results are bit-identical either way: Rust never contracts `a * b + c` into an FMA nor
//! reorders floating-point sums on its own, so wider vectors change speed, not values. The FFT is
//! rustfft's, which does its own detection.
//!
//! This is the feature module's only `unsafe`: calling a `#[target_feature]` function, whose
//! sole precondition (the CPU has the features) is checked right before the call.
#![allow(unsafe_code)]

/// Runs `f`, compiled for AVX2 + FMA when this CPU has them.
#[inline]
pub(crate) fn run_wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the only precondition of a `#[target_feature]` function is that the CPU
            // supports those features, which was checked just above.
            return unsafe { avx2_fma(f) };
        }
    }
    f()
}

/// `f()` with AVX2 and FMA enabled for everything inlined into it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2_fma<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(test)]
mod tests {
    #[test]
    fn runs_the_closure_once_and_returns_its_value() {
        let mut calls = 0;
        let v = super::run_wide(|| {
            calls += 1;
            (0..100).map(|i| i as f32 * 0.5).sum::<f32>()
        });
        assert_eq!((v, calls), (2475.0, 1));
    }
}
