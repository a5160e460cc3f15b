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
//! - [`tasks`]: the pretext tasks (audio-visual correspondence, frame order, ...) as samplers and
//!   assemblers that plug into the one pipeline.
//! - [`models`]: tch networks (vision and audio towers, heads).
//! - [`training`]: the task-generic training loop, checkpoints, metrics.
//! - [`evaluation`]: AVC accuracy/AUC, localisation metrics (cIoU, AUC, pointing game, AP).
//! - [`io`] and [`viz`]: small shared formats (`.npy`, WAV, PNG) and pictures (colour maps, plots).
//!
//! Libraries never see clap: the binary turns flags into validated config structs.
#![deny(missing_docs)]

pub mod error;
pub mod evaluation;
pub mod features;
pub mod io;
pub mod media;
pub mod models;
pub mod pipeline;
pub mod synth;
pub mod tasks;
pub mod training;
pub mod viz;

pub use error::{Error, Result};
