//! A trained (or untrained) audio-visual model wrapped for localisation: frames and audio
//! windows in, one score map per frame out, values in [0, 1].
//!
//! - The network is the AVC model of the checkpoint ([`AvcNet`], built from the
//!   [`ModelConfig`] recorded in it); its `localization_map` gives, by default, the cosine of
//!   each location's embedding with the audio embedding, mapped to [0, 1] as `(cos + 1)/2` so
//!   confidences are comparable across samples (SLAVC uses a fixed range the same way);
//!   [`MapScore::Head`] selects the AVOL head's own `σ(logit)` map instead (see [`MapScore`]
//!   for why the cosine is the default).
//! - Frames are normalised like the pipeline (RGB/255, ImageNet mean/std) and must already be
//!   `frame_size × frame_size`; spectrograms use the model's preset on windows of
//!   `clip_seconds` at the preset's sample rate.
//! - The model and its tensors live on the thread that built the localizer.

use std::path::Path;

use tch::{nn::VarStore, Device, Kind, Tensor};

use crate::features::{Preset, Spectrogram};
use crate::media::RgbFrame;
use crate::models::{AvcNet, MapScore, ModelConfig};
use crate::pipeline::PipelineConfig;
use crate::training::{checkpoint, TrainingError};
use crate::{Error, Result};

/// A score map of one frame: `height × width` values in [0, 1], row-major.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScoreMap {
    /// Rows.
    pub height: usize,
    /// Columns.
    pub width: usize,
    /// Values.
    pub values: Vec<f32>,
}

/// A model ready to produce localisation maps.
pub struct Localizer {
    _vs: VarStore,
    net: AvcNet,
    model: ModelConfig,
    score: MapScore,
    spectrogram: Spectrogram,
    mean: [f32; 3],
    std: [f32; 3],
    device: Device,
}

impl std::fmt::Debug for Localizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Localizer").field("model", &self.model.name).finish_non_exhaustive()
    }
}

impl Localizer {
    /// Loads the model recorded in a training checkpoint.
    pub fn from_checkpoint(path: &Path, device: Device) -> Result<Self> {
        let (meta, tensors) = checkpoint::read_checkpoint(path)?;
        let model = meta.run.model;
        let vs = VarStore::new(device);
        let net = AvcNet::new(&vs.root(), &model)?;
        checkpoint::load_variables(path, &vs, &tensors)?;
        Self::finish(vs, net, model, device)
    }

    /// A model of the same architecture with fresh weights drawn from `seed` (the "untrained"
    /// row of every report).
    pub fn untrained(model: &ModelConfig, seed: u64, device: Device) -> Result<Self> {
        tch::manual_seed(seed as i64);
        let vs = VarStore::new(device);
        let net = AvcNet::new(&vs.root(), model)?;
        Self::finish(vs, net, model.clone(), device)
    }

    fn finish(vs: VarStore, net: AvcNet, model: ModelConfig, device: Device) -> Result<Self> {
        if model.input.frames != 1 {
            return Err(Error::Config(format!(
                "localisation needs a single-frame model, this one stacks {} frames",
                model.input.frames
            )));
        }
        let preset = Preset::from_name(&model.input.spectrogram)?;
        let spectrogram = Spectrogram::new(preset.config())?;
        let p = PipelineConfig::default();
        let score = MapScore::default();
        Ok(Localizer { _vs: vs, net, model, score, spectrogram, mean: p.mean, std: p.std, device })
    }

    /// Chooses how locations are scored (default [`MapScore::Cosine`]).
    pub fn with_map_score(mut self, score: MapScore) -> Self {
        self.score = score;
        self
    }

    /// How locations are scored.
    pub fn map_score(&self) -> MapScore {
        self.score
    }

    /// The model's configuration.
    pub fn model(&self) -> &ModelConfig {
        &self.model
    }

    /// Side of the square frames the model reads.
    pub fn frame_size(&self) -> u32 {
        self.model.input.frame_size
    }

    /// Length of the audio window in seconds.
    pub fn clip_seconds(&self) -> f64 {
        self.model.input.clip_seconds
    }

    /// Sample rate the audio windows must have.
    pub fn sample_rate(&self) -> u32 {
        self.spectrogram.sample_rate()
    }

    /// Samples per audio window.
    pub fn clip_samples(&self) -> usize {
        (self.clip_seconds() * self.sample_rate() as f64).round() as usize
    }

    /// One score map per (frame, audio window) pair. Frames must be `frame_size` squares;
    /// windows shorter than [`Self::clip_samples`] are zero-padded, longer ones cut.
    pub fn score_maps(&mut self, frames: &[&RgbFrame], audio: &[&[f32]]) -> Result<Vec<ScoreMap>> {
        if frames.len() != audio.len() {
            return Err(Error::Config(format!(
                "{} frames but {} audio windows",
                frames.len(),
                audio.len()
            )));
        }
        if frames.is_empty() {
            return Ok(Vec::new());
        }
        let side = self.frame_size() as usize;
        let plane = side * side;
        let mut fbuf = vec![0f32; frames.len() * 3 * plane];
        for (f, out) in frames.iter().zip(fbuf.chunks_exact_mut(3 * plane)) {
            if f.width as usize != side || f.height as usize != side || f.data.len() < 3 * plane {
                return Err(Error::Config(format!(
                    "frame is {}x{}, the model reads {side}x{side}",
                    f.width, f.height
                )));
            }
            for i in 0..plane {
                for c in 0..3 {
                    out[c * plane + i] =
                        (f.data[i * 3 + c] as f32 / 255.0 - self.mean[c]) / self.std[c];
                }
            }
        }
        let n = self.clip_samples();
        let (nf, nt) = self.spectrogram.shape(n);
        let mut sbuf = vec![0f32; audio.len() * nf * nt];
        let mut wave = vec![0f32; n];
        for (a, out) in audio.iter().zip(sbuf.chunks_exact_mut(nf * nt)) {
            wave.iter_mut().for_each(|v| *v = 0.0);
            let k = a.len().min(n);
            wave[..k].copy_from_slice(&a[..k]);
            self.spectrogram.compute_into(&wave, out)?;
        }
        let b = frames.len() as i64;
        let _guard = tch::no_grad_guard();
        let ft = Tensor::from_slice(&fbuf)
            .f_view([b, 3, side as i64, side as i64])?
            .f_to(self.device)?;
        let st =
            Tensor::from_slice(&sbuf).f_view([b, 1, nf as i64, nt as i64])?.f_to(self.device)?;
        let map = self.net.localization_map(&ft, &st, self.score)?.f_to_kind(Kind::Float)?;
        let map = if self.net.map_is_probability(self.score) {
            map
        } else {
            map.f_add_scalar(1.0)?.f_mul_scalar(0.5)?
        };
        let map = map.f_to(Device::Cpu)?.f_contiguous()?;
        let size = map.size();
        let (h, w) = match size.as_slice() {
            [_, h, w] => (*h as usize, *w as usize),
            _ => return Err(TrainingError::Batch(format!("map of shape {size:?}")).into()),
        };
        let values = Vec::<f32>::try_from(&map.f_flatten(0, -1)?)?;
        Ok(values
            .chunks_exact(h * w)
            .map(|c| ScoreMap { height: h, width: w, values: c.to_vec() })
            .collect())
    }
}
