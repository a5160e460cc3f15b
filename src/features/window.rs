//! Analysis windows: Hann, Hamming, Tukey(α) and rectangular, periodic or symmetric.
//!
//! The formulas are scipy's (`scipy.signal.windows`), which librosa, torch and VGGish agree
//! with: a *symmetric* window of length `M` is the textbook shape sampled on `0..M` with `M − 1`
//! intervals, and a *periodic* window ("DFT-even", `fftbins=True`, `torch.hann_window`'s
//! default) is the symmetric window of length `M + 1` with its last sample dropped. Spectrogram
//! recipes almost always want the periodic form. Values are computed in f64.

use std::f64::consts::PI;

use super::FeatureError;

/// The shape of an analysis window.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Window {
    /// All ones (no tapering).
    Rectangular,
    /// Hann: `0.5 − 0.5·cos(2πn/(M−1))`.
    Hann,
    /// Hamming: `0.54 − 0.46·cos(2πn/(M−1))`.
    Hamming,
    /// Tukey (tapered cosine): flat top, cosine tapers covering the fraction `alpha` of the
    /// window (`alpha` ≤ 0 is rectangular, ≥ 1 is Hann). scipy's spectrogram default is 0.25.
    Tukey {
        /// Fraction of the window inside the cosine tapers.
        alpha: f64,
    },
}

/// Whether the window is sampled for spectral analysis (periodic) or filter design (symmetric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Symmetry {
    /// DFT-even: the symmetric window of length `M + 1` without its last sample (librosa,
    /// torch, scipy `fftbins=True`, VGGish's `periodic_hann`).
    Periodic,
    /// Symmetric about its centre (`numpy.hanning`, scipy `sym=True`).
    Symmetric,
}

impl Window {
    /// The window's `len` samples.
    ///
    /// Lengths 0 and 1 follow scipy (empty, and `[1.0]`). A Tukey `alpha` that is not finite is
    /// rejected.
    pub fn samples(self, symmetry: Symmetry, len: usize) -> Result<Vec<f64>, FeatureError> {
        if let Window::Tukey { alpha } = self {
            if !alpha.is_finite() {
                return Err(FeatureError::InvalidParameter(format!(
                    "Tukey alpha must be finite, got {alpha}"
                )));
            }
        }
        if len <= 1 {
            return Ok(vec![1.0; len]);
        }
        // Periodic windows are the symmetric window one sample longer, truncated.
        let m = match symmetry {
            Symmetry::Periodic => len + 1,
            Symmetry::Symmetric => len,
        };
        let mut w = symmetric(self, m);
        w.truncate(len);
        Ok(w)
    }
}

/// The symmetric window of length `m` ≥ 2.
fn symmetric(window: Window, m: usize) -> Vec<f64> {
    let denom = (m - 1) as f64;
    let cosine = |a: f64| -> Vec<f64> {
        (0..m).map(|n| a - (1.0 - a) * (2.0 * PI * n as f64 / denom).cos()).collect()
    };
    match window {
        Window::Rectangular => vec![1.0; m],
        Window::Hann => cosine(0.5),
        Window::Hamming => cosine(0.54),
        Window::Tukey { alpha } if alpha <= 0.0 => vec![1.0; m],
        Window::Tukey { alpha } if alpha >= 1.0 => cosine(0.5),
        Window::Tukey { alpha } => {
            // scipy.signal.windows.tukey, term by term.
            let width = (alpha * denom / 2.0).floor() as usize;
            (0..m)
                .map(|n| {
                    let x = n as f64;
                    if n <= width {
                        0.5 * (1.0 + (PI * (-1.0 + 2.0 * x / alpha / denom)).cos())
                    } else if n < m - width - 1 {
                        1.0
                    } else {
                        0.5 * (1.0 + (PI * (-2.0 / alpha + 1.0 + 2.0 * x / alpha / denom)).cos())
                    }
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: &[f64], b: &[f64]) {
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!((x - y).abs() < 1e-12, "sample {i}: {x} vs {y}");
        }
    }

    #[test]
    fn periodic_hann_is_vggish_formula() {
        // VGGish mel_features.periodic_hann: 0.5 - 0.5 cos(2π n / N).
        let n = 400;
        let w = Window::Hann.samples(Symmetry::Periodic, n).unwrap();
        let want: Vec<f64> =
            (0..n).map(|i| 0.5 - 0.5 * (2.0 * PI * i as f64 / n as f64).cos()).collect();
        close(&w, &want);
        assert_eq!(w[0], 0.0);
        assert!((w[n / 2] - 1.0).abs() < 1e-15);
    }

    #[test]
    fn symmetric_windows_are_symmetric_and_end_where_expected() {
        for kind in [Window::Hann, Window::Hamming, Window::Tukey { alpha: 0.25 }] {
            let w = kind.samples(Symmetry::Symmetric, 11).unwrap();
            for i in 0..11 {
                assert!((w[i] - w[10 - i]).abs() < 1e-12, "{kind:?} at {i}");
            }
            assert!((w[5] - 1.0).abs() < 1e-12, "{kind:?} peaks at the centre");
        }
        let h = Window::Hamming.samples(Symmetry::Symmetric, 11).unwrap();
        assert!((h[0] - 0.08).abs() < 1e-12);
    }

    #[test]
    fn tukey_matches_scipy_values_and_limits() {
        // scipy.signal.windows.tukey(9, 0.5, sym=True)
        let want = [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 0.5, 0.0];
        close(&Window::Tukey { alpha: 0.5 }.samples(Symmetry::Symmetric, 9).unwrap(), &want);
        let hann = Window::Hann.samples(Symmetry::Periodic, 16).unwrap();
        close(&Window::Tukey { alpha: 1.0 }.samples(Symmetry::Periodic, 16).unwrap(), &hann);
        let ones = Window::Tukey { alpha: 0.0 }.samples(Symmetry::Periodic, 16).unwrap();
        close(&ones, &[1.0; 16]);
        assert!(Window::Tukey { alpha: f64::NAN }.samples(Symmetry::Periodic, 16).is_err());
    }

    #[test]
    fn tiny_lengths_follow_scipy() {
        assert!(Window::Hann.samples(Symmetry::Periodic, 0).unwrap().is_empty());
        assert_eq!(Window::Hann.samples(Symmetry::Periodic, 1).unwrap(), vec![1.0]);
    }
}
