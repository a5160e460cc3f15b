//! The spectrogram extractor and its presets.

use super::FeatureError;

/// Named recipes (see `docs/spectrograms.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// AudioSet VGGish: 16 kHz, 400/512/160, 64 HTK mel 125–7500 Hz, ln(mel + 0.01).
    Vggish,
    /// L3-Net: 48 kHz, 480/512/240, power, 10·log10 → 257×199 per second.
    L3,
    /// LVS / EZ-VSL / SLAVC: scipy spectrogram 512/274, ln(x + 1e-7) / 12.
    Lvs,
    /// librosa melspectrogram defaults + power_to_db.
    Librosa,
}

/// Every parameter of a spectrogram (filled by the feature issue).
#[derive(Debug, Clone)]
pub struct SpectrogramConfig {
    /// Input sample rate in Hz.
    pub sample_rate: u32,
}

impl Preset {
    /// The full configuration of this preset.
    pub fn config(self) -> SpectrogramConfig {
        todo!("issue #3")
    }
}

/// A spectrogram extractor with its plans and scratch buffers.
pub struct Spectrogram {
    _private: (),
}

impl Spectrogram {
    /// Builds an extractor, validating the configuration.
    pub fn new(config: SpectrogramConfig) -> Result<Self, FeatureError> {
        let _ = config;
        todo!("issue #3")
    }

    /// Output shape `(freq_bins, frames)` for an input of `n_samples` samples.
    pub fn shape(&self, n_samples: usize) -> (usize, usize) {
        let _ = n_samples;
        todo!("issue #3")
    }

    /// Computes the spectrogram of `wave` into `out`, laid out `[freq, time]` row-major.
    pub fn compute_into(&mut self, wave: &[f32], out: &mut [f32]) -> Result<(), FeatureError> {
        let _ = (wave, out);
        todo!("issue #3")
    }
}
