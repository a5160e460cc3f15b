//! Audio features: log spectrograms on rustfft/realfft with every parameter explicit, and named
//! presets that reproduce published recipes (VGGish, L3, LVS/EZ-VSL, librosa).
//!
//! The chain is [`window`] → [`stft`] → [`mel`] (or linear bins) → [`log_scale`], assembled by
//! [`Spectrogram`]. A [`Spectrogram`] owns its FFT plan, window, filterbank and scratch buffers,
//! so computing one example allocates nothing; one instance lives on each feature worker thread.
//! Per-frame loops are compiled for AVX2 and AVX-512 as well and picked at run time (`simd.rs`);
//! f64 power-of-two STFTs transform several frames at once, one per SIMD lane (`lane_fft.rs`).
//! [`Preset`] names the published recipes; `docs/spectrograms.md` documents the conventions
//! (frame counts, layouts) and how the golden tests pin them to the reference code.

mod error;
mod lane_fft;
pub mod log_scale;
pub mod mel;
mod preset;
mod simd;
mod spectrogram;
pub mod stft;
pub mod window;

pub use error::FeatureError;
pub use log_scale::{Affine, LogScale};
pub use mel::{Filterbank, MelConfig, MelFilterbank, MelNorm, MelScale};
pub use preset::Preset;
pub use spectrogram::{Frequency, Spectrogram, SpectrogramConfig};
pub use stft::{Amplitude, Detrend, Framing, PadMode, Precision, Scaling, Stft, StftConfig};
pub use window::{Symmetry, Window};
