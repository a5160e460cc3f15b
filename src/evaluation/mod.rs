//! Evaluation beyond a task's own validation metrics (those live with each task, through
//! `training::MetricSet`): the sound-source localisation metrics (cIoU, AUC, pointing game,
//! AP/max-F1) exactly as published, over any model whose task draws localisation maps; and
//! per-clip embeddings of video files through the one input path.

pub mod embed;
mod error;
pub mod localization;

pub use embed::{embed_file, window_centres, EmbeddedClip, FileEmbeddings};
pub use error::{EvaluationError, Result};
