//! The data side of a pretext task, as the pipeline consumes it: a [`TaskData`] is a *sampler*
//! (which files it can use; for example `seq`, which frame times, which audio window, which
//! label, drawn from the example's own seed) and an *assembler* (how the decoded frames and
//! audio become the example's named fields, with the task's own random stream and augmentation
//! policy). The pipeline does the rest: indexing, scheduling, decoding, batching, determinism,
//! quarantine. Task implementations live in `crate::tasks`, one folder each.
//!
//! The frame order inside a [`SampleSpec`] is the order the model sees: a task that permutes
//! frames writes the permuted times; the decoder fetches them in sorted order and returns them
//! in the asked order.

use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{
    augment_into, Example, Field, FieldSpec, IndexEntry, InputSpec, MotionProfile, PipelineError,
};
use crate::features::Spectrogram;
use crate::media::RgbFrame;

/// Where an example's audio window comes from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AudioRead {
    /// Index of the file in the pipeline's index.
    pub file: usize,
    /// Start of the window in seconds (container clock).
    pub start: f64,
}

/// Per-example augmentation parameters, drawn from the example's seed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
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

impl Default for AugmentParams {
    /// No augmentation: the centred crop, no flip, no jitter (what evaluation sees).
    fn default() -> Self {
        AugmentParams {
            crop_x: 0.5,
            crop_y: 0.5,
            flip: false,
            brightness: 1.0,
            contrast: 1.0,
            saturation: 1.0,
        }
    }
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
    /// The label the sampler drew (-1 when the targets are several values, see
    /// [`super::SampleMeta::label`]).
    pub label: i64,
    /// Kind of example ("positive", "easy", "hard", "ordered", ...).
    pub kind: String,
    /// Task-private choices (e.g. which of the frames a..e, a rotation), read by the assembler.
    pub slots: Vec<usize>,
    /// Augmentation parameters (shared by every frame of the example).
    pub augment: AugmentParams,
    /// Seed for decode-time choices (`choose_frames`) and the assembler's random stream.
    pub rng_seed: u64,
}

impl SampleSpec {
    /// A plan for example `seq` of `file` with these frames and no audio, label -1.
    pub fn new(seq: u64, file: usize, video_times: Vec<f64>) -> Self {
        SampleSpec {
            seq,
            file,
            video_times,
            audio: None,
            label: -1,
            kind: String::new(),
            slots: Vec::new(),
            augment: AugmentParams::default(),
            rng_seed: 0,
        }
    }
}

/// What a task sees when planning an example.
pub struct PlanContext<'a> {
    /// The usable files, in index order.
    pub index: &'a [IndexEntry],
    /// What the model sees (audio window length, frames per example, ...).
    pub input: &'a InputSpec,
}

/// What the assembler gets besides the decoded pieces: the input spec, the standard frame and
/// spectrogram transforms, and the example's own random stream (seeded from `(seed, seq)`, so an
/// assembly is reproducible whatever worker runs it).
pub struct AssembleContext<'a> {
    input: &'a InputSpec,
    spectrogram: &'a mut Option<Spectrogram>,
    /// The example's random stream for assembly-time choices.
    pub rng: ChaCha8Rng,
}

impl<'a> AssembleContext<'a> {
    /// A context over a worker's lazily built spectrogram extractor.
    pub fn new(
        input: &'a InputSpec,
        spectrogram: &'a mut Option<Spectrogram>,
        rng: ChaCha8Rng,
    ) -> Self {
        AssembleContext { input, spectrogram, rng }
    }

    /// What the model sees.
    pub fn input(&self) -> &InputSpec {
        self.input
    }

    /// The standard view of a decoded frame: the `frame_size` crop at the example's offset,
    /// flipped and colour-jittered as `augment` says, normalised, `[3, S, S]`.
    pub fn frame(&self, frame: &RgbFrame, augment: &AugmentParams) -> Vec<f32> {
        let s = self.input.frame_size as usize;
        let mut out = vec![0.0f32; 3 * s * s];
        augment_into(frame, augment, s, &self.input.normalize(), &mut out);
        out
    }

    /// [`Self::frame`] of each frame, concatenated: `[K, 3, S, S]`.
    pub fn frames(&self, frames: &[RgbFrame], augment: &AugmentParams) -> Vec<f32> {
        let s = self.input.frame_size as usize;
        let per = 3 * s * s;
        let mut out = vec![0.0f32; per * frames.len()];
        let norm = self.input.normalize();
        for (f, o) in frames.iter().zip(out.chunks_exact_mut(per)) {
            augment_into(f, augment, s, &norm, o);
        }
        out
    }

    /// The spectrogram of an audio window, `[F, T]` row-major (the extractor is built on first
    /// use and reused by the worker).
    pub fn spectrogram(&mut self, audio: &[f32]) -> Result<Vec<f32>, PipelineError> {
        if self.spectrogram.is_none() {
            *self.spectrogram = Some(Spectrogram::new(self.input.spectrogram_config())?);
        }
        let sp = self.spectrogram.as_mut().ok_or(PipelineError::Cancelled)?;
        let (f, t) = sp.shape(audio.len());
        let mut out = vec![0.0f32; f * t];
        sp.compute_into(audio, &mut out)?;
        Ok(out)
    }
}

/// The data side of a pretext task: sampler and assembler hooks called by the pipeline.
///
/// # For implementations
/// Draw randomness only from the generators handed in (seeded from `(seed, seq)`), never from
/// a thread-local or global source: the output must not depend on the number of workers. Every
/// example must hold exactly the fields [`TaskData::fields`] declares, in that order.
pub trait TaskData: Send + Sync {
    /// The task's registry name ("avc", "frame-order", ...).
    fn name(&self) -> &str;

    /// The fields of one example, with their dtypes and shapes.
    fn fields(&self, input: &InputSpec) -> Vec<FieldSpec>;

    /// Whether examples carry an audio window (decoded at the spectrogram preset's rate).
    fn needs_audio(&self) -> bool;

    /// Whether a file can yield examples (long enough, has audio when needed, ...).
    fn usable(&self, entry: &IndexEntry, input: &InputSpec) -> bool;

    /// Examples a file visit yields, given the configured number (a task whose batches must hold
    /// one example per file returns 1).
    fn clips_per_file(&self, configured: usize) -> usize {
        configured
    }

    /// Plans example `seq` of file `file` from `rng`. `augment` and `rng_seed` are filled by the
    /// pipeline afterwards.
    fn plan(
        &self,
        ctx: &PlanContext<'_>,
        file: usize,
        seq: u64,
        rng: &mut ChaCha8Rng,
    ) -> SampleSpec;

    /// The example the model is run on at time `t` of file `file` outside training (embedding,
    /// localisation): no randomness, the frames (and audio window) of the moment `t`. `None`
    /// when `t` is too close to an end for the example to fit.
    fn plan_at(&self, ctx: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec>;

    /// Whether `choose_frames` needs the file's motion profile (a full decode pass).
    fn needs_motion(&self) -> bool {
        false
    }

    /// Fills `spec.video_times` at decode time; `false` when the file cannot serve the example
    /// (it is then dropped). Only called when [`TaskData::needs_motion`] is true.
    fn choose_frames(
        &self,
        spec: &mut SampleSpec,
        motion: &MotionProfile,
        rng: &mut ChaCha8Rng,
    ) -> bool {
        let _ = (spec, motion, rng);
        true
    }

    /// Turns the decoded frames (in `spec.video_times` order, decoded squares of
    /// `input.decode_side()`) and the audio window (mono at the preset's rate; empty for
    /// vision-only tasks) into the example's fields.
    fn assemble(
        &self,
        spec: &SampleSpec,
        frames: &[RgbFrame],
        audio: &[f32],
        cx: &mut AssembleContext<'_>,
    ) -> Result<Vec<Field>, PipelineError>;

    /// A generated example with the same fields and a learnable structure, for fast tests and
    /// benchmarks of the trainer without decoding (`--data toy`): example `index` of a stream,
    /// drawn from `rng` (seeded from the stream's seed and `index`, so any example can be made
    /// on its own).
    fn toy_example(&self, input: &InputSpec, index: u64, rng: &mut ChaCha8Rng) -> Example;

    /// One line on how examples are drawn (negatives, ratios), written next to every metric.
    fn describe(&self) -> String;
}
