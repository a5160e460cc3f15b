//! Named recipes that reproduce published spectrogram front ends parameter for parameter.
//!
//! Each preset is just a [`SpectrogramConfig`]; `docs/spectrograms.md` lists the sources and the
//! golden tests (`tests/golden/make_golden.py`) pin every value against the reference code.

use std::fmt;
use std::str::FromStr;

use super::log_scale::{Affine, LogScale};
use super::mel::{Filterbank, MelConfig, MelNorm, MelScale};
use super::spectrogram::{Frequency, SpectrogramConfig};
use super::stft::{Amplitude, Detrend, Framing, PadMode, Scaling, StftConfig};
use super::window::{Symmetry, Window};
use super::FeatureError;

/// Named recipes (see `docs/spectrograms.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
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

impl Preset {
    /// Every preset, in documentation order.
    pub const ALL: [Preset; 4] = [Preset::Vggish, Preset::L3, Preset::Lvs, Preset::Librosa];

    /// The preset's lower-case name (`vggish`, `l3`, `lvs`, `librosa`).
    pub fn name(self) -> &'static str {
        match self {
            Preset::Vggish => "vggish",
            Preset::L3 => "l3",
            Preset::Lvs => "lvs",
            Preset::Librosa => "librosa",
        }
    }

    /// Looks a preset up by name, ignoring case (`ezvsl` and `slavc` are aliases of `lvs`).
    pub fn from_name(name: &str) -> Result<Preset, FeatureError> {
        match name.to_ascii_lowercase().as_str() {
            "vggish" => Ok(Preset::Vggish),
            "l3" | "l3net" | "l3-net" => Ok(Preset::L3),
            "lvs" | "ezvsl" | "ez-vsl" | "slavc" => Ok(Preset::Lvs),
            "librosa" => Ok(Preset::Librosa),
            _ => Err(FeatureError::UnknownPreset(name.to_string())),
        }
    }

    /// Clip length in seconds that the recipe feeds its network (1 s, or 3 s for LVS).
    pub fn clip_seconds(self) -> f64 {
        match self {
            Preset::Lvs => 3.0,
            _ => 1.0,
        }
    }

    /// The full configuration of this preset.
    pub fn config(self) -> SpectrogramConfig {
        match self {
            // vggish_input.waveform_to_examples → mel_features.log_mel_spectrogram.
            Preset::Vggish => SpectrogramConfig {
                sample_rate: 16_000,
                stft: StftConfig::default(),
                frequency: Frequency::Mel(MelConfig {
                    n_mels: 64,
                    fmin: 125.0,
                    fmax: Some(7500.0),
                    filterbank: Filterbank::Vggish,
                }),
                log: LogScale::Ln { eps: 0.01 },
                normalize: Affine::default(),
            },
            // Look, Listen and Learn: 1 s at 48 kHz, 0.01 s windows with half overlap, log power.
            Preset::L3 => SpectrogramConfig {
                sample_rate: 48_000,
                stft: StftConfig {
                    win_length: 480,
                    n_fft: 512,
                    hop: 240,
                    amplitude: Amplitude::Power,
                    ..StftConfig::default()
                },
                frequency: Frequency::Linear,
                log: LogScale::Db { amin: 1e-10, top_db: None },
                normalize: Affine::default(),
            },
            // EZ-VSL / SLAVC datasets: scipy.signal.spectrogram(x, 16000, nperseg=512,
            // noverlap=274), np.log(s + 1e-7), Normalize(mean=0, std=12).
            Preset::Lvs => SpectrogramConfig {
                sample_rate: 16_000,
                stft: StftConfig {
                    window: Window::Tukey { alpha: 0.25 },
                    symmetry: Symmetry::Periodic,
                    win_length: 512,
                    n_fft: 512,
                    hop: 512 - 274,
                    framing: Framing::Window,
                    center: None,
                    detrend: Detrend::Constant,
                    scaling: Scaling::Density,
                    amplitude: Amplitude::Power,
                },
                frequency: Frequency::Linear,
                log: LogScale::Ln { eps: 1e-7 },
                normalize: Affine { mean: 0.0, std: 12.0 },
            },
            // librosa.feature.melspectrogram(y, sr=22050) + librosa.power_to_db(S).
            Preset::Librosa => SpectrogramConfig {
                sample_rate: 22_050,
                stft: StftConfig {
                    window: Window::Hann,
                    symmetry: Symmetry::Periodic,
                    win_length: 2048,
                    n_fft: 2048,
                    hop: 512,
                    framing: Framing::Fft,
                    center: Some(PadMode::Constant),
                    detrend: Detrend::None,
                    scaling: Scaling::None,
                    amplitude: Amplitude::Power,
                },
                frequency: Frequency::Mel(MelConfig {
                    n_mels: 128,
                    fmin: 0.0,
                    fmax: None,
                    filterbank: Filterbank::Librosa {
                        scale: MelScale::Slaney,
                        norm: MelNorm::Slaney,
                    },
                }),
                log: LogScale::Db { amin: 1e-10, top_db: Some(80.0) },
                normalize: Affine::default(),
            },
        }
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = FeatureError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Preset::from_name(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in Preset::ALL {
            assert_eq!(Preset::from_name(p.name()).unwrap(), p);
            assert_eq!(p.to_string().parse::<Preset>().unwrap(), p);
        }
        assert_eq!(Preset::from_name("EZ-VSL").unwrap(), Preset::Lvs);
        assert!(matches!(Preset::from_name("mfcc"), Err(FeatureError::UnknownPreset(_))));
    }
}
