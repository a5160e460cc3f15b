//! The one integration-test binary. Fixtures are generated at test time (the `ffmpeg` CLI's lavfi
//! sources, `pretext synth`); nothing large is committed. Without the `torch` feature the data
//! side's tests run alone (`cargo test --no-default-features`).

// Test helpers (outside #[test] functions) fail a test by panicking, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;

mod cli;
mod hostile;
#[cfg(feature = "torch")]
mod localize;
mod media;
mod pipeline;
#[cfg(feature = "torch")]
mod probe;
mod spectrogram;
mod synth;
#[cfg(feature = "torch")]
mod training;
