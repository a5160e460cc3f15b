//! The spectrogram extractor: STFT → (mel filterbank | linear bins) → log → affine, written as
//! `[freq, time]` row-major f32.
//!
//! A [`Spectrogram`] is built once from a validated [`SpectrogramConfig`] (usually
//! [`super::Preset::config`]) and owns the FFT plan, window, filterbank and every buffer, so
//! [`Spectrogram::compute_into`] allocates nothing, nor does [`Spectrogram::compute_batch_into`]
//! after its first batch of more than 4 MiB (which sizes the staging buffer large outputs are
//! streamed through).
//! It is `Send` but meant to be owned by one worker thread; build one per thread.
//!
//! Frames are processed sixteen at a time ([`BLOCK`]): through the lane FFT straight into a
//! bins-major block where the STFT has one (f64, power-of-two `n_fft`), else one frame at a
//! time and transposed; the block then goes through the filterbank (vectorised across frames),
//! the log and contiguous row stores into the output.
//!
//! Output layout: row `f` (frequency bin or mel band, lowest first) holds the `frames` values of
//! that band in time order, at `out[f * frames + t]`. VGGish's reference returns `[time, mel]`;
//! the golden tests transpose it. Frame counts are documented in `docs/spectrograms.md` and
//! [`super::stft`].

use super::lane_fft::{self, Lane};
use super::log_scale::{finish_example, Affine, LogScale};
use super::mel::{MelConfig, MelFilterbank};
use super::stft::{Stft, StftConfig};
use super::FeatureError;

/// The frequency axis of the output.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Frequency {
    /// The `n_fft / 2 + 1` linear FFT bins.
    Linear,
    /// Mel bands from a filterbank.
    Mel(MelConfig),
}

/// Every parameter of a spectrogram.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SpectrogramConfig {
    /// Input sample rate in Hz (the caller resamples to it).
    pub sample_rate: u32,
    /// Framing, window, FFT and amplitude.
    pub stft: StftConfig,
    /// Linear bins or mel bands.
    pub frequency: Frequency,
    /// Log compression.
    pub log: LogScale,
    /// Affine normalisation after the log.
    pub normalize: Affine,
}

impl SpectrogramConfig {
    /// Output shape `(freq_bins, frames)` for an input of `n_samples` samples, without building
    /// an extractor (the same numbers as [`Spectrogram::shape`]).
    pub fn shape(&self, n_samples: usize) -> (usize, usize) {
        let n_freq = match &self.frequency {
            Frequency::Linear => self.stft.n_bins(),
            Frequency::Mel(m) => m.n_mels,
        };
        (n_freq, self.stft.n_frames(n_samples))
    }
}

impl Default for SpectrogramConfig {
    /// The VGGish preset.
    fn default() -> Self {
        super::Preset::Vggish.config()
    }
}

/// A spectrogram extractor with its plans and scratch buffers.
#[derive(Debug)]
pub struct Spectrogram {
    config: SpectrogramConfig,
    stft: Stft,
    mel: Option<MelFilterbank>,
    /// The spectra of up to [`BLOCK`] frames as computed one at a time, frame-major
    /// (`[BLOCK, n_bins]`).
    rows: Vec<f32>,
    /// The same, bins-major (`[n_bins, BLOCK]`), or as the lane FFT writes them.
    block: Vec<f32>,
    /// Their logs, `[n_freq, BLOCK]`: each row is copied contiguously into the output row.
    logs: Vec<f32>,
    /// One example's `[freq, time]` output, staged in cache when a batch's output is too large
    /// to stay there (see [`STREAM_MIN_BYTES`]). Sized on the first such batch.
    staged: Vec<f32>,
}

/// Frames buffered before they are transposed into the output.
const BLOCK: usize = 16;

/// Batch outputs at least this large are written through [`Spectrogram::staged`]: each example
/// is built in that cache-resident buffer and copied out with non-temporal stores, which skip
/// reading every output line into the cache before overwriting it (about a tenth less time for
/// L3 batches on the benchmark machine, docs/benchmarks.md). Smaller batches stay in cache and are written directly.
const STREAM_MIN_BYTES: usize = 4 << 20;

impl Spectrogram {
    /// Builds an extractor, validating the configuration.
    pub fn new(config: SpectrogramConfig) -> Result<Self, FeatureError> {
        config.log.validate()?;
        config.normalize.validate()?;
        let stft = Stft::new(&config.stft, config.sample_rate)?;
        let mel = match &config.frequency {
            Frequency::Linear => None,
            Frequency::Mel(m) => {
                Some(MelFilterbank::new(m, config.sample_rate, config.stft.n_fft)?)
            }
        };
        let n_freq = mel.as_ref().map_or(stft.n_bins(), MelFilterbank::n_mels);
        let n_bins = stft.n_bins();
        Ok(Spectrogram {
            config,
            stft,
            mel,
            rows: vec![0.0; n_bins * BLOCK],
            block: vec![0.0; n_bins * BLOCK],
            logs: vec![0.0; n_freq * BLOCK],
            staged: Vec::new(),
        })
    }

    /// The configuration this extractor was built with.
    pub fn config(&self) -> &SpectrogramConfig {
        &self.config
    }

    /// The sample rate the input must have, in Hz.
    pub fn sample_rate(&self) -> u32 {
        self.config.sample_rate
    }

    /// Rows of the output: mel bands or linear bins.
    pub fn n_freq(&self) -> usize {
        self.mel.as_ref().map_or(self.stft.n_bins(), MelFilterbank::n_mels)
    }

    /// Frames for an input of `n_samples` samples (0 when too short).
    pub fn n_frames(&self, n_samples: usize) -> usize {
        self.stft.n_frames(n_samples)
    }

    /// Fewest samples that give one frame.
    pub fn min_samples(&self) -> usize {
        self.config.stft.min_samples()
    }

    /// Output shape `(freq_bins, frames)` for an input of `n_samples` samples.
    pub fn shape(&self, n_samples: usize) -> (usize, usize) {
        (self.n_freq(), self.n_frames(n_samples))
    }

    /// Centre time in seconds of frame `t` (of the window, relative to the first input sample).
    pub fn frame_time(&self, t: usize) -> f64 {
        let s = &self.config.stft;
        let offset = match s.framing {
            super::stft::Framing::Fft => (s.n_fft - s.win_length) / 2,
            super::stft::Framing::Window => 0,
        } as f64
            + s.win_length as f64 / 2.0
            - s.pad() as f64;
        (t as f64 * s.hop as f64 + offset) / self.config.sample_rate as f64
    }

    /// Centre frequency in Hz of output row `f`: the bin frequency, or the mel band's centre.
    pub fn row_frequency(&self, f: usize) -> f64 {
        let sr = self.config.sample_rate as f64;
        match &self.config.frequency {
            Frequency::Linear => f as f64 * sr / self.config.stft.n_fft as f64,
            Frequency::Mel(m) => super::mel::band_centre_hz(m, sr, f),
        }
    }

    /// Computes the spectrogram of `wave` into `out`, laid out `[freq, time]` row-major.
    ///
    /// `out` must hold exactly `freq · frames` values (see [`Spectrogram::shape`]). Fails on a
    /// waveform too short for one frame or one holding NaN/infinity; never allocates.
    pub fn compute_into(&mut self, wave: &[f32], out: &mut [f32]) -> Result<(), FeatureError> {
        let (n_freq, n_frames) = self.check(wave)?;
        if out.len() != n_freq * n_frames {
            return Err(FeatureError::BufferSize { got: out.len(), expected: n_freq * n_frames });
        }
        self.fill(wave, out, n_frames)
    }

    /// Computes the spectrogram of `wave` into a new `[freq, time]` vector.
    pub fn compute(&mut self, wave: &[f32]) -> Result<Vec<f32>, FeatureError> {
        let (n_freq, n_frames) = self.check(wave)?;
        let mut out = vec![0.0; n_freq * n_frames];
        self.fill(wave, &mut out, n_frames)?;
        Ok(out)
    }

    /// Computes equal-length waveforms into `out`, laid out `[batch, freq, time]`.
    ///
    /// Every example is processed independently (`top_db` is per example). `out` must hold
    /// `waves.len() · freq · frames` values. Allocates only the first time a batch of more than
    /// 4 MiB (`STREAM_MIN_BYTES`) needs a staging buffer (or a longer one than before).
    pub fn compute_batch_into(
        &mut self,
        waves: &[&[f32]],
        out: &mut [f32],
    ) -> Result<(), FeatureError> {
        let Some(first) = waves.first() else {
            return if out.is_empty() {
                Ok(())
            } else {
                Err(FeatureError::BufferSize { got: out.len(), expected: 0 })
            };
        };
        if let Some((index, w)) = waves.iter().enumerate().find(|(_, w)| w.len() != first.len()) {
            return Err(FeatureError::RaggedBatch { index, got: w.len(), expected: first.len() });
        }
        let (n_freq, n_frames) = self.shape(first.len());
        let per = n_freq * n_frames;
        if out.len() != per * waves.len() {
            return Err(FeatureError::BufferSize { got: out.len(), expected: per * waves.len() });
        }
        let stream = std::mem::size_of_val(out) >= STREAM_MIN_BYTES;
        if stream && self.staged.len() < per {
            self.staged.resize(per, 0.0);
        }
        for (wave, chunk) in waves.iter().zip(out.chunks_exact_mut(per.max(1))) {
            self.check(wave)?;
            if stream {
                let mut staged = std::mem::take(&mut self.staged);
                let result = self.fill(wave, &mut staged[..per], n_frames);
                if result.is_ok() {
                    super::simd::stream_copy(&staged[..per], chunk);
                }
                self.staged = staged;
                result?;
            } else {
                self.fill(wave, chunk, n_frames)?;
            }
        }
        Ok(())
    }

    fn check(&self, wave: &[f32]) -> Result<(usize, usize), FeatureError> {
        let (n_freq, n_frames) = self.shape(wave.len());
        if n_frames == 0 || wave.is_empty() {
            return Err(FeatureError::TooShort { got: wave.len(), needed: self.min_samples() });
        }
        Ok((n_freq, n_frames))
    }

    fn fill(&mut self, wave: &[f32], out: &mut [f32], n_frames: usize) -> Result<(), FeatureError> {
        #[cfg(all(target_arch = "x86_64", pretext_avx512))]
        if super::simd::avx512() {
            // SAFETY: as below, `avx512` checked these features.
            return unsafe { self.fill_frames_avx512(wave, out, n_frames) };
        }
        #[cfg(target_arch = "x86_64")]
        if super::simd::avx2_fma() {
            // SAFETY: the only precondition of a `#[target_feature]` function is that the CPU
            // has those features, which `avx2_fma` just checked.
            return unsafe { self.fill_frames_avx2(wave, out, n_frames) };
        }
        self.fill_frames_baseline(wave, out, n_frames)
    }

    /// [`Spectrogram::fill_frames`] for any CPU of the target: SSE2 lanes on x86-64 (its
    /// baseline), one lane elsewhere.
    fn fill_frames_baseline(
        &mut self,
        wave: &[f32],
        out: &mut [f32],
        n_frames: usize,
    ) -> Result<(), FeatureError> {
        // SAFETY: every x86-64 CPU has SSE2; `f64` lanes need nothing.
        #[cfg(target_arch = "x86_64")]
        return unsafe { self.fill_frames::<false, lane_fft::Sse2>(wave, out, n_frames) };
        #[cfg(not(target_arch = "x86_64"))]
        return unsafe { self.fill_frames::<false, f64>(wave, out, n_frames) };
    }

    /// [`Spectrogram::fill_frames`] compiled for AVX2 + FMA (see `simd.rs`).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn fill_frames_avx2(
        &mut self,
        wave: &[f32],
        out: &mut [f32],
        n_frames: usize,
    ) -> Result<(), FeatureError> {
        // SAFETY: this function runs only on CPUs with AVX2.
        unsafe { self.fill_frames::<true, lane_fft::Avx2>(wave, out, n_frames) }
    }

    /// [`Spectrogram::fill_frames`] compiled for AVX-512 (see `simd.rs`).
    #[cfg(all(target_arch = "x86_64", pretext_avx512))]
    #[target_feature(enable = "avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")]
    fn fill_frames_avx512(
        &mut self,
        wave: &[f32],
        out: &mut [f32],
        n_frames: usize,
    ) -> Result<(), FeatureError> {
        // SAFETY: this function runs only on CPUs with AVX-512F.
        unsafe { self.fill_frames::<true, lane_fft::Avx512>(wave, out, n_frames) }
    }

    /// Checks the samples are finite, then the per-frame work; inlined into the baseline, the
    /// AVX2 and the AVX-512 caller.
    /// `WIDE`: called from an AVX2 or AVX-512 copy (enables the AVX transpose tiles); `V`: the
    /// lanes of the lane-parallel FFT ([`Stft::block_into`]) where the STFT has one.
    ///
    /// # Safety
    /// The CPU must have `V`'s features.
    #[inline(always)]
    unsafe fn fill_frames<const WIDE: bool, V: Lane>(
        &mut self,
        wave: &[f32],
        out: &mut [f32],
        n_frames: usize,
    ) -> Result<(), FeatureError> {
        if !all_finite(wave) {
            if let Some(index) = wave.iter().position(|v| !v.is_finite()) {
                return Err(FeatureError::NonFinite { index, value: wave[index] });
            }
        }
        let log = self.config.log;
        // Without `top_db` the affine map needs nothing but the value: it joins the log's pass.
        let (with_log, after) = match log.top_db() {
            None => (self.config.normalize, Affine::default()),
            Some(_) => (Affine::default(), self.config.normalize),
        };
        let mel = self.mel.as_ref();
        let (rows, block, logs) = (&mut self.rows, &mut self.block, &mut self.logs);
        let n_bins = self.stft.n_bins();
        let emit = Emit { mel, log, affine: with_log, n_frames };
        if self.stft.has_lanes() {
            // Sixteen frames at a time, straight into the bins-major block.
            for t0 in (0..n_frames).step_by(BLOCK) {
                let cols = BLOCK.min(n_frames - t0);
                // SAFETY: the caller guarantees `V`'s features.
                unsafe { self.stft.block_into::<V>(wave, t0, cols, block, BLOCK) }?;
                emit.block(block, logs, out, t0, cols);
            }
        } else {
            for t in 0..n_frames {
                let b = t % BLOCK;
                self.stft.frame_into(wave, t, &mut rows[b * n_bins..(b + 1) * n_bins])?;
                if b + 1 < BLOCK && t + 1 < n_frames {
                    continue;
                }
                let (t0, cols) = (t - b, b + 1);
                if mel.is_some() {
                    // Frame-major rows → the bins-major block the filterbank sums across.
                    super::simd::transpose::<WIDE>(rows, n_bins, cols, n_bins, block, BLOCK);
                    emit.block(block, logs, out, t0, cols);
                } else {
                    // Logs in place on the frame-major rows, transposed straight into the output.
                    log.apply_in_place(&mut rows[..cols * n_bins], &with_log);
                    super::simd::transpose::<WIDE>(
                        rows,
                        n_bins,
                        cols,
                        n_bins,
                        &mut out[t0..],
                        n_frames,
                    );
                }
            }
        }
        finish_example(out, log.top_db(), &after);
        Ok(())
    }
}

/// What follows the spectra of a block of frames: filterbank sums (vectorised across frames),
/// logs, and contiguous stores into each output row.
struct Emit<'a> {
    mel: Option<&'a MelFilterbank>,
    log: LogScale,
    affine: Affine,
    n_frames: usize,
}

impl Emit<'_> {
    /// `block` holds the spectra of frames `t0..t0 + cols` bins-major (`[n_bins, BLOCK]`);
    /// `logs` is scratch of `[n_freq, BLOCK]`.
    #[inline(always)]
    fn block(&self, block: &mut [f32], logs: &mut [f32], out: &mut [f32], t0: usize, cols: usize) {
        let rows = match self.mel {
            Some(bank) => {
                for (m, row) in logs.chunks_exact_mut(BLOCK).enumerate() {
                    row.copy_from_slice(&bank.band_block::<BLOCK>(m, block));
                }
                logs
            }
            None => block,
        };
        self.log.apply_in_place(rows, &self.affine);
        for (row, src) in out.chunks_exact_mut(self.n_frames).zip(rows.chunks_exact(BLOCK)) {
            // Whole blocks as fixed-size arrays (one or two register moves) and the last one
            // element by element: LLVM turns a slice copy, or a loop it cannot size, into a
            // `memcpy` call per 64-byte row, which costs more than the copy.
            if let (Ok(d), Ok(v)) = (
                <&mut [f32; BLOCK]>::try_from(&mut row[t0..t0 + cols]),
                <&[f32; BLOCK]>::try_from(src),
            ) {
                *d = *v;
            } else {
                for (d, v) in row[t0..t0 + cols].iter_mut().zip(src) {
                    *d = *v;
                }
            }
        }
    }
}

/// Whether every sample is finite: a float is finite when its magnitude bits are below the
/// infinity pattern. An integer max is associative, so LLVM vectorises the reduction with as
/// many accumulators as it likes.
#[inline(always)]
fn all_finite(wave: &[f32]) -> bool {
    const MAGNITUDE: u32 = 0x7fff_ffff;
    const INFINITY: u32 = 0x7f80_0000;
    wave.iter().fold(0, |m, v| m.max(v.to_bits() & MAGNITUDE)) < INFINITY
}

#[cfg(test)]
mod tests {
    use super::super::Preset;
    use super::*;

    #[test]
    fn preset_shapes_match_the_recipes() {
        let cases = [
            (Preset::Vggish, 16_000, (64, 98)),
            (Preset::Vggish, 15_360, (64, 94)),
            (Preset::L3, 48_000, (257, 199)),
            (Preset::Lvs, 48_000, (257, 200)),
            (Preset::Lvs, 16_000, (257, 66)),
            (Preset::Librosa, 22_050, (128, 44)),
            (Preset::Librosa, 1, (128, 1)),
        ];
        for (preset, n, shape) in cases {
            let s = Spectrogram::new(preset.config()).unwrap();
            assert_eq!(s.shape(n), shape, "{preset} with {n} samples");
            assert_eq!(s.sample_rate(), preset.config().sample_rate);
        }
    }

    #[test]
    fn rejects_wrong_buffers_and_bad_input() {
        let mut s = Spectrogram::new(Preset::Vggish.config()).unwrap();
        let wave = vec![0.1f32; 16_000];
        let mut out = vec![0.0; 10];
        assert!(matches!(
            s.compute_into(&wave, &mut out),
            Err(FeatureError::BufferSize { expected: 6272, .. })
        ));
        assert!(matches!(
            s.compute(&wave[..399]),
            Err(FeatureError::TooShort { got: 399, needed: 400 })
        ));
        let mut bad = wave.clone();
        bad[77] = f32::NAN;
        assert!(matches!(s.compute(&bad), Err(FeatureError::NonFinite { index: 77, .. })));
        let mut bad = wave[..1003].to_vec();
        bad[1002] = f32::NEG_INFINITY;
        assert!(matches!(s.compute(&bad), Err(FeatureError::NonFinite { index: 1002, .. })));
        let mut out = vec![0.0; 2 * 6272];
        assert!(matches!(
            s.compute_batch_into(&[&wave, &wave[1..]], &mut out),
            Err(FeatureError::RaggedBatch { index: 1, .. })
        ));
    }

    #[test]
    fn batch_equals_single_calls() {
        let mut s = Spectrogram::new(Preset::Librosa.config()).unwrap();
        let a: Vec<f32> = (0..5000).map(|i| (i as f32 * 0.05).sin()).collect();
        let b: Vec<f32> = (0..5000).map(|i| ((i * i) % 17) as f32 / 17.0 - 0.5).collect();
        let (f, t) = s.shape(5000);
        let mut batch = vec![0.0; 2 * f * t];
        s.compute_batch_into(&[&a, &b], &mut batch).unwrap();
        assert_eq!(&batch[..f * t], s.compute(&a).unwrap().as_slice());
        assert_eq!(&batch[f * t..], s.compute(&b).unwrap().as_slice());
    }

    #[test]
    fn batches_past_the_streaming_threshold_equal_single_calls() {
        // L3 with 2 s clips: 257 × 399 floats each, so twelve clips pass STREAM_MIN_BYTES.
        let mut s = Spectrogram::new(Preset::L3.config()).unwrap();
        let n = 96_000;
        let clips: Vec<Vec<f32>> = (0..12)
            .map(|c| (0..n).map(|i| ((i * (c + 3)) % 101) as f32 / 101.0 - 0.5).collect())
            .collect();
        let waves: Vec<&[f32]> = clips.iter().map(Vec::as_slice).collect();
        let (f, t) = s.shape(n);
        assert!(12 * f * t * 4 >= STREAM_MIN_BYTES);
        let mut batch = vec![f32::NAN; 12 * f * t];
        s.compute_batch_into(&waves, &mut batch).unwrap();
        for (wave, chunk) in waves.iter().zip(batch.chunks_exact(f * t)) {
            assert_eq!(chunk, s.compute(wave).unwrap().as_slice());
        }
        // A failing example is reported, and the streamed ones before it are complete.
        let mut bad = clips[3].clone();
        bad[10] = f32::INFINITY;
        let mut waves = waves;
        waves[3] = &bad;
        batch.fill(f32::NAN);
        assert!(matches!(
            s.compute_batch_into(&waves, &mut batch),
            Err(FeatureError::NonFinite { index: 10, .. })
        ));
        for (wave, chunk) in waves[..3].iter().zip(batch.chunks_exact(f * t)) {
            assert_eq!(chunk, s.compute(wave).unwrap().as_slice());
        }
    }

    #[test]
    fn silence_and_clipping_stay_finite_with_the_documented_floors() {
        for preset in Preset::ALL {
            let mut s = Spectrogram::new(preset.config()).unwrap();
            let n = s.sample_rate() as usize;
            let silence = s.compute(&vec![0.0; n]).unwrap();
            let floor = match preset {
                Preset::Vggish => 0.01f64.ln(),
                Preset::L3 => -100.0,
                Preset::Lvs => 1e-7f64.ln() / 12.0,
                Preset::Librosa => -100.0,
            };
            for v in &silence {
                assert!((f64::from(*v) - floor).abs() < 1e-5, "{preset}: silence gives {v}");
            }
            // Hard-clipped square wave at ±4 (beyond full scale).
            let clipped: Vec<f32> =
                (0..n).map(|i| if (i / 50) % 2 == 0 { 4.0 } else { -4.0 }).collect();
            let spec = s.compute(&clipped).unwrap();
            assert!(spec.iter().all(|v| v.is_finite()), "{preset}: clipped input");
            let peak = spec.iter().cloned().fold(f32::MIN, f32::max);
            assert!(f64::from(peak) > floor + 1.0, "{preset}: clipped input is not silent");
        }
    }

    #[test]
    fn baseline_avx2_and_avx512_loops_give_identical_bits() {
        let n = 48_000;
        let wave: Vec<f32> = (0..n)
            .map(|i| (i as f32 * 0.013).sin() * 0.3 + ((i * 7919) % 101) as f32 * 1e-3)
            .collect();
        for preset in Preset::ALL {
            let mut s = Spectrogram::new(preset.config()).unwrap();
            let (f, t) = s.shape(n);
            let mut base = vec![f32::NAN; f * t];
            s.fill_frames_baseline(&wave, &mut base, t).unwrap();
            let same =
                |wide: &[f32]| base.iter().zip(wide).all(|(a, b)| a.to_bits() == b.to_bits());
            #[cfg(target_arch = "x86_64")]
            if super::super::simd::avx2_fma() {
                let mut wide = vec![f32::NAN; f * t];
                // SAFETY: the CPU has the features just checked.
                unsafe { s.fill_frames_avx2(&wave, &mut wide, t) }.unwrap();
                assert!(same(&wide), "{preset}: the AVX2 loop differs from the baseline loop");
            }
            #[cfg(all(target_arch = "x86_64", pretext_avx512))]
            if super::super::simd::avx512() {
                let mut wide = vec![f32::NAN; f * t];
                // SAFETY: the CPU has the features just checked.
                unsafe { s.fill_frames_avx512(&wave, &mut wide, t) }.unwrap();
                assert!(same(&wide), "{preset}: the AVX-512 loop differs from the baseline loop");
            }
        }
    }

    #[test]
    fn frame_times_are_window_centres() {
        let s = Spectrogram::new(Preset::Vggish.config()).unwrap();
        assert!((s.frame_time(0) - 200.0 / 16_000.0).abs() < 1e-12);
        let l = Spectrogram::new(Preset::Librosa.config()).unwrap();
        assert!((l.frame_time(2) - 1024.0 / 22_050.0).abs() < 1e-12);
        assert!((l.row_frequency(0)).abs() < 30.0);
    }
}
