//! Typed errors for the shared file formats.

use std::path::PathBuf;

/// Reading or writing a project file format failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IoError {
    /// The operating system refused (missing file, permissions, full disk, ...).
    #[error("{path}: {source}")]
    Os {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The file exists but its content is not the expected format.
    #[error("{path}: not a valid {format} file: {reason}")]
    Format {
        /// File concerned.
        path: PathBuf,
        /// The expected format (e.g. "npy").
        format: &'static str,
        /// What is wrong.
        reason: String,
    },
}

impl IoError {
    pub(crate) fn os(path: &std::path::Path, source: std::io::Error) -> Self {
        IoError::Os { path: path.to_path_buf(), source }
    }
}
