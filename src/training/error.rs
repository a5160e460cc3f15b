//! Typed errors of the training loop, checkpoints and run folders.

use std::path::PathBuf;

/// Training, checkpointing or evaluation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrainingError {
    /// `--device cuda[:N]` was asked for but libtorch sees no such CUDA device.
    #[error(
        "device '{requested}' requested but {reason}; use --device cpu (or auto) to train on the CPU"
    )]
    DeviceUnavailable {
        /// What was asked for.
        requested: String,
        /// Why it is not there.
        reason: String,
    },
    /// A training configuration value is invalid; the message says which and why.
    #[error("invalid training configuration: {0}")]
    Config(String),
    /// A checkpoint file is missing, unreadable or does not fit the model.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// `--resume` found nothing to resume from.
    #[error("cannot resume: no checkpoint in {0}")]
    NothingToResume(PathBuf),
    /// The data source yielded no batch at all.
    #[error("no {0} data: the data source produced no batch (check --data and the split)")]
    NoData(&'static str),
    /// A batch does not fit the task (missing spectrograms, bad shapes, ...).
    #[error("bad batch: {0}")]
    Batch(String),
    /// The loss became NaN or infinite.
    #[error("loss is not finite at step {step} ({loss}); lower the learning rate")]
    Diverged {
        /// The step.
        step: u64,
        /// The loss value.
        loss: f64,
    },
    /// Writing or reading a run file failed.
    #[error("{path}: {source}")]
    File {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// Drawing the curves failed.
    #[error("plot {path}: {reason}")]
    Plot {
        /// The PNG.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The model could not be built or run.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// A shared file format failed.
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    /// A libtorch operation failed.
    #[error("libtorch: {0}")]
    Torch(#[from] tch::TchError),
    /// The data pipeline failed.
    #[error("data: {0}")]
    Data(String),
}

impl TrainingError {
    pub(crate) fn file(path: &std::path::Path, source: std::io::Error) -> Self {
        TrainingError::File { path: path.to_path_buf(), source }
    }
}
