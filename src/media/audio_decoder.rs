//! Audio decoding to f32 windows at a requested rate on the container clock.

use std::path::Path;
use std::time::Duration;

use super::{AudioStreamInfo, MediaError};

/// Options for [`AudioDecoder::open`].
#[derive(Debug, Clone)]
pub struct AudioOptions {
    /// Output sample rate in Hz.
    pub sample_rate: u32,
    /// Mix to mono by channel mean (default) or keep every channel (interleaved).
    pub mono: bool,
    /// Wall-clock budget for all decoding done through this decoder.
    pub deadline: Option<Duration>,
}

impl Default for AudioOptions {
    fn default() -> Self {
        AudioOptions { sample_rate: 16_000, mono: true, deadline: Some(Duration::from_secs(60)) }
    }
}

/// A window of decoded audio.
#[derive(Debug, Clone)]
pub struct AudioClip {
    /// Sample rate in Hz.
    pub sample_rate: u32,
    /// Channels (1 when mixed to mono).
    pub channels: u16,
    /// Start of the window in seconds on the container clock.
    pub start: f64,
    /// Interleaved samples in [-1, 1]; zero where the stream has no samples.
    pub samples: Vec<f32>,
}

/// An audio decoder owned by one thread.
pub struct AudioDecoder {
    _private: (),
}

impl AudioDecoder {
    /// Opens the best audio stream of `path`.
    pub fn open(path: &Path, options: &AudioOptions) -> Result<Self, MediaError> {
        let _ = (path, options);
        todo!("issue #2")
    }

    /// Stream parameters (of the source stream, before resampling).
    pub fn info(&self) -> &AudioStreamInfo {
        todo!("issue #2")
    }

    /// Samples in `[start, start + duration)` seconds on the container clock, at the output rate:
    /// exactly `round(duration * rate)` frames, zero-padded where the stream has none.
    pub fn read(&mut self, start: f64, duration: f64) -> Result<AudioClip, MediaError> {
        let _ = (start, duration);
        todo!("issue #2")
    }
}
