//! Typed errors for building and running models.

/// Building, loading or running a model failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// `--model NAME` names no shipped preset.
    #[error("unknown model preset '{name}' (known: {known})")]
    UnknownPreset {
        /// The requested name.
        name: String,
        /// The shipped names.
        known: String,
    },
    /// A model configuration value is invalid; the message says which and why.
    #[error("invalid model configuration: {0}")]
    Config(String),
    /// An input tensor does not have the shape the model expects.
    #[error("{what}: expected {expected}, got shape {got:?}")]
    Shape {
        /// Which input.
        what: &'static str,
        /// The expected layout.
        expected: String,
        /// The shape received.
        got: Vec<i64>,
    },
    /// The model has no such tower (a vision-only task's trunk has no audio tower).
    #[error("this model has no {0} tower")]
    NoTower(&'static str),
    /// A libtorch operation failed.
    #[cfg(feature = "torch")]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
}
