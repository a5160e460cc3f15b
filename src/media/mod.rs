//! Media ingest: probe containers, decode video frames and audio windows on the container clock,
//! and encode files (for the synthetic world).
//!
//! Design:
//! - Time always comes from `pts × time_base` of the stream, never from a frame index, so
//!   variable frame rate and streams that start at different times are handled. The frame
//!   returned "at t" is the one being displayed at t (the last frame with `pts <= t`).
//! - Every FFmpeg context and scaler is created and used on one thread; decoders are `!Send` by
//!   construction and only plain buffers ([`RgbFrame`], [`AudioClip`]) cross threads.
//! - Our own packet loop (never `packets()`), drain on EOF, flush after seek, and a per-file
//!   deadline bounding every decode, so a hostile file cannot hang a worker.
//! - Audio goes through Symphonia when it supports the codec and FFmpeg otherwise; both paths
//!   end in the same band-limited resampler and mono mix.
//! - Errors are typed ([`MediaError`]) and always name the file and the reason.

mod error;

pub use error::MediaError;

// The helper implementing issue #2 adds: probe.rs, video_decoder.rs, audio_decoder.rs,
// resampler.rs, walk.rs, encoder.rs and re-exports them here.

mod audio_decoder;
mod probe;
mod video_decoder;

pub use audio_decoder::{AudioClip, AudioDecoder, AudioOptions};
pub use probe::{probe, AudioStreamInfo, MediaInfo, VideoStreamInfo};
pub use video_decoder::{ResizeMode, RgbFrame, VideoDecoder, VideoOptions};
mod encoder;
pub use encoder::{Container, EncoderConfig, MediaEncoder};
