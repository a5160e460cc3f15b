//! The task-generic training loop: batches stream in from a [`DataSource`] (the pipeline, or
//! the in-memory [`ToySource`]), one thread owns the model and the optimizer, checkpoints are
//! atomic `.safetensors` with optimizer state and data position, metrics go to `metrics.jsonl`
//! and `curves.png`.
//!
//! Pieces: [`TrainConfig`]/[`RunConfig`] (validated configuration), [`DeviceSpec`] (no silent
//! CPU fallback), [`AdamW`] (state that can be checkpointed), [`Ema`] (weight averaging),
//! [`Schedule`] (warm-up + cosine), [`TaskModel`] (the plug-in point for tasks), [`Trainer`]
//! (the loop), [`split_files`] (train/val/test by file).

mod adamw;
pub mod checkpoint;
mod config;
pub mod cpu_budget;
mod device;
mod ema;
mod error;
mod metrics;
mod pipeline_source;
mod schedule;
mod source;
mod split;
mod task;
mod toy_source;
mod trainer;

pub use adamw::{AdamW, AdamWConfig};
pub use checkpoint::{read_checkpoint, CheckpointMeta};
pub use config::{parse_duration, RunConfig, TaskKind, TrainConfig};
pub use device::DeviceSpec;
pub use ema::Ema;
pub use error::TrainingError;
pub use metrics::{plot_curves, read_series, MetricsLog};
pub use pipeline_source::{PipelineSource, PipelineSourceConfig};
pub use schedule::Schedule;
pub use source::{BatchIter, DataSource};
pub use split::{hash_split, split_files, FileSplit};
pub use task::{
    build_model, loss_of, ContrastiveLocalizer, InBatchAvc, Objective, TaskModel, TensorBatch,
};
pub use toy_source::ToySource;
pub use trainer::{
    eval_logits, predict, report_of, Predictions, StepReport, StopReason, TrainOutcome, Trainer,
    ValReport,
};
