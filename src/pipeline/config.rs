//! The validated configuration of a pipeline run. The CLI and the trainer fill a
//! [`PipelineConfig`] (starting from `Default`) and call [`PipelineConfig::validate`]; libraries
//! never see command-line flags.

use std::path::PathBuf;

use std::sync::Arc;

use serde::Serialize;

use super::{InputSpec, PipelineError, TaskData};

/// Frame augmentation: random crop of `frame_size` from the `decode_size` square the decoder
/// produces, horizontal flip, and colour jitter. Parameters are drawn per example from the
/// example's own seed, so they are part of the reproducible sample record.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AugmentConfig {
    /// Random crop position (centre crop when false).
    pub random_crop: bool,
    /// Flip horizontally with probability 1/2.
    pub flip: bool,
    /// Brightness/contrast/saturation factors drawn from `[1 - j, 1 + j]` (0 disables).
    pub jitter: f32,
}

impl Default for AugmentConfig {
    fn default() -> Self {
        AugmentConfig { random_crop: true, flip: true, jitter: 0.2 }
    }
}

impl AugmentConfig {
    /// No augmentation at all (centre crop, no flip, no jitter): for evaluation.
    pub fn none() -> Self {
        AugmentConfig { random_crop: false, flip: false, jitter: 0.0 }
    }
}

/// Everything a pipeline run needs.
#[derive(Clone)]
pub struct PipelineConfig {
    /// Input video files, used in sorted order (see [`super::discover`] to walk folders).
    pub files: Vec<PathBuf>,
    /// The pretext task's sampler and assembler, with its policy.
    pub task: Arc<dyn TaskData>,
    /// What the model sees: decode and crop geometry, normalisation, spectrogram recipe.
    pub input: InputSpec,
    /// Master seed: every example's randomness derives from `(seed, seq)`.
    pub seed: u64,
    /// Passes over the files; `None` streams forever.
    pub epochs: Option<u64>,
    /// First sample sequence number to produce (resume a stream exactly where it stopped).
    pub start_seq: u64,
    /// Stop after this many delivered examples (`None`: until the epochs run out).
    pub max_samples: Option<u64>,
    /// Examples per batch.
    pub batch_size: usize,
    /// Emit the last, smaller batch at the end of the stream.
    pub keep_partial_batch: bool,
    /// Decode worker threads (each owns its FFmpeg contexts).
    pub decode_workers: usize,
    /// Feature worker threads (each owns one spectrogram extractor).
    pub feature_workers: usize,
    /// Frame augmentation.
    pub augment: AugmentConfig,
    /// Examples each file yields per epoch (a decode worker cuts them all in one visit); the
    /// task may lower it ([`TaskData::clips_per_file`]).
    pub clips_per_file: usize,
    /// Shuffle the file order of each epoch (seeded).
    pub shuffle_files: bool,
    /// Manifest cache of probe results (`None`: probe every run).
    pub manifest: Option<PathBuf>,
    /// Quarantine list (JSON Lines); files listed there are skipped, new failures appended.
    pub quarantine: Option<PathBuf>,
    /// Capacity of each inter-stage queue, in items.
    pub queue_depth: usize,
    /// Wall-clock budget per file for decoding, in seconds.
    pub decode_deadline_s: f64,
    /// Decode every file whole at index time (`media::verify`) and quarantine damaged ones
    /// before any example is cut; the verdict is cached in the manifest (issue #26).
    pub verify: bool,
}

impl std::fmt::Debug for PipelineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PipelineConfig")
            .field("files", &self.files.len())
            .field("task", &self.task.name())
            .field("input", &self.input)
            .field("seed", &self.seed)
            .field("batch_size", &self.batch_size)
            .finish_non_exhaustive()
    }
}

impl PipelineConfig {
    /// A configuration over `files` for `task` with `input`, every other value at its default
    /// (seed 0, endless, batches of 32, one worker per stage, training augmentation).
    pub fn new(files: Vec<PathBuf>, task: Arc<dyn TaskData>, input: InputSpec) -> Self {
        PipelineConfig {
            files,
            task,
            input,
            seed: 0,
            epochs: None,
            start_seq: 0,
            max_samples: None,
            batch_size: 32,
            keep_partial_batch: true,
            decode_workers: 1,
            feature_workers: 1,
            augment: AugmentConfig::default(),
            clips_per_file: 4,
            shuffle_files: true,
            manifest: None,
            quarantine: None,
            queue_depth: 8,
            decode_deadline_s: 60.0,
            verify: false,
        }
    }

    /// Examples per file visit after the task's say.
    pub fn clips_per_file(&self) -> usize {
        self.task.clips_per_file(self.clips_per_file).max(1)
    }

    /// The per-file budget of index-time verification, when [`Self::verify`] is on.
    pub fn verify_deadline(&self) -> Option<std::time::Duration> {
        self.verify.then(|| {
            std::time::Duration::try_from_secs_f64(self.decode_deadline_s)
                .unwrap_or(std::time::Duration::from_secs(60))
        })
    }

    /// Checks every value, naming the first bad one.
    pub fn validate(&self) -> Result<(), PipelineError> {
        let bad = |m: String| Err(PipelineError::Config(m));
        if self.files.is_empty() {
            return bad("no input file".into());
        }
        if self.batch_size == 0 {
            return bad("batch_size must be at least 1".into());
        }
        if self.decode_workers == 0 || self.feature_workers == 0 {
            return bad("decode_workers and feature_workers must be at least 1".into());
        }
        if self.decode_workers > 256 || self.feature_workers > 256 {
            return bad("more than 256 workers per stage".into());
        }
        self.input.validate().map_err(PipelineError::Config)?;
        if !(self.augment.jitter.is_finite() && (0.0..1.0).contains(&self.augment.jitter)) {
            return bad(format!("jitter {} must lie in [0, 1)", self.augment.jitter));
        }
        if self.clips_per_file == 0 || self.clips_per_file > 10_000 {
            return bad("clips_per_file must lie in [1, 10000]".into());
        }
        if self.queue_depth == 0 {
            return bad("queue_depth must be at least 1".into());
        }
        if !(self.decode_deadline_s.is_finite()
            && self.decode_deadline_s > 0.0
            && self.decode_deadline_s <= 86_400.0)
        {
            return bad("decode_deadline_s must lie in (0, 86400]".into());
        }
        if self.epochs == Some(0) || self.max_samples == Some(0) {
            return bad("epochs and max_samples must be at least 1 when set".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{AssembleContext, Example, Field, FieldSpec, PlanContext, SampleSpec};

    struct Nothing;
    impl TaskData for Nothing {
        fn name(&self) -> &str {
            "nothing"
        }
        fn fields(&self, _: &InputSpec) -> Vec<FieldSpec> {
            Vec::new()
        }
        fn needs_audio(&self) -> bool {
            false
        }
        fn usable(&self, _: &super::super::IndexEntry, _: &InputSpec) -> bool {
            true
        }
        fn plan(
            &self,
            _: &PlanContext<'_>,
            file: usize,
            seq: u64,
            _: &mut rand_chacha::ChaCha8Rng,
        ) -> SampleSpec {
            SampleSpec::new(seq, file, Vec::new())
        }
        fn plan_at(&self, _: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec> {
            Some(SampleSpec::new(0, file, vec![t]))
        }
        fn assemble(
            &self,
            _: &SampleSpec,
            _: &[crate::media::RgbFrame],
            _: &[f32],
            _: &mut AssembleContext<'_>,
        ) -> Result<Vec<Field>, PipelineError> {
            Ok(Vec::new())
        }
        fn toy_example(&self, _: &InputSpec, _: u64, _: &mut rand_chacha::ChaCha8Rng) -> Example {
            Example { meta: Default::default(), fields: Vec::new() }
        }
        fn describe(&self) -> String {
            String::new()
        }
    }

    #[test]
    fn default_needs_files_then_validates() {
        let mut c = PipelineConfig::new(Vec::new(), Arc::new(Nothing), InputSpec::default());
        assert!(matches!(c.validate(), Err(PipelineError::Config(_))));
        c.files = vec!["a.mp4".into()];
        c.validate().unwrap();
        c.input.decode_size = Some(20);
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("decode_size"), "{err}");
        c.input.decode_size = None;
        c.decode_deadline_s = 1e20;
        assert!(c.validate().unwrap_err().to_string().contains("decode_deadline_s"));
    }
}
