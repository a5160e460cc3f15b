//! Errors of the task layer: the registry and task options, and what resolving a recipe,
//! opening a task's data or restoring a checkpoint's task and model can meet below.

use std::path::PathBuf;

/// A task could not be found, built, resolved or restored.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TaskError {
    /// No task of this name is registered.
    #[error(
        "unknown task '{name}': the registered tasks are {known} (`pretext tasks` lists them)"
    )]
    Unknown {
        /// The name asked for.
        name: String,
        /// The registered names.
        known: String,
    },
    /// The task's options are invalid; the reason names the key.
    #[error("task {task}: {reason} (`pretext tasks` lists the options)")]
    Options {
        /// The task.
        task: String,
        /// What is wrong.
        reason: String,
    },
    /// A recipe or data setting is invalid; the message says which and why.
    #[error("{0}")]
    Config(String),
    /// A preset or model configuration failed.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// Training settings, checkpoints, splits or data sources failed.
    #[cfg(feature = "torch")]
    #[error(transparent)]
    Training(#[from] crate::training::TrainingError),
    /// A shared file format failed.
    #[error(transparent)]
    Io(#[from] crate::io::IoError),
    /// A plain I/O error on a named path.
    #[error("{path}: {source}")]
    File {
        /// The path.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
}

impl TaskError {
    /// Wraps an I/O error with the path it concerns.
    pub fn file(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TaskError::File { path: path.into(), source }
    }
}
