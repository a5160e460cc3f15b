//! Audio features: log spectrograms on rustfft/realfft with every parameter explicit, and named
//! presets that reproduce published recipes (VGGish, L3, LVS/EZ-VSL, librosa).
//!
//! A [`Spectrogram`] owns its FFT plan, window, filterbank and scratch buffers, so computing one
//! example allocates nothing; one instance lives on each feature worker thread.

mod error;
mod spectrogram;

pub use error::FeatureError;
pub use spectrogram::{Preset, Spectrogram, SpectrogramConfig};
