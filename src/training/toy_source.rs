//! An in-memory [`DataSource`] with learnable structure, for tests, smoke runs (`--data toy`) and
//! `pretext bench train` (where it measures the trainer alone, with no decoding). The examples
//! are the task's own toy data ([`TaskData::toy_example`]), each drawn from a ChaCha stream
//! seeded by `(seed, stream, index)`, so any example can be regenerated on its own: skipping is
//! exact.

use std::sync::Arc;

use super::{BatchIter, DataSource, TrainingError};
use crate::pipeline::sampler::item_rng;
use crate::pipeline::{pack, Batch, InputSpec, TaskData};

/// Generated data for a task.
#[derive(Clone)]
pub struct ToySource {
    train_task: Arc<dyn TaskData>,
    eval_task: Arc<dyn TaskData>,
    /// What the model sees (frame size, spectrogram shape).
    pub input: InputSpec,
    /// Seed of the streams.
    pub seed: u64,
    /// Validation examples.
    pub val_examples: usize,
}

impl std::fmt::Debug for ToySource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ToySource").field("task", &self.train_task.name()).finish_non_exhaustive()
    }
}

/// Stream tag of the toy examples.
const TAG_TOY: u64 = 0x70_79;

impl ToySource {
    /// A source for the task whose training and evaluation samplers are given.
    pub fn new(
        train_task: Arc<dyn TaskData>,
        eval_task: Arc<dyn TaskData>,
        input: InputSpec,
        seed: u64,
    ) -> Self {
        ToySource { train_task, eval_task, input, seed, val_examples: 256 }
    }

    /// The batch of examples `start..start + n` of stream `stream` (0 train, 1 val).
    pub fn batch(&self, stream: u64, start: u64, n: usize) -> Result<Batch, TrainingError> {
        let task = if stream == 0 { &self.train_task } else { &self.eval_task };
        let mut examples: Vec<_> = (start..start + n as u64)
            .map(|i| {
                let mut rng = item_rng(self.seed ^ stream.wrapping_mul(0x9E37_79B9), i, TAG_TOY);
                task.toy_example(&self.input, i, &mut rng)
            })
            .collect();
        pack(&mut examples, &task.fields(&self.input))
            .map_err(|e| TrainingError::Data(e.to_string()))
    }
}

impl DataSource for ToySource {
    fn train(&self, skip: u64, batch: usize) -> Result<BatchIter, TrainingError> {
        let me = self.clone();
        let mut next = skip;
        Ok(Box::new(std::iter::from_fn(move || {
            let b = me.batch(0, next, batch);
            next += batch as u64;
            Some(b)
        })))
    }

    fn val(&self, batch: usize) -> Result<BatchIter, TrainingError> {
        let me = self.clone();
        let total = self.val_examples as u64;
        let mut next = 0u64;
        Ok(Box::new(std::iter::from_fn(move || {
            if next >= total {
                return None;
            }
            let n = (total - next).min(batch as u64) as usize;
            let b = me.batch(1, next, n);
            next += n as u64;
            Some(b)
        })))
    }

    fn describe(&self) -> serde_json::Value {
        serde_json::json!({
            "source": "toy",
            "task": self.train_task.name(),
            "seed": self.seed,
            "val_examples": self.val_examples,
        })
    }

    fn policy(&self) -> String {
        format!("toy data: {}", self.eval_task.describe())
    }
}
