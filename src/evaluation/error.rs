//! The evaluation layer's error: what went wrong while reading samples, running a model over
//! them or writing the results, with the lower layers' typed errors inside.

use std::path::PathBuf;

/// Evaluation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EvaluationError {
    /// Localisation samples, annotations or maps were invalid.
    #[error(transparent)]
    Localization(#[from] super::localization::LocalizationError),
    /// Probing, decoding or encoding media failed.
    #[error(transparent)]
    Media(#[from] crate::media::MediaError),
    /// Reading a file's model inputs failed.
    #[error(transparent)]
    Pipeline(#[from] crate::pipeline::PipelineError),
    /// A spectrogram could not be computed.
    #[error(transparent)]
    Features(#[from] crate::features::FeatureError),
    /// The model or its checkpoint failed.
    #[error(transparent)]
    Training(#[from] crate::training::TrainingError),
    /// A shared file format failed.
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    /// A label file or annotation could not be used.
    #[error(transparent)]
    Labels(#[from] super::probe::LabelError),
    /// A model could not be built.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// A libtorch operation failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// A setting or an input does not fit; the message says which and why.
    #[error("{0}")]
    Config(String),
    /// A plain I/O error on a named path.
    #[error("{path}: {source}")]
    File {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Anything else, with a message naming the thing and the reason.
    #[error("{0}")]
    Other(String),
}

impl EvaluationError {
    /// Wraps an I/O error with the path it concerns.
    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        EvaluationError::File { path: path.into(), source }
    }
}

/// Result with [`EvaluationError`].
pub type Result<T, E = EvaluationError> = std::result::Result<T, E>;
