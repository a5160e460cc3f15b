//! What the model sees: the one owner of the input geometry and normalisation.
//!
//! An [`InputSpec`] says how a file becomes model inputs: the decoder scales each frame's
//! shorter side to [`InputSpec::decode_side`] and crops the centred square, the feature workers
//! crop `frame_size` out of it (randomly in training, centred otherwise), scale RGB to [0, 1] and
//! normalise by `mean`/`std`; audio windows of `clip_seconds` at the spectrogram preset's rate
//! become `[1, F, T]` spectrograms. The spec is part of the model's configuration, so it lives in
//! the run's `config.json` and in every checkpoint, and the pipeline, evaluation, `embed` and
//! `localize` all read it from there: nothing else defines these numbers.

use serde::{Deserialize, Serialize};

use super::Normalize;
use crate::features::{Preset, SpectrogramConfig};

/// ImageNet's per-channel mean, the default normalisation.
pub const IMAGENET_MEAN: [f32; 3] = [0.485, 0.456, 0.406];
/// ImageNet's per-channel standard deviation.
pub const IMAGENET_STD: [f32; 3] = [0.229, 0.224, 0.225];

/// The model's input geometry, normalisation and spectrogram recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputSpec {
    /// Frames are `frame_size × frame_size` RGB.
    pub frame_size: u32,
    /// Side of the square the decoder produces (shorter side scaled to it, centre crop); the
    /// crop of `frame_size` is taken inside it. `None`: `frame_size + frame_size / 8`.
    pub decode_size: Option<u32>,
    /// Frames per audio-visual example, stacked along channels: 1 = the frame the audio window
    /// is centred on; K > 1 = K frames spread evenly across the audio window (timing evidence).
    /// Tasks with their own frame layout (frame order, rotation) ignore it.
    pub frames: u32,
    /// Spectrogram recipe (its sample rate is the audio decode rate).
    pub spectrogram: Preset,
    /// Audio window length in seconds.
    pub clip_seconds: f64,
    /// Per-channel mean subtracted after scaling RGB to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided after subtracting the mean.
    pub std: [f32; 3],
}

impl Default for InputSpec {
    fn default() -> Self {
        InputSpec {
            frame_size: 96,
            decode_size: None,
            frames: 1,
            spectrogram: Preset::Vggish,
            clip_seconds: 0.96,
            mean: IMAGENET_MEAN,
            std: IMAGENET_STD,
        }
    }
}

impl InputSpec {
    /// The side of the decoded square: `decode_size`, or `frame_size + frame_size / 8`.
    pub fn decode_side(&self) -> u32 {
        self.decode_size.unwrap_or(self.frame_size + self.frame_size / 8)
    }

    /// The same spec with `decode_size` written out (what run files record).
    pub fn resolved(&self) -> InputSpec {
        InputSpec { decode_size: Some(self.decode_side()), ..self.clone() }
    }

    /// The normalisation constants.
    pub fn normalize(&self) -> Normalize {
        Normalize { mean: self.mean, std: self.std }
    }

    /// The spectrogram recipe's parameters.
    pub fn spectrogram_config(&self) -> SpectrogramConfig {
        self.spectrogram.config()
    }

    /// Audio decode rate (the spectrogram preset's).
    pub fn sample_rate(&self) -> u32 {
        self.spectrogram_config().sample_rate
    }

    /// Samples per audio window, as the audio decoder returns them.
    pub fn clip_samples(&self) -> usize {
        (self.clip_seconds * f64::from(self.sample_rate())).round() as usize
    }

    /// `(F, T)` of one window's spectrogram.
    pub fn spec_shape(&self) -> (usize, usize) {
        self.spectrogram_config().shape(self.clip_samples())
    }

    /// Checks every value, naming the first bad one.
    pub fn validate(&self) -> Result<(), String> {
        if !(16..=1024).contains(&self.frame_size) {
            return Err(format!("input.frame_size {} is outside 16..=1024", self.frame_size));
        }
        let d = self.decode_side();
        if d < self.frame_size || d > 4096 {
            return Err(format!(
                "input.decode_size {d} must lie in [frame_size ({}), 4096]",
                self.frame_size
            ));
        }
        if !(1..=16).contains(&self.frames) {
            return Err(format!("input.frames {} is outside 1..=16", self.frames));
        }
        if !(self.clip_seconds.is_finite() && self.clip_seconds > 0.0 && self.clip_seconds <= 60.0)
        {
            return Err(format!("input.clip_seconds {} must lie in (0, 60]", self.clip_seconds));
        }
        if self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || self.mean.iter().any(|m| !m.is_finite())
        {
            return Err("input.mean must be finite and input.std finite and positive".into());
        }
        let (f, t) = self.spec_shape();
        if f < 4 || t < 4 {
            return Err(format!(
                "input.clip_seconds {} gives a {f}×{t} {} spectrogram; the audio tower needs at \
                 least 4×4",
                self.clip_seconds,
                self.spectrogram.name()
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_side_defaults_to_an_eighth_more_and_spec_shapes_follow_the_preset() {
        let s = InputSpec::default();
        assert_eq!(s.decode_side(), 108);
        assert_eq!(s.resolved().decode_size, Some(108));
        assert_eq!(InputSpec { decode_size: Some(128), ..s.clone() }.decode_side(), 128);
        // VGGish: 64 mel bands, 25 ms windows every 10 ms, not centred: 0.96 s at 16 kHz
        // (15,360 samples) gives 1 + (15360 - 400) / 160 = 94 frames.
        assert_eq!(s.spec_shape(), (64, 94));
        s.validate().unwrap();
        let bad = InputSpec { decode_size: Some(50), ..s.clone() };
        assert!(bad.validate().unwrap_err().contains("decode_size"));
        let short = InputSpec { clip_seconds: 0.01, ..s };
        assert!(short.validate().unwrap_err().contains("clip_seconds"));
    }

    #[test]
    fn old_records_without_the_new_fields_read_with_the_defaults_training_used() {
        let old: InputSpec = serde_json::from_str(
            r#"{"frame_size": 64, "frames": 5, "spectrogram": "vggish", "clip_seconds": 0.96}"#,
        )
        .unwrap();
        assert_eq!(old.decode_side(), 72);
        assert_eq!((old.mean, old.std), (IMAGENET_MEAN, IMAGENET_STD));
    }
}
