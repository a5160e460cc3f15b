//! Pretext tasks as plug-ins of the one pipeline. A task is a [`Task`]: it says which files it
//! can use, plans each example from the example's own seed (the *sampler*: which frame times,
//! which audio window, which label), may refine the frame choice once the decode worker has
//! looked at the file (`choose_frames`, e.g. motion-driven windows), and may transform the
//! augmented frames before batching (`transform`, the *assembler* hook: rotate, tile, ...).
//!
//! The frame order inside a [`SampleSpec`] is the order the model sees: a task that permutes
//! frames (frame order, jigsaw of time) writes the permuted times; the decoder fetches them in
//! sorted order and returns them in the asked order. See `docs/architecture.md`, "Adding a
//! pretext task".

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::pipeline::{IndexEntry, MotionProfile};

pub mod avc;
pub mod frame_order;
pub mod localize;

pub use avc::{AvcConfig, AvcTask, Curriculum, NegativeKinds};
pub use frame_order::{FrameOrderConfig, FrameOrderTask};

/// Where an example's audio window comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AudioRead {
    /// Index of the file in the pipeline's index.
    pub file: usize,
    /// Start of the window in seconds (container clock).
    pub start: f64,
}

/// Per-example augmentation parameters, drawn from the example's seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct AugmentParams {
    /// Crop offset as a fraction of the free horizontal room, in [0, 1].
    pub crop_x: f32,
    /// Crop offset as a fraction of the free vertical room, in [0, 1].
    pub crop_y: f32,
    /// Mirror horizontally.
    pub flip: bool,
    /// Brightness factor.
    pub brightness: f32,
    /// Contrast factor.
    pub contrast: f32,
    /// Saturation factor.
    pub saturation: f32,
}

/// The plan of one example: everything needed to cut it and to reproduce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleSpec {
    /// Sequence number (global, deterministic).
    pub seq: u64,
    /// Index of the video file in the pipeline's index.
    pub file: usize,
    /// Frame times in the order the model sees them; empty until `choose_frames` fills them
    /// for tasks that pick frames at decode time.
    pub video_times: Vec<f64>,
    /// The audio window, for audio-visual tasks.
    pub audio: Option<AudioRead>,
    /// Class label.
    pub label: i64,
    /// Kind of example ("positive", "easy", "hard", "ordered", ...).
    pub kind: String,
    /// Task-private choices (e.g. which of the frames a..e, in output order).
    pub slots: Vec<usize>,
    /// Augmentation parameters (shared by every frame of the example).
    pub augment: AugmentParams,
    /// Seed for decode-time choices (`choose_frames`).
    pub rng_seed: u64,
}

/// What a task sees when planning an example.
pub struct PlanContext<'a> {
    /// The usable files, in index order.
    pub index: &'a [IndexEntry],
    /// Audio window length in seconds.
    pub audio_seconds: f64,
}

/// A pretext task: sampler + assembler hooks called by the pipeline.
pub trait Task: Send + Sync {
    /// Short name ("avc", "frame-order").
    fn name(&self) -> &'static str;
    /// Whether examples carry an audio window (and so a spectrogram).
    fn needs_audio(&self) -> bool;
    /// Frames per example: 1 gives `[B, C, H, W]` batches, K > 1 gives `[B, K, C, H, W]`.
    fn frames_per_example(&self) -> usize;
    /// Whether a file can yield examples (long enough, has audio when needed, ...).
    fn usable(&self, entry: &IndexEntry, audio_seconds: f64) -> bool;
    /// Plans example `seq` of file `file` from `rng` (seeded from the master seed and `seq`).
    /// `augment` and `rng_seed` are filled by the pipeline afterwards.
    fn plan(
        &self,
        ctx: &PlanContext<'_>,
        file: usize,
        seq: u64,
        rng: &mut ChaCha8Rng,
    ) -> SampleSpec;
    /// Whether `choose_frames` needs the file's motion profile (a full decode pass).
    fn needs_motion(&self) -> bool {
        false
    }
    /// Fills `spec.video_times` at decode time; `false` when the file cannot serve the example
    /// (it is then dropped). Only called when [`Task::needs_motion`] is true.
    fn choose_frames(
        &self,
        spec: &mut SampleSpec,
        motion: &MotionProfile,
        rng: &mut ChaCha8Rng,
    ) -> bool {
        let _ = (spec, motion, rng);
        true
    }
    /// Transforms one augmented frame (`[3, H, W]`, normalised) in place; `index` is the frame's
    /// position in the example. The default does nothing.
    fn transform(&self, spec: &SampleSpec, index: usize, frame: &mut [f32], side: usize) {
        let _ = (spec, index, frame, side);
    }
}

/// Which task, with its policy.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub enum TaskConfig {
    /// Audio-visual correspondence.
    Avc(AvcConfig),
    /// Shuffle & Learn frame order.
    FrameOrder(FrameOrderConfig),
}

impl Default for TaskConfig {
    fn default() -> Self {
        TaskConfig::Avc(AvcConfig::default())
    }
}

impl TaskConfig {
    /// Checks the task's values; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            TaskConfig::Avc(c) => c.validate(),
            TaskConfig::FrameOrder(c) => c.validate(),
        }
    }

    /// Builds the task object.
    pub fn build(&self) -> Box<dyn Task> {
        match self {
            TaskConfig::Avc(c) => Box::new(AvcTask::new(c.clone())),
            TaskConfig::FrameOrder(c) => Box::new(FrameOrderTask::new(c.clone())),
        }
    }
}
