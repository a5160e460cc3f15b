//! The one integration-test binary. Fixtures are generated at test time (the `ffmpeg` CLI's lavfi
//! sources, `pretext synth`); nothing large is committed.

// Test helpers (outside #[test] functions) fail a test by panicking, which is what unwrap does.
#![allow(clippy::unwrap_used)]

mod common;

mod cli;
mod hostile;
mod localize;
mod media;
mod pipeline;
mod spectrogram;
mod synth;
mod training;
