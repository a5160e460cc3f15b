//! `pretext`: self-supervised learning from video and sound.
//!
//! The crate is a library with a thin command-line front end (`src/main.rs`). Its modules name
//! the stages of the architecture (see `docs/architecture.md`):
//!
//! - [`media`]: probing, decoding video frames and audio windows on the container clock (FFmpeg,
//!   Symphonia), encoding for the synthetic world.
//! - [`features`]: spectrograms on rustfft/realfft with presets that reproduce published recipes.
//! - [`synth`]: a synthetic audio-visual world with ground truth.
//! - [`pipeline`]: bounded crossbeam stages that turn video folders into training examples.
//! - [`models`]: model configuration; with `torch`, the shared trunk (vision and audio towers
//!   returning every stage) and reusable head blocks.
//! - `training` (`torch`): the task-generic loop, metrics, checkpoints.
//! - `evaluation` (`torch`): localisation metrics (cIoU, AUC, pointing game, AP).
//! - [`tasks`]: the pretext tasks as plug-ins, one folder each (sampler and assembler for the
//!   pipeline; with `torch`, heads, objectives and metrics for the trainer) and their registry.
//! - [`io`] and [`viz`]: small shared formats (`.npy`, WAV, PNG) and pictures (colour maps, plots).
//!
//! Layers, lowest first: io/media/features, pipeline (and synth, viz), models, training,
//! evaluation, tasks, cli. A layer never imports a higher one; the plug-in traits live where
//! they are consumed (`pipeline::TaskData`, `training::TaskModel`), and tasks implement them.
//! Without the default `torch` feature only the data side is built.
//!
//! Libraries never see clap: the binary turns flags into validated config structs.
#![deny(missing_docs)]

pub mod error;
#[cfg(feature = "torch")]
pub mod evaluation;
pub mod features;
pub mod io;
pub mod media;
pub mod models;
pub mod pipeline;
pub mod synth;
pub mod tasks;
#[cfg(feature = "torch")]
pub mod training;
pub mod viz;

pub use error::{Error, Result};
