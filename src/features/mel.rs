//! Mel filterbanks: librosa's (HTK or Slaney scale, optional Slaney area norm) and AudioSet
//! VGGish's own, stored sparsely.
//!
//! Two constructions are in use and they differ in more than constants:
//! - **librosa / torchaudio** (`librosa.filters.mel`, `torchaudio.functional.melscale_fbanks`):
//!   `n_mels + 2` edges equally spaced on the mel scale are converted back to Hz, and each
//!   triangle is linear *in Hz* between its edges, evaluated at the FFT bin frequencies
//!   `k·sr/n_fft`. The Slaney norm divides each triangle by half its width in Hz (equal area).
//! - **VGGish** (`mel_features.spectrogram_to_mel_matrix`): the bin frequencies are themselves
//!   converted with `1127·ln(1 + f/700)` and each triangle is linear *in mel*; the DC bin's row
//!   is zeroed; no normalisation. Its `upper_edge_hertz` may not exceed Nyquist.
//!
//! A triangle covers a few contiguous bins, so each filter keeps only its non-zero span
//! (`start`, weights): applying the bank costs about two multiply-adds per FFT bin instead of
//! `n_mels`. Weights are computed in f64 with the same operation order as the references and
//! stored as f32, the precision of the power spectra they weigh (see [`super::stft`]).

use super::FeatureError;

/// Mel scale formula for [`Filterbank::Librosa`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelScale {
    /// `2595·log10(1 + f/700)` (HTK; torchaudio's default).
    Htk,
    /// Slaney's Auditory Toolbox: linear below 1 kHz, logarithmic above (librosa's default).
    Slaney,
}

/// Filter normalisation for [`Filterbank::Librosa`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MelNorm {
    /// Peak 1 triangles (torchaudio's default).
    None,
    /// Equal-area triangles: each scaled by `2 / (f_high − f_low)` (librosa's default).
    Slaney,
}

/// Which construction builds the triangles (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase", tag = "kind")]
pub enum Filterbank {
    /// `librosa.filters.mel` (and torchaudio's `melscale_fbanks`): triangles linear in Hz.
    Librosa {
        /// Mel scale of the edge frequencies.
        scale: MelScale,
        /// Triangle normalisation.
        norm: MelNorm,
    },
    /// AudioSet VGGish `mel_features.py`: `1127·ln(1 + f/700)`, triangles linear in mel,
    /// DC bin zeroed, no normalisation.
    Vggish,
}

/// Parameters of a mel filterbank.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct MelConfig {
    /// Number of mel bands.
    pub n_mels: usize,
    /// Lowest edge in Hz.
    pub fmin: f64,
    /// Highest edge in Hz; `None` means Nyquist.
    pub fmax: Option<f64>,
    /// Construction.
    pub filterbank: Filterbank,
}

impl Default for MelConfig {
    /// librosa's defaults: 128 Slaney-scale, Slaney-normalised bands from 0 Hz to Nyquist.
    fn default() -> Self {
        MelConfig {
            n_mels: 128,
            fmin: 0.0,
            fmax: None,
            filterbank: Filterbank::Librosa { scale: MelScale::Slaney, norm: MelNorm::Slaney },
        }
    }
}

/// `f` Hz on a mel scale (librosa's `hz_to_mel`).
pub fn hz_to_mel(f: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 2595.0 * (1.0 + f / 700.0).log10(),
        MelScale::Slaney => {
            let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
            if f >= min_log_hz {
                min_log_hz / f_sp + (f / min_log_hz).ln() / (6.4f64.ln() / 27.0)
            } else {
                f / f_sp
            }
        }
    }
}

/// `m` mel in Hz (librosa's `mel_to_hz`).
pub fn mel_to_hz(m: f64, scale: MelScale) -> f64 {
    match scale {
        MelScale::Htk => 700.0 * (10f64.powf(m / 2595.0) - 1.0),
        MelScale::Slaney => {
            let (f_sp, min_log_hz) = (200.0 / 3.0, 1000.0);
            let min_log_mel = min_log_hz / f_sp;
            if m >= min_log_mel {
                min_log_hz * ((6.4f64.ln() / 27.0) * (m - min_log_mel)).exp()
            } else {
                f_sp * m
            }
        }
    }
}

/// VGGish's `hertz_to_mel`: `1127·ln(1 + f/700)`.
pub fn vggish_hz_to_mel(f: f64) -> f64 {
    1127.0 * (1.0 + f / 700.0).ln()
}

/// Centre frequency in Hz of band `m` of the bank `config` describes (Nyquist of `sample_rate`
/// when `fmax` is unset). For labelling plots.
pub fn band_centre_hz(config: &MelConfig, sample_rate: f64, m: usize) -> f64 {
    let fmax = config.fmax.unwrap_or(sample_rate / 2.0);
    let n = config.n_mels + 2;
    match config.filterbank {
        Filterbank::Librosa { scale, .. } => {
            let (lo, hi) = (hz_to_mel(config.fmin, scale), hz_to_mel(fmax, scale));
            mel_to_hz(lo + (hi - lo) * (m + 1) as f64 / (n - 1) as f64, scale)
        }
        Filterbank::Vggish => {
            let (lo, hi) = (vggish_hz_to_mel(config.fmin), vggish_hz_to_mel(fmax));
            let mel = lo + (hi - lo) * (m + 1) as f64 / (n - 1) as f64;
            700.0 * ((mel / 1127.0).exp() - 1.0)
        }
    }
}

/// `numpy.linspace(start, stop, num)`: `start + i·step`, with the last value exactly `stop`.
fn linspace(start: f64, stop: f64, num: usize) -> Vec<f64> {
    let div = num.saturating_sub(1).max(1) as f64;
    let step = (stop - start) / div;
    let mut v: Vec<f64> = (0..num).map(|i| start + i as f64 * step).collect();
    if num > 1 {
        v[num - 1] = stop;
    }
    v
}

/// A mel filterbank over the bins of an `n_fft`-point one-sided spectrum, stored sparsely.
#[derive(Debug, Clone)]
pub struct MelFilterbank {
    n_bins: usize,
    /// First non-zero bin of each filter.
    starts: Vec<usize>,
    /// Offsets into `weights` of each filter's span (`n_mels + 1` entries).
    spans: Vec<usize>,
    weights: Vec<f32>,
}

impl MelFilterbank {
    /// Builds the bank for `sample_rate` Hz and an `n_fft`-point FFT.
    pub fn new(config: &MelConfig, sample_rate: u32, n_fft: usize) -> Result<Self, FeatureError> {
        let sr = sample_rate as f64;
        let nyquist = sr / 2.0;
        let fmax = config.fmax.unwrap_or(nyquist);
        let bad = |m: String| Err(FeatureError::InvalidParameter(m));
        if config.n_mels == 0 {
            return bad("n_mels must be at least 1".into());
        }
        if !(config.fmin.is_finite() && fmax.is_finite() && config.fmin >= 0.0) {
            return bad(format!(
                "mel fmin/fmax must be finite and ≥ 0, got {}/{fmax}",
                config.fmin
            ));
        }
        if config.fmin >= fmax {
            return bad(format!("mel fmin ({}) must be below fmax ({fmax})", config.fmin));
        }
        let n_bins = n_fft / 2 + 1;
        let dense = match config.filterbank {
            Filterbank::Librosa { scale, norm } => {
                librosa_weights(config.n_mels, config.fmin, fmax, scale, norm, sr, n_fft)
            }
            Filterbank::Vggish => {
                if fmax > nyquist {
                    return bad(format!(
                        "VGGish mel upper edge {fmax} Hz exceeds Nyquist {nyquist} Hz"
                    ));
                }
                vggish_weights(config.n_mels, config.fmin, fmax, nyquist, n_bins)
            }
        };
        Ok(Self::from_dense(&dense, config.n_mels, n_bins))
    }

    fn from_dense(dense: &[f64], n_mels: usize, n_bins: usize) -> Self {
        let mut starts = Vec::with_capacity(n_mels);
        let mut spans = vec![0];
        let mut weights = Vec::new();
        for row in dense.chunks(n_bins) {
            let first = row.iter().position(|w| *w != 0.0);
            let last = row.iter().rposition(|w| *w != 0.0);
            match (first, last) {
                (Some(a), Some(b)) => {
                    starts.push(a);
                    weights.extend(row[a..=b].iter().map(|w| *w as f32));
                }
                _ => starts.push(0),
            }
            spans.push(weights.len());
        }
        MelFilterbank { n_bins, starts, spans, weights }
    }

    /// Number of mel bands.
    pub fn n_mels(&self) -> usize {
        self.starts.len()
    }

    /// Number of FFT bins expected by [`MelFilterbank::band`].
    pub fn n_bins(&self) -> usize {
        self.n_bins
    }

    /// The weights as a dense row-major `[n_mels, n_bins]` matrix (for inspection and tests).
    pub fn dense(&self) -> Vec<f64> {
        let mut out = vec![0.0; self.n_mels() * self.n_bins];
        for m in 0..self.n_mels() {
            let w = &self.weights[self.spans[m]..self.spans[m + 1]];
            let row = &mut out[m * self.n_bins..(m + 1) * self.n_bins];
            for (d, v) in row[self.starts[m]..].iter_mut().zip(w) {
                *d = f64::from(*v);
            }
        }
        out
    }

    /// Band `m`'s energy for one frame's spectrum (`spectrum.len()` must be `n_bins`).
    #[inline(always)]
    pub fn band(&self, m: usize, spectrum: &[f32]) -> f32 {
        let w = &self.weights[self.spans[m]..self.spans[m + 1]];
        let s = &spectrum[self.starts[m]..self.starts[m] + w.len()];
        // Four interleaved partial sums: a short dependency chain, and vectorisable.
        let mut acc = [0.0f32; 4];
        let mut quads_w = w.chunks_exact(4);
        let mut quads_s = s.chunks_exact(4);
        for (a, b) in (&mut quads_w).zip(&mut quads_s) {
            for i in 0..4 {
                acc[i] += a[i] * b[i];
            }
        }
        let tail: f32 =
            quads_w.remainder().iter().zip(quads_s.remainder()).map(|(a, b)| a * b).sum();
        (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
    }

    /// Band `m`'s energy for `L` frames at once: `spectra` is bins-major (`spectra[k * L + j]`
    /// is bin `k` of frame `j`), so the sum runs along the filter with `L`-wide vector
    /// accumulators and no horizontal reduction. Each frame's sum is in bin order.
    #[inline(always)]
    pub fn band_block<const L: usize>(&self, m: usize, spectra: &[f32]) -> [f32; L] {
        let w = &self.weights[self.spans[m]..self.spans[m + 1]];
        let s = &spectra[self.starts[m] * L..(self.starts[m] + w.len()) * L];
        let mut acc = [0.0f32; L];
        for (wk, col) in w.iter().zip(s.chunks_exact(L)) {
            for (a, x) in acc.iter_mut().zip(col) {
                *a += wk * x;
            }
        }
        acc
    }
}

/// `librosa.filters.mel` in f64, dense `[n_mels, n_bins]`.
fn librosa_weights(
    n_mels: usize,
    fmin: f64,
    fmax: f64,
    scale: MelScale,
    norm: MelNorm,
    sr: f64,
    n_fft: usize,
) -> Vec<f64> {
    let n_bins = n_fft / 2 + 1;
    // np.fft.rfftfreq(n_fft, d=1/sr), same operation order.
    let val = 1.0 / (n_fft as f64 * (1.0 / sr));
    let fftfreqs: Vec<f64> = (0..n_bins).map(|k| k as f64 * val).collect();
    let mel_f: Vec<f64> = linspace(hz_to_mel(fmin, scale), hz_to_mel(fmax, scale), n_mels + 2)
        .into_iter()
        .map(|m| mel_to_hz(m, scale))
        .collect();
    let mut weights = vec![0.0; n_mels * n_bins];
    for i in 0..n_mels {
        let (fdiff_lo, fdiff_hi) = (mel_f[i + 1] - mel_f[i], mel_f[i + 2] - mel_f[i + 1]);
        let enorm = match norm {
            MelNorm::None => 1.0,
            MelNorm::Slaney => 2.0 / (mel_f[i + 2] - mel_f[i]),
        };
        for (k, f) in fftfreqs.iter().enumerate() {
            let lower = -(mel_f[i] - f) / fdiff_lo;
            let upper = (mel_f[i + 2] - f) / fdiff_hi;
            weights[i * n_bins + k] = 0f64.max(lower.min(upper)) * enorm;
        }
    }
    weights
}

/// VGGish `spectrogram_to_mel_matrix`, transposed to `[n_mels, n_bins]`.
fn vggish_weights(n_mels: usize, lower: f64, upper: f64, nyquist: f64, n_bins: usize) -> Vec<f64> {
    let bins_mel: Vec<f64> =
        linspace(0.0, nyquist, n_bins).into_iter().map(vggish_hz_to_mel).collect();
    let edges = linspace(vggish_hz_to_mel(lower), vggish_hz_to_mel(upper), n_mels + 2);
    let mut weights = vec![0.0; n_mels * n_bins];
    for i in 0..n_mels {
        let (lo, centre, hi) = (edges[i], edges[i + 1], edges[i + 2]);
        // Row 0 (DC) stays zero.
        for (k, m) in bins_mel.iter().enumerate().skip(1) {
            let lower_slope = (m - lo) / (centre - lo);
            let upper_slope = (hi - m) / (hi - centre);
            weights[i * n_bins + k] = 0f64.max(lower_slope.min(upper_slope));
        }
    }
    weights
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_round_trip_and_hit_known_points() {
        for scale in [MelScale::Htk, MelScale::Slaney] {
            for f in [0.0, 125.0, 999.0, 1000.0, 4000.0, 11025.0] {
                let back = mel_to_hz(hz_to_mel(f, scale), scale);
                assert!((back - f).abs() < 1e-9 * (1.0 + f), "{scale:?} {f}");
            }
        }
        assert!((hz_to_mel(1000.0, MelScale::Slaney) - 15.0).abs() < 1e-12);
        assert!((hz_to_mel(700.0, MelScale::Htk) - 2595.0 * 2f64.log10()).abs() < 1e-9);
        assert!((vggish_hz_to_mel(700.0) - 1127.0 * 2f64.ln()).abs() < 1e-9);
    }

    #[test]
    fn linspace_matches_numpy_endpoints() {
        assert_eq!(linspace(1.0, 2.0, 3), vec![1.0, 1.5, 2.0]);
        assert_eq!(linspace(1.0, 2.0, 1), vec![1.0]);
    }

    #[test]
    fn vggish_bank_zeroes_dc_and_peaks_near_one() {
        let cfg = MelConfig {
            n_mels: 64,
            fmin: 125.0,
            fmax: Some(7500.0),
            filterbank: Filterbank::Vggish,
        };
        let bank = MelFilterbank::new(&cfg, 16_000, 512).unwrap();
        let dense = bank.dense();
        assert_eq!(dense.len(), 64 * 257);
        for m in 0..64 {
            assert_eq!(dense[m * 257], 0.0);
            let peak = dense[m * 257..(m + 1) * 257].iter().cloned().fold(0.0, f64::max);
            assert!(peak > 0.3 && peak <= 1.0, "band {m} peak {peak}");
        }
        // Nothing above the 7500 Hz edge (bin 240 = 7500 Hz exactly).
        assert!(dense.chunks(257).all(|row| row[241..].iter().all(|w| *w == 0.0)));
        let too_high = MelConfig { fmax: Some(9000.0), ..cfg };
        assert!(MelFilterbank::new(&too_high, 16_000, 512).is_err());
    }

    #[test]
    fn slaney_norm_gives_equal_area_triangles() {
        let cfg = MelConfig::default();
        let bank = MelFilterbank::new(&cfg, 22_050, 2048).unwrap();
        assert_eq!(bank.n_mels(), 128);
        // Area in Hz of each normalised triangle ≈ 1 (bin spacing sr/n_fft), for wide bands.
        let df = 22_050.0 / 2048.0;
        let dense = bank.dense();
        for m in 100..128 {
            let area: f64 = dense[m * 1025..(m + 1) * 1025].iter().sum::<f64>() * df;
            assert!((area - 1.0).abs() < 0.05, "band {m} area {area}");
        }
    }

    #[test]
    fn sparse_apply_equals_dense_product() {
        let cfg = MelConfig {
            n_mels: 40,
            fmin: 20.0,
            fmax: Some(7000.0),
            filterbank: Filterbank::Librosa { scale: MelScale::Htk, norm: MelNorm::None },
        };
        let bank = MelFilterbank::new(&cfg, 16_000, 400).unwrap();
        let spectrum: Vec<f32> = (0..201).map(|k| ((k * 37) % 11) as f32 + 0.5).collect();
        let dense = bank.dense();
        for m in 0..40 {
            let row = &dense[m * 201..(m + 1) * 201];
            let want: f64 = row.iter().zip(&spectrum).map(|(a, b)| a * f64::from(*b)).sum();
            let got = f64::from(bank.band(m, &spectrum));
            assert!((got - want).abs() < 1e-6 * want.abs().max(1.0), "band {m}: {got} vs {want}");
        }
        // Four frames at once, bins-major: frame j is the spectrum scaled by j + 1.
        let block: Vec<f32> =
            spectrum.iter().flat_map(|v| (1..=4).map(move |j| v * j as f32)).collect();
        for m in 0..40 {
            let sums = bank.band_block::<4>(m, &block);
            for (j, got) in sums.iter().enumerate() {
                let want = bank.band(m, &spectrum) * (j + 1) as f32;
                assert!((got - want).abs() <= 1e-5 * want.abs().max(1.0), "band {m} frame {j}");
            }
        }
    }

    #[test]
    fn rejects_bad_ranges() {
        for (fmin, fmax) in [(500.0, Some(100.0)), (-1.0, None), (0.0, Some(f64::NAN))] {
            let cfg = MelConfig { fmin, fmax, ..MelConfig::default() };
            assert!(MelFilterbank::new(&cfg, 16_000, 512).is_err());
        }
        let none = MelConfig { n_mels: 0, ..MelConfig::default() };
        assert!(MelFilterbank::new(&none, 16_000, 512).is_err());
    }
}
