//! The validated configuration of a pipeline run. The CLI and the trainer fill a
//! [`PipelineConfig`] (starting from `Default`) and call [`PipelineConfig::validate`]; libraries
//! never see command-line flags.

use std::path::PathBuf;

use serde::Serialize;

use super::PipelineError;
use crate::features::Preset;
use crate::tasks::TaskConfig;

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
#[derive(Debug, Clone, Serialize)]
pub struct PipelineConfig {
    /// Input video files, used in sorted order (see [`super::discover`] to walk folders).
    pub files: Vec<PathBuf>,
    /// The pretext task and its sampling policy.
    pub task: TaskConfig,
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
    /// Side of the square the decoder scales frames to (shorter side, then centre crop).
    pub decode_size: u32,
    /// Side of the square crop handed to the model.
    pub frame_size: u32,
    /// Frame augmentation.
    pub augment: AugmentConfig,
    /// Per-channel mean subtracted after scaling RGB to [0, 1].
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided after subtracting the mean.
    pub std: [f32; 3],
    /// Spectrogram recipe (its sample rate is the audio decode rate).
    pub preset: Preset,
    /// Audio window length in seconds.
    pub audio_seconds: f64,
    /// Examples each file yields per epoch (a decode worker cuts them all in one visit).
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

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            files: Vec::new(),
            task: TaskConfig::default(),
            seed: 0,
            epochs: None,
            start_seq: 0,
            max_samples: None,
            batch_size: 32,
            keep_partial_batch: true,
            decode_workers: 1,
            feature_workers: 1,
            decode_size: 256,
            frame_size: 224,
            augment: AugmentConfig::default(),
            mean: [0.485, 0.456, 0.406],
            std: [0.229, 0.224, 0.225],
            preset: Preset::Vggish,
            audio_seconds: 1.0,
            clips_per_file: 4,
            shuffle_files: true,
            manifest: None,
            quarantine: None,
            queue_depth: 8,
            decode_deadline_s: 60.0,
            verify: false,
        }
    }
}

impl PipelineConfig {
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
        if self.frame_size == 0 || self.frame_size > self.decode_size || self.decode_size > 4096 {
            return bad(format!(
                "need 0 < frame_size ({}) <= decode_size ({}) <= 4096",
                self.frame_size, self.decode_size
            ));
        }
        if self.std.iter().any(|s| !(s.is_finite() && *s > 0.0))
            || self.mean.iter().any(|m| !m.is_finite())
        {
            return bad("mean must be finite and std finite and positive".into());
        }
        if !(self.augment.jitter.is_finite() && (0.0..1.0).contains(&self.augment.jitter)) {
            return bad(format!("jitter {} must lie in [0, 1)", self.augment.jitter));
        }
        if !(self.audio_seconds.is_finite()
            && self.audio_seconds > 0.0
            && self.audio_seconds <= 60.0)
        {
            return bad(format!("audio_seconds {} must lie in (0, 60]", self.audio_seconds));
        }
        if self.clips_per_file == 0 || self.clips_per_file > 10_000 {
            return bad("clips_per_file must lie in [1, 10000]".into());
        }
        if self.queue_depth == 0 {
            return bad("queue_depth must be at least 1".into());
        }
        if !(self.decode_deadline_s.is_finite() && self.decode_deadline_s > 0.0) {
            return bad("decode_deadline_s must be positive".into());
        }
        if self.epochs == Some(0) || self.max_samples == Some(0) {
            return bad("epochs and max_samples must be at least 1 when set".into());
        }
        self.task.validate().map_err(PipelineError::Config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_needs_files_then_validates() {
        let mut c = PipelineConfig::default();
        assert!(matches!(c.validate(), Err(PipelineError::Config(_))));
        c.files = vec!["a.mp4".into()];
        c.validate().unwrap();
        c.frame_size = 300;
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("frame_size"), "{err}");
    }
}
