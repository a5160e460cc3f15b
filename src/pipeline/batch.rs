//! A batch as the trainer receives it: contiguous f32 buffers with shapes, labels, metadata.

use serde::{Deserialize, Serialize};

/// Where one example came from: enough to reproduce it exactly.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
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
    /// The label.
    pub label: i64,
    /// What kind of example: "positive", "easy", "hard", "ordered", "reversed", "shuffled_a",
    /// "shuffled_e", ...
    pub kind: String,
    /// Augmentation parameters applied to the frames.
    #[serde(default)]
    pub augment: Option<crate::tasks::AugmentParams>,
    /// Presentation times of the frames actually decoded (seconds).
    #[serde(default)]
    pub frame_pts: Vec<f64>,
}

/// A batch of `B` examples.
///
/// - `frames`: `[B, C, H, W]` for one frame per example, `[B, K, C, H, W]` for K-frame tuples;
///   RGB scaled to [0, 1] then normalised by the pipeline's mean/std.
/// - `specs`: `[B, 1, F, T]` spectrograms (empty for vision-only tasks).
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Frame values.
    pub frames: Vec<f32>,
    /// Shape of `frames`.
    pub frame_shape: Vec<usize>,
    /// Spectrogram values.
    pub specs: Vec<f32>,
    /// Shape of `specs` (empty when there is no audio).
    pub spec_shape: Vec<usize>,
    /// One class label per example.
    pub labels: Vec<i64>,
    /// One metadata record per example.
    pub meta: Vec<SampleMeta>,
}

impl Batch {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the batch holds no example.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}
