//! Real FFTs of several frames at once, one frame per SIMD lane, for power-of-two sizes in f64.
//!
//! Design:
//! - A spectrogram transforms hundreds of equal-length frames with the same plan. Instead of
//!   one frame at a time with shuffles inside the transform (rustfft), [`LaneFft`] puts frame
//!   `f` of a group in lane `f` of every register ([`Lane`]: 2 f64 on SSE2, 4 on AVX2, 8 on
//!   AVX-512), so every butterfly is plain vector arithmetic with broadcast twiddles and no
//!   shuffle at all. On the AVX-512 benchmark machine this took the l3 preset from 8,104
//!   to 12,965 spectrograms/s (medians) against the rustfft frame loop (`docs/benchmarks.md`).
//! - The real frame of `n_fft = 2M` samples is transformed as `M` complex pairs
//!   `x[2n] + i·x[2n+1]` (as in `stft.rs`): the windowed frames are transposed into the lane
//!   layout in `Lane`-square tiles, each pair stored at its digit-reversed position so that
//!   in-place radix-4 decimation-in-time passes (one radix-2 pass first when `log2 M` is odd)
//!   leave the spectrum in natural order. The real split is fused with the power and writes
//!   `|X|²·scale`, rounded to f32, into a bins-major block: exactly the `[bins, frames]` layout
//!   the filterbank and the `[freq, time]` output want, so no transpose follows.
//! - Every lane does the same IEEE additions, subtractions and multiplications in the same
//!   order (no FMA), so all lane widths, the scalar `f64` lanes included, give the same bits
//!   (tested). The values differ from rustfft's in the last bits (a different algorithm);
//!   tests hold both to a naive DFT.

#![allow(unsafe_code)]

use std::ops::{Add, Mul, Sub};

use super::simd::split_pair;

/// A register of `LANES` f64 lanes with lane-wise `+`, `−`, `×` (no FMA).
///
/// # Safety
/// The methods are `unsafe` because the register types exist only on CPUs with their
/// features: call them only from code running after the matching check (SSE2 is the x86-64
/// baseline; AVX2 and AVX-512 are detected in `simd.rs`). Pointers must be valid for the
/// lanes they read or write.
pub(crate) trait Lane:
    Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self>
{
    /// Frames per register.
    const LANES: usize;
    /// Every lane `x`.
    unsafe fn splat(x: f64) -> Self;
    /// Lanes `p[0..LANES]`.
    unsafe fn load(p: *const f64) -> Self;
    /// Stores the lanes to `p[0..LANES]`.
    unsafe fn store(self, p: *mut f64);
    /// Stores the lanes rounded to f32 (as `as f32`) to `p[0..LANES]`.
    unsafe fn store_f32(self, p: *mut f32);
    /// The `LANES × LANES` tile at `src` (row `r` at `src + r·stride`) transposed: `dst[c]`
    /// gets lane `r` = `src[r·stride + c]`.
    unsafe fn load_transposed(src: *const f64, stride: usize, dst: &mut [Self; 8]);
    /// The same from f32 rows, widened exactly to f64.
    unsafe fn load_transposed_f32(src: *const f32, stride: usize, dst: &mut [Self; 8]);
}

/// One lane: the portable path (targets other than x86-64) and the reference in tests.
impl Lane for f64 {
    const LANES: usize = 1;
    #[inline(always)]
    unsafe fn splat(x: f64) -> Self {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f64) -> Self {
        *p
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut f64) {
        *p = self;
    }
    #[inline(always)]
    unsafe fn store_f32(self, p: *mut f32) {
        *p = self as f32;
    }
    #[inline(always)]
    unsafe fn load_transposed(src: *const f64, _stride: usize, dst: &mut [Self; 8]) {
        dst[0] = *src;
    }
    #[inline(always)]
    unsafe fn load_transposed_f32(src: *const f32, _stride: usize, dst: &mut [Self; 8]) {
        dst[0] = f64::from(*src);
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::*;

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::Lane;
    pub(crate) use crate::features::simd::Avx;

    /// Two lanes in an SSE2 register (the x86-64 baseline).
    pub(crate) type Sse2 = Avx<__m128d>;
    /// Four lanes in an AVX register.
    pub(crate) type Avx2 = Avx<__m256d>;
    /// Eight lanes in an AVX-512 register.
    #[cfg(pretext_avx512)]
    pub(crate) type Avx512 = Avx<__m512d>;

    impl Lane for Sse2 {
        const LANES: usize = 2;
        #[inline(always)]
        unsafe fn splat(x: f64) -> Self {
            Avx(_mm_set1_pd(x))
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> Self {
            Avx(_mm_loadu_pd(p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64) {
            _mm_storeu_pd(p, self.0);
        }
        #[inline(always)]
        unsafe fn store_f32(self, p: *mut f32) {
            _mm_storel_epi64(p.cast(), _mm_castps_si128(_mm_cvtpd_ps(self.0)));
        }
        #[inline(always)]
        unsafe fn load_transposed(src: *const f64, stride: usize, dst: &mut [Self; 8]) {
            let (a, b) = (_mm_loadu_pd(src), _mm_loadu_pd(src.add(stride)));
            dst[0] = Avx(_mm_unpacklo_pd(a, b));
            dst[1] = Avx(_mm_unpackhi_pd(a, b));
        }
        #[inline(always)]
        unsafe fn load_transposed_f32(src: *const f32, stride: usize, dst: &mut [Self; 8]) {
            let a = _mm_castpd_ps(_mm_load_sd(src.cast()));
            let b = _mm_castpd_ps(_mm_load_sd(src.add(stride).cast()));
            // a0 b0 a1 b1
            let t = _mm_unpacklo_ps(a, b);
            dst[0] = Avx(_mm_cvtps_pd(t));
            dst[1] = Avx(_mm_cvtps_pd(_mm_movehl_ps(t, t)));
        }
    }

    impl Lane for Avx2 {
        const LANES: usize = 4;
        #[inline(always)]
        unsafe fn splat(x: f64) -> Self {
            Avx(_mm256_set1_pd(x))
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> Self {
            Avx(_mm256_loadu_pd(p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64) {
            _mm256_storeu_pd(p, self.0);
        }
        #[inline(always)]
        unsafe fn store_f32(self, p: *mut f32) {
            _mm_storeu_ps(p, _mm256_cvtpd_ps(self.0));
        }
        #[inline(always)]
        unsafe fn load_transposed(src: *const f64, stride: usize, dst: &mut [Self; 8]) {
            let r: [__m256d; 4] = std::array::from_fn(|i| _mm256_loadu_pd(src.add(i * stride)));
            // t0 = r0[0] r1[0] r0[2] r1[2], t1 = r0[1] r1[1] r0[3] r1[3], t2/t3 from r2, r3.
            let t0 = _mm256_unpacklo_pd(r[0], r[1]);
            let t1 = _mm256_unpackhi_pd(r[0], r[1]);
            let t2 = _mm256_unpacklo_pd(r[2], r[3]);
            let t3 = _mm256_unpackhi_pd(r[2], r[3]);
            dst[0] = Avx(_mm256_permute2f128_pd::<0x20>(t0, t2));
            dst[1] = Avx(_mm256_permute2f128_pd::<0x20>(t1, t3));
            dst[2] = Avx(_mm256_permute2f128_pd::<0x31>(t0, t2));
            dst[3] = Avx(_mm256_permute2f128_pd::<0x31>(t1, t3));
        }
        #[inline(always)]
        unsafe fn load_transposed_f32(src: *const f32, stride: usize, dst: &mut [Self; 8]) {
            let r: [__m128; 4] = std::array::from_fn(|i| _mm_loadu_ps(src.add(i * stride)));
            // _MM_TRANSPOSE4_PS.
            let t0 = _mm_unpacklo_ps(r[0], r[1]);
            let t1 = _mm_unpacklo_ps(r[2], r[3]);
            let t2 = _mm_unpackhi_ps(r[0], r[1]);
            let t3 = _mm_unpackhi_ps(r[2], r[3]);
            dst[0] = Avx(_mm256_cvtps_pd(_mm_movelh_ps(t0, t1)));
            dst[1] = Avx(_mm256_cvtps_pd(_mm_movehl_ps(t1, t0)));
            dst[2] = Avx(_mm256_cvtps_pd(_mm_movelh_ps(t2, t3)));
            dst[3] = Avx(_mm256_cvtps_pd(_mm_movehl_ps(t3, t2)));
        }
    }

    #[cfg(pretext_avx512)]
    #[allow(clippy::incompatible_msrv)]
    impl Lane for Avx512 {
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn splat(x: f64) -> Self {
            Avx(_mm512_set1_pd(x))
        }
        #[inline(always)]
        unsafe fn load(p: *const f64) -> Self {
            Avx(_mm512_loadu_pd(p))
        }
        #[inline(always)]
        unsafe fn store(self, p: *mut f64) {
            _mm512_storeu_pd(p, self.0);
        }
        #[inline(always)]
        unsafe fn store_f32(self, p: *mut f32) {
            _mm256_storeu_ps(p, _mm512_cvtpd_ps(self.0));
        }
        #[inline(always)]
        unsafe fn load_transposed(src: *const f64, stride: usize, dst: &mut [Self; 8]) {
            let r: [__m512d; 8] = std::array::from_fn(|i| _mm512_loadu_pd(src.add(i * stride)));
            // Pairs of rows interleaved: t[2i] holds columns 0, 2, 4, 6 of rows 2i, 2i+1,
            // t[2i+1] columns 1, 3, 5, 7.
            let t: [__m512d; 8] = std::array::from_fn(|i| {
                let (a, b) = (r[i / 2 * 2], r[i / 2 * 2 + 1]);
                if i % 2 == 0 {
                    _mm512_unpacklo_pd(a, b)
                } else {
                    _mm512_unpackhi_pd(a, b)
                }
            });
            // Then four rows: columns {0, 4} (or {1, 5}, {2, 6}, {3, 7}) of rows 0..4 / 4..8.
            let lo = _mm512_setr_epi64(0, 1, 8, 9, 4, 5, 12, 13);
            let hi = _mm512_setr_epi64(2, 3, 10, 11, 6, 7, 14, 15);
            let u = |a: __m512d, b: __m512d, idx| _mm512_permutex2var_pd(a, idx, b);
            let (c04a, c26a) = (u(t[0], t[2], lo), u(t[0], t[2], hi));
            let (c15a, c37a) = (u(t[1], t[3], lo), u(t[1], t[3], hi));
            let (c04b, c26b) = (u(t[4], t[6], lo), u(t[4], t[6], hi));
            let (c15b, c37b) = (u(t[5], t[7], lo), u(t[5], t[7], hi));
            // Finally all eight rows: the low halves give columns 0..4, the high ones 4..8.
            let first = _mm512_setr_epi64(0, 1, 2, 3, 8, 9, 10, 11);
            let second = _mm512_setr_epi64(4, 5, 6, 7, 12, 13, 14, 15);
            dst[0] = Avx(u(c04a, c04b, first));
            dst[4] = Avx(u(c04a, c04b, second));
            dst[1] = Avx(u(c15a, c15b, first));
            dst[5] = Avx(u(c15a, c15b, second));
            dst[2] = Avx(u(c26a, c26b, first));
            dst[6] = Avx(u(c26a, c26b, second));
            dst[3] = Avx(u(c37a, c37b, first));
            dst[7] = Avx(u(c37a, c37b, second));
        }
        #[inline(always)]
        unsafe fn load_transposed_f32(src: *const f32, stride: usize, dst: &mut [Self; 8]) {
            // The 8×8 f32 transpose in 256-bit registers (in-lane shuffles, cheaper than
            // 512-bit permutes), then each column widened.
            let r: [__m256; 8] = std::array::from_fn(|i| _mm256_loadu_ps(src.add(i * stride)));
            let columns = crate::features::simd::transpose8x8(r);
            for (d, c) in dst.iter_mut().zip(columns) {
                *d = Avx(_mm512_cvtps_pd(c));
            }
        }
    }
}

/// A zeroed buffer of f32 or f64 starting on a 64-byte boundary, so that whole registers of
/// lanes never straddle two cache lines.
pub(crate) struct CacheAligned<T: Float> {
    lines: Vec<Line>,
    len: usize,
    _type: std::marker::PhantomData<T>,
}

/// 64 bytes on a 64-byte boundary.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

/// The element types of a [`CacheAligned`]: plain floats, for which all-zero bytes are 0.0.
pub(crate) trait Float: Copy {}
impl Float for f32 {}
impl Float for f64 {}

impl<T: Float> CacheAligned<T> {
    /// `len` zeros.
    pub(crate) fn zeros(len: usize) -> Self {
        let bytes = len * std::mem::size_of::<T>();
        CacheAligned {
            lines: vec![Line([0; 64]); bytes.div_ceil(64)],
            len,
            _type: std::marker::PhantomData,
        }
    }
}

impl<T: Float> std::ops::Deref for CacheAligned<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: `lines` holds at least `len · size_of::<T>()` initialised bytes, aligned for
        // any float, and every bit pattern is a valid f32/f64.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast(), self.len) }
    }
}

impl<T: Float> std::ops::DerefMut for CacheAligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as `deref`, borrowed mutably through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast(), self.len) }
    }
}

impl<T: Float> std::fmt::Debug for CacheAligned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CacheAligned({} values)", self.len)
    }
}

/// Most lanes any [`Lane`] has.
pub(crate) const MAX_LANES: usize = 8;

/// One butterfly pass of the transform.
#[derive(Debug, Clone, Copy)]
struct Pass {
    /// 2 or 4.
    radix: usize,
    /// Size of the transforms this pass combines (`1` for the first pass).
    span: usize,
    /// Offset of this pass's twiddles (`(radix − 1)·span` complex values) in `LaneFft::twiddles`.
    twiddles: usize,
}

/// A planned lane-parallel real FFT of `n_fft = 2M` points (`M` a power of two ≥ 8) fused
/// with the power, and its buffers.
#[derive(Debug)]
pub(crate) struct LaneFft {
    /// Complex transform length `M`.
    m: usize,
    /// Array position of pair `n` (digit-reversed for the passes).
    position: Vec<usize>,
    passes: Vec<Pass>,
    /// Per pass, for `j < span` and `q = 1..radix`: `W^{j·q}` with `W = e^{−2πi/(radix·span)}`,
    /// as `(re, im)` at `2·(offset + j·(radix − 1) + q − 1)`.
    twiddles: Vec<f64>,
    /// `(cos, sin)` of `−πk/M` for `k < M/2`, at `2k`.
    split: Vec<f64>,
    /// `bin_scale / 4` (the split computes twice each bin).
    quarter: Vec<f64>,
    /// `bin_scale` for DC, Nyquist and the centre bin.
    bin_scale: Vec<f64>,
    /// The spectrum being transformed, `[M, 2, lanes]`: position `p`'s real parts, then its
    /// imaginary parts. On cache-line boundaries (an unaligned 64-byte access touches two
    /// lines), and real next to imaginary so that the power-of-two strides of the passes
    /// spread over twice as many cache sets as with separate arrays.
    z: CacheAligned<f64>,
}

impl LaneFft {
    /// Plans `n_fft` points with per-bin power scales `bin_scale` (`n_fft/2 + 1` of them), or
    /// `None` when `n_fft` is not a power of two ≥ 16 (the widest tile's 8 samples are at most
    /// half a frame).
    pub(crate) fn new(n_fft: usize, bin_scale: &[f64]) -> Option<Self> {
        if n_fft < 16 || !n_fft.is_power_of_two() {
            return None;
        }
        assert_eq!(bin_scale.len(), n_fft / 2 + 1, "one scale per bin");
        let m = n_fft / 2;
        let log2 = m.trailing_zeros();
        let mut radices = Vec::new();
        if log2 % 2 == 1 {
            radices.push(2);
        }
        radices.extend(std::iter::repeat_n(4, (log2 / 2) as usize));
        let (mut passes, mut twiddles, mut span) = (Vec::new(), Vec::new(), 1);
        for &radix in &radices {
            passes.push(Pass { radix, span, twiddles: twiddles.len() / 2 });
            let size = (radix * span) as f64;
            for j in 0..span {
                for q in 1..radix {
                    let angle = -2.0 * std::f64::consts::PI * (j * q) as f64 / size;
                    twiddles.extend([angle.cos(), angle.sin()]);
                }
            }
            span *= radix;
        }
        // Pair n = Σ d_s·(M / (r_1···r_s)) over the digits of its position p = Σ d_s·(r_1···r_{s−1}).
        let position = {
            let mut position = vec![0; m];
            for p in 0..m {
                let (mut rest, mut n, mut stride) = (p, 0, m);
                for &r in &radices {
                    stride /= r;
                    n += (rest % r) * stride;
                    rest /= r;
                }
                position[n] = p;
            }
            position
        };
        let split = (0..m / 2)
            .flat_map(|k| {
                let angle = -std::f64::consts::PI * k as f64 / m as f64;
                [angle.cos(), angle.sin()]
            })
            .collect();
        Some(LaneFft {
            m,
            position,
            passes,
            twiddles,
            split,
            quarter: bin_scale.iter().map(|s| s * 0.25).collect(),
            bin_scale: bin_scale.to_vec(),
            z: CacheAligned::zeros(2 * m * MAX_LANES),
        })
    }

    /// Transforms `V::LANES` windowed real frames (`frames[f·2M..(f+1)·2M]`, frame-major) and
    /// writes bin `k` of frame `f`'s `|X|²·bin_scale[k]`, rounded to f32, to
    /// `out[k·stride + f]` for `k ≤ M`.
    ///
    /// # Safety
    /// The CPU must have `V`'s features (see [`Lane`]).
    ///
    /// # Panics
    /// If `frames` or `out` is too short for the shape.
    #[inline(always)]
    pub(crate) unsafe fn power<V: Lane>(&mut self, frames: &[f64], out: &mut [f32], stride: usize) {
        let (m, l) = (self.m, V::LANES);
        assert!(frames.len() >= 2 * m * l, "lane FFT: {} frame samples", frames.len());
        assert!(stride >= l && out.len() >= m * stride + l, "lane FFT: output too short");
        // Transpose tiles of `l` frames × `l` samples into lanes.
        let mut tile = [V::splat(0.0); 8];
        for c in (0..2 * m).step_by(l) {
            V::load_transposed(frames.as_ptr().add(c), 2 * m, &mut tile);
            self.store_tile(c, &tile);
        }
        self.transform::<V>(out, stride);
    }

    /// [`LaneFft::power`] of `V::LANES` frames read straight from the signal: frame `f`'s
    /// window covers `wave[start + f·hop..][..window.len()]`, placed at `lo` in the `2M`-point
    /// frame (zeros around it), multiplied by `window`; no detrending. Windowing and transposing
    /// happen in one step, from f32 tiles (cheaper shuffles than f64 ones, and no frame-major
    /// buffer). Gives the bits of [`LaneFft::power`] on the same frames windowed in f64.
    ///
    /// # Safety
    /// As [`LaneFft::power`].
    ///
    /// # Panics
    /// If a frame reaches past `wave`, or the window past the frame.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    pub(crate) unsafe fn power_from_signal<V: Lane>(
        &mut self,
        wave: &[f32],
        start: usize,
        hop: usize,
        window: &[f64],
        lo: usize,
        out: &mut [f32],
        stride: usize,
    ) {
        let (m, l) = (self.m, V::LANES);
        let win = window.len();
        assert!(lo + win <= 2 * m, "lane FFT: window past the frame");
        assert!(start + (l - 1) * hop + win <= wave.len(), "lane FFT: frame past the signal");
        assert!(stride >= l && out.len() >= m * stride + l, "lane FFT: output too short");
        let mut tile = [V::splat(0.0); 8];
        for c in (0..2 * m).step_by(l) {
            if c >= lo && c + l <= lo + win {
                V::load_transposed_f32(wave.as_ptr().add(start + c - lo), hop, &mut tile);
                for (j, v) in tile.iter_mut().take(l).enumerate() {
                    *v = *v * V::splat(window[c + j - lo]);
                }
            } else {
                // A tile at an edge of the window: sample by sample.
                let mut lanes = [0.0f64; 8 * 8];
                for j in 0..l {
                    if (lo..lo + win).contains(&(c + j)) {
                        for f in 0..l {
                            let x = f64::from(wave[start + f * hop + c + j - lo]);
                            lanes[j * l + f] = x * window[c + j - lo];
                        }
                    }
                }
                for (j, v) in tile.iter_mut().take(l).enumerate() {
                    *v = V::load(lanes.as_ptr().add(j * l));
                }
            }
            self.store_tile(c, &tile);
        }
        self.transform::<V>(out, stride);
    }

    /// Stores samples `c..c + l` of the lanes' frames: sample `2n` is the real part of pair
    /// `n`, `2n + 1` its imaginary part, at pair `n`'s digit-reversed position.
    #[inline(always)]
    unsafe fn store_tile<V: Lane>(&mut self, c: usize, tile: &[V; 8]) {
        let (z, l) = (self.z.as_mut_ptr(), V::LANES);
        for (j, v) in tile.iter().take(l).enumerate() {
            let n = c + j;
            v.store(z.add((2 * self.position[n / 2] + n % 2) * l));
        }
    }

    /// The passes over the stored pairs, then the split into `out`.
    #[inline(always)]
    unsafe fn transform<V: Lane>(&mut self, out: &mut [f32], stride: usize) {
        let (m, l, z) = (self.m, V::LANES, self.z.as_mut_ptr());
        for pass in &self.passes {
            let tw = &self.twiddles[2 * pass.twiddles..];
            match pass.radix {
                2 => radix2::<V>(z, m, l),
                _ => radix4::<V>(z, m, l, pass.span, tw),
            }
        }
        self.split_power::<V>(out, stride);
    }

    /// The real split fused with the power (`stft.rs`'s `HalfSpectrum`, lane-wise).
    #[inline(always)]
    unsafe fn split_power<V: Lane>(&self, out: &mut [f32], stride: usize) {
        let (m, l) = (self.m, V::LANES);
        let zp = self.z.as_ptr();
        let z = |k: usize| (V::load(zp.add(2 * k * l)), V::load(zp.add((2 * k + 1) * l)));
        let o = out.as_mut_ptr();
        let (r0, i0) = z(0);
        let (dc, nyquist) = (r0 + i0, r0 - i0);
        (dc * dc * V::splat(self.bin_scale[0])).store_f32(o);
        (nyquist * nyquist * V::splat(self.bin_scale[m])).store_f32(o.add(m * stride));
        let (rc, ic) = z(m / 2);
        (((rc * rc) + (ic * ic)) * V::splat(self.bin_scale[m / 2]))
            .store_f32(o.add(m / 2 * stride));
        for k in 1..m / 2 {
            let ((a_re, a_im), (b_re, b_im)) = (z(k), z(m - k));
            let (c, s) = (V::splat(self.split[2 * k]), V::splat(self.split[2 * k + 1]));
            let (p, q) = split_pair(a_re, a_im, b_re, b_im, c, s);
            (p * V::splat(self.quarter[k])).store_f32(o.add(k * stride));
            (q * V::splat(self.quarter[m - k])).store_f32(o.add((m - k) * stride));
        }
    }
}

/// The first pass when `log2 M` is odd: two-point transforms of neighbouring positions.
#[inline(always)]
unsafe fn radix2<V: Lane>(z: *mut f64, m: usize, l: usize) {
    for b in (0..m).step_by(2) {
        let (p0, p1) = (z.add(2 * b * l), z.add(2 * (b + 1) * l));
        let (a_re, a_im) = (V::load(p0), V::load(p0.add(l)));
        let (b_re, b_im) = (V::load(p1), V::load(p1.add(l)));
        (a_re + b_re).store(p0);
        (a_im + b_im).store(p0.add(l));
        (a_re - b_re).store(p1);
        (a_im - b_im).store(p1.add(l));
    }
}

/// One radix-4 decimation-in-time pass combining four transforms of `span` points into one of
/// `4·span`, in place (`tw`: the pass's twiddles, see [`LaneFft::twiddles`]). The loop over
/// the twiddle index is outermost, so each twiddle is broadcast once per pass.
#[inline(always)]
unsafe fn radix4<V: Lane>(z: *mut f64, m: usize, l: usize, span: usize, tw: &[f64]) {
    if span == 1 {
        for b in (0..m).step_by(4) {
            butterfly4::<V>(z, l, [b, b + 1, b + 2, b + 3], None);
        }
        return;
    }
    for b0 in (0..m).step_by(4 * span) {
        for (j, w) in tw.chunks_exact(6).take(span).enumerate() {
            let w = [w[0], w[1], w[2], w[3], w[4], w[5]].map(|x| V::splat(x));
            let b = b0 + j;
            butterfly4::<V>(z, l, [b, b + span, b + 2 * span, b + 3 * span], Some(&w));
        }
    }
}

/// The radix-4 butterfly on positions `p` (lanes `l` wide), inputs 1..4 turned by `w`'s
/// `(cos, sin)` pairs first.
#[inline(always)]
unsafe fn butterfly4<V: Lane>(z: *mut f64, l: usize, p: [usize; 4], w: Option<&[V; 6]>) {
    let p = p.map(|p| z.add(2 * p * l));
    let load = |p: *mut f64| (V::load(p), V::load(p.add(l)));
    let (a0_re, a0_im) = load(p[0]);
    let (mut a1, mut a2, mut a3) = (load(p[1]), load(p[2]), load(p[3]));
    if let Some(w) = w {
        let turn = |(x_re, x_im): (V, V), c: V, s: V| (x_re * c - x_im * s, x_re * s + x_im * c);
        a1 = turn(a1, w[0], w[1]);
        a2 = turn(a2, w[2], w[3]);
        a3 = turn(a3, w[4], w[5]);
    }
    let (t0_re, t0_im) = (a0_re + a2.0, a0_im + a2.1);
    let (t1_re, t1_im) = (a0_re - a2.0, a0_im - a2.1);
    let (t2_re, t2_im) = (a1.0 + a3.0, a1.1 + a3.1);
    // (a1 − a3)·(−i)
    let (t3_re, t3_im) = (a1.1 - a3.1, a3.0 - a1.0);
    (t0_re + t2_re).store(p[0]);
    (t0_im + t2_im).store(p[0].add(l));
    (t1_re + t3_re).store(p[1]);
    (t1_im + t3_im).store(p[1].add(l));
    (t0_re - t2_re).store(p[2]);
    (t0_im - t2_im).store(p[2].add(l));
    (t1_re - t3_re).store(p[3]);
    (t1_im - t3_im).store(p[3].add(l));
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Naive one-sided DFT power of a real frame.
    fn naive_power(frame: &[f64]) -> Vec<f64> {
        let n = frame.len();
        (0..=n / 2)
            .map(|k| {
                let (mut re, mut im) = (0.0, 0.0);
                for (j, x) in frame.iter().enumerate() {
                    let a = -2.0 * std::f64::consts::PI * ((k * j) % n) as f64 / n as f64;
                    re += x * a.cos();
                    im += x * a.sin();
                }
                re * re + im * im
            })
            .collect()
    }

    fn frames(n_fft: usize, lanes: usize) -> Vec<f64> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        (0..n_fft * lanes)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    /// Runs `V` on `frames` and returns `[bins, lanes]`.
    fn run<V: Lane>(n_fft: usize, frames: &[f64], scale: &[f64]) -> Vec<f32> {
        let mut fft = LaneFft::new(n_fft, scale).unwrap();
        let stride = V::LANES;
        let mut out = vec![f32::NAN; (n_fft / 2 + 1) * stride];
        // SAFETY: callers check the CPU features of `V`.
        unsafe { fft.power::<V>(frames, &mut out, stride) };
        out
    }

    #[test]
    fn one_lane_matches_the_naive_dft_for_every_size() {
        for n_fft in [16, 32, 64, 128, 256, 512, 1024, 2048, 4096] {
            let x = frames(n_fft, 1);
            let scale: Vec<f64> = (0..=n_fft / 2).map(|k| 1.0 + k as f64 * 0.01).collect();
            let want = naive_power(&x);
            let got = run::<f64>(n_fft, &x, &scale);
            let peak = want.iter().cloned().fold(0.0, f64::max);
            for (k, (g, w)) in got.iter().zip(&want).enumerate() {
                let w = w * scale[k];
                let tol = 1e-6 * w.abs() + 1e-12 * peak * n_fft as f64;
                assert!((f64::from(*g) - w).abs() <= tol, "n_fft {n_fft} bin {k}: {g} vs {w}");
            }
        }
    }

    #[test]
    fn rejects_sizes_that_are_not_powers_of_two() {
        let scale = vec![1.0; 257];
        assert!(LaneFft::new(512, &scale).is_some());
        assert!(LaneFft::new(400, &vec![1.0; 201]).is_none());
        assert!(LaneFft::new(8, &[1.0; 5]).is_none());
    }

    /// Every SIMD width gives the one-lane bits, frame by frame.
    #[cfg(target_arch = "x86_64")]
    fn same_bits_as_one_lane<V: Lane>(n_fft: usize) {
        let x = frames(n_fft, V::LANES);
        let scale: Vec<f64> = (0..=n_fft / 2).map(|k| 0.5 + k as f64).collect();
        let wide = run::<V>(n_fft, &x, &scale);
        for f in 0..V::LANES {
            let one = run::<f64>(n_fft, &x[f * n_fft..(f + 1) * n_fft], &scale);
            for (k, v) in one.iter().enumerate() {
                let w = wide[k * V::LANES + f];
                assert_eq!(
                    v.to_bits(),
                    w.to_bits(),
                    "n_fft {n_fft}, {} lanes: frame {f} bin {k}",
                    V::LANES
                );
            }
        }
    }

    /// `power_from_signal` equals `power` on the same frames windowed in f64, bit for bit,
    /// including tiles cut by the window's edges (`lo` and the length not multiples of 8).
    fn signal_path_equals_frame_path<V: Lane>() {
        let (n_fft, hop) = (64, 17);
        let wave: Vec<f32> = frames(400, 1).iter().map(|x| *x as f32).collect();
        for (lo, win) in [(0, 64), (0, 40), (12, 40), (5, 51)] {
            let window: Vec<f64> = (0..win).map(|j| 0.5 + (j as f64 * 0.1).sin() * 0.4).collect();
            let start = 3;
            let mut framed = vec![0.0; n_fft * V::LANES];
            for f in 0..V::LANES {
                for j in 0..win {
                    framed[f * n_fft + lo + j] = f64::from(wave[start + f * hop + j]) * window[j];
                }
            }
            let scale = vec![1.0; n_fft / 2 + 1];
            let mut fft = LaneFft::new(n_fft, &scale).unwrap();
            let mut want = vec![f32::NAN; (n_fft / 2 + 1) * V::LANES];
            let mut got = want.clone();
            // SAFETY: callers check the CPU features of `V`.
            unsafe {
                fft.power::<V>(&framed, &mut want, V::LANES);
                fft.power_from_signal::<V>(&wave, start, hop, &window, lo, &mut got, V::LANES);
            }
            for (k, (a, b)) in want.iter().zip(&got).enumerate() {
                assert_eq!(a.to_bits(), b.to_bits(), "{} lanes, window {lo}+{win}: {k}", V::LANES);
            }
        }
    }

    #[test]
    fn reading_frames_from_the_signal_gives_the_framed_bits() {
        signal_path_equals_frame_path::<f64>();
        #[cfg(target_arch = "x86_64")]
        {
            signal_path_equals_frame_path::<Sse2>();
            if crate::features::simd::avx2_fma() {
                signal_path_equals_frame_path::<Avx2>();
            }
            #[cfg(pretext_avx512)]
            if crate::features::simd::avx512() {
                signal_path_equals_frame_path::<Avx512>();
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn simd_lanes_give_the_one_lane_bits() {
        for n_fft in [16, 32, 64, 512, 2048] {
            same_bits_as_one_lane::<Sse2>(n_fft);
            if crate::features::simd::avx2_fma() {
                same_bits_as_one_lane::<Avx2>(n_fft);
            }
            #[cfg(pretext_avx512)]
            if crate::features::simd::avx512() {
                same_bits_as_one_lane::<Avx512>(n_fft);
            }
        }
    }
}
