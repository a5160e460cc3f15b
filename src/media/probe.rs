//! Probing: what a media file holds (container, streams, durations, rotation), without decoding.
//!
//! `probe` opens the container (with the shared checks of `container::open`), reads the headers
//! and FFmpeg's stream info, and fills [`MediaInfo`] from the best video and audio streams. Rotation
//! comes from the display-matrix side data, as the clockwise quarter turn FFmpeg's CLI would
//! apply. Video streams with absurd dimensions are rejected here already, so a folder walk reports
//! them instead of a decoder failing later.
//!
//! Each stream's extent is `[start_time, end)` on the container clock. Its duration comes from
//! the stream; Matroska and WebM store none per stream, so there it comes from the stream's
//! `DURATION` tag (FFmpeg's muxer writes the stream's end time there) or else from the
//! container's end. [`MediaInfo::integrity`] holds what a cheap structural check found (see
//! `verify::structure`): a file shorter than its container says is truncated.

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
    /// Damage a cheap structural check found without decoding (truncation); `None` when the
    /// file's structure is whole. `pretext probe --verify` decodes everything instead.
    pub integrity: Option<super::verify::Truncation>,
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
    /// Stream duration in seconds, when known (see the module docs for where it comes from).
    pub duration: Option<f64>,
    /// End of the stream on the container clock (`start_time + duration`), when known: frame
    /// times to sample lie in `[start_time, end)`.
    pub end: Option<f64>,
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
    /// Stream duration in seconds, when known (see the module docs for where it comes from).
    pub duration: Option<f64>,
    /// End of the stream on the container clock (`start_time + duration`), when known.
    pub end: Option<f64>,
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
    let video = video_info(path, input)?;
    let audio = audio_info(input);
    let integrity = super::verify::structure(path, input.format().name());
    Ok(MediaInfo {
        path: path.to_path_buf(),
        container: input.format().name().to_string(),
        duration,
        start_time: ffi::container_start_time(input).unwrap_or(0.0),
        video,
        audio,
        integrity,
    })
}

/// The container's end on its clock (`start_time + duration`), when known.
fn container_end(input: &ffmpeg::format::context::Input) -> Option<f64> {
    let d = seconds(input.duration(), ffmpeg::Rational::new(1, ffmpeg::ffi::AV_TIME_BASE))
        .filter(|d| *d > 0.0)?;
    Some(ffi::container_start_time(input).unwrap_or(0.0) + d)
}

/// `HH:MM:SS.fffffffff` (Matroska's `DURATION` tag) in seconds.
fn parse_clock(text: &str) -> Option<f64> {
    let mut parts = text.trim().split(':');
    let (h, m, s) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let v =
        h.parse::<f64>().ok()? * 3600.0 + m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?;
    (v.is_finite() && v > 0.0).then_some(v)
}

/// A stream's duration: its own, else (Matroska) its `DURATION` tag, which FFmpeg's muxer
/// fills with the stream's end time, else the container's end minus the stream's start.
fn stream_duration(
    input: &ffmpeg::format::context::Input,
    stream: &ffmpeg::format::stream::Stream,
    start: f64,
) -> Option<f64> {
    if let Some(d) = seconds(stream.duration(), stream.time_base()).filter(|d| *d > 0.0) {
        return Some(d);
    }
    let tag = stream.metadata().get("DURATION").and_then(parse_clock);
    let end = tag.filter(|e| *e > start).or_else(|| container_end(input))?;
    Some(end - start).filter(|d| *d > 0.0)
}

/// The best video stream of an opened input (`None` when it has none; attached pictures such
/// as cover art are not video). Absurd dimensions are an error.
pub(crate) fn video_info(
    path: &Path,
    input: &ffmpeg::format::context::Input,
) -> Result<Option<VideoStreamInfo>, MediaError> {
    let best = input
        .streams()
        .best(ffmpeg::media::Type::Video)
        .filter(|s| !s.disposition().contains(ffmpeg::format::stream::Disposition::ATTACHED_PIC));
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
    let duration = stream_duration(input, &stream, start_time);
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
        duration,
        end: duration.map(|d| start_time + d),
    }))
}

/// The best audio stream of an opened input.
pub(crate) fn audio_info(input: &ffmpeg::format::context::Input) -> Option<AudioStreamInfo> {
    let stream = input.streams().best(ffmpeg::media::Type::Audio)?;
    let params = stream.parameters();
    let (channels, layout) = ffi::stream_layout(&params);
    let start_time = seconds(stream.start_time(), stream.time_base()).unwrap_or(0.0);
    let duration = stream_duration(input, &stream, start_time);
    Some(AudioStreamInfo {
        index: stream.index(),
        codec: params.id().name().to_string(),
        sample_rate: ffi::stream_sample_rate(&params),
        channels,
        layout,
        start_time,
        duration,
        end: duration.map(|d| start_time + d),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matroska_duration_tags_parse() {
        assert_eq!(parse_clock("00:00:06.007000000"), Some(6.007));
        assert_eq!(parse_clock("01:02:03.5"), Some(3723.5));
        assert_eq!(parse_clock("6.0"), None);
        assert_eq!(parse_clock("00:00:00.000"), None);
        assert_eq!(parse_clock("a:b:c"), None);
    }
}
