//! Typed media errors. Each variant names the file and says what the caller can do.

use std::path::PathBuf;

/// An error while probing, decoding or encoding a media file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// The file could not be opened or read (missing, permissions, I/O failure).
    #[error("{path}: cannot read: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file is empty (zero bytes).
    #[error("{path}: file is empty (0 bytes)")]
    Empty {
        /// File concerned.
        path: PathBuf,
    },
    /// The bytes are not a container FFmpeg recognises (random bytes, text, truncated header).
    #[error("{path}: not a recognised media container: {reason}")]
    NotMedia {
        /// File concerned.
        path: PathBuf,
        /// What FFmpeg said.
        reason: String,
    },
    /// The container has no stream of the requested kind.
    #[error("{path}: no {kind} stream")]
    NoStream {
        /// File concerned.
        path: PathBuf,
        /// "video" or "audio".
        kind: &'static str,
    },
    /// The codec is not supported by any backend.
    #[error("{path}: unsupported {what}")]
    Unsupported {
        /// File concerned.
        path: PathBuf,
        /// What is unsupported (codec name, pixel format, ...).
        what: String,
    },
    /// The stream's parameters are out of the sane range (e.g. absurd dimensions).
    #[error("{path}: invalid stream parameters: {reason}")]
    InvalidStream {
        /// File concerned.
        path: PathBuf,
        /// Which parameter and why.
        reason: String,
    },
    /// Decoding failed: too many corrupt packets, or a fatal decoder error.
    #[error("{path}: corrupt data near {at_seconds:.3}s: {reason}")]
    Corrupt {
        /// File concerned.
        path: PathBuf,
        /// Approximate position on the container clock, in seconds.
        at_seconds: f64,
        /// What went wrong.
        reason: String,
    },
    /// The requested window of a stream is damaged (decode errors, concealed frames, missing
    /// samples, truncation): decoding it would return wrong data. Skip the file, or allow
    /// damaged data (`set_allow_damaged`, `--allow-damaged`) to get a best-effort decode.
    #[error(
        "{path}: {} is damaged: {}; its decode would be wrong (skip the file, or allow damaged \
         data for a best-effort decode)",
        window_text(stream, *start, *end),
        damage.summary()
    )]
    Damaged {
        /// File concerned.
        path: PathBuf,
        /// "video" or "audio".
        stream: &'static str,
        /// Start of the requested window (seconds, container clock).
        start: f64,
        /// End of the requested window (seconds; the time asked for, for one video frame).
        end: f64,
        /// The damage found in (or next to) that window.
        damage: super::Damage,
    },
    /// The request itself is out of bounds (a window too long for memory, a time no file has):
    /// change the request.
    #[error("{path}: request refused: {reason}")]
    Request {
        /// File concerned.
        path: PathBuf,
        /// Which limit the request exceeds.
        reason: String,
    },
    /// The requested time lies outside the stream.
    #[error("{path}: time {t:.3}s is outside the {kind} stream {}", stream_range(*start, *end))]
    OutOfRange {
        /// File concerned.
        path: PathBuf,
        /// "video" or "audio".
        kind: &'static str,
        /// Requested time (seconds).
        t: f64,
        /// Stream start (seconds).
        start: f64,
        /// Stream end (seconds).
        end: f64,
    },
    /// The stream ends before the time the container claims (truncated file, or a header that
    /// claims more frames than the file holds).
    #[error("{path}: {kind} stream ends at {ends_at:.3}s but the container claims {claimed:.3}s (truncated?); asked for {t:.3}s")]
    Truncated {
        /// File concerned.
        path: PathBuf,
        /// "video" or "audio".
        kind: &'static str,
        /// Requested time (seconds).
        t: f64,
        /// Where the decodable data ends (seconds).
        ends_at: f64,
        /// The end the container claims (seconds).
        claimed: f64,
    },
    /// The per-file deadline expired before decoding finished.
    #[error("{path}: decode deadline of {seconds:.1}s exceeded")]
    Deadline {
        /// File concerned.
        path: PathBuf,
        /// The deadline in seconds.
        seconds: f64,
    },
    /// Encoding (writing media) failed.
    #[error("{path}: cannot encode: {reason}")]
    Encode {
        /// File concerned.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// Any other FFmpeg failure, with context.
    #[error("{path}: ffmpeg: {context}: {source}")]
    Ffmpeg {
        /// File concerned.
        path: PathBuf,
        /// What we were doing.
        context: &'static str,
        /// FFmpeg's error.
        source: ffmpeg_next::Error,
    },
}

/// "the video frame at 1.000s" or "the audio in [1.000, 3.000)s".
fn window_text(stream: &str, start: f64, end: f64) -> String {
    if end > start {
        format!("the {stream} in [{start:.3}, {end:.3})s")
    } else {
        format!("the {stream} frame at {start:.3}s")
    }
}

/// `[start, end)`, or a sentence saying the end is unknown (no `inf` for users).
fn stream_range(start: f64, end: f64) -> String {
    if end.is_finite() {
        format!("[{start:.3}, {end:.3})")
    } else {
        format!("(it starts at {start:.3}s; its end is unknown)")
    }
}

impl MediaError {
    /// Wraps an FFmpeg error with the file and what we were doing.
    pub(crate) fn ffmpeg(
        path: &std::path::Path,
        context: &'static str,
        source: ffmpeg_next::Error,
    ) -> Self {
        MediaError::Ffmpeg { path: path.to_path_buf(), context, source }
    }

    /// The file this error concerns.
    pub fn path(&self) -> &std::path::Path {
        match self {
            MediaError::Io { path, .. }
            | MediaError::Empty { path }
            | MediaError::NotMedia { path, .. }
            | MediaError::NoStream { path, .. }
            | MediaError::Unsupported { path, .. }
            | MediaError::InvalidStream { path, .. }
            | MediaError::Corrupt { path, .. }
            | MediaError::Damaged { path, .. }
            | MediaError::Request { path, .. }
            | MediaError::OutOfRange { path, .. }
            | MediaError::Truncated { path, .. }
            | MediaError::Deadline { path, .. }
            | MediaError::Encode { path, .. }
            | MediaError::Ffmpeg { path, .. } => path,
        }
    }

    /// A short stable name of the error kind, for JSON reports and quarantine lists.
    pub fn kind(&self) -> &'static str {
        match self {
            MediaError::Io { .. } => "io",
            MediaError::Empty { .. } => "empty",
            MediaError::NotMedia { .. } => "not_media",
            MediaError::NoStream { .. } => "no_stream",
            MediaError::Unsupported { .. } => "unsupported",
            MediaError::InvalidStream { .. } => "invalid_stream",
            MediaError::Corrupt { .. } => "corrupt",
            MediaError::Damaged { .. } => "damaged",
            MediaError::Request { .. } => "request",
            MediaError::OutOfRange { .. } => "out_of_range",
            MediaError::Truncated { .. } => "truncated",
            MediaError::Deadline { .. } => "deadline",
            MediaError::Encode { .. } => "encode",
            MediaError::Ffmpeg { .. } => "ffmpeg",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_end_is_said_in_words() {
        let e = MediaError::OutOfRange {
            path: "a.mkv".into(),
            kind: "video",
            t: -1.0,
            start: 0.007,
            end: f64::INFINITY,
        };
        let text = e.to_string();
        assert!(!text.contains("inf"), "{text}");
        assert!(text.contains("starts at 0.007s; its end is unknown"), "{text}");
        let e = MediaError::OutOfRange {
            path: "a.mp4".into(),
            kind: "audio",
            t: 9.0,
            start: 0.0,
            end: 3.0,
        };
        assert!(e.to_string().contains("[0.000, 3.000)"), "{e}");
    }
}
