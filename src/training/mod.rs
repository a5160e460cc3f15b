//! The task-generic training loop: batches stream in from a [`DataSource`] (the pipeline, or
//! the in-memory [`ToySource`]), one thread owns the model and the optimizer, checkpoints are
//! atomic `.safetensors` with optimizer state and data position, metrics go to `metrics.jsonl`
//! and `curves.png`.
//!
//! Pieces: [`TrainConfig`]/[`RunConfig`] (validated configuration), [`DeviceSpec`] (no silent
//! CPU fallback), [`AdamW`] (state that can be checkpointed), [`Ema`] (weight averaging),
//! [`Schedule`] (warm-up + cosine), [`TaskModel`] and [`MetricSet`] (the plug-in points a task
//! implements: its model's loss and scores, its named metrics), [`Trainer`] (the loop),
//! [`split_files`] (train/val/test by file). The trainer never names a task.

mod adamw;
pub mod checkpoint;
mod config;
pub mod cpu_budget;
mod device;
mod ema;
mod error;
mod metric;
mod pipeline_source;
mod run_log;
mod schedule;
mod source;
mod split;
mod task;
mod toy_source;
mod trainer;

pub use adamw::{AdamW, AdamWConfig};
pub use checkpoint::{read_checkpoint, CheckpointMeta};
pub use config::{parse_duration, RunConfig, TaskSpec, TrainConfig};
pub use device::DeviceSpec;
pub use ema::Ema;
pub use error::TrainingError;
pub use metric::{
    roc_auc, Accuracy, BalancedAccuracy, ByKind, KindCount, MeanHit, MeanValue, Metric, MetricSet,
    RocAuc, Scored,
};
pub use pipeline_source::{PipelineSource, PipelineSourceConfig};
pub use run_log::{plot_curves, read_series, MetricsLog};
pub use schedule::Schedule;
pub use source::{BatchIter, DataSource};
pub use split::{hash_split, split_files, FileSplit};
pub use task::{
    argmax_hits, classifier_scores, cross_entropy, Embeddings, Localize, Origins, PictureRow,
    StepOutput, TaskModel, TensorBatch,
};
pub use toy_source::ToySource;
pub use trainer::{evaluate, StepReport, StopReason, TrainOutcome, Trainer, ValReport};

/// What the trainer needs from a task besides data: its model (built under a VarStore root,
/// from the run's model configuration) and its metrics. `crate::tasks` implements it for every
/// registered task.
pub trait ModelFactory {
    /// Builds the task's model under `root`.
    fn build(
        &self,
        root: &tch::nn::Path,
        model: &crate::models::ModelConfig,
    ) -> Result<Box<dyn TaskModel>, TrainingError>;
    /// The task's metrics, the primary one first.
    fn metrics(&self) -> MetricSet;
}
