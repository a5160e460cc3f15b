//! Video decoding to RGB frames at requested times.

use std::path::Path;
use std::time::Duration;

use super::{MediaError, VideoStreamInfo};

/// How frames are resized to the requested size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ResizeMode {
    /// Scale to exactly the requested width × height (aspect ratio may change).
    #[default]
    Stretch,
    /// Scale the shorter side to fit, then centre-crop to the requested size.
    ShorterSideCrop,
}

/// Options for [`VideoDecoder::open`].
#[derive(Debug, Clone)]
pub struct VideoOptions {
    /// Output size (width, height); `None` keeps the native size after rotation.
    pub size: Option<(u32, u32)>,
    /// How to resize when `size` is set.
    pub resize: ResizeMode,
    /// Decoder threads (1 for one-thread-per-worker pipelines).
    pub threads: usize,
    /// Wall-clock budget for all decoding done through this decoder.
    pub deadline: Option<Duration>,
    /// Apply rotation metadata (default true).
    pub apply_rotation: bool,
}

impl Default for VideoOptions {
    fn default() -> Self {
        VideoOptions {
            size: None,
            resize: ResizeMode::Stretch,
            threads: 1,
            deadline: Some(Duration::from_secs(60)),
            apply_rotation: true,
        }
    }
}

/// One decoded frame: packed RGB24, row-major, no padding.
#[derive(Debug, Clone)]
pub struct RgbFrame {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Presentation time in seconds on the container clock.
    pub pts: f64,
    /// `width * height * 3` bytes.
    pub data: Vec<u8>,
}

/// A video decoder owned by one thread. Sequential reads never re-seek; a request before the
/// current position, or far ahead of it, seeks to the previous keyframe and decodes forward.
pub struct VideoDecoder {
    _private: (),
}

impl VideoDecoder {
    /// Opens the best video stream of `path`.
    pub fn open(path: &Path, options: &VideoOptions) -> Result<Self, MediaError> {
        let _ = (path, options);
        todo!("issue #2")
    }

    /// Stream parameters.
    pub fn info(&self) -> &VideoStreamInfo {
        todo!("issue #2")
    }

    /// The frame being displayed at time `t` (seconds, container clock).
    pub fn frame_at(&mut self, t: f64) -> Result<RgbFrame, MediaError> {
        let _ = t;
        todo!("issue #2")
    }

    /// Frames displayed at each of `times` (any order; decoded in sorted order, returned in the
    /// order asked).
    pub fn frames_at(&mut self, times: &[f64]) -> Result<Vec<RgbFrame>, MediaError> {
        times.iter().map(|&t| self.frame_at(t)).collect()
    }

    /// The next frame in decode order, or `None` at the end of the stream.
    pub fn next_frame(&mut self) -> Result<Option<RgbFrame>, MediaError> {
        todo!("issue #2")
    }
}
