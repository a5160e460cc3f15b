//! Opening a container: the checks and error classification shared by probe and the decoders.
//!
//! Before FFmpeg sees a path we stat and open it ourselves, so a missing file, a permission
//! problem, a folder and a zero-byte file each get their own typed error. FFmpeg's open failures
//! are then classified: unrecognised or malformed data is [`MediaError::NotMedia`], an interrupted
//! open is [`MediaError::Deadline`], and a container without any audio or video stream is
//! `NotMedia` too. Stream parameters are sanity-checked ([`check_dimensions`]) so absurd sizes
//! never reach a scaler or an allocation.

use std::path::Path;

use ffmpeg_next as ffmpeg;

use super::deadline::Deadline;
use super::ffi::{self, Demuxer};
use super::MediaError;

/// Largest accepted width or height, in pixels (16K video is 15360 wide).
pub(crate) const MAX_SIDE: i64 = 16_384;
/// Largest accepted pixel count per frame.
pub(crate) const MAX_PIXELS: i64 = 16_384 * 8_640;

/// Reads the next packet of `input` into `packet`, releasing the packet it held first.
///
/// `av_read_frame` fills its argument as if it were blank, and ffmpeg-next's `Packet::read`
/// does not unreference it first, so reading into one reused `Packet` leaked every packet's
/// buffer: about 30 KB per example of `pretext pairs`, 80 MB over 3,000 examples under
/// heaptrack (issue #26 §2). Assigning a blank packet drops (unreferences) the old one; the
/// decoder holds its own reference to whatever was sent to it.
pub(crate) fn read_packet(
    input: &mut ffmpeg::format::context::Input,
    packet: &mut ffmpeg::Packet,
) -> Result<(), ffmpeg::Error> {
    *packet = ffmpeg::Packet::empty();
    packet.read(input)
}

/// Opens `path` with FFmpeg after our own checks; FFmpeg's I/O stops at `deadline`.
pub(crate) fn open(path: &Path, deadline: &Deadline) -> Result<Demuxer, MediaError> {
    open_with(path, deadline, ffi::StreamInfo::Full)
}

/// [`open`] for a reader of audio only: skips the stream-info probe (which decodes video
/// frames) where the container header is enough; other streams' packets are discarded.
pub(crate) fn open_audio(path: &Path, deadline: &Deadline) -> Result<Demuxer, MediaError> {
    open_with(path, deadline, ffi::StreamInfo::AudioOnly)
}

/// [`open_audio`] for a reader of video only.
pub(crate) fn open_video(path: &Path, deadline: &Deadline) -> Result<Demuxer, MediaError> {
    open_with(path, deadline, ffi::StreamInfo::VideoOnly)
}

fn open_with(
    path: &Path,
    deadline: &Deadline,
    info: ffi::StreamInfo,
) -> Result<Demuxer, MediaError> {
    super::ensure_init();
    let meta = std::fs::metadata(path)
        .map_err(|source| MediaError::Io { path: path.to_path_buf(), source })?;
    if meta.is_dir() {
        return Err(MediaError::NotMedia {
            path: path.to_path_buf(),
            reason: "is a directory".into(),
        });
    }
    if !meta.is_file() {
        // FIFOs, sockets and devices can block forever on open or read.
        return Err(MediaError::NotMedia {
            path: path.to_path_buf(),
            reason: "not a regular file (pipe, socket or device)".into(),
        });
    }
    // Opening it ourselves turns permission problems into a clear I/O error.
    std::fs::File::open(path)
        .map_err(|source| MediaError::Io { path: path.to_path_buf(), source })?;
    if meta.len() == 0 {
        return Err(MediaError::Empty { path: path.to_path_buf() });
    }
    let demuxer = ffi::open_input(path, deadline.instant(), info).map_err(|e| {
        if deadline.expired() {
            return deadline.error(path);
        }
        match e {
            ffmpeg::Error::InvalidData
            | ffmpeg::Error::Eof
            | ffmpeg::Error::DemuxerNotFound
            | ffmpeg::Error::StreamNotFound
            | ffmpeg::Error::DecoderNotFound
            | ffmpeg::Error::PatchWelcome
            | ffmpeg::Error::Bug
            | ffmpeg::Error::Bug2 => {
                MediaError::NotMedia { path: path.to_path_buf(), reason: e.to_string() }
            }
            ffmpeg::Error::Other { errno } if errno == ffmpeg::ffi::EACCES => MediaError::Io {
                path: path.to_path_buf(),
                source: std::io::Error::from(std::io::ErrorKind::PermissionDenied),
            },
            ffmpeg::Error::Exit => deadline.error(path),
            other => MediaError::ffmpeg(path, "open", other),
        }
    })?;
    let has_av = demuxer.input.streams().any(|s| {
        matches!(s.parameters().medium(), ffmpeg::media::Type::Video | ffmpeg::media::Type::Audio)
    });
    if !has_av {
        return Err(MediaError::NotMedia {
            path: path.to_path_buf(),
            reason: format!(
                "the {} container holds no audio or video stream",
                demuxer.input.format().name()
            ),
        });
    }
    Ok(demuxer)
}

/// `Err(InvalidStream)` when a video stream's coded size is zero, negative or absurd.
pub(crate) fn check_dimensions(path: &Path, width: i64, height: i64) -> Result<(), MediaError> {
    let bad = |reason: String| Err(MediaError::InvalidStream { path: path.to_path_buf(), reason });
    if width <= 0 || height <= 0 {
        return bad(format!("video size {width}x{height} is empty"));
    }
    if width > MAX_SIDE || height > MAX_SIDE || width * height > MAX_PIXELS {
        return bad(format!(
            "video size {width}x{height} exceeds the limit of {MAX_SIDE} pixels per side \
             and {MAX_PIXELS} pixels per frame"
        ));
    }
    Ok(())
}

/// Seconds of `ts` in `time_base`, or `None` for FFmpeg's "no value".
pub(crate) fn seconds(ts: i64, time_base: ffmpeg::Rational) -> Option<f64> {
    if ts == ffmpeg::ffi::AV_NOPTS_VALUE || time_base.denominator() == 0 {
        return None;
    }
    Some(ts as f64 * f64::from(time_base.numerator()) / f64::from(time_base.denominator()))
}

/// A rational as f64, `None` when zero or undefined.
pub(crate) fn rate(r: ffmpeg::Rational) -> Option<f64> {
    (r.numerator() > 0 && r.denominator() > 0)
        .then(|| f64::from(r.numerator()) / f64::from(r.denominator()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dimension_limits() {
        let p = Path::new("a.mp4");
        assert!(check_dimensions(p, 1920, 1080).is_ok());
        assert_eq!(check_dimensions(p, 0, 10).unwrap_err().kind(), "invalid_stream");
        assert_eq!(check_dimensions(p, 100_000, 2).unwrap_err().kind(), "invalid_stream");
        assert_eq!(check_dimensions(p, 16_384, 16_384).unwrap_err().kind(), "invalid_stream");
    }

    #[test]
    fn seconds_from_time_base() {
        assert_eq!(seconds(12_800, ffmpeg::Rational::new(1, 12_800)), Some(1.0));
        assert_eq!(seconds(ffmpeg::ffi::AV_NOPTS_VALUE, ffmpeg::Rational::new(1, 10)), None);
        assert_eq!(rate(ffmpeg::Rational::new(0, 1)), None);
    }
}
