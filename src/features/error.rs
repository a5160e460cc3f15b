//! Typed errors of the feature module.

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
}
