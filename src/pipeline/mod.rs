//! The streaming pipeline: bounded crossbeam stages that turn video folders into batches of
//! training examples without pre-extracting anything.
//!
//! discover → index → sample → decode workers → feature workers → assemble → batch → consumer.
//! Only plain buffers cross channels; FFmpeg contexts live on their decode worker.

mod batch;

pub use batch::{Batch, SampleMeta};
