//! Probing: what a media file holds (container, streams, durations, rotation), without decoding.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::MediaError;

/// What `probe` learns about one file.
#[derive(Debug, Clone, Serialize)]
pub struct MediaInfo {
    /// The file probed.
    pub path: PathBuf,
    /// Container format name (e.g. "mov,mp4,m4a,3gp,3g2,mj2").
    pub container: String,
    /// Container duration in seconds, when known.
    pub duration: Option<f64>,
    /// Container start time in seconds.
    pub start_time: f64,
    /// The best video stream, if any.
    pub video: Option<VideoStreamInfo>,
    /// The best audio stream, if any.
    pub audio: Option<AudioStreamInfo>,
}

/// A video stream's parameters.
#[derive(Debug, Clone, Serialize)]
pub struct VideoStreamInfo {
    /// Stream index in the container.
    pub index: usize,
    /// Codec name.
    pub codec: String,
    /// Coded width in pixels (before rotation).
    pub width: u32,
    /// Coded height in pixels (before rotation).
    pub height: u32,
    /// Average frame rate (frames/s), when known.
    pub avg_fps: Option<f64>,
    /// Real base frame rate (frames/s), when known.
    pub real_fps: Option<f64>,
    /// Frame count from the container header, when known (may be wrong: never trusted).
    pub frames: Option<u64>,
    /// Display rotation in degrees clockwise (0, 90, 180, 270).
    pub rotation: i32,
    /// Stream start time in seconds on the container clock.
    pub start_time: f64,
    /// Stream duration in seconds, when known.
    pub duration: Option<f64>,
}

/// An audio stream's parameters.
#[derive(Debug, Clone, Serialize)]
pub struct AudioStreamInfo {
    /// Stream index in the container.
    pub index: usize,
    /// Codec name.
    pub codec: String,
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channel count.
    pub channels: u16,
    /// Channel layout description (e.g. "stereo").
    pub layout: String,
    /// Stream start time in seconds on the container clock.
    pub start_time: f64,
    /// Stream duration in seconds, when known.
    pub duration: Option<f64>,
}

/// Probes one file. Never decodes more than needed to read the headers.
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    let _ = path;
    todo!("issue #2: implement probe")
}
