//! The [`DataSource`] over video folders: the streaming pipeline (`crate::pipeline`) fed with
//! the training files of a [`FileSplit`] and the task's training sampler, and a validation stream
//! over the held-out files with the task's evaluation sampler.
//!
//! - Training: an endless, seeded stream starting at sample `skip` (the checkpoint's position),
//!   with augmentation. Negatives are drawn among training files only.
//! - Validation: the held-out split (`val` or `test`), no augmentation, a fixed seed and file
//!   order, a fixed number of examples. It is decoded once and kept in memory (a few MB for the
//!   quick model), so every validation scores exactly the same examples.

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;

use super::{BatchIter, DataSource, FileSplit, TrainingError};
use crate::pipeline::{AugmentConfig, Batch, BatchStream, InputSpec, PipelineConfig, TaskData};

/// How to build the pipelines (everything not owned by the task or the input spec).
#[derive(Debug, Clone, Serialize)]
pub struct PipelineSourceConfig {
    /// Seed of the training stream (validation uses a derived fixed seed).
    pub seed: u64,
    /// Decode workers.
    pub decode_workers: usize,
    /// Feature (assembly, spectrogram, augmentation) workers.
    pub feature_workers: usize,
    /// Which held-out split validation reads: `val` or `test`.
    pub eval_split: String,
    /// Examples per validation.
    pub val_examples: u64,
    /// Examples each file yields per visit (the task may lower it).
    pub clips_per_file: usize,
    /// Probe-cache and quarantine folder (the run folder), if any.
    pub state_dir: Option<PathBuf>,
    /// Decode every file whole at index time and quarantine damaged ones.
    pub verify: bool,
}

/// The pipeline-backed data source.
pub struct PipelineSource {
    split: FileSplit,
    cfg: PipelineSourceConfig,
    train_task: Arc<dyn TaskData>,
    eval_task: Arc<dyn TaskData>,
    input: InputSpec,
    val_cache: RefCell<Option<(usize, Vec<Batch>)>>,
}

impl PipelineSource {
    /// Checks that the split has the held-out part validation reads.
    pub fn new(
        split: FileSplit,
        input: &InputSpec,
        train_task: Arc<dyn TaskData>,
        eval_task: Arc<dyn TaskData>,
        cfg: PipelineSourceConfig,
    ) -> Result<Self, TrainingError> {
        if split.get(&cfg.eval_split).is_none() {
            return Err(TrainingError::Config(format!("unknown split '{}'", cfg.eval_split)));
        }
        input.validate().map_err(TrainingError::Config)?;
        Ok(PipelineSource {
            split,
            cfg,
            train_task,
            eval_task,
            input: input.clone(),
            val_cache: RefCell::new(None),
        })
    }

    fn base(&self, files: Vec<PathBuf>, task: &Arc<dyn TaskData>) -> PipelineConfig {
        let mut c = PipelineConfig::new(files, task.clone(), self.input.clone());
        c.seed = self.cfg.seed;
        c.decode_workers = self.cfg.decode_workers.max(1);
        c.feature_workers = self.cfg.feature_workers.max(1);
        c.clips_per_file = self.cfg.clips_per_file;
        c.manifest = self.cfg.state_dir.as_ref().map(|d| d.join("manifest.json"));
        c.quarantine = self.cfg.state_dir.as_ref().map(|d| d.join("quarantine.jsonl"));
        c.verify = self.cfg.verify;
        c
    }

    fn start(cfg: PipelineConfig) -> Result<BatchStream, TrainingError> {
        BatchStream::start(cfg).map_err(|e| TrainingError::Data(e.to_string()))
    }
}

impl DataSource for PipelineSource {
    fn train(&self, skip: u64, batch: usize) -> Result<BatchIter, TrainingError> {
        if self.split.train.is_empty() {
            return Err(TrainingError::NoData("training"));
        }
        let mut cfg = self.base(self.split.train.clone(), &self.train_task);
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
        let mut cfg = self.base(files, &self.eval_task);
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
            "train_policy": self.train_task.describe(),
            "eval_policy": self.policy(),
        })
    }

    fn policy(&self) -> String {
        format!("{} ({} files)", self.eval_task.describe(), self.cfg.eval_split)
    }
}
