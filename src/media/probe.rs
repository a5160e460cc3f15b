//! Probing: what a media file holds (container, streams, durations, rotation), without decoding.
//!
//! `probe` opens the container (with the shared checks of `container::open`), reads the headers
//! and FFmpeg's stream info, and fills [`MediaInfo`] from the best video and audio streams. Rotation
//! comes from the display-matrix side data, as the clockwise quarter turn FFmpeg's CLI would
//! apply. Video streams with absurd dimensions are rejected here already, so a folder walk reports
//! them instead of a decoder failing later.

use std::path::{Path, PathBuf};

use serde::Serialize;

use ffmpeg_next as ffmpeg;

use super::container::{self, seconds};
use super::deadline::Deadline;
use super::{ffi, transform, MediaError};

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

/// Default time budget for probing one file.
pub const PROBE_DEADLINE: std::time::Duration = std::time::Duration::from_secs(20);

/// Probes one file. Never decodes more than needed to read the headers.
pub fn probe(path: &Path) -> Result<MediaInfo, MediaError> {
    let deadline = Deadline::after(Some(PROBE_DEADLINE));
    let demuxer = container::open(path, &deadline)?;
    let input = &demuxer.input;
    let duration = seconds(input.duration(), ffmpeg::Rational::new(1, ffmpeg::ffi::AV_TIME_BASE))
        .filter(|d| *d >= 0.0);
    Ok(MediaInfo {
        path: path.to_path_buf(),
        container: input.format().name().to_string(),
        duration,
        start_time: ffi::container_start_time(input).unwrap_or(0.0),
        video: video_info(path, input)?,
        audio: audio_info(input),
    })
}

/// The best video stream of an opened input (`None` when it has none; attached pictures such
/// as cover art are not video). Absurd dimensions are an error.
pub(crate) fn video_info(
    path: &Path,
    input: &ffmpeg::format::context::Input,
) -> Result<Option<VideoStreamInfo>, MediaError> {
    let best = input.streams().best(ffmpeg::media::Type::Video).filter(|s| {
        !s.disposition().contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC)
    });
    let Some(stream) = best else {
        return Ok(None);
    };
    let params = stream.parameters();
    let (w, h) = ffi::stream_dimensions(&params);
    container::check_dimensions(path, w, h)?;
    let tb = stream.time_base();
    let rotation = stream
        .side_data()
        .find(|sd| sd.kind() == ffmpeg::codec::packet::side_data::Type::DisplayMatrix)
        .and_then(|sd| transform::display_matrix_rotation(sd.data()))
        .map_or(0, transform::clockwise_quarter_turn);
    let start_time = seconds(stream.start_time(), tb).unwrap_or(0.0);
    Ok(Some(VideoStreamInfo {
        index: stream.index(),
        codec: params.id().name().to_string(),
        width: w as u32,
        height: h as u32,
        avg_fps: container::rate(stream.avg_frame_rate()),
        real_fps: container::rate(stream.rate()),
        frames: u64::try_from(stream.frames()).ok().filter(|&n| n > 0),
        rotation,
        start_time,
        duration: seconds(stream.duration(), tb).filter(|d| *d > 0.0),
    }))
}

/// The best audio stream of an opened input.
pub(crate) fn audio_info(input: &ffmpeg::format::context::Input) -> Option<AudioStreamInfo> {
    let stream = input.streams().best(ffmpeg::media::Type::Audio)?;
    let params = stream.parameters();
    let (channels, layout) = ffi::stream_layout(&params);
    let tb = stream.time_base();
    Some(AudioStreamInfo {
        index: stream.index(),
        codec: params.id().name().to_string(),
        sample_rate: ffi::stream_sample_rate(&params),
        channels,
        layout,
        start_time: seconds(stream.start_time(), tb).unwrap_or(0.0),
        duration: seconds(stream.duration(), tb).filter(|d| *d > 0.0),
    })
}
