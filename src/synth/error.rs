//! Typed errors of the synthetic world: a bad option, a media or file failure naming the clip,
//! or a worker that panicked (reported, never propagated as a panic).

use std::path::PathBuf;

use crate::io::IoError;
use crate::media::MediaError;

/// An error while generating a synthetic world.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SynthError {
    /// An option is out of range; the message names it and the allowed values.
    #[error("invalid synth option: {0}")]
    Config(String),
    /// Encoding a clip failed.
    #[error(transparent)]
    Media(#[from] MediaError),
    /// Writing annotations, the README or a picture failed.
    #[error(transparent)]
    Io(#[from] IoError),
    /// Creating the output folder failed.
    #[error("{path}: cannot create the output folder: {source}")]
    OutDir {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A worker thread panicked while generating a clip (a bug: please report it).
    #[error("clip generation worker panicked: {0}")]
    Worker(String),
    /// Generation was cancelled before it finished.
    #[error("cancelled")]
    Cancelled,
}
