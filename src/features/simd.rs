//! Runtime CPU-feature detection for the per-frame loops, and the few kernels written with
//! intrinsics.
//!
//! The crate is compiled for baseline x86-64 (SSE2) so one binary runs everywhere. The
//! spectrogram's hot loops (windowing, power, square roots, mel sums, logs, the transpose into
//! `[freq, time]`) are plain Rust that LLVM vectorises; compiled for AVX2 they run twice as wide.
//! [`super::Spectrogram`] therefore has a second copy of its frame loop, a method marked
//! `#[target_feature(enable = "avx2,fma")]` into which the `#[inline(always)]` loop body is
//! inlined, and calls it when [`avx2_fma`] says the CPU has both. (Passing a closure to a
//! target-feature function does not work: the closure is a separate function and stays SSE2.)
//! A third copy is compiled for AVX-512 (F, VL, BW, DQ; `avx512`), where LLVM vectorises the
//! same loops sixteen lanes wide; the intrinsic kernels below stay 256-bit inside it. AVX-512
//! target features are stable since Rust 1.89: `build.rs` sets `cfg(pretext_avx512)` on such
//! compilers, and older ones (down to the crate's `rust-version`) build without this copy.
//!
//! Results are bit-identical on every path (tested): Rust never contracts `a * b + c` into
//! an FMA nor reorders floating-point sums on its own, so wider vectors change speed, not
//! values; the intrinsic kernels below use no FMA either and do, lane for lane, the scalar
//! code's operations. The one explicit FMA user, the log (`f32::mul_add`), is a correctly
//! rounded library call on the baseline path and one instruction on the others.
//! The FFT is rustfft's, which does its own detection.
//!
//! Three kernels are written with intrinsics because LLVM does not find them, and they hold the
//! module's `unsafe` (with [`as_complex_mut`], a slice cast):
//! - [`transpose`]'s 8×8 tile (eight row loads, 24 shuffles, eight row stores instead of 64
//!   scattered scalar stores), used to turn frame-major spectra into the bins-major blocks the
//!   filterbank and the `[freq, time]` output want;
//! - [`stream_copy`], non-temporal stores for batch outputs larger than the cache;
//! - [`SplitBlocks::power`], the real-FFT split fused with the power (`stft.rs`), for f32 and
//!   f64 ([`SplitLanes`]): bins `k` and `M − k` of a real `2M`-point spectrum come from entries
//!   `k` and `M − k` of a complex `M`-point FFT, so eight (f32) or four (f64) bins are read
//!   forwards and as many mirrors backwards (de-interleaving shuffles with the pair order
//!   reversed, a 128-bit lane swap), and the powers of both are stored with one permute each.
//!   The arithmetic between the shuffles is [`split_pair`], the scalar loop's own function, run
//!   on AVX registers through the `Avx` wrapper's operators (their intrinsic calls are the
//!   remaining `unsafe`; an `Avx` exists only inside the kernels).
#![allow(unsafe_code)]

use std::ops::{Add, Mul, Sub};

use realfft::num_complex::Complex;

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

/// Whether this CPU has AVX-512 F/VL/BW/DQ as well as AVX2 and FMA.
#[cfg(all(target_arch = "x86_64", pretext_avx512))]
#[inline]
pub(crate) fn avx512() -> bool {
    use std::arch::is_x86_feature_detected as has;
    avx2_fma() && has!("avx512f") && has!("avx512vl") && has!("avx512bw") && has!("avx512dq")
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

/// Transposes one 8×8 tile of f32.
///
/// # Safety
/// The CPU must have AVX; `src + r·ss + c` and `dst + c·ds + r` must be valid for `r, c < 8`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn tile8x8(src: *const f32, ss: usize, dst: *mut f32, ds: usize) {
    use std::arch::x86_64::*;
    let rows: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * ss)));
    for (i, v) in transpose8x8(rows).iter().enumerate() {
        _mm256_storeu_ps(dst.add(i * ds), *v);
    }
}

/// The 8×8 f32 transpose in registers (the standard unpack / shuffle / permute sequence, all
/// in-lane except the last step): row `i` of the result is column `i` of `r`.
///
/// # Safety
/// The CPU must have AVX; call it only from code compiled with AVX enabled (it is inlined
/// there).
#[cfg(target_arch = "x86_64")]
#[inline(always)]
pub(crate) unsafe fn transpose8x8(
    r: [std::arch::x86_64::__m256; 8],
) -> [std::arch::x86_64::__m256; 8] {
    use std::arch::x86_64::*;
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
    [
        _mm256_permute2f128_ps::<0x20>(u0, u4),
        _mm256_permute2f128_ps::<0x20>(u1, u5),
        _mm256_permute2f128_ps::<0x20>(u2, u6),
        _mm256_permute2f128_ps::<0x20>(u3, u7),
        _mm256_permute2f128_ps::<0x31>(u0, u4),
        _mm256_permute2f128_ps::<0x31>(u1, u5),
        _mm256_permute2f128_ps::<0x31>(u2, u6),
        _mm256_permute2f128_ps::<0x31>(u3, u7),
    ]
}

/// Views an even-length buffer as consecutive pairs `(x[2i], x[2i + 1])`, the input of a real
/// FFT computed as a complex FFT of half the length.
///
/// # Panics
/// If the length is odd.
#[inline]
pub(crate) fn as_complex_mut<T: Copy>(x: &mut [T]) -> &mut [Complex<T>] {
    assert!(x.len() % 2 == 0, "as_complex_mut: odd length {}", x.len());
    // SAFETY: `Complex<T>` is `#[repr(C)] { re: T, im: T }`: the layout of `[T; 2]`, aligned as
    // `T`; the new slice covers exactly the old one's elements and borrows it mutably.
    unsafe { std::slice::from_raw_parts_mut(x.as_mut_ptr().cast::<Complex<T>>(), x.len() / 2) }
}

/// [`SplitBlocks::power`]'s loop.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `z.len() == blocks.m`, `quarter.len() == out.len() ==
/// blocks.m + 1`, and every start `k` satisfies `1 ≤ k` and `k + SIGMA.len() ≤ blocks.m`.
#[cfg(target_arch = "x86_64")]
type SplitKernel<T> = unsafe fn(&SplitBlocks<T>, &[Complex<T>], &[T], &mut [f32]);

/// A float type with real-FFT split kernels for [`SplitBlocks`]: f32 (eight bins per AVX
/// register, sixteen per AVX-512 one) and f64 (four, eight).
pub(crate) trait SplitLanes: Copy + 'static {
    /// Lane `j` of a block holds bin `k + SIGMA[j]` (and its mirror `M − k − SIGMA[j]`): the
    /// order in which the de-interleaving shuffles leave two registers of complex values. Its
    /// length is the block size.
    const SIGMA: &'static [usize];
    /// The AVX2 block loop.
    #[cfg(target_arch = "x86_64")]
    const KERNEL: SplitKernel<Self>;
    /// The AVX-512 block loop and its lane order (the bins in order: a two-source permute
    /// de-interleaves and reverses in one step).
    #[cfg(all(target_arch = "x86_64", pretext_avx512))]
    const KERNEL512: (&'static [usize], SplitKernel<Self>);
}

impl SplitLanes for f32 {
    const SIGMA: &'static [usize] = &[0, 1, 4, 5, 2, 3, 6, 7];
    #[cfg(target_arch = "x86_64")]
    const KERNEL: SplitKernel<f32> = split_power_f32;
    #[cfg(all(target_arch = "x86_64", pretext_avx512))]
    const KERNEL512: (&'static [usize], SplitKernel<f32>) =
        (&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], split_power_f32_avx512);
}

impl SplitLanes for f64 {
    const SIGMA: &'static [usize] = &[0, 2, 1, 3];
    #[cfg(target_arch = "x86_64")]
    const KERNEL: SplitKernel<f64> = split_power_f64;
    #[cfg(all(target_arch = "x86_64", pretext_avx512))]
    const KERNEL512: (&'static [usize], SplitKernel<f64>) =
        (&[0, 1, 2, 3, 4, 5, 6, 7], split_power_f64_avx512);
}

/// The real-FFT split fused with the power, `SIGMA.len()` bin pairs per step (AVX, see the
/// module docs). Exists only on CPUs with AVX2 and FMA, so holding one is the check.
///
/// For a real frame of `2M` samples whose pairs went through a complex `M`-point FFT `Z`, and
/// `a = Z[k]`, `b = Z[M − k]`, `(c, s) = e^{−iπk/M}`: with `σ = a + b̄`, `δ = a − b̄`,
/// `u = c·δ_im + s·δ_re`, `v = s·δ_im − c·δ_re`, twice bin `k` is `(σ_re + u, σ_im + v)` and
/// twice bin `M − k` is conjugate to `(σ_re − u, σ_im − v)`. [`SplitBlocks::power`] writes
/// `|·|²·quarter[bin]` for both, rounded to f32, exactly as `stft.rs`'s scalar loop does (same
/// operations, no FMA).
/// The widest split kernel a [`SplitBlocks`] may use (tests pin AVX2 on AVX-512 machines).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SplitWidth {
    /// 256-bit registers.
    #[cfg_attr(not(test), allow(dead_code))]
    Avx2,
    /// 512-bit registers where the CPU has AVX-512, else 256-bit.
    Widest,
}

pub(crate) struct SplitBlocks<T: SplitLanes> {
    /// Complex FFT length `M`.
    m: usize,
    /// First bin `k` of each block (bins `k..k + lanes` and their mirrors). The last
    /// block may overlap the one before it; overlapping bins are written twice with the same
    /// value.
    starts: Vec<usize>,
    /// `cos` and `sin` of `−πk/M` per block, in the kernel's lane order.
    cos: Vec<T>,
    sin: Vec<T>,
    /// The block loop for this CPU: AVX-512 where it has it, else AVX2.
    #[cfg(target_arch = "x86_64")]
    kernel: SplitKernel<T>,
}

impl<T: SplitLanes> SplitBlocks<T> {
    /// Blocks covering the bin pairs `1..=k_max` (`k_max < M − k_max`), with `twiddles[k]` =
    /// `e^{−iπk/M}`, for the widest kernel up to `width` this CPU runs (AVX-512 blocks need as
    /// many pairs as they hold, else AVX2 ones serve); `None` when the CPU lacks AVX2/FMA, off
    /// x86-64, or for fewer pairs than an AVX2 block holds.
    pub(crate) fn new(
        m: usize,
        k_max: usize,
        twiddles: &[Complex<T>],
        width: SplitWidth,
    ) -> Option<Self> {
        if !avx2_fma() {
            return None;
        }
        #[cfg(target_arch = "x86_64")]
        let (sigma, kernel) = (T::SIGMA, T::KERNEL);
        #[cfg(all(target_arch = "x86_64", pretext_avx512))]
        let (sigma, kernel) =
            if width == SplitWidth::Widest && avx512() && k_max >= T::KERNEL512.0.len() {
                T::KERNEL512
            } else {
                (sigma, kernel)
            };
        #[cfg(not(all(target_arch = "x86_64", pretext_avx512)))]
        let _ = width;
        #[cfg(not(target_arch = "x86_64"))]
        let sigma = T::SIGMA;
        let lanes = sigma.len();
        if k_max < lanes {
            return None;
        }
        assert!(2 * k_max < m && twiddles.len() > k_max, "split blocks for {m}, {k_max}");
        let mut starts: Vec<usize> = (1..=k_max + 1 - lanes).step_by(lanes).collect();
        if starts.last().is_some_and(|&s| s + lanes <= k_max) {
            starts.push(k_max + 1 - lanes);
        }
        let part = |f: fn(&Complex<T>) -> T| -> Vec<T> {
            starts.iter().flat_map(|&s| sigma.iter().map(move |&j| f(&twiddles[s + j]))).collect()
        };
        let (cos, sin) = (part(|w| w.re), part(|w| w.im));
        Some(SplitBlocks {
            m,
            starts,
            cos,
            sin,
            #[cfg(target_arch = "x86_64")]
            kernel,
        })
    }

    /// Writes `out[k]` and `out[M − k]` for every pair the blocks cover; `z` holds the `M`
    /// complex FFT outputs, `quarter` and `out` `M + 1` bins.
    ///
    /// # Panics
    /// If the lengths are not those.
    #[inline]
    pub(crate) fn power(&self, z: &[Complex<T>], quarter: &[T], out: &mut [f32]) {
        assert!(z.len() == self.m && quarter.len() == self.m + 1 && out.len() == self.m + 1);
        #[cfg(target_arch = "x86_64")]
        // SAFETY: the constructor chose the kernel for the features this CPU has (AVX2 and FMA,
        // AVX-512 for the wide one); the lengths were just checked, the block starts in `new`
        // (`1 ≤ k`, `k + lanes − 1 ≤ k_max < M/2`).
        unsafe {
            (self.kernel)(self, z, quarter, out)
        }
        #[cfg(not(target_arch = "x86_64"))]
        unreachable!("no split blocks off x86-64")
    }
}

/// Twice bins `k` and `M − k` squared, `(|2X[k]|², |2X[M − k]|²)`, from `a = Z[k]`,
/// `b = Z[M − k]` and `(c, s) = e^{−iπk/M}` ([`SplitBlocks`] gives the formula): one pair in
/// `stft.rs`'s scalar loop, a register of pairs ([`Avx`]) in the kernels below, the same
/// operations in the same order on both.
#[inline(always)]
pub(crate) fn split_pair<V>(a_re: V, a_im: V, b_re: V, b_im: V, c: V, s: V) -> (V, V)
where
    V: Copy + Add<Output = V> + Sub<Output = V> + Mul<Output = V>,
{
    let (sum_re, sum_im) = (a_re + b_re, a_im - b_im);
    let (dif_re, dif_im) = (a_re - b_re, a_im + b_im);
    let u = c * dif_im + s * dif_re;
    let v = s * dif_im - c * dif_re;
    let (x_re, x_im) = (sum_re + u, sum_im + v);
    let (y_re, y_im) = (sum_re - u, sum_im - v);
    (x_re * x_re + x_im * x_im, y_re * y_re + y_im * y_im)
}

/// An SSE2, AVX or AVX-512 register with lane-wise `+`, `−`, `×` (no FMA), for [`split_pair`]
/// and the lane FFT (`lane_fft.rs`). Built only inside code compiled for its width (SSE2, the
/// x86-64 baseline, for 128-bit registers; AVX2 for 256-bit; AVX-512 for 512-bit), into which
/// its `#[inline(always)]` operators inline.
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx<V>(pub(crate) V);

#[cfg(target_arch = "x86_64")]
macro_rules! avx_ops {
    ($v:ty, $add:ident, $sub:ident, $mul:ident) => {
        impl Add for Avx<$v> {
            type Output = Self;
            #[inline(always)]
            fn add(self, o: Self) -> Self {
                // SAFETY: an `Avx` exists only inside kernels compiled for its width (see the type).
                Avx(unsafe { std::arch::x86_64::$add(self.0, o.0) })
            }
        }
        impl Sub for Avx<$v> {
            type Output = Self;
            #[inline(always)]
            fn sub(self, o: Self) -> Self {
                // SAFETY: as `add`.
                Avx(unsafe { std::arch::x86_64::$sub(self.0, o.0) })
            }
        }
        impl Mul for Avx<$v> {
            type Output = Self;
            #[inline(always)]
            fn mul(self, o: Self) -> Self {
                // SAFETY: as `add`.
                Avx(unsafe { std::arch::x86_64::$mul(self.0, o.0) })
            }
        }
    };
}
#[cfg(target_arch = "x86_64")]
avx_ops!(std::arch::x86_64::__m128d, _mm_add_pd, _mm_sub_pd, _mm_mul_pd);
#[cfg(target_arch = "x86_64")]
avx_ops!(std::arch::x86_64::__m256, _mm256_add_ps, _mm256_sub_ps, _mm256_mul_ps);
#[cfg(target_arch = "x86_64")]
avx_ops!(std::arch::x86_64::__m256d, _mm256_add_pd, _mm256_sub_pd, _mm256_mul_pd);
// The AVX-512 items below exist only where `build.rs` found Rust ≥ 1.89 (`pretext_avx512`), so
// the crate's older MSRV does not apply to them.
#[cfg(all(target_arch = "x86_64", pretext_avx512))]
#[allow(clippy::incompatible_msrv)]
mod avx512_ops {
    use super::*;
    avx_ops!(std::arch::x86_64::__m512, _mm512_add_ps, _mm512_sub_ps, _mm512_mul_ps);
    avx_ops!(std::arch::x86_64::__m512d, _mm512_add_pd, _mm512_sub_pd, _mm512_mul_pd);
}

/// The f32 split: lane `j` = bin `k + SIGMA[j]`, eight per step.
///
/// # Safety
/// As [`SplitKernel`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn split_power_f32(
    blocks: &SplitBlocks<f32>,
    z: &[Complex<f32>],
    quarter: &[f32],
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let m = blocks.m;
    let zp = z.as_ptr().cast::<f32>();
    let (qp, op) = (quarter.as_ptr(), out.as_mut_ptr());
    // Lane j of the mirrored powers holds bin M − k − SIGMA[j]; this puts them in bin order.
    let mirror = _mm256_setr_epi32(7, 6, 3, 2, 5, 4, 1, 0);
    for (i, &k) in blocks.starts.iter().enumerate() {
        // First of the eight mirrored bins M − k − 7 ..= M − k.
        let r = m - k - 7;
        let a0 = _mm256_loadu_ps(zp.add(2 * k));
        let a1 = _mm256_loadu_ps(zp.add(2 * k + 8));
        let b0 = _mm256_loadu_ps(zp.add(2 * r));
        let b1 = _mm256_loadu_ps(zp.add(2 * r + 8));
        // a: lane j = Z[k + SIGMA[j]].
        let a_re = _mm256_shuffle_ps::<0x88>(a0, a1);
        let a_im = _mm256_shuffle_ps::<0xDD>(a0, a1);
        // b: pairs taken in reverse, halves swapped:
        // lane j = Z[r + 7 − SIGMA[j]] = Z[M − k − SIGMA[j]].
        let b_re = _mm256_shuffle_ps::<0x22>(b1, b0);
        let b_im = _mm256_shuffle_ps::<0x77>(b1, b0);
        let b_re = _mm256_permute2f128_ps::<0x01>(b_re, b_re);
        let b_im = _mm256_permute2f128_ps::<0x01>(b_im, b_im);
        let c = _mm256_loadu_ps(blocks.cos.as_ptr().add(8 * i));
        let s = _mm256_loadu_ps(blocks.sin.as_ptr().add(8 * i));
        let (Avx(p), Avx(q)) =
            split_pair(Avx(a_re), Avx(a_im), Avx(b_re), Avx(b_im), Avx(c), Avx(s));
        // SIGMA order → bin order: swap the middle 64-bit pairs.
        let p = _mm256_castpd_ps(_mm256_permute4x64_pd::<0xD8>(_mm256_castps_pd(p)));
        let q = _mm256_permutevar8x32_ps(q, mirror);
        _mm256_storeu_ps(op.add(k), _mm256_mul_ps(p, _mm256_loadu_ps(qp.add(k))));
        _mm256_storeu_ps(op.add(r), _mm256_mul_ps(q, _mm256_loadu_ps(qp.add(r))));
    }
}

/// The f64 split: lane `j` = bin `k + SIGMA[j]`, four per step; the powers are scaled in f64 and
/// rounded to f32 (`vcvtpd2ps`, round to nearest like `as f32`).
///
/// # Safety
/// As [`SplitKernel`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn split_power_f64(
    blocks: &SplitBlocks<f64>,
    z: &[Complex<f64>],
    quarter: &[f64],
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let m = blocks.m;
    let zp = z.as_ptr().cast::<f64>();
    let (qp, op) = (quarter.as_ptr(), out.as_mut_ptr());
    for (i, &k) in blocks.starts.iter().enumerate() {
        // First of the four mirrored bins M − k − 3 ..= M − k.
        let r = m - k - 3;
        let a0 = _mm256_loadu_pd(zp.add(2 * k));
        let a1 = _mm256_loadu_pd(zp.add(2 * k + 4));
        let b0 = _mm256_loadu_pd(zp.add(2 * r));
        let b1 = _mm256_loadu_pd(zp.add(2 * r + 4));
        // a: lane j = Z[k + SIGMA[j]] (k, k + 2, k + 1, k + 3).
        let a_re = _mm256_unpacklo_pd(a0, a1);
        let a_im = _mm256_unpackhi_pd(a0, a1);
        // b: (r + 2, r, r + 3, r + 1), then halves swapped: lane j = Z[r + 3 − SIGMA[j]] =
        // Z[M − k − SIGMA[j]].
        let b_re = _mm256_unpacklo_pd(b1, b0);
        let b_im = _mm256_unpackhi_pd(b1, b0);
        let b_re = _mm256_permute2f128_pd::<0x01>(b_re, b_re);
        let b_im = _mm256_permute2f128_pd::<0x01>(b_im, b_im);
        let c = _mm256_loadu_pd(blocks.cos.as_ptr().add(4 * i));
        let s = _mm256_loadu_pd(blocks.sin.as_ptr().add(4 * i));
        let (Avx(p), Avx(q)) =
            split_pair(Avx(a_re), Avx(a_im), Avx(b_re), Avx(b_im), Avx(c), Avx(s));
        // SIGMA order → bin order: p's lanes (0, 2, 1, 3), q's (3, 1, 2, 0).
        let p = _mm256_permute4x64_pd::<0xD8>(p);
        let q = _mm256_permute4x64_pd::<0x27>(q);
        let p = _mm256_cvtpd_ps(_mm256_mul_pd(p, _mm256_loadu_pd(qp.add(k))));
        let q = _mm256_cvtpd_ps(_mm256_mul_pd(q, _mm256_loadu_pd(qp.add(r))));
        _mm_storeu_ps(op.add(k), p);
        _mm_storeu_ps(op.add(r), q);
    }
}

/// The f64 split on AVX-512: eight bins and their eight mirrors per step, lane `j` = bin
/// `k + j`. `vpermt2pd` de-interleaves the pairs (and, for the mirrors, reverses them) in one
/// shuffle per register; one more puts the mirrored powers back in bin order.
///
/// # Safety
/// As [`SplitKernel`], and the CPU must have AVX-512F.
#[cfg(all(target_arch = "x86_64", pretext_avx512))]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
#[allow(clippy::incompatible_msrv)]
unsafe fn split_power_f64_avx512(
    blocks: &SplitBlocks<f64>,
    z: &[Complex<f64>],
    quarter: &[f64],
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let m = blocks.m;
    let zp = z.as_ptr().cast::<f64>();
    let (qp, op) = (quarter.as_ptr(), out.as_mut_ptr());
    // Doubles 0..8 of the first register, 8..16 of the second.
    let re = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    let im = _mm512_setr_epi64(1, 3, 5, 7, 9, 11, 13, 15);
    let re_reversed = _mm512_setr_epi64(14, 12, 10, 8, 6, 4, 2, 0);
    let im_reversed = _mm512_setr_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    let reverse = _mm512_setr_epi64(7, 6, 5, 4, 3, 2, 1, 0);
    for (i, &k) in blocks.starts.iter().enumerate() {
        // First of the eight mirrored bins M − k − 7 ..= M − k.
        let r = m - k - 7;
        let (a0, a1) = (_mm512_loadu_pd(zp.add(2 * k)), _mm512_loadu_pd(zp.add(2 * k + 8)));
        let (b0, b1) = (_mm512_loadu_pd(zp.add(2 * r)), _mm512_loadu_pd(zp.add(2 * r + 8)));
        // a: lane j = Z[k + j]; b: lane j = Z[r + 7 − j] = Z[M − k − j].
        let (a_re, a_im) = (_mm512_permutex2var_pd(a0, re, a1), _mm512_permutex2var_pd(a0, im, a1));
        let b_re = _mm512_permutex2var_pd(b0, re_reversed, b1);
        let b_im = _mm512_permutex2var_pd(b0, im_reversed, b1);
        let c = _mm512_loadu_pd(blocks.cos.as_ptr().add(8 * i));
        let s = _mm512_loadu_pd(blocks.sin.as_ptr().add(8 * i));
        let (Avx(p), Avx(q)) =
            split_pair(Avx(a_re), Avx(a_im), Avx(b_re), Avx(b_im), Avx(c), Avx(s));
        // q's lane j is bin M − k − j: reversed, lane j is bin r + j.
        let q = _mm512_permutexvar_pd(reverse, q);
        let p = _mm512_cvtpd_ps(_mm512_mul_pd(p, _mm512_loadu_pd(qp.add(k))));
        let q = _mm512_cvtpd_ps(_mm512_mul_pd(q, _mm512_loadu_pd(qp.add(r))));
        _mm256_storeu_ps(op.add(k), p);
        _mm256_storeu_ps(op.add(r), q);
    }
}

/// The f32 split on AVX-512: sixteen bins and their mirrors per step, as
/// [`split_power_f64_avx512`] (`vpermt2ps`).
///
/// # Safety
/// As [`SplitKernel`], and the CPU must have AVX-512F.
#[cfg(all(target_arch = "x86_64", pretext_avx512))]
#[target_feature(enable = "avx512f,avx512vl,avx2,fma")]
#[allow(clippy::incompatible_msrv)]
unsafe fn split_power_f32_avx512(
    blocks: &SplitBlocks<f32>,
    z: &[Complex<f32>],
    quarter: &[f32],
    out: &mut [f32],
) {
    use std::arch::x86_64::*;
    let m = blocks.m;
    let zp = z.as_ptr().cast::<f32>();
    let (qp, op) = (quarter.as_ptr(), out.as_mut_ptr());
    let re = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    let im = _mm512_setr_epi32(1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31);
    let re_reversed = _mm512_setr_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    let im_reversed = _mm512_setr_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    let reverse = _mm512_setr_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    for (i, &k) in blocks.starts.iter().enumerate() {
        // First of the sixteen mirrored bins M − k − 15 ..= M − k.
        let r = m - k - 15;
        let (a0, a1) = (_mm512_loadu_ps(zp.add(2 * k)), _mm512_loadu_ps(zp.add(2 * k + 16)));
        let (b0, b1) = (_mm512_loadu_ps(zp.add(2 * r)), _mm512_loadu_ps(zp.add(2 * r + 16)));
        let (a_re, a_im) = (_mm512_permutex2var_ps(a0, re, a1), _mm512_permutex2var_ps(a0, im, a1));
        let b_re = _mm512_permutex2var_ps(b0, re_reversed, b1);
        let b_im = _mm512_permutex2var_ps(b0, im_reversed, b1);
        let c = _mm512_loadu_ps(blocks.cos.as_ptr().add(16 * i));
        let s = _mm512_loadu_ps(blocks.sin.as_ptr().add(16 * i));
        let (Avx(p), Avx(q)) =
            split_pair(Avx(a_re), Avx(a_im), Avx(b_re), Avx(b_im), Avx(c), Avx(s));
        let q = _mm512_permutexvar_ps(reverse, q);
        _mm512_storeu_ps(op.add(k), _mm512_mul_ps(p, _mm512_loadu_ps(qp.add(k))));
        _mm512_storeu_ps(op.add(r), _mm512_mul_ps(q, _mm512_loadu_ps(qp.add(r))));
    }
}

/// Copies `src` into `dst`, bypassing the cache where the CPU has AVX: non-temporal 32-byte
/// stores from the first 32-byte aligned element of `dst`, plain copies for the ends.
///
/// # Panics
/// If the lengths differ.
pub(crate) fn stream_copy(src: &[f32], dst: &mut [f32]) {
    assert_eq!(src.len(), dst.len(), "stream_copy lengths");
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx") {
        let head = dst.as_ptr().align_offset(32).min(dst.len());
        let body = (dst.len() - head) / 8 * 8;
        dst[..head].copy_from_slice(&src[..head]);
        // SAFETY: AVX was just detected; `dst[head..head + body]` starts 32-byte aligned, and
        // both slices hold `head + body` elements.
        unsafe { stream_body(&src[head..head + body], &mut dst[head..head + body]) };
        dst[head + body..].copy_from_slice(&src[head + body..]);
        return;
    }
    dst.copy_from_slice(src);
}

/// [`stream_copy`]'s aligned middle, eight floats per store, fenced so later stores are ordered
/// after these.
///
/// # Safety
/// The CPU must have AVX; `dst` must be 32-byte aligned and both slices a multiple of eight
/// long, `src` at least as long as `dst`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn stream_body(src: &[f32], dst: &mut [f32]) {
    use std::arch::x86_64::*;
    let (s, d) = (src.as_ptr(), dst.as_mut_ptr());
    for i in (0..dst.len()).step_by(8) {
        _mm256_stream_ps(d.add(i), _mm256_loadu_ps(s.add(i)));
    }
    _mm_sfence();
}

#[cfg(test)]
mod tests {
    #[test]
    fn detection_is_stable() {
        assert_eq!(super::avx2_fma(), super::avx2_fma());
    }

    #[test]
    fn stream_copy_copies_every_alignment_and_length() {
        let src: Vec<f32> = (0..300).map(|i| i as f32 * 0.5 - 7.0).collect();
        for offset in 0..9 {
            for len in [0, 1, 7, 8, 9, 31, 64, 250] {
                let mut dst = vec![-1.0f32; offset + len + 3];
                super::stream_copy(&src[5..5 + len], &mut dst[offset..offset + len]);
                assert_eq!(&dst[offset..offset + len], &src[5..5 + len], "{offset} {len}");
                assert!(dst[..offset].iter().chain(&dst[offset + len..]).all(|v| *v == -1.0));
            }
        }
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
