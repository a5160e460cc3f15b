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
    /// The requested time lies outside the stream.
    #[error("{path}: time {t:.3}s is outside the {kind} stream [{start:.3}, {end:.3})")]
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

impl MediaError {
    /// Wraps an FFmpeg error with the file and what we were doing.
    pub(crate) fn ffmpeg(path: &std::path::Path, context: &'static str, source: ffmpeg_next::Error) -> Self {
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
            MediaError::OutOfRange { .. } => "out_of_range",
            MediaError::Truncated { .. } => "truncated",
            MediaError::Deadline { .. } => "deadline",
            MediaError::Encode { .. } => "encode",
            MediaError::Ffmpeg { .. } => "ffmpeg",
        }
    }
}
