//! What the trainer needs from data: a [`DataSource`] hands out a training stream that can start
//! at any example (so `--resume` continues where the checkpoint was taken) and a fixed
//! validation stream over held-out files. The pipeline implements it over video folders;
//! [`super::ToySource`] implements it in memory for tests and benchmarks.

use crate::pipeline::Batch;

use super::TrainingError;

/// A stream of batches; a dropped stream must stop its producer threads.
pub type BatchIter = Box<dyn Iterator<Item = Result<Batch, TrainingError>>>;

/// Training and validation batches for one task.
pub trait DataSource {
    /// The training stream, skipping the first `skip` examples of the deterministic order
    /// (the pipeline position recorded in a checkpoint). It may end (one epoch); the trainer
    /// then asks again with the new position.
    fn train(&self, skip: u64, batch: usize) -> Result<BatchIter, TrainingError>;

    /// The validation stream: the same examples, in the same order, every time.
    fn val(&self, batch: usize) -> Result<BatchIter, TrainingError>;

    /// A description for `RUN/config.json` (folders, split sizes, sampling parameters).
    fn describe(&self) -> serde_json::Value;

    /// How validation examples are drawn (negatives, ratios), written next to every metric.
    fn policy(&self) -> String;
}
