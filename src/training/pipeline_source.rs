//! The [`DataSource`] over video folders: the streaming pipeline (`crate::pipeline`) fed with
//! the training files of a [`FileSplit`], and a validation stream over the held-out files.
//!
//! - Training: an endless, seeded stream starting at sample `skip` (the checkpoint's position),
//!   with augmentation. Negatives are drawn among training files only.
//! - Validation: the held-out split (`val` or `test`), no augmentation, a fixed seed and file
//!   order, a fixed number of examples. It is decoded once and kept in memory (a few MB for the
//!   quick model), so every validation scores exactly the same examples.

use std::cell::RefCell;
use std::path::PathBuf;

use serde::Serialize;

use super::{BatchIter, DataSource, FileSplit, TaskKind, TrainingError};
use crate::features::Preset;
use crate::models::ModelConfig;
use crate::pipeline::{AugmentConfig, Batch, BatchStream, PipelineConfig};
use crate::tasks::{AvcConfig, Curriculum, FrameOrderConfig, NegativeKinds, TaskConfig};

/// How to build the pipelines.
#[derive(Debug, Clone, Serialize)]
pub struct PipelineSourceConfig {
    /// The task.
    pub task: TaskKind,
    /// Seed of the training stream (validation uses a derived fixed seed).
    pub seed: u64,
    /// Decode workers.
    pub decode_workers: usize,
    /// Feature (spectrogram + augmentation) workers.
    pub feature_workers: usize,
    /// Which held-out split validation reads: `val` or `test`.
    pub eval_split: String,
    /// Negative kinds for training (AVC).
    pub train_negatives: NegativeKinds,
    /// Negative kinds for validation (AVC).
    pub eval_negatives: NegativeKinds,
    /// Minimum shift of a hard negative's audio, in seconds (training and validation).
    pub min_shift: f64,
    /// Share of hard negatives among training negatives when both kinds are on.
    pub hard_share: f64,
    /// Training only: raise the hard share linearly to `to` over the first `over` samples.
    pub curriculum: Option<Curriculum>,
    /// Examples per validation.
    pub val_examples: u64,
    /// Share of positives in the training stream (None: the task's default; validation always
    /// uses the task's default, e.g. 25% for frame order).
    pub train_positive_ratio: Option<f64>,
    /// Examples each file yields per epoch.
    pub clips_per_file: usize,
    /// Frame order: frames between consecutive members of the window a..e.
    pub frame_order_gap: usize,
    /// Probe-cache and quarantine folder (the run folder), if any.
    pub state_dir: Option<PathBuf>,
}

/// The pipeline-backed data source.
pub struct PipelineSource {
    split: FileSplit,
    cfg: PipelineSourceConfig,
    model: ModelConfig,
    val_cache: RefCell<Option<(usize, Vec<Batch>)>>,
}

fn kinds_name(k: NegativeKinds) -> &'static str {
    match (k.easy, k.hard) {
        (true, true) => "easy+hard",
        (false, true) => "hard",
        _ => "easy",
    }
}

impl PipelineSource {
    /// Checks that the split has files for both streams.
    pub fn new(
        split: FileSplit,
        model: &ModelConfig,
        cfg: PipelineSourceConfig,
    ) -> Result<Self, TrainingError> {
        if split.get(&cfg.eval_split).is_none() {
            return Err(TrainingError::Config(format!("unknown split '{}'", cfg.eval_split)));
        }
        Ok(PipelineSource { split, cfg, model: model.clone(), val_cache: RefCell::new(None) })
    }

    /// Whether this stream feeds an in-batch objective, whose easy negatives are the batch's
    /// other audio windows: no easy negatives in the stream. The localiser validates in-batch
    /// too; in-batch AVC validates on labelled pairs like any AVC model.
    fn in_batch_stream(&self, training: bool) -> bool {
        match self.cfg.task {
            TaskKind::LocalizeContrastive => true,
            TaskKind::AvcInBatch => training,
            TaskKind::Avc | TaskKind::FrameOrder => false,
        }
    }

    fn base(
        &self,
        files: Vec<PathBuf>,
        negatives: NegativeKinds,
        training: bool,
    ) -> Result<PipelineConfig, TrainingError> {
        let preset: Preset =
            serde_json::from_value(serde_json::Value::String(self.model.input.spectrogram.clone()))
                .map_err(|_| {
                    TrainingError::Config(format!(
                        "unknown spectrogram preset '{}'",
                        self.model.input.spectrogram
                    ))
                })?;
        let frames = self.model.input.frames as usize;
        let in_batch = self.in_batch_stream(training);
        let task = match self.cfg.task {
            // Matching pairs, plus (in-batch AVC with hard negatives) the same file's audio
            // shifted; the batch's other audio windows are the easy negatives.
            TaskKind::AvcInBatch if in_batch && negatives.hard => TaskConfig::Avc(AvcConfig {
                negatives: NegativeKinds { easy: false, hard: true },
                frames,
                min_shift: self.cfg.min_shift,
                ..Default::default()
            }),
            _ if in_batch => {
                TaskConfig::Avc(AvcConfig { positive_ratio: 1.0, frames, ..Default::default() })
            }
            TaskKind::Avc | TaskKind::AvcInBatch | TaskKind::LocalizeContrastive => {
                TaskConfig::Avc(AvcConfig {
                    negatives,
                    frames,
                    min_shift: self.cfg.min_shift,
                    ..Default::default()
                })
            }
            TaskKind::FrameOrder => TaskConfig::FrameOrder(FrameOrderConfig {
                gap: self.cfg.frame_order_gap,
                ..Default::default()
            }),
        };
        // A file gives consecutive examples, and two windows of one clip are not a negative
        // pair: the localiser's batches take one example per file; in-batch AVC keeps the
        // file visits (cheaper decoding) and its objective gives same-file pairs no weight.
        let clips_per_file = if self.cfg.task == TaskKind::LocalizeContrastive {
            1
        } else {
            self.cfg.clips_per_file
        };
        let fs = self.model.input.frame_size;
        Ok(PipelineConfig {
            files,
            task,
            seed: self.cfg.seed,
            decode_workers: self.cfg.decode_workers.max(1),
            feature_workers: self.cfg.feature_workers.max(1),
            frame_size: fs,
            decode_size: fs + fs / 8,
            preset,
            audio_seconds: self.model.input.clip_seconds,
            clips_per_file,
            manifest: self.cfg.state_dir.as_ref().map(|d| d.join("manifest.json")),
            quarantine: self.cfg.state_dir.as_ref().map(|d| d.join("quarantine.jsonl")),
            ..Default::default()
        })
    }

    fn start(cfg: PipelineConfig) -> Result<BatchStream, TrainingError> {
        cfg.validate().map_err(|e| TrainingError::Data(e.to_string()))?;
        BatchStream::start(cfg).map_err(|e| TrainingError::Data(e.to_string()))
    }
}

impl DataSource for PipelineSource {
    fn train(&self, skip: u64, batch: usize) -> Result<BatchIter, TrainingError> {
        if self.split.train.is_empty() {
            return Err(TrainingError::NoData("training"));
        }
        let mut cfg = self.base(self.split.train.clone(), self.cfg.train_negatives, true)?;
        // Positives only for the localiser and for in-batch AVC without hard negatives; the
        // share of positives against hard negatives (in-batch) or all negatives follows the flag.
        let flag_applies = match self.cfg.task {
            TaskKind::LocalizeContrastive => false,
            TaskKind::AvcInBatch => self.cfg.train_negatives.hard,
            TaskKind::Avc | TaskKind::FrameOrder => true,
        };
        if let Some(r) = self.cfg.train_positive_ratio.filter(|_| flag_applies) {
            match &mut cfg.task {
                TaskConfig::Avc(c) => c.positive_ratio = r,
                TaskConfig::FrameOrder(c) => c.positive_ratio = r,
            }
        }
        if let (TaskKind::Avc, TaskConfig::Avc(c)) = (self.cfg.task, &mut cfg.task) {
            c.hard_share = self.cfg.hard_share;
            c.curriculum = self.cfg.curriculum;
        }
        cfg.start_seq = skip;
        cfg.batch_size = batch;
        cfg.epochs = None;
        let stream = Self::start(cfg)?;
        Ok(Box::new(stream.map(|b| b.map_err(|e| TrainingError::Data(e.to_string())))))
    }

    fn val(&self, batch: usize) -> Result<BatchIter, TrainingError> {
        if let Some((b, cached)) = self.val_cache.borrow().as_ref() {
            if *b == batch {
                return Ok(Box::new(cached.clone().into_iter().map(Ok)));
            }
        }
        let files = self.split.get(&self.cfg.eval_split).unwrap_or_default().to_vec();
        if files.is_empty() {
            return Err(TrainingError::NoData("validation"));
        }
        let mut cfg = self.base(files, self.cfg.eval_negatives, false)?;
        cfg.seed = self.cfg.seed ^ 0x5EED_F7A1;
        cfg.augment = AugmentConfig::none();
        cfg.shuffle_files = false;
        cfg.batch_size = batch;
        cfg.epochs = None;
        cfg.max_samples = Some(self.cfg.val_examples);
        cfg.keep_partial_batch = true;
        let batches: Vec<Batch> = Self::start(cfg)?
            .collect::<Result<_, _>>()
            .map_err(|e| TrainingError::Data(e.to_string()))?;
        *self.val_cache.borrow_mut() = Some((batch, batches.clone()));
        Ok(Box::new(batches.into_iter().map(Ok)))
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "source": "pipeline",
            "files": {
                "train": self.split.train.len(),
                "val": self.split.val.len(),
                "test": self.split.test.len(),
            },
            "split_sources": self.split.sources,
            "pipeline": self.cfg,
            "spectrogram": self.model.input.spectrogram,
            "frame_size": self.model.input.frame_size,
            "negative_policy": self.negative_policy(),
        })
    }

    fn negative_policy(&self) -> String {
        match self.cfg.task {
            TaskKind::Avc | TaskKind::AvcInBatch => format!(
                "{} negatives on the video frame grid ({} files; {}), 50% positives",
                kinds_name(self.cfg.eval_negatives),
                self.cfg.eval_split,
                if self.cfg.eval_negatives.hard {
                    format!("hard = same file's audio shifted by >= {} s", self.cfg.min_shift)
                } else {
                    "easy = audio of another held-out file".to_string()
                },
            ),
            TaskKind::FrameOrder => format!(
                "frame order on {} files: (b,c,d)/(d,c,b) vs (b,a,d)/(b,e,d), {} frames apart, \
                 25% positives",
                self.cfg.eval_split, self.cfg.frame_order_gap
            ),
            TaskKind::LocalizeContrastive => format!(
                "in-batch: each {} frame against the batch's audio windows (one per file)",
                self.cfg.eval_split
            ),
        }
    }
}
