//! Media ingest: probe containers, decode video frames and audio windows on the container clock,
//! and walk folders for media files.
//!
//! Design:
//! - Time always comes from `pts × time_base` of the stream, never from a frame index, so
//!   variable frame rate and streams that start at different times are handled. The frame
//!   returned "at t" is the one being displayed at t (the last frame with `pts <= t`).
//! - Every FFmpeg context and scaler is created and used on one thread; decoders are `!Send` by
//!   construction and only plain buffers ([`RgbFrame`], [`AudioClip`]) cross threads.
//! - Our own packet loop (never `packets()`), drain on EOF, flush after seek, and a per-file
//!   deadline bounding every decode (also wired to FFmpeg's interrupt callback), so a hostile
//!   file cannot hang a worker.
//! - Audio goes through Symphonia when it supports the codec and FFmpeg otherwise; both paths
//!   end in the same band-limited resampler ([`resampler`]) and mono mix.
//! - Errors are typed ([`MediaError`]) and always name the file and the reason.
//! - Damaged data never passes as good (issue #26): the decoders record damage by stream, kind
//!   and time ([`Damage`]: failed packets, errors FFmpeg logs per decoder, corrupt-flagged
//!   frames, demuxer failures, checksum mismatches, timestamp gaps, truncation), and a frame or
//!   window that meets it is [`MediaError::Damaged`] unless the caller allows damaged data.
//!   [`verify`] decodes a whole file and lists its damage; [`probe`] runs the cheap structural
//!   check ([`structure`]) that finds files cut short.
//! - All `unsafe` FFmpeg calls live in `ffi.rs`; the rest of the module denies `unsafe`.
#![deny(unsafe_code)]

mod audio_decoder;
mod container;
mod damage;
mod deadline;
mod error;
mod ffi;
mod probe;
pub mod resampler;
mod transform;
mod verify;
mod video_decoder;
mod walk;

pub use audio_decoder::{
    AudioBackend, AudioClip, AudioDecoder, AudioOptions, MAX_TIME_S, MAX_WINDOW_SAMPLES,
    TRUNCATION_SLACK_S,
};
pub use damage::{Damage, DamageKind, DamageSpan};
pub use error::MediaError;
pub use probe::{probe, AudioStreamInfo, MediaInfo, VideoStreamInfo, PROBE_DEADLINE};
pub use verify::{structure, verify, StreamCheck, Truncation, Verification};
pub use video_decoder::{
    ResizeMode, RgbFrame, VideoDecoder, VideoOptions, MIN_SEEK_GAIN_S, SEEK_AHEAD_S,
};
pub use walk::{discover, is_media_extension, MEDIA_EXTENSIONS};

/// Initialises FFmpeg once per process and routes its log to the damage counters (errors reach
/// callers as [`MediaError`]s instead of stderr noise). Called by every entry point of this
/// module.
pub fn ensure_init() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        // init() only fails on builds without any codec registered; decoding would then report
        // typed errors per file, so the result is not needed here.
        let _ = ffmpeg_next::init();
        // FFmpeg's log goes to our callback, which counts each decoder's error messages as
        // damage and prints nothing.
        ffi::install_log_callback();
    });
}

mod encoder;
pub use encoder::{Container, EncoderConfig, MediaEncoder};
