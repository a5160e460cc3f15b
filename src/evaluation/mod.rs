//! Evaluation beyond a task's own validation metrics (those live with each task, through
//! `training::MetricSet`): the sound-source localisation metrics (cIoU, AUC, pointing game,
//! AP/max-F1) exactly as published, over any model whose task draws localisation maps; and
//! per-clip embeddings of video files through the one input path; the contact sheet of tasks
//! whose output is a picture; and how good a trunk's frozen features are ([`probe`]: per-layer
//! linear probes, weighted kNN and retrieval, over a feature cache).

pub mod embed;
mod error;
pub mod localization;
mod picture_sheet;
pub mod probe;

pub use embed::{embed_file, window_centres, EmbeddedClip, FileEmbeddings};
pub use error::{EvaluationError, Result};
pub use picture_sheet::picture_sheet;
