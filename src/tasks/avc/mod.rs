//! Audio-visual correspondence (L3-Net, AVE-Net, AVOL-Net, EZ-VSL) and sound-source
//! localisation, one implementation registered under two names:
//!
//! - `avc`: does this sound belong to this picture? Objectives: `pairs` (the stream's labelled
//!   pairs, 2-way cross-entropy), `in-batch` (every frame of a batch against every audio window
//!   of the batch; same-file windows far enough apart can be hard negatives), `contrastive`
//!   (EZ-VSL's symmetric in-batch loss on the per-location cosine map).
//! - `localize`: the same data with a per-location head forced: `mil` (AVOL-Net's
//!   multiple-instance objective: the AVOL head trained on labelled pairs), `in-batch` (the AVOL
//!   head with in-batch negatives), `contrastive` (the parameter-free cosine head).
//!
//! Each name has its own preset (`avc.toml`, `localize.toml`): the recipe that meets the
//! targets in `docs/results.md`, so `pretext train --task avc` needs no other flag; the
//! built-in option defaults (`pairs`/`mil`) are what a preset without a `[task]` table gets.
//!
//! Files: `sampler.rs` (the stream's pairs, on the video frame grid), `toy.rs`, and with the
//! `torch` feature `net.rs` (towers + heads), `objective.rs` (the all-pairs loss),
//! `contrastive.rs` (EZ-VSL) and `model.rs` (the trainer's view: losses, scores, metrics).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{parse_options, OptionDoc, Role, Task, TaskDescriptor, TaskError};
use crate::models::{HeadKind, ModelConfig};
use crate::pipeline::TaskData;

#[cfg(feature = "torch")]
pub mod contrastive;
#[cfg(feature = "torch")]
mod model;
#[cfg(feature = "torch")]
mod net;
#[cfg(feature = "torch")]
mod objective;
mod sampler;
mod toy;

#[cfg(feature = "torch")]
pub use model::AvcModel;
#[cfg(feature = "torch")]
pub use net::{AvcNet, MapScore};
#[cfg(feature = "torch")]
pub use objective::{Objective, SameFileNegatives};
pub use sampler::{centre_range, window_frames, AvcData, AvcPolicy, Curriculum, NegativeKinds};

/// The `avc` task.
pub static AVC: TaskDescriptor = TaskDescriptor {
    name: "avc",
    about: "audio-visual correspondence: does this sound belong to this picture (and moment)?",
    default_preset: "avc",
    own_preset: Some(include_str!("avc.toml")),
    options: OPTIONS,
    defaults: || serde_json::to_value(AvcOptions::default()).unwrap_or_default(),
    build: |t| Ok(Box::new(AvcTask::new(Flavour::Avc, parse_options("avc", t)?)?)),
};

/// The `localize` task.
pub static LOCALIZE: TaskDescriptor = TaskDescriptor {
    name: "localize",
    about: "sound-source localisation: AVC with a per-location head (AVOL-Net MIL, in-batch, or \
            EZ-VSL contrastive); `pretext localize` draws its maps",
    default_preset: "localize",
    own_preset: Some(include_str!("localize.toml")),
    options: OPTIONS,
    defaults: || {
        serde_json::to_value(AvcOptions { objective: AvcObjective::Mil, ..Default::default() })
            .unwrap_or_default()
    },
    build: |t| {
        let mut t = t.clone();
        t.entry("objective").or_insert_with(|| toml::Value::String("mil".into()));
        Ok(Box::new(AvcTask::new(Flavour::Localize, parse_options("localize", &t)?)?))
    },
};

static OPTIONS: &[OptionDoc] = &[
    OptionDoc {
        key: "objective",
        help: "in-batch (every frame against every audio window of the batch; the avc and \
               localize presets), pairs (the stream's labelled pairs), mil (pairs with the AVOL \
               head), or contrastive (EZ-VSL, cosine head)",
    },
    OptionDoc {
        key: "negatives",
        help: "training negatives: easy (another file's audio), hard (the same file's audio \
               shifted), or easy,hard",
    },
    OptionDoc {
        key: "eval_negatives",
        help: "validation/evaluation negatives (default: as negatives)",
    },
    OptionDoc {
        key: "min_shift",
        help: "minimum shift in seconds of a hard negative's audio from its frame",
    },
    OptionDoc {
        key: "hard_share",
        help: "pairs: share of hard negatives among the stream's negatives; in-batch: share of \
               the negatives' half of the loss on hard negatives",
    },
    OptionDoc {
        key: "curriculum_to",
        help: "pairs: the hard share rises linearly to this over curriculum_over examples",
    },
    OptionDoc { key: "curriculum_over", help: "pairs: examples over which the hard share rises" },
    OptionDoc {
        key: "train_positive_ratio",
        help: "share of matching pairs in the training stream (default 0.5; in-batch: 1, \
               unless same_file_negatives is false with hard negatives); validation keeps 0.5",
    },
    OptionDoc {
        key: "same_file_negatives",
        help: "in-batch with easy,hard: two windows of one file in a batch are a hard negative \
               pair when the audio is at least min_shift from the frame (default: on there; \
               false = the stream's shifted negatives instead)",
    },
    OptionDoc {
        key: "temperature",
        help: "contrastive: the softmax temperature (default: the preset's head.temperature, \
               0.03 as EZ-VSL)",
    },
];

/// How the model is trained on the AVC stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum AvcObjective {
    /// 2-way classification of the stream's labelled pairs.
    #[default]
    Pairs,
    /// AVOL-Net's multiple-instance objective: `pairs` with the AVOL head (localize's name).
    Mil,
    /// Every frame of a batch against every audio window of the batch.
    InBatch,
    /// EZ-VSL's in-batch contrastive loss on the cosine map.
    Contrastive,
}

/// The options of the `avc` and `localize` tasks (the `[task]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AvcOptions {
    /// The objective.
    pub objective: AvcObjective,
    /// Training negatives.
    pub negatives: NegativeKinds,
    /// Evaluation negatives (default: `negatives`).
    pub eval_negatives: Option<NegativeKinds>,
    /// Minimum shift of a hard negative, seconds.
    pub min_shift: f64,
    /// Hard share (stream or loss, see [`OPTIONS`]).
    pub hard_share: f64,
    /// Curriculum target hard share.
    pub curriculum_to: Option<f64>,
    /// Curriculum length in examples.
    pub curriculum_over: Option<u64>,
    /// Share of positives in the training stream.
    pub train_positive_ratio: Option<f64>,
    /// In-batch: same-file windows far enough apart are hard negatives (default: on for
    /// in-batch with hard negatives, see [`AvcOptions::same_file`]).
    pub same_file_negatives: Option<bool>,
    /// Contrastive temperature.
    pub temperature: Option<f64>,
}

impl Default for AvcOptions {
    fn default() -> Self {
        AvcOptions {
            objective: AvcObjective::Pairs,
            negatives: NegativeKinds { easy: true, hard: true },
            eval_negatives: None,
            min_shift: 1.0,
            hard_share: 0.5,
            curriculum_to: None,
            curriculum_over: None,
            train_positive_ratio: None,
            same_file_negatives: None,
            temperature: None,
        }
    }
}

/// Which name the task was registered under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// `avc`: the head the preset says.
    Avc,
    /// `localize`: a per-location head.
    Localize,
}

impl AvcOptions {
    /// The objective with `mil` read as `pairs`.
    pub fn objective(&self) -> AvcObjective {
        match self.objective {
            AvcObjective::Mil => AvcObjective::Pairs,
            o => o,
        }
    }

    fn curriculum(&self) -> Option<Curriculum> {
        match (self.curriculum_to, self.curriculum_over) {
            (Some(to), Some(over)) => Some(Curriculum { to, over }),
            _ => None,
        }
    }

    /// Whether two windows of one file in an in-batch batch are a hard negative pair: as set,
    /// else whenever the objective is in-batch with hard negatives (the recipe that meets the
    /// AVC targets; `same_file_negatives = false` gives the stream's shifted negatives instead).
    pub fn same_file(&self) -> bool {
        self.same_file_negatives
            .unwrap_or(self.objective() == AvcObjective::InBatch && self.negatives.hard)
    }

    /// Checks every value and the combinations that make no sense.
    pub fn validate(&self, task: &str) -> Result<(), TaskError> {
        let bad = |reason: String| Err(TaskError::Options { task: task.into(), reason });
        let obj = self.objective();
        if !(self.min_shift.is_finite() && self.min_shift > 0.0) {
            return bad(format!("min_shift {} must be positive", self.min_shift));
        }
        if !(0.0..=1.0).contains(&self.hard_share) {
            return bad(format!("hard_share {} must lie in [0, 1]", self.hard_share));
        }
        if let Some(r) = self.train_positive_ratio {
            if !(0.0..=1.0).contains(&r) {
                return bad(format!("train_positive_ratio {r} must lie in [0, 1]"));
            }
        }
        if self.curriculum_to.is_some() != self.curriculum_over.is_some() {
            return bad("curriculum_to and curriculum_over go together".into());
        }
        if self.curriculum().is_some() && obj != AvcObjective::Pairs {
            return bad(
                "the curriculum applies to the pairs objective (the share of hard negatives in \
                 the stream); with in-batch set the hard negatives' share of the loss with \
                 hard_share"
                    .into(),
            );
        }
        if self.same_file_negatives == Some(true)
            && !(obj == AvcObjective::InBatch && self.negatives.hard)
        {
            return bad("same_file_negatives applies to the in-batch objective with negatives = \
                 easy,hard (it takes hard negatives from the other windows of a file in the \
                 batch)"
                .into());
        }
        if obj == AvcObjective::InBatch && !self.negatives.easy {
            return bad(
                "the in-batch objective always scores every frame against the batch's other \
                 audio (easy negatives): use negatives = easy, or easy,hard to add the same \
                 clip's shifted audio"
                    .into(),
            );
        }
        if let Some(t) = self.temperature {
            if obj != AvcObjective::Contrastive {
                return bad("temperature applies to the contrastive objective only".into());
            }
            if !(t.is_finite() && t > 0.0) {
                return bad(format!("temperature {t} must be positive"));
            }
        }
        for (p, what) in [(self.policy(Role::Train), "training"), (self.policy(Role::Eval), "eval")]
        {
            p.validate().map_err(|r| TaskError::Options {
                task: task.into(),
                reason: format!("{what} stream: {r}"),
            })?;
        }
        Ok(())
    }

    /// The sampling policy of `role`'s stream.
    pub fn policy(&self, role: Role) -> AvcPolicy {
        let obj = self.objective();
        let base = AvcPolicy { min_shift: self.min_shift, ..Default::default() };
        match (role, obj) {
            // The localiser's batches are matching pairs from distinct files, in training and
            // in validation (in-batch retrieval).
            (_, AvcObjective::Contrastive) => {
                AvcPolicy { positive_ratio: 1.0, one_per_file: true, ..base }
            }
            // Matching pairs, plus (with hard negatives) the same file's audio shifted; the
            // batch's other audio windows are the easy negatives.
            // With same-file hard negatives the batch holds them already: an all-positive stream.
            (Role::Train, AvcObjective::InBatch) if self.negatives.hard => AvcPolicy {
                negatives: NegativeKinds { easy: false, hard: true },
                positive_ratio: self.train_positive_ratio.unwrap_or(if self.same_file() {
                    1.0
                } else {
                    0.5
                }),
                ..base
            },
            (Role::Train, AvcObjective::InBatch) => AvcPolicy { positive_ratio: 1.0, ..base },
            (Role::Train, _) => AvcPolicy {
                negatives: self.negatives,
                positive_ratio: self.train_positive_ratio.unwrap_or(0.5),
                hard_share: self.hard_share,
                curriculum: self.curriculum(),
                ..base
            },
            (Role::Eval, _) => {
                AvcPolicy { negatives: self.eval_negatives.unwrap_or(self.negatives), ..base }
            }
        }
    }
}

/// The built `avc` / `localize` task.
#[derive(Debug, Clone)]
pub struct AvcTask {
    flavour: Flavour,
    options: AvcOptions,
}

impl AvcTask {
    /// Validates the options.
    pub fn new(flavour: Flavour, options: AvcOptions) -> Result<Self, TaskError> {
        let name = match flavour {
            Flavour::Avc => AVC.name,
            Flavour::Localize => LOCALIZE.name,
        };
        options.validate(name)?;
        Ok(AvcTask { flavour, options })
    }

    /// The resolved options.
    pub fn avc_options(&self) -> &AvcOptions {
        &self.options
    }
}

impl Task for AvcTask {
    fn name(&self) -> &'static str {
        match self.flavour {
            Flavour::Avc => AVC.name,
            Flavour::Localize => LOCALIZE.name,
        }
    }

    fn options(&self) -> serde_json::Value {
        serde_json::to_value(&self.options).unwrap_or_default()
    }

    fn data(&self, role: Role) -> Arc<dyn TaskData> {
        Arc::new(AvcData::new(self.name(), self.options.policy(role)))
    }

    fn adapt_model(&self, model: &mut ModelConfig) -> Result<(), TaskError> {
        match (self.flavour, self.options.objective()) {
            // The contrastive objective trains the parameter-free cosine map, which is then what
            // `pretext localize` shows.
            (_, AvcObjective::Contrastive) => {
                model.head.kind = HeadKind::Cosine;
                model.head.sync = 0;
                if let Some(t) = self.options.temperature {
                    model.head.temperature = t;
                }
            }
            // Localisation needs a per-location head: AVOL unless the preset chose the cosine.
            (Flavour::Localize, _) if model.head.kind != HeadKind::Cosine => {
                model.head.kind = HeadKind::Avol;
                model.head.sync = 0;
            }
            _ => {}
        }
        model.validate().map_err(|reason| TaskError::Options { task: self.name().into(), reason })
    }

    #[cfg(feature = "torch")]
    fn model(
        &self,
        root: &tch::nn::Path,
        model: &ModelConfig,
    ) -> Result<Box<dyn crate::training::TaskModel>, crate::training::TrainingError> {
        Ok(Box::new(AvcModel::new(root, model, &self.options)?))
    }

    #[cfg(feature = "torch")]
    fn metrics(&self) -> crate::training::MetricSet {
        model::metrics(&self.options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policies_per_role_follow_the_objective() {
        let o = AvcOptions::default();
        let train = o.policy(Role::Train);
        assert_eq!(
            (train.positive_ratio, train.negatives.easy, train.negatives.hard),
            (0.5, true, true)
        );
        let ib = AvcOptions {
            objective: AvcObjective::InBatch,
            negatives: NegativeKinds { easy: true, hard: false },
            ..Default::default()
        };
        assert_eq!(ib.policy(Role::Train).positive_ratio, 1.0);
        assert_eq!(ib.policy(Role::Eval).positive_ratio, 0.5);
        let c = AvcOptions { objective: AvcObjective::Contrastive, ..Default::default() };
        assert!(c.policy(Role::Eval).one_per_file && c.policy(Role::Train).positive_ratio == 1.0);
        // Cross-field rules name what is wrong.
        let bad = AvcOptions { same_file_negatives: Some(true), ..Default::default() };
        assert!(bad.validate("avc").unwrap_err().to_string().contains("same_file_negatives"));
        let bad = AvcOptions { temperature: Some(0.1), ..Default::default() };
        assert!(bad.validate("avc").unwrap_err().to_string().contains("temperature"));
    }

    #[test]
    fn localize_forces_a_per_location_head() {
        let t = (LOCALIZE.build)(&toml::Table::new()).unwrap();
        let mut m = ModelConfig::default();
        t.adapt_model(&mut m).unwrap();
        assert_eq!(m.head.kind, HeadKind::Avol);
        let mut table = toml::Table::new();
        table.insert("objective".into(), "contrastive".into());
        table.insert("temperature".into(), toml::Value::Float(0.1));
        let t = (AVC.build)(&table).unwrap();
        t.adapt_model(&mut m).unwrap();
        assert_eq!((m.head.kind, m.head.temperature), (HeadKind::Cosine, 0.1));
    }
}
