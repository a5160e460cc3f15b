//! Model configuration: the sizes of the towers and the head, read from a preset file.
//!
//! Presets live in `models/<name>.toml` at the repository root and are compiled into the binary
//! (so `--model quick` works from any folder); `--config FILE.toml` reads the same schema from
//! disk. Every field has a default, so a file only states what it changes. A preset's `[train]`
//! table is the trainer's and its `[task]` table the task's; this module ignores both.

use serde::{Deserialize, Serialize};

use super::ModelError;
use crate::pipeline::InputSpec;

/// The presets shipped in `models/`, by name.
pub const PRESETS: &[(&str, &str)] = &[
    ("quick", include_str!("../../models/quick.toml")),
    ("l3", include_str!("../../models/l3.toml")),
    ("fast", include_str!("../../models/fast.toml")),
    ("sync", include_str!("../../models/sync.toml")),
];

/// Temperature of the cosine head and the contrastive objective (EZ-VSL uses 0.03).
pub const DEFAULT_TEMPERATURE: f64 = 0.03;

/// Returns the TOML text of a shipped preset.
pub fn preset_text(name: &str) -> Result<&'static str, ModelError> {
    PRESETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t).ok_or_else(|| {
        ModelError::UnknownPreset {
            name: name.to_string(),
            known: PRESETS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", "),
        }
    })
}

/// Which convolutional trunk a tower uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Arch {
    /// L3-style VGG blocks: `convs_per_block` × (3×3 conv + BN + ReLU), then 2×2 max-pool.
    #[default]
    Vgg,
    /// ResNet-18 layout: stem, 4 stages of 2 basic blocks; `channels` are the stage widths.
    Resnet18,
}

/// How the two embeddings are turned into a same/different decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum HeadKind {
    /// L3-Net fusion: concatenate the embeddings → FC → ReLU → FC → 2 logits.
    #[default]
    L3,
    /// AVE-Net: L2-normalise both embeddings, Euclidean distance → FC(1→2).
    Ave,
    /// AVOL-Net: per-location similarity of the vision map with the audio embedding, then a
    /// scalar calibration and a max over locations for the clip-level decision.
    Avol,
    /// EZ-VSL: no parameters; the per-location cosine of the vision map with the audio
    /// embedding, max over locations, divided by `temperature` (the contrastive localisation
    /// objective trains it; as an AVC head its logits are `[0, max cos / τ]`).
    Cosine,
}

/// How the AVOL head pools its per-location logits into the clip logit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MapPool {
    /// The maximum over locations (AVOL-Net's multiple-instance decision).
    #[default]
    Max,
    /// log-mean-exp over locations: a soft maximum whose sharpness is the calibration scale.
    Lse,
}

/// The size of one tower.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TowerConfig {
    /// The trunk.
    pub arch: Arch,
    /// Output channels of each block (VGG) or stage (ResNet-18; exactly 4).
    pub channels: Vec<i64>,
    /// Convolutions per VGG block (ignored by ResNet-18).
    pub convs_per_block: usize,
    /// Audio tower only. 0 (default): global pooling, the embedding ignores *when* things happen
    /// in the window. N > 0: time kept at N steps (max over frequency, adaptive max over time,
    /// flattened into the projection), so shifted windows of the same sound differ: what hard
    /// (temporally shifted) negatives need.
    pub time_steps: u32,
}

impl Default for TowerConfig {
    fn default() -> Self {
        TowerConfig {
            arch: Arch::Vgg,
            channels: vec![16, 32, 64, 128],
            convs_per_block: 1,
            time_steps: 0,
        }
    }
}

/// The head and embedding sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HeadConfig {
    /// Which AVC head.
    pub kind: HeadKind,
    /// Embedding size of each tower.
    pub embedding: i64,
    /// Hidden width of the fusion MLPs (L3 head, frame-order head).
    pub hidden: i64,
    /// Synchrony term ([`super::SyncHead`]): 0 = off; D > 0 adds a K-slot timing score of width
    /// D to the L3 or AVE logits. Needs `input.frames = K ≥ 2` and `audio.time_steps = K`.
    pub sync: i64,
    /// Temperature τ of the cosine head and the contrastive objective (EZ-VSL uses 0.03);
    /// other heads ignore it.
    pub temperature: f64,
    /// AVOL head only: per-location cosine instead of the scaled dot product (see
    /// [`super::AvolHead`]).
    pub normalize: bool,
    /// AVOL head only: how per-location logits become the clip logit.
    pub pool: MapPool,
}

impl Default for HeadConfig {
    fn default() -> Self {
        HeadConfig {
            kind: HeadKind::L3,
            embedding: 128,
            hidden: 128,
            sync: 0,
            temperature: DEFAULT_TEMPERATURE,
            normalize: false,
            pool: MapPool::Max,
        }
    }
}

/// A whole model: inputs, both towers, the head.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ModelConfig {
    /// Preset name (informational).
    pub name: String,
    /// What the towers read (the one input spec: geometry, normalisation, spectrogram).
    pub input: InputSpec,
    /// The vision tower.
    pub vision: TowerConfig,
    /// The audio tower.
    pub audio: TowerConfig,
    /// The head.
    pub head: HeadConfig,
}

impl Default for ModelConfig {
    fn default() -> Self {
        ModelConfig {
            name: "quick".into(),
            input: InputSpec::default(),
            vision: TowerConfig::default(),
            audio: TowerConfig::default(),
            head: HeadConfig::default(),
        }
    }
}

impl ModelConfig {
    /// Reads a shipped preset by name (`quick`, `l3`).
    pub fn preset(name: &str) -> Result<Self, ModelError> {
        Self::from_toml(preset_text(name)?, name)
    }

    /// Parses the model part of a preset file; `origin` names it in errors.
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, ModelError> {
        // The `[train]` and `[task]` tables belong to the trainer and the task; parse everything
        // else strictly.
        let mut value: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ModelError::Config(format!("{origin}: {e}")))?;
        value.remove("train");
        value.remove("task");
        let cfg: ModelConfig = value
            .try_into()
            .map_err(|e: toml::de::Error| ModelError::Config(format!("{origin}: {e}")))?;
        cfg.validate().map_err(|e| ModelError::Config(format!("{origin}: {e}")))?;
        Ok(cfg)
    }

    /// Checks sizes that would otherwise fail deep inside libtorch.
    pub fn validate(&self) -> Result<(), String> {
        self.input.validate()?;
        for (name, t) in [("vision", &self.vision), ("audio", &self.audio)] {
            if t.channels.is_empty() || t.channels.iter().any(|&c| c <= 0) {
                return Err(format!("{name}.channels must be a non-empty list of positive widths"));
            }
            if t.arch == Arch::Resnet18 && t.channels.len() != 4 {
                return Err(format!("{name}.channels: resnet18 needs exactly 4 stage widths"));
            }
            if t.arch == Arch::Vgg && !(1..=4).contains(&t.convs_per_block) {
                return Err(format!("{name}.convs_per_block must be 1..=4"));
            }
        }
        if self.vision.time_steps != 0 {
            return Err(
                "vision.time_steps must be 0: only the audio tower keeps time (localisation \
                        needs the vision map's per-location embedding)"
                    .into(),
            );
        }
        if self.audio.time_steps > 64 {
            return Err(format!("audio.time_steps {} is outside 0..=64", self.audio.time_steps));
        }
        if self.head.sync < 0 || self.head.sync > 1024 {
            return Err(format!("head.sync {} is outside 0..=1024", self.head.sync));
        }
        if self.head.sync > 0 {
            let k = self.input.frames;
            if k < 2 || self.audio.time_steps != k {
                return Err(format!(
                    "head.sync needs input.frames >= 2 and audio.time_steps equal to it (one \
                     audio step per frame); got frames {k}, time_steps {}",
                    self.audio.time_steps
                ));
            }
            if !matches!(self.head.kind, HeadKind::L3 | HeadKind::Ave) {
                return Err("head.sync adds to the L3 or AVE head's logits only".into());
            }
        }
        if self.head.embedding <= 0 || self.head.hidden <= 0 {
            return Err("head.embedding and head.hidden must be positive".into());
        }
        if self.head.normalize && self.head.kind != HeadKind::Avol {
            return Err("head.normalize applies to the avol head only".into());
        }
        if self.head.pool != MapPool::Max && self.head.kind != HeadKind::Avol {
            return Err("head.pool applies to the avol head only".into());
        }
        if !(self.head.temperature > 0.0 && self.head.temperature.is_finite()) {
            return Err(format!("head.temperature {} must be positive", self.head.temperature));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_presets_parse() {
        let quick = ModelConfig::preset("quick").unwrap();
        assert_eq!(quick.input.spectrogram, crate::features::Preset::Vggish);
        let l3 = ModelConfig::preset("l3").unwrap();
        assert_eq!(l3.input.frame_size, 224);
        assert_eq!(l3.vision.convs_per_block, 2);
        let fast = ModelConfig::preset("fast").unwrap();
        assert_eq!((fast.input.frame_size, fast.input.frames), (64, 5));
        let sync = ModelConfig::preset("sync").unwrap();
        assert_eq!((sync.audio.time_steps, sync.head.sync), (5, 32));
        assert!(matches!(ModelConfig::preset("nope"), Err(ModelError::UnknownPreset { .. })));
    }

    #[test]
    fn bad_values_are_rejected() {
        let err = ModelConfig::from_toml("[vision]\narch = \"resnet18\"\nchannels = [8]\n", "t");
        assert!(matches!(err, Err(ModelError::Config(m)) if m.contains("exactly 4")));
        let err = ModelConfig::from_toml("[vision]\nbogus = 1\n", "t");
        assert!(err.is_err());
    }
}
