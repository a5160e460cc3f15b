//! The streaming pipeline: bounded crossbeam stages that turn video folders into batches of
//! training examples without pre-extracting anything.
//!
//! ```text
//! discover → index ─(whole index)→ sample ⇉ decode×N ⇉ features×M ⇉ batch → consumer
//!            (manifest cache,        (jobs: one    (FFmpeg on     (augment,   (reorder by seq,
//!             quarantine)             per file)     the worker)    spectrogram) pack batches)
//! ```
//!
//! - Only plain buffers cross channels; FFmpeg contexts live on their decode worker, one
//!   spectrogram extractor lives on each feature worker.
//! - Determinism: every example's plan derives from `(seed, seq)` ([`sampler`]); a reorder
//!   buffer restores sequence order, so output does not depend on worker count or timing.
//! - Bounded memory: flow-control tokens cap the examples in flight; the index is the only
//!   structure that grows with the number of files.
//! - Failure isolation: files that fail to probe or decode are quarantined (JSON Lines) and
//!   never retried; their examples are dropped and the stream carries on.
//! - Shutdown: a dropped consumer, Ctrl-C (the cancel flag) or the first fatal error stops every
//!   thread; [`BatchStream`]'s `Drop` joins them all.
//!
//! - Tasks plug in through [`TaskData`] (sampler and assembler); examples are named fields
//!   ([`Field`], declared by [`FieldSpec`]) stacked by the batcher; what the model sees is one
//!   [`InputSpec`], and [`InputReader`] gives the same inputs for chosen moments of a file.
//!
//! Entry point: [`BatchStream::start`] with a validated [`PipelineConfig`].

mod augment;
mod batch;
mod batcher;
mod channel;
mod config;
mod decode;
mod discover;
mod error;
mod example;
mod featurize;
mod index;
mod input;
mod inputs;
mod manifest;
mod motion;
mod quarantine;
mod reorder;
pub mod sampler;
mod shard;
mod stats;
mod stream;
mod task;

pub use augment::{augment_into, Normalize};
pub use batch::{Batch, SampleMeta};
pub use batcher::pack;
pub use config::{AugmentConfig, PipelineConfig};
pub use discover::{discover, is_video, VIDEO_EXTENSIONS};
pub use error::PipelineError;
pub use example::{stack, BatchField, DType, Example, Field, FieldSpec, Values};
pub use input::{InputSpec, IMAGENET_MEAN, IMAGENET_STD};
pub use inputs::InputReader;
pub use manifest::{file_stamp, IndexEntry, Manifest, Verdict};
pub use motion::MotionProfile;
pub use quarantine::{Quarantine, QuarantineEntry};
pub use reorder::Reorder;
pub use shard::{ShardWriter, ShardWriterConfig};
pub use stats::{PipelineStats, Progress, StageStats};
pub use stream::BatchStream;
pub use task::{AssembleContext, AudioRead, AugmentParams, PlanContext, SampleSpec, TaskData};
