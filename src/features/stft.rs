//! The short-time Fourier transform: framing, optional centring, detrending, windowing, a real
//! FFT (for even sizes rustfft at half the length with the real split fused into the power,
//! realfft for odd ones), and magnitude or power with optional scipy density scaling.
//!
//! Design:
//! - One [`Stft`] owns its plan, window, frame buffer, spectrum and FFT scratch, so
//!   [`Stft::frame`] allocates nothing. Build one per thread.
//! - Arithmetic is f64 from the first windowed sample to each bin's (scaled) power by default
//!   ([`Precision::F64`]), then f32. An f32 FFT leaves an absolute error of about 1e-7 of the
//!   frame's amplitude in *every* bin: on the goldens that misses L3's dB (`amin` 1e-10) by
//!   0.2 dB and VGGish's `ln(mel + 0.01)` by 3e-4. Once the power is known, f32 costs only its
//!   own rounding (6e-8 relative): square roots, positive mel sums and logs of floored values
//!   stay within ~1e-6 of f64, and run twice as wide. [`Precision::F32`] is for recipes whose
//!   floor is high relative to the signal (LVS).
//! - Two framing conventions exist and both are needed ([`Framing`]): librosa/torch frames are
//!   `n_fft` samples long with the window centred inside (`pad_center`), so the frame count
//!   depends on `n_fft`; scipy/VGGish frames are `win_length` samples long, zero-padded at the
//!   end up to `n_fft`, so the count depends on the window. Uncentred counts are
//!   `1 + ⌊(N − L)/hop⌋` for frame length `L` (0 when `N < L`), centred counts
//!   `1 + ⌊(N + 2⌊L/2⌋ − L)/hop⌋` (`1 + ⌊N/hop⌋` for even `L`).
//! - [`Stft::frame`] transforms one frame (rustfft/realfft). Where the arithmetic is f64 and
//!   `n_fft` a power of two ≥ 16, `Stft::block_into` also transforms blocks of frames several
//!   at a time, one per SIMD lane (`lane_fft.rs`), into a bins-major block: what
//!   [`super::Spectrogram`] uses. Both share the framing and windowing code below.
//! - Centring pads `⌊L/2⌋` samples on each side, either zeros (librosa ≥ 0.10, `'constant'`) or
//!   a mirror image without repeating the edge (`'reflect'`, numpy's rule, repeated for pads
//!   longer than the signal). Padding is virtual: samples are fetched through an index map.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::lane_fft::{Lane, LaneFft, MAX_LANES};
use super::simd;
use super::window::{Symmetry, Window};
use super::FeatureError;

/// How frames are cut from the signal (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Framing {
    /// Frames of `n_fft` samples, window centred inside them (librosa, torch.stft, torchaudio).
    Fft,
    /// Frames of `win_length` samples, zero-padded at the end to `n_fft` (scipy, VGGish).
    Window,
}

/// Padding mode for centred frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PadMode {
    /// Zeros (librosa's default since 0.10).
    Constant,
    /// Mirror image excluding the edge sample (numpy/torch `'reflect'`).
    Reflect,
}

/// Per-frame detrending before windowing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detrend {
    /// Leave frames as they are.
    None,
    /// Subtract each frame's mean over the window's span (scipy's `detrend='constant'`).
    Constant,
}

/// Scaling of the power spectrum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scaling {
    /// Raw `|X|²` (librosa, torch, VGGish).
    None,
    /// scipy's one-sided power spectral density (`scaling='density'`, `mode='psd'`,
    /// `return_onesided=True`): `|X|² / (fs·Σw²)`, with every bin except DC (and Nyquist for an
    /// even FFT) doubled to fold in the negative frequencies.
    Density,
}

/// What each time-frequency cell holds before any filterbank or log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Amplitude {
    /// `|X|` (square root of the scaled power).
    Magnitude,
    /// `|X|²`, scaled as [`Scaling`] says.
    Power,
}

/// Arithmetic of the windowing and the FFT (everything after the power spectrum is f32).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f64: needed wherever the log floor sits far below the frame's peak. With an f32 FFT
    /// the goldens miss by 0.2 dB (L3, dB with `amin = 1e-10`) and 3e-4 (VGGish chirp, quiet
    /// mel bands near the 0.01 offset).
    F64,
    /// f32: faster, and exact enough when the floor is high relative to the frame's energy, as
    /// in LVS's `ln(psd + 1e-7)` (5e-7 from the goldens).
    F32,
}

/// Every parameter of the STFT.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StftConfig {
    /// Window shape.
    pub window: Window,
    /// Periodic (spectral analysis) or symmetric window.
    pub symmetry: Symmetry,
    /// Window length in samples (≤ `n_fft`).
    pub win_length: usize,
    /// FFT size; frames shorter than this are zero-padded.
    pub n_fft: usize,
    /// Hop between frame starts, in samples.
    pub hop: usize,
    /// Frame-length convention.
    pub framing: Framing,
    /// Centre frames on `t·hop` by padding the signal, or `None` to start at sample 0.
    pub center: Option<PadMode>,
    /// Detrending applied to each frame.
    pub detrend: Detrend,
    /// Power scaling.
    pub scaling: Scaling,
    /// Magnitude or power output.
    pub amplitude: Amplitude,
    /// Arithmetic of the windowing and FFT.
    pub precision: Precision,
}

impl Default for StftConfig {
    /// VGGish's STFT: periodic Hann 400, FFT 512, hop 160, uncentred, magnitude.
    fn default() -> Self {
        StftConfig {
            window: Window::Hann,
            symmetry: Symmetry::Periodic,
            win_length: 400,
            n_fft: 512,
            hop: 160,
            framing: Framing::Window,
            center: None,
            detrend: Detrend::None,
            scaling: Scaling::None,
            amplitude: Amplitude::Magnitude,
            precision: Precision::F64,
        }
    }
}

impl StftConfig {
    /// Samples per frame under this config's [`Framing`].
    pub fn frame_len(&self) -> usize {
        match self.framing {
            Framing::Fft => self.n_fft,
            Framing::Window => self.win_length,
        }
    }

    /// Frequency bins of the one-sided spectrum: `n_fft / 2 + 1`.
    pub fn n_bins(&self) -> usize {
        self.n_fft / 2 + 1
    }

    /// Padding on each side when centred: `⌊frame_len / 2⌋`, else 0.
    pub fn pad(&self) -> usize {
        match self.center {
            Some(_) => self.frame_len() / 2,
            None => 0,
        }
    }

    /// Number of frames for a signal of `n_samples` samples (see the module docs).
    pub fn n_frames(&self, n_samples: usize) -> usize {
        let padded = n_samples + 2 * self.pad();
        let len = self.frame_len();
        if self.hop == 0 || padded < len {
            0
        } else {
            1 + (padded - len) / self.hop
        }
    }

    /// Fewest samples that give one frame.
    pub fn min_samples(&self) -> usize {
        self.frame_len().saturating_sub(2 * self.pad()).max(1)
    }

    fn validate(&self) -> Result<(), FeatureError> {
        let bad = |m: String| Err(FeatureError::InvalidParameter(m));
        if self.n_fft < 2 {
            return bad(format!("n_fft must be at least 2, got {}", self.n_fft));
        }
        if self.win_length == 0 || self.win_length > self.n_fft {
            return bad(format!(
                "win_length must be in 1..=n_fft ({}), got {}",
                self.n_fft, self.win_length
            ));
        }
        if self.hop == 0 {
            return bad("hop must be at least 1 sample".into());
        }
        Ok(())
    }
}

/// A planned STFT with its buffers.
pub struct Stft {
    config: StftConfig,
    /// Position of the window's first sample inside the `n_fft` buffer.
    win_offset: usize,
    /// Position of the window's first sample relative to the frame start.
    frame_offset: usize,
    engine: Engine,
    /// The lane-parallel transform for f64 power-of-two sizes (see [`Stft::block_into`]).
    lanes: Option<Lanes>,
    values: Vec<f32>,
}

/// [`LaneFft`] and the windowed frames of one group (`[MAX_LANES, n_fft]`).
struct Lanes {
    fft: LaneFft,
    frames: Vec<f64>,
}

/// The FFT and its buffers at the configured precision.
enum Engine {
    F64(Kernel<f64>),
    F32(Kernel<f32>),
}

/// Window, plan and buffers of one precision.
struct Kernel<T: Sample> {
    window: Vec<T>,
    /// Per-bin multiplier of `|X|²`: the scale, doubled for the interior bins of a one-sided
    /// density spectrum (folded here so the power is one pass).
    bin_scale: Vec<T>,
    /// The real frame (`n_fft` samples).
    buffer: Vec<T>,
    transform: Transform<T>,
}

/// How a kernel turns its real frame into powers.
enum Transform<T: Sample> {
    /// realfft's real-to-complex FFT, then `|X|²·scale` (odd sizes).
    Real { fft: Arc<dyn RealToComplex<T>>, spectrum: Vec<Complex<T>>, scratch: Vec<Complex<T>> },
    /// A complex FFT of the `n_fft / 2` sample pairs, with realfft's split into the real
    /// spectrum fused with the power (even sizes).
    Half(HalfSpectrum<T>),
}

/// The real FFT of an even-length frame `x` as a complex FFT `Z` of `M = n_fft / 2` points over
/// `x[2i] + i·x[2i + 1]`, split into bins `k` and `M − k` together (realfft's method):
/// `X[k] = (Z[k] + conj Z[M−k])/2 − i·W^k·(Z[k] − conj Z[M−k])/2` with `W = e^{−2πi/n_fft}`,
/// `X[M − k]` its counterpart with the second term's sign flipped, conjugated. Only the powers
/// are needed, so the split writes `|2X|²·scale/4` straight into the output: one pass over the
/// spectrum instead of realfft's split and a separate power loop. On AVX2 the pairs go through
/// [`simd::SplitBlocks`] (eight f32 or four f64 at once, bit-identical to the scalar loop here,
/// both [`simd::split_pair`]).
struct HalfSpectrum<T: Sample> {
    fft: Arc<dyn rustfft::Fft<T>>,
    /// `W^k` for `k ≤ k_max`.
    twiddles: Vec<Complex<T>>,
    /// Last bin of the pairs `(k, M − k)` with `k < M − k`.
    k_max: usize,
    /// `bin_scale / 4`, for the pairs (which compute `2X`).
    quarter: Vec<T>,
    spectrum: Vec<Complex<T>>,
    scratch: Vec<Complex<T>>,
    wide: Option<simd::SplitBlocks<T>>,
}

impl<T: Sample> HalfSpectrum<T> {
    /// `wide`: the widest SIMD split to use where the CPU has it (`None`: the scalar loop).
    fn new(n_fft: usize, bin_scale: &[T], wide: Option<simd::SplitWidth>) -> Self {
        assert!(n_fft % 2 == 0, "HalfSpectrum needs an even n_fft, got {n_fft}");
        let m = n_fft / 2;
        let fft = rustfft::FftPlanner::<T>::new().plan_fft_forward(m);
        let k_max = (m - 1) / 2;
        let twiddles: Vec<Complex<T>> = (0..=k_max)
            .map(|k| {
                let angle = -2.0 * std::f64::consts::PI * k as f64 / n_fft as f64;
                Complex { re: T::of_f64(angle.cos()), im: T::of_f64(angle.sin()) }
            })
            .collect();
        let wide = wide.and_then(|width| simd::SplitBlocks::new(m, k_max, &twiddles, width));
        HalfSpectrum {
            scratch: vec![Complex::new(T::zero(), T::zero()); fft.get_outofplace_scratch_len()],
            spectrum: vec![Complex::new(T::zero(), T::zero()); m],
            quarter: bin_scale.iter().map(|s| *s * T::of_f64(0.25)).collect(),
            fft,
            twiddles,
            k_max,
            wide,
        }
    }

    /// Transforms `buffer` (used as scratch) and writes every bin's `|X|²·bin_scale`.
    #[inline(always)]
    fn power(&mut self, buffer: &mut [T], bin_scale: &[T], values: &mut [f32]) {
        let m = self.spectrum.len();
        self.fft.process_outofplace_with_scratch(
            simd::as_complex_mut(buffer),
            &mut self.spectrum,
            &mut self.scratch,
        );
        let z = &self.spectrum;
        let out = |p: T, s: T| (p * s).to_f64() as f32;
        // DC and Nyquist: the sum and difference of Z[0]'s parts; the centre bin of an even M
        // is conj Z[M/2].
        let (re, im) = (z[0].re, z[0].im);
        let (dc, nyquist) = (re + im, re - im);
        values[0] = out(dc * dc, bin_scale[0]);
        values[m] = out(nyquist * nyquist, bin_scale[m]);
        if m % 2 == 0 {
            let c = z[m / 2];
            values[m / 2] = out(c.re * c.re + c.im * c.im, bin_scale[m / 2]);
        }
        if let Some(blocks) = &self.wide {
            blocks.power(z, &self.quarter, values);
            return;
        }
        // `SplitBlocks::power`'s formula, one pair at a time.
        for k in 1..=self.k_max {
            let (a, b, w) = (z[k], z[m - k], self.twiddles[k]);
            let (p, q) = simd::split_pair(a.re, a.im, b.re, b.im, w.re, w.im);
            values[k] = out(p, self.quarter[k]);
            values[m - k] = out(q, self.quarter[m - k]);
        }
    }
}

impl<T: Sample> Kernel<T> {
    /// Even sizes transform through [`HalfSpectrum`], odd ones through realfft.
    fn new(window: &[f64], n_fft: usize, bin_scale: &[f64]) -> Self {
        let bin_scale: Vec<T> = bin_scale.iter().map(|s| T::of_f64(*s)).collect();
        let transform = if n_fft % 2 == 0 {
            Transform::Half(HalfSpectrum::new(n_fft, &bin_scale, Some(simd::SplitWidth::Widest)))
        } else {
            let fft = RealFftPlanner::<T>::new().plan_fft_forward(n_fft);
            Transform::Real {
                spectrum: fft.make_output_vec(),
                scratch: fft.make_scratch_vec(),
                fft,
            }
        };
        Kernel {
            window: window.iter().map(|w| T::of_f64(*w)).collect(),
            bin_scale,
            buffer: vec![T::zero(); n_fft],
            transform,
        }
    }
}

/// The float types an STFT can run in.
trait Sample: realfft::FftNum + simd::SplitLanes {
    fn of_f32(x: f32) -> Self;
    fn of_f64(x: f64) -> Self;
    fn to_f64(self) -> f64;
}

impl Sample for f64 {
    #[inline(always)]
    fn of_f32(x: f32) -> Self {
        f64::from(x)
    }
    #[inline(always)]
    fn of_f64(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self
    }
}

impl Sample for f32 {
    #[inline(always)]
    fn of_f32(x: f32) -> Self {
        x
    }
    #[inline(always)]
    fn of_f64(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn to_f64(self) -> f64 {
        f64::from(self)
    }
}

impl std::fmt::Debug for Stft {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stft").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Stft {
    /// Plans the FFT and builds the window; `sample_rate` is needed for density scaling.
    pub fn new(config: &StftConfig, sample_rate: u32) -> Result<Self, FeatureError> {
        config.validate()?;
        if sample_rate == 0 {
            return Err(FeatureError::InvalidParameter("sample rate must be positive".into()));
        }
        let window = config.window.samples(config.symmetry, config.win_length)?;
        let scale = match config.scaling {
            Scaling::None => 1.0,
            Scaling::Density => {
                let energy: f64 = window.iter().map(|w| w * w).sum();
                if energy <= 0.0 {
                    return Err(FeatureError::InvalidParameter(
                        "density scaling needs a window with non-zero energy".into(),
                    ));
                }
                1.0 / (sample_rate as f64 * energy)
            }
        };
        let (win_offset, frame_offset) = match config.framing {
            // librosa's util.pad_center: left pad ⌊(n_fft − win)/2⌋.
            Framing::Fft => {
                let off = (config.n_fft - config.win_length) / 2;
                (off, off)
            }
            Framing::Window => (0, 0),
        };
        // scipy's one-sided density doubles every bin but DC (and Nyquist for an even n_fft).
        let n_bins = config.n_bins();
        let last = if config.n_fft % 2 == 0 { n_bins - 1 } else { n_bins };
        let bin_scale: Vec<f64> = (0..n_bins)
            .map(|k| match config.scaling {
                Scaling::Density if k >= 1 && k < last => 2.0 * scale,
                _ => scale,
            })
            .collect();
        let engine = match config.precision {
            Precision::F64 => Engine::F64(Kernel::new(&window, config.n_fft, &bin_scale)),
            Precision::F32 => Engine::F32(Kernel::new(&window, config.n_fft, &bin_scale)),
        };
        let lanes = match config.precision {
            Precision::F64 => LaneFft::new(config.n_fft, &bin_scale)
                .map(|fft| Lanes { fft, frames: vec![0.0; MAX_LANES * config.n_fft] }),
            Precision::F32 => None,
        };
        Ok(Stft {
            values: vec![0.0; config.n_bins()],
            config: config.clone(),
            win_offset,
            frame_offset,
            engine,
            lanes,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &StftConfig {
        &self.config
    }

    /// Frequency bins per frame.
    pub fn n_bins(&self) -> usize {
        self.config.n_bins()
    }

    /// Frames for a signal of `n_samples` samples.
    pub fn n_frames(&self, n_samples: usize) -> usize {
        self.config.n_frames(n_samples)
    }

    /// Calls `f(t, values)` for every frame `t` of `wave`, where `values` holds the frame's
    /// `n_bins` magnitudes or (scaled) powers. Allocates nothing.
    pub fn for_each_frame(
        &mut self,
        wave: &[f32],
        mut f: impl FnMut(usize, &[f32]),
    ) -> Result<(), FeatureError> {
        for t in 0..self.n_frames(wave.len()) {
            f(t, self.frame(wave, t)?);
        }
        Ok(())
    }

    /// Frame `t` of `wave` (`t < n_frames(wave.len())`): its `n_bins` magnitudes or (scaled)
    /// powers, in a buffer owned by `self` and overwritten by the next call. Allocates nothing.
    ///
    /// A plain call rather than a callback so that the caller's loop, and this body inlined
    /// into it, can be compiled for wider vectors as one function (see `simd.rs`).
    pub fn frame(&mut self, wave: &[f32], t: usize) -> Result<&[f32], FeatureError> {
        let mut values = std::mem::take(&mut self.values);
        let result = self.frame_into(wave, t, &mut values);
        self.values = values;
        result.map(|()| self.values.as_slice())
    }

    /// [`Stft::frame`] written into `out` (`n_bins` values). Allocates nothing.
    #[inline(always)]
    pub fn frame_into(
        &mut self,
        wave: &[f32],
        t: usize,
        out: &mut [f32],
    ) -> Result<(), FeatureError> {
        if out.len() != self.n_bins() {
            return Err(FeatureError::BufferSize { got: out.len(), expected: self.n_bins() });
        }
        let geometry = self.geometry(wave)?;
        let start = self.window_start(t);
        match &mut self.engine {
            Engine::F64(k) => k.power(wave, start, &geometry, out)?,
            Engine::F32(k) => k.power(wave, start, &geometry, out)?,
        }
        if self.config.amplitude == Amplitude::Magnitude {
            out.iter_mut().for_each(|v| *v = v.sqrt());
        }
        Ok(())
    }
}

impl Stft {
    /// Whether [`Stft::block_into`] is available: f64 precision and a power-of-two `n_fft`
    /// of at least 16.
    pub(crate) fn has_lanes(&self) -> bool {
        self.lanes.is_some()
    }

    /// Frames `t0..t0 + cols` of `wave` through the lane-parallel transform (`lane_fft.rs`):
    /// bin `k` of frame `t0 + c` goes to `out[k·stride + c]`, magnitude or (scaled) power as
    /// [`Stft::frame`] gives it (to the last bits: the transform differs). Columns up to the
    /// next multiple of `V::LANES` are written too (with the values of frames past the end
    /// or of earlier groups); `stride` must leave room for them.
    ///
    /// # Safety
    /// The CPU must have `V`'s features (see [`Lane`]).
    ///
    /// # Panics
    /// Without lanes ([`Stft::has_lanes`]), or if `out` or `stride` is too small.
    #[inline(always)]
    pub(crate) unsafe fn block_into<V: Lane>(
        &mut self,
        wave: &[f32],
        t0: usize,
        cols: usize,
        out: &mut [f32],
        stride: usize,
    ) -> Result<(), FeatureError> {
        let geometry = self.geometry(wave)?;
        let n_fft = self.config.n_fft;
        let n_bins = self.n_bins();
        let width = cols.div_ceil(V::LANES) * V::LANES;
        assert!(stride >= width && out.len() >= n_bins * stride, "block_into: output too short");
        let (hop, offset) =
            (self.config.hop, self.frame_offset as isize - self.config.pad() as isize);
        let Engine::F64(kernel) = &self.engine else { unreachable!("lanes are f64 only") };
        let lanes = self.lanes.as_mut().expect("block_into needs lanes (Stft::has_lanes)");
        let (n, win) = (wave.len() as isize, geometry.hi - geometry.lo);
        for g in (0..cols).step_by(V::LANES) {
            let first = ((t0 + g) * hop) as isize + offset;
            let last = first + ((V::LANES - 1) * hop) as isize;
            if geometry.detrend == Detrend::None && first >= 0 && last + win as isize <= n {
                // Every lane's window inside the signal: windowed and transposed in one step.
                lanes.fft.power_from_signal::<V>(
                    wave,
                    first as usize,
                    hop,
                    &kernel.window,
                    geometry.lo,
                    &mut out[g..],
                    stride,
                );
                continue;
            }
            for f in 0..V::LANES.min(cols - g) {
                let start = ((t0 + g + f) * hop) as isize + offset;
                let buffer = &mut lanes.frames[f * n_fft..(f + 1) * n_fft];
                Kernel::window_frame(&kernel.window, wave, start, &geometry, buffer);
            }
            lanes.fft.power::<V>(&lanes.frames, &mut out[g..], stride);
        }
        if self.config.amplitude == Amplitude::Magnitude {
            for row in out.chunks_exact_mut(stride).take(n_bins) {
                row[..width].iter_mut().for_each(|v| *v = v.sqrt());
            }
        }
        Ok(())
    }

    /// Where the window sits in the FFT buffer; fails for reflect padding of an empty signal.
    #[inline(always)]
    fn geometry(&self, wave: &[f32]) -> Result<Geometry, FeatureError> {
        let reflect = self.config.center == Some(PadMode::Reflect);
        if reflect && wave.is_empty() {
            return Err(FeatureError::InvalidParameter(
                "reflect padding needs at least one sample".into(),
            ));
        }
        Ok(Geometry {
            lo: self.win_offset,
            hi: self.win_offset + self.config.win_length,
            detrend: self.config.detrend,
            reflect,
        })
    }

    /// Index of frame `t`'s first window sample in the unpadded signal.
    #[inline(always)]
    fn window_start(&self, t: usize) -> isize {
        (t * self.config.hop + self.frame_offset) as isize - self.config.pad() as isize
    }
}

/// Where the window sits in the FFT buffer, and what to do with each frame.
struct Geometry {
    lo: usize,
    hi: usize,
    detrend: Detrend,
    reflect: bool,
}

impl<T: Sample> Kernel<T> {
    /// Frames `wave` at `start`, windows, transforms, and writes `|X|²·scale` into `values`.
    #[inline(always)]
    fn power(
        &mut self,
        wave: &[f32],
        start: isize,
        g: &Geometry,
        values: &mut [f32],
    ) -> Result<(), FeatureError> {
        Self::window_frame(&self.window, wave, start, g, &mut self.buffer);
        match &mut self.transform {
            Transform::Real { fft, spectrum, scratch } => {
                fft.process_with_scratch(&mut self.buffer, spectrum, scratch)
                    .map_err(|e| FeatureError::Fft(e.to_string()))?;
                // In the kernel's precision: f64 keeps the reference's arithmetic, f32 stays in
                // f32.
                for ((v, c), s) in values.iter_mut().zip(spectrum.iter()).zip(&self.bin_scale) {
                    *v = ((c.re * c.re + c.im * c.im) * *s).to_f64() as f32;
                }
            }
            Transform::Half(h) => h.power(&mut self.buffer, &self.bin_scale, values),
        }
        Ok(())
    }
}

impl<T: Sample> Kernel<T> {
    /// Frame `wave` at `start`, padded as `g` says and windowed, into `buffer` (`n_fft`
    /// values: the window at `g.lo..g.hi`, zeros around it).
    #[inline(always)]
    fn window_frame(window: &[T], wave: &[f32], start: isize, g: &Geometry, buffer: &mut [T]) {
        let win = g.hi - g.lo;
        let n = wave.len() as isize;
        // The FFTs use their input as scratch: re-zero the padding around the window.
        buffer[..g.lo].fill(T::zero());
        buffer[g.hi..].fill(T::zero());
        let dst = &mut buffer[g.lo..g.hi];
        let inside = start >= 0 && start + win as isize <= n;
        if inside {
            // Straight from the signal: the mean (when detrending) is summed from it too, so the
            // frame is read twice and written once.
            let src = &wave[start as usize..start as usize + win];
            match g.detrend {
                Detrend::None => {
                    for ((d, s), w) in dst.iter_mut().zip(src).zip(window) {
                        *d = T::of_f32(*s) * *w;
                    }
                }
                Detrend::Constant => {
                    let mean = sum(src, T::of_f32) / T::of_f64(win as f64);
                    for ((d, s), w) in dst.iter_mut().zip(src).zip(window) {
                        *d = (T::of_f32(*s) - mean) * *w;
                    }
                }
            }
        } else {
            // Only the parts of the window outside the signal (`..lo`, `hi..`) go through the
            // index map; the rest is copied.
            let lo = (-start).clamp(0, win as isize) as usize;
            let hi = (n - start).clamp(lo as isize, win as isize) as usize;
            let (head, rest) = dst.split_at_mut(lo);
            let (mid, tail) = rest.split_at_mut(hi - lo);
            let padded = |k: usize| T::of_f64(padded_sample(wave, start + k as isize, g.reflect));
            for (k, d) in head.iter_mut().enumerate() {
                *d = padded(k);
            }
            for (k, d) in tail.iter_mut().enumerate() {
                *d = padded(hi + k);
            }
            if hi > lo {
                let from = (start + lo as isize) as usize;
                for (d, x) in mid.iter_mut().zip(&wave[from..from + (hi - lo)]) {
                    *d = T::of_f32(*x);
                }
            }
            let dst = &mut buffer[g.lo..g.hi];
            let mean = match g.detrend {
                Detrend::Constant => sum(dst, |x| x) / T::of_f64(win as f64),
                Detrend::None => T::zero(),
            };
            for (d, w) in dst.iter_mut().zip(window) {
                *d = (*d - mean) * *w;
            }
        }
    }
}

/// Sum of `of(v)` over `values` with 32 interleaved partial sums: enough independent vector adds
/// to hide their latency (one 8-lane chain would wait three cycles per add), combined pairwise by
/// [`pairwise`]. The order is fixed, so every SIMD width gives the same bits.
#[inline(always)]
fn sum<T: Sample, S: Copy>(values: &[S], of: impl Fn(S) -> T) -> T {
    let mut acc = [T::zero(); 32];
    let mut chunks = values.chunks_exact(32);
    for x in &mut chunks {
        for i in 0..32 {
            acc[i] = acc[i] + of(x[i]);
        }
    }
    pairwise(acc) + chunks.remainder().iter().fold(T::zero(), |a, b| a + of(*b))
}

/// `acc`'s halves added lane by lane until one value is left. Not inlined on purpose: inside the
/// caller, LLVM vectorises the whole reduction tree, loop included, two lanes wide.
#[inline(never)]
fn pairwise<T: Sample>(mut acc: [T; 32]) -> T {
    let mut width = 32;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            acc[i] = acc[i] + acc[i + width];
        }
    }
    acc[0]
}

/// Sample `j` of the virtually padded signal: zero outside (constant) or mirrored (reflect).
fn padded_sample(wave: &[f32], j: isize, reflect: bool) -> f64 {
    let n = wave.len() as isize;
    if (0..n).contains(&j) {
        return f64::from(wave[j as usize]);
    }
    if !reflect || n == 0 {
        return 0.0;
    }
    if n == 1 {
        return f64::from(wave[0]);
    }
    let period = 2 * (n - 1);
    let r = j.rem_euclid(period);
    let i = if r < n { r } else { period - r };
    f64::from(wave[i as usize])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::simd::SplitWidth;

    /// Naive one-sided DFT power of a windowed, zero-padded frame.
    fn naive_power(frame: &[f64], n_fft: usize) -> Vec<f64> {
        (0..=n_fft / 2)
            .map(|k| {
                let (mut re, mut im) = (0.0, 0.0);
                for (n, x) in frame.iter().enumerate() {
                    let a = -2.0 * std::f64::consts::PI * (k * n) as f64 / n_fft as f64;
                    re += x * a.cos();
                    im += x * a.sin();
                }
                re * re + im * im
            })
            .collect()
    }

    fn collect(stft: &mut Stft, wave: &[f32]) -> Vec<Vec<f64>> {
        let mut frames = Vec::new();
        stft.for_each_frame(wave, |_, v| frames.push(v.iter().map(|x| f64::from(*x)).collect()))
            .unwrap();
        frames
    }

    fn noise(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_naive_dft_for_both_framings_and_odd_sizes() {
        let wave = noise(1000, 7);
        for (framing, win, n_fft, hop) in [
            (Framing::Window, 100, 128, 37),
            (Framing::Fft, 90, 127, 50),
            (Framing::Window, 33, 33, 33),
        ] {
            let cfg = StftConfig {
                win_length: win,
                n_fft,
                hop,
                framing,
                amplitude: Amplitude::Power,
                ..StftConfig::default()
            };
            let mut stft = Stft::new(&cfg, 16_000).unwrap();
            let frames = collect(&mut stft, &wave);
            assert_eq!(frames.len(), cfg.n_frames(wave.len()));
            let w = Window::Hann.samples(Symmetry::Periodic, win).unwrap();
            let off = if framing == Framing::Fft { (n_fft - win) / 2 } else { 0 };
            for (t, got) in frames.iter().enumerate() {
                let frame: Vec<f64> =
                    (0..win).map(|k| f64::from(wave[t * hop + off + k]) * w[k]).collect();
                let want = naive_power(&frame, n_fft);
                for (k, (g, e)) in got.iter().zip(&want).enumerate() {
                    // f64 up to the power, then one f32 rounding.
                    assert!((g - e).abs() <= 1e-7 * e + 1e-12, "frame {t} bin {k}: {g} vs {e}");
                }
            }
        }
    }

    #[test]
    fn f32_precision_matches_naive_dft_to_f32_accuracy() {
        let wave = noise(2000, 11);
        let cfg = StftConfig {
            window: Window::Tukey { alpha: 0.25 },
            win_length: 512,
            n_fft: 512,
            hop: 238,
            detrend: Detrend::Constant,
            amplitude: Amplitude::Power,
            precision: Precision::F32,
            ..StftConfig::default()
        };
        let mut stft = Stft::new(&cfg, 16_000).unwrap();
        let frames = collect(&mut stft, &wave);
        let w = Window::Tukey { alpha: 0.25 }.samples(Symmetry::Periodic, 512).unwrap();
        for (t, got) in frames.iter().enumerate() {
            let raw: Vec<f64> = (0..512).map(|k| f64::from(wave[t * 238 + k])).collect();
            let mean = raw.iter().sum::<f64>() / 512.0;
            let frame: Vec<f64> = raw.iter().zip(&w).map(|(x, w)| (x - mean) * w).collect();
            let want = naive_power(&frame, 512);
            let peak = want.iter().cloned().fold(0.0, f64::max);
            for (k, (g, e)) in got.iter().zip(&want).enumerate() {
                assert!((g - e).abs() <= 1e-5 * peak, "frame {t} bin {k}: {g} vs {e}");
            }
        }
    }

    /// The powers of `frame` through a [`HalfSpectrum`] with per-bin scales `1 + k/8`.
    fn half_power<T: Sample>(
        frame: &[f64],
        n_fft: usize,
        wide: Option<SplitWidth>,
    ) -> (Vec<f32>, Vec<f64>) {
        let scale: Vec<T> = (0..=n_fft / 2).map(|k| T::of_f64(1.0 + k as f64 / 8.0)).collect();
        let mut half = HalfSpectrum::new(n_fft, &scale, wide);
        let mut buffer = vec![T::zero(); n_fft];
        for (b, x) in buffer.iter_mut().zip(frame) {
            *b = T::of_f64(*x);
        }
        let mut got = vec![f32::NAN; n_fft / 2 + 1];
        half.power(&mut buffer, &scale, &mut got);
        let want = naive_power(frame, n_fft);
        let want = want.iter().enumerate().map(|(k, p)| p * (1.0 + k as f64 / 8.0)).collect();
        (got, want)
    }

    #[test]
    fn half_length_split_matches_naive_dft() {
        // Powers of two (the presets), 400, M odd (n_fft = 2 mod 4), and sizes too small for a
        // block (8 f32 or 4 f64 pairs).
        for n_fft in [512, 256, 1024, 2048, 400, 130, 34, 40, 18, 16, 10, 8, 6, 4, 2] {
            let frame: Vec<f64> =
                noise(n_fft, n_fft as u64).iter().map(|x| f64::from(*x)).collect();
            // The naive DFT's scaled powers.
            let want = half_power::<f64>(&frame, n_fft, None).1;
            let peak = want.iter().cloned().fold(0.0, f64::max);
            for wide in WIDTHS {
                let (got, _) = half_power::<f64>(&frame, n_fft, wide);
                for (k, (g, e)) in got.iter().zip(&want).enumerate() {
                    // f64 to the power (error ~1e-16 of the peak), then one f32 rounding.
                    let g = f64::from(*g);
                    assert!(
                        (g - e).abs() <= 1e-7 * e + 1e-13 * peak,
                        "f64 {n_fft} {wide:?}: bin {k}: {g} vs {e}"
                    );
                }
            }
            for wide in WIDTHS {
                let (got, _) = half_power::<f32>(&frame, n_fft, wide);
                for (k, (g, e)) in got.iter().zip(&want).enumerate() {
                    let g = f64::from(*g);
                    assert!(
                        (g - e).abs() <= 2e-6 * peak,
                        "f32 {n_fft} {wide:?}: bin {k}: {g} vs {e}"
                    );
                }
            }
        }
    }

    /// The scalar loop, the AVX2 kernel and the widest one (AVX-512 where the CPU has it).
    const WIDTHS: [Option<SplitWidth>; 3] =
        [None, Some(SplitWidth::Avx2), Some(SplitWidth::Widest)];

    fn simd_splits_equal_the_scalar_split<T: Sample>() {
        for n_fft in [512, 256, 1024, 2048, 400, 130, 66, 34, 40, 18, 10, 8] {
            let scale = vec![T::of_f64(1.0); n_fft / 2 + 1];
            let pairs = (n_fft / 2 - 1) / 2;
            let lanes = <T as simd::SplitLanes>::SIGMA.len();
            let blocks = HalfSpectrum::<T>::new(n_fft, &scale, Some(SplitWidth::Avx2)).wide;
            assert_eq!(blocks.is_some(), simd::avx2_fma() && pairs >= lanes, "{n_fft}");
            let frame: Vec<f64> = noise(n_fft, 5).iter().map(|x| f64::from(*x)).collect();
            let scalar = half_power::<T>(&frame, n_fft, None).0;
            for width in [SplitWidth::Avx2, SplitWidth::Widest] {
                let wide = half_power::<T>(&frame, n_fft, Some(width)).0;
                let same = scalar.iter().zip(&wide).all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{n_fft} ({width:?}): {scalar:?} vs {wide:?}");
            }
        }
    }

    #[test]
    fn simd_splits_equal_the_scalar_split_bit_for_bit() {
        simd_splits_equal_the_scalar_split::<f32>();
        simd_splits_equal_the_scalar_split::<f64>();
    }

    #[test]
    fn f32_precision_with_odd_and_small_sizes_matches_naive_dft() {
        let wave = noise(700, 13);
        for (n_fft, win) in [(127, 100), (33, 33), (18, 15), (2, 2)] {
            let cfg = StftConfig {
                win_length: win,
                n_fft,
                hop: 41,
                amplitude: Amplitude::Power,
                precision: Precision::F32,
                ..StftConfig::default()
            };
            let mut stft = Stft::new(&cfg, 16_000).unwrap();
            let w = Window::Hann.samples(Symmetry::Periodic, win).unwrap();
            for (t, got) in collect(&mut stft, &wave).iter().enumerate() {
                let frame: Vec<f64> =
                    (0..win).map(|k| f64::from(wave[t * 41 + k]) * w[k]).collect();
                let want = naive_power(&frame, n_fft);
                let peak = want.iter().cloned().fold(0.0, f64::max);
                for (k, (g, e)) in got.iter().zip(&want).enumerate() {
                    assert!((g - e).abs() <= 2e-6 * peak, "{n_fft} frame {t} bin {k}: {g} vs {e}");
                }
            }
        }
    }

    #[test]
    fn frame_counts_follow_the_documented_convention() {
        let vggish = StftConfig::default();
        assert_eq!(vggish.n_frames(16_000), 98);
        let centred = StftConfig { center: Some(PadMode::Constant), ..vggish.clone() };
        assert_eq!(centred.n_frames(16_000), 101);
        let torch_like = StftConfig { framing: Framing::Fft, ..vggish.clone() };
        assert_eq!(torch_like.n_frames(16_000), 1 + (16_000 - 512) / 160);
        assert_eq!(vggish.n_frames(399), 0);
        assert_eq!(vggish.n_frames(400), 1);
        assert_eq!(vggish.min_samples(), 400);
        assert_eq!(centred.min_samples(), 1);
        assert_eq!(centred.n_frames(1), 1);
    }

    #[test]
    fn reflect_padding_mirrors_like_numpy() {
        let wave = [1.0f32, 2.0, 3.0];
        // numpy.pad([1, 2, 3], 5, 'reflect') = [2 1 2 3 2 | 1 2 3 | 2 1 2 3 2]
        let want = [2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0, 2.0, 3.0, 2.0];
        for (i, w) in want.iter().enumerate() {
            assert_eq!(padded_sample(&wave, i as isize - 5, true), *w, "index {i}");
        }
        assert_eq!(padded_sample(&wave, -1, false), 0.0);
        assert_eq!(padded_sample(&[4.0], -3, true), 4.0);
    }

    #[test]
    fn centred_frames_see_the_padding() {
        // A centred frame 0 over a constant signal: with zero padding the first half is empty.
        let cfg = StftConfig {
            window: Window::Rectangular,
            win_length: 8,
            n_fft: 8,
            hop: 4,
            framing: Framing::Fft,
            center: Some(PadMode::Constant),
            amplitude: Amplitude::Magnitude,
            ..StftConfig::default()
        };
        let wave = [1.0f32; 16];
        let mut stft = Stft::new(&cfg, 8).unwrap();
        let frames = collect(&mut stft, &wave);
        assert_eq!(frames.len(), 5);
        assert!((frames[0][0] - 4.0).abs() < 1e-12, "DC of half-padded frame");
        assert!((frames[2][0] - 8.0).abs() < 1e-12, "DC of an interior frame");
        let reflect = StftConfig { center: Some(PadMode::Reflect), ..cfg };
        let mut stft = Stft::new(&reflect, 8).unwrap();
        assert!((collect(&mut stft, &wave)[0][0] - 8.0).abs() < 1e-12);
    }

    #[test]
    fn padded_frames_equal_the_sample_by_sample_index_map() {
        // Frames over either edge, past both edges (signal shorter than the window), with and
        // without detrending: the copied middle and the mapped ends must give what mapping
        // every sample gives.
        for pad in [PadMode::Constant, PadMode::Reflect] {
            for n in [3, 11, 40] {
                for detrend in [Detrend::None, Detrend::Constant] {
                    let cfg = StftConfig {
                        window: Window::Hann,
                        win_length: 16,
                        n_fft: 16,
                        hop: 3,
                        framing: Framing::Fft,
                        center: Some(pad),
                        detrend,
                        amplitude: Amplitude::Power,
                        ..StftConfig::default()
                    };
                    let wave = noise(n, n as u64);
                    let mut stft = Stft::new(&cfg, 1000).unwrap();
                    let w = Window::Hann.samples(Symmetry::Periodic, 16).unwrap();
                    for (t, got) in collect(&mut stft, &wave).iter().enumerate() {
                        let start = (t * 3) as isize - 8;
                        let raw: Vec<f64> = (0..16)
                            .map(|k| padded_sample(&wave, start + k, pad == PadMode::Reflect))
                            .collect();
                        let mean = match detrend {
                            Detrend::Constant => raw.iter().sum::<f64>() / 16.0,
                            Detrend::None => 0.0,
                        };
                        let frame: Vec<f64> =
                            raw.iter().zip(&w).map(|(x, w)| (x - mean) * w).collect();
                        let want = naive_power(&frame, 16);
                        let peak = want.iter().cloned().fold(1e-30, f64::max);
                        for (k, (g, e)) in got.iter().zip(&want).enumerate() {
                            assert!(
                                (g - e).abs() <= 1e-6 * peak,
                                "{pad:?} n {n} {detrend:?} frame {t} bin {k}: {g} vs {e}"
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn density_scaling_and_detrend_follow_scipy() {
        // A constant signal: detrend removes it entirely.
        let cfg = StftConfig {
            window: Window::Tukey { alpha: 0.25 },
            win_length: 64,
            n_fft: 64,
            hop: 32,
            detrend: Detrend::Constant,
            scaling: Scaling::Density,
            amplitude: Amplitude::Power,
            ..StftConfig::default()
        };
        let mut stft = Stft::new(&cfg, 1000).unwrap();
        for f in collect(&mut stft, &[0.7f32; 256]) {
            assert!(f.iter().all(|v| v.abs() < 1e-20));
        }
        // On noise, density = raw |X|² · 1/(fs·Σw²), doubled except at DC and Nyquist.
        let raw_cfg = StftConfig { scaling: Scaling::None, ..cfg.clone() };
        let wave = noise(256, 3);
        let mut raw = Stft::new(&raw_cfg, 1000).unwrap();
        let raw = collect(&mut raw, &wave);
        let dens = collect(&mut stft, &wave);
        let w = Window::Tukey { alpha: 0.25 }.samples(Symmetry::Periodic, 64).unwrap();
        let scale = 1.0 / (1000.0 * w.iter().map(|x| x * x).sum::<f64>());
        for (r, d) in raw.iter().zip(&dens) {
            for k in 0..33 {
                let factor = if k == 0 || k == 32 { 1.0 } else { 2.0 };
                let want = r[k] * scale * factor;
                assert!((d[k] - want).abs() <= 1e-7 * want + 1e-30, "bin {k}");
            }
        }
    }

    /// The lane-parallel block path against the frame-at-a-time path, for every framing,
    /// centring and detrend, the SIMD width this CPU picks and the one-lane width.
    #[test]
    fn lane_blocks_match_single_frames() {
        let wave = noise(3_000, 9);
        let configs = [
            StftConfig { n_fft: 256, win_length: 200, hop: 80, ..StftConfig::default() },
            StftConfig {
                n_fft: 512,
                win_length: 400,
                hop: 100,
                framing: Framing::Fft,
                center: Some(PadMode::Reflect),
                amplitude: Amplitude::Power,
                ..StftConfig::default()
            },
            StftConfig {
                window: Window::Tukey { alpha: 0.25 },
                n_fft: 128,
                win_length: 128,
                hop: 50,
                center: Some(PadMode::Constant),
                detrend: Detrend::Constant,
                scaling: Scaling::Density,
                amplitude: Amplitude::Power,
                ..StftConfig::default()
            },
        ];
        for config in configs {
            let mut stft = Stft::new(&config, 16_000).unwrap();
            assert!(stft.has_lanes());
            let (n_bins, frames) = (stft.n_bins(), stft.n_frames(wave.len()));
            let want = collect(&mut stft, &wave);
            let peak = want.iter().flatten().cloned().fold(0.0, f64::max);
            let check = |block: &[f32], t0: usize, cols: usize, what: &str| {
                for c in 0..cols {
                    for k in 0..n_bins {
                        let (got, want) = (f64::from(block[k * 16 + c]), want[t0 + c][k]);
                        let tol = 1e-6 * want.abs() + 1e-12 * peak;
                        assert!(
                            (got - want).abs() <= tol,
                            "{what} {config:?}: frame {} bin {k}: {got} vs {want}",
                            t0 + c
                        );
                    }
                }
            };
            let mut block = vec![f32::NAN; n_bins * 16];
            for t0 in (0..frames).step_by(16) {
                let cols = 16.min(frames - t0);
                // SAFETY: one-lane f64 needs no CPU feature.
                unsafe { stft.block_into::<f64>(&wave, t0, cols, &mut block, 16) }.unwrap();
                check(&block, t0, cols, "one lane");
                #[cfg(target_arch = "x86_64")]
                {
                    // SAFETY: SSE2 is the x86-64 baseline.
                    unsafe {
                        stft.block_into::<crate::features::lane_fft::Sse2>(
                            &wave, t0, cols, &mut block, 16,
                        )
                    }
                    .unwrap();
                    check(&block, t0, cols, "SSE2");
                }
            }
        }
        let f32_config = StftConfig { precision: Precision::F32, ..StftConfig::default() };
        assert!(!Stft::new(&f32_config, 16_000).unwrap().has_lanes());
        let odd = StftConfig { n_fft: 400, ..StftConfig::default() };
        assert!(!Stft::new(&odd, 16_000).unwrap().has_lanes());
    }

    #[test]
    fn rejects_bad_parameters() {
        let base = StftConfig::default();
        for cfg in [
            StftConfig { hop: 0, ..base.clone() },
            StftConfig { win_length: 600, ..base.clone() },
            StftConfig { win_length: 0, ..base.clone() },
            StftConfig { n_fft: 1, win_length: 1, ..base.clone() },
        ] {
            assert!(Stft::new(&cfg, 16_000).is_err(), "{cfg:?}");
        }
        assert!(Stft::new(&base, 0).is_err());
    }
}
