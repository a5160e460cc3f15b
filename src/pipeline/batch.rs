//! A batch as the trainer receives it: the task's named fields stacked into contiguous buffers
//! with shapes, and one metadata record per example.

use serde::{Deserialize, Serialize};

use super::example::{BatchField, Values};

/// Where one example came from: enough to reproduce it exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct SampleMeta {
    /// Sequence number in the sampler's deterministic order.
    pub seq: u64,
    /// Video file of the frame(s).
    pub file: String,
    /// Frame time(s) in seconds on the container clock.
    pub video_times: Vec<f64>,
    /// File the audio was taken from (may differ for negatives).
    pub audio_file: Option<String>,
    /// Start of the audio window in seconds.
    pub audio_time: Option<f64>,
    /// The label the sampler drew (for single-label tasks the class; tasks whose targets are
    /// several values, such as all four rotations of a frame, carry them in a field and put -1
    /// here).
    pub label: i64,
    /// What kind of example: "positive", "easy", "hard", "ordered", "reversed", "shuffled_a",
    /// "shuffled_e", ...
    pub kind: String,
    /// Augmentation parameters applied to the frames.
    #[serde(default)]
    pub augment: Option<super::AugmentParams>,
    /// Presentation times of the frames actually decoded (seconds).
    #[serde(default)]
    pub frame_pts: Vec<f64>,
}

/// A batch of `B` examples: every field the task declares, stacked to `[B, ...]` in declared
/// order, and one metadata record per example.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Batch {
    /// The stacked fields.
    pub fields: Vec<BatchField>,
    /// One metadata record per example.
    pub meta: Vec<SampleMeta>,
}

impl Batch {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// Whether the batch holds no example.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }

    /// The field called `name`.
    pub fn field(&self, name: &str) -> Option<&BatchField> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The f32 values and shape of field `name`.
    pub fn f32(&self, name: &str) -> Option<(&[f32], &[usize])> {
        match self.field(name)? {
            BatchField { values: Values::F32(v), shape, .. } => Some((v, shape)),
            _ => None,
        }
    }

    /// The i64 values and shape of field `name`.
    pub fn i64(&self, name: &str) -> Option<(&[i64], &[usize])> {
        match self.field(name)? {
            BatchField { values: Values::I64(v), shape, .. } => Some((v, shape)),
            _ => None,
        }
    }

    /// The examples' labels as their samplers drew them (the metadata's `label`).
    pub fn labels(&self) -> Vec<i64> {
        self.meta.iter().map(|m| m.label).collect()
    }
}
