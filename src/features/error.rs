//! Typed errors of the feature module: each says which parameter or buffer is wrong and why.

/// A misconfigured or misused feature extractor.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// A parameter is out of range; the message names it.
    #[error("invalid spectrogram parameter: {0}")]
    InvalidParameter(String),
    /// An input or output buffer has the wrong length.
    #[error("buffer has {got} values, expected {expected}")]
    BufferSize {
        /// Length given.
        got: usize,
        /// Length expected.
        expected: usize,
    },
    /// Unknown preset name.
    #[error("unknown spectrogram preset '{0}' (choose vggish, l3, lvs or librosa)")]
    UnknownPreset(String),
    /// The waveform is too short to give a single frame.
    #[error("waveform has {got} samples but at least {needed} are needed for one frame")]
    TooShort {
        /// Samples given.
        got: usize,
        /// Fewest samples that give one frame.
        needed: usize,
    },
    /// The waveform holds a NaN or an infinity (decoders never produce these; a bug upstream).
    #[error("waveform sample {index} is not finite ({value})")]
    NonFinite {
        /// Index of the first bad sample.
        index: usize,
        /// Its value.
        value: f32,
    },
    /// The waveforms of one batch differ in length.
    #[error("batch waveform {index} has {got} samples, the first has {expected}")]
    RaggedBatch {
        /// Index of the first waveform whose length differs.
        index: usize,
        /// Its length.
        got: usize,
        /// Length of waveform 0.
        expected: usize,
    },
    /// The FFT backend rejected its buffers (an internal invariant broke).
    #[error("FFT failed: {0}")]
    Fft(String),
}
