//! Shuffle & Learn (Misra et al. 2016): is this frame tuple in temporal order?
//!
//! Files: `sampler.rs` (high-motion windows, the tuples and their labels), `toy.rs`, and with
//! the `torch` feature `model.rs` (the triplet Siamese head on the shared vision trunk; metric:
//! balanced accuracy, since a quarter of the validation tuples are ordered and "always
//! shuffled" would score 0.75 accuracy).

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{parse_options, OptionDoc, Role, Task, TaskDescriptor, TaskError};
use crate::pipeline::TaskData;

#[cfg(feature = "torch")]
mod model;
mod sampler;
mod toy;

#[cfg(feature = "torch")]
pub use model::FrameOrderNet;
pub use sampler::{FrameOrderData, FrameOrderPolicy};

/// The `frame-order` task.
pub static FRAME_ORDER: TaskDescriptor = TaskDescriptor {
    name: "frame-order",
    about: "Shuffle & Learn: are these three frames in temporal order? (vision only)",
    default_preset: "fast",
    own_preset: None,
    options: &[
        OptionDoc {
            key: "gap",
            help: "frames between consecutive members of the window a..e (10 = 0.4 s at 25 fps: \
                   objects moving 8-30 % of the frame per second travel 3-12 % between b, c, d)",
        },
        OptionDoc {
            key: "positive_ratio",
            help: "share of ordered tuples in validation (0.25, as Shuffle & Learn)",
        },
        OptionDoc {
            key: "train_positive_ratio",
            help: "share of ordered tuples in the training stream (default: positive_ratio)",
        },
        OptionDoc {
            key: "motion_quantile",
            help: "windows whose motion is below this quantile of the file's windows are not used",
        },
    ],
    defaults: || serde_json::to_value(FrameOrderOptions::default()).unwrap_or_default(),
    build: |t| Ok(Box::new(FrameOrderTask::new(parse_options("frame-order", t)?)?)),
};

/// The options of the `frame-order` task (the `[task]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FrameOrderOptions {
    /// Frames between consecutive members of a..e.
    pub gap: usize,
    /// Share of positives in validation.
    pub positive_ratio: f64,
    /// Share of positives in training (default: `positive_ratio`).
    pub train_positive_ratio: Option<f64>,
    /// Motion quantile below which windows are not used.
    pub motion_quantile: f64,
}

impl Default for FrameOrderOptions {
    fn default() -> Self {
        FrameOrderOptions {
            gap: 10,
            positive_ratio: 0.25,
            train_positive_ratio: None,
            motion_quantile: 0.5,
        }
    }
}

impl FrameOrderOptions {
    /// The sampling policy of `role`'s stream.
    pub fn policy(&self, role: Role) -> FrameOrderPolicy {
        let positive_ratio = match role {
            Role::Train => self.train_positive_ratio.unwrap_or(self.positive_ratio),
            Role::Eval => self.positive_ratio,
        };
        FrameOrderPolicy { positive_ratio, gap: self.gap, motion_quantile: self.motion_quantile }
    }
}

/// The built `frame-order` task.
#[derive(Debug, Clone)]
pub struct FrameOrderTask {
    options: FrameOrderOptions,
}

impl FrameOrderTask {
    /// Validates the options.
    pub fn new(options: FrameOrderOptions) -> Result<Self, TaskError> {
        for role in [Role::Train, Role::Eval] {
            options
                .policy(role)
                .validate()
                .map_err(|reason| TaskError::Options { task: FRAME_ORDER.name.into(), reason })?;
        }
        Ok(FrameOrderTask { options })
    }
}

impl Task for FrameOrderTask {
    fn name(&self) -> &'static str {
        FRAME_ORDER.name
    }

    fn options(&self) -> serde_json::Value {
        serde_json::to_value(&self.options).unwrap_or_default()
    }

    fn data(&self, role: Role) -> Arc<dyn TaskData> {
        Arc::new(FrameOrderData::new(self.options.policy(role)))
    }

    #[cfg(feature = "torch")]
    fn model(
        &self,
        root: &tch::nn::Path,
        model: &crate::models::ModelConfig,
    ) -> Result<Box<dyn crate::training::TaskModel>, crate::training::TrainingError> {
        Ok(Box::new(FrameOrderNet::new(root, model)?))
    }

    #[cfg(feature = "torch")]
    fn metrics(&self) -> crate::training::MetricSet {
        model::metrics()
    }
}
