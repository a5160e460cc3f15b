//! The crate-level error: one variant per module, each wrapping that module's own typed error.
//!
//! Modules define their own `thiserror` enums (for example [`crate::media::MediaError`]) whose
//! variants say what went wrong, with which file, and what the caller can do about it. This type
//! only joins them so that code spanning modules can use `?` across them.

use std::path::PathBuf;

/// Any error raised by `pretext`'s library.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Probing, decoding or encoding media failed.
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// A feature (spectrogram) computation was misconfigured.
    #[error(transparent)]
    Features(#[from] crate::features::FeatureError),
    /// The streaming pipeline failed (configuration, side files, a panicked stage).
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    /// Reading or writing a project file format failed.
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    /// Evaluation failed (localisation samples and maps, embeddings).
    #[cfg(feature = "torch")]
    #[error(transparent)]
    Evaluation(#[from] crate::evaluation::EvaluationError),
    /// A model could not be built or run.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// Training, checkpointing or evaluation failed.
    #[cfg(feature = "torch")]
    #[error(transparent)]
    Training(#[from] crate::training::TrainingError),
    /// A task is unknown or its options are invalid.
    #[error(transparent)]
    Task(#[from] crate::tasks::TaskError),
    /// Generating the synthetic world failed.
    #[error(transparent)]
    Synth(#[from] crate::synth::SynthError),
    /// A libtorch operation failed.
    #[cfg(feature = "torch")]
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A configuration value is invalid; the message says which and why.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A plain I/O error on a named path.
    #[error("{path}: {source}")]
    File {
        /// The path being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The operation was cancelled (Ctrl-C, a dropped consumer, or another stage's failure).
    #[error("cancelled")]
    Cancelled,
    /// Anything else, with a message that names the thing and the reason.
    #[error("{0}")]
    Other(String),
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Wraps an I/O error with the path it concerns.
    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::File { path: path.into(), source }
    }
}
