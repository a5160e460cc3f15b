//! Typed errors of the localisation evaluator: unreadable annotation files, maps whose
//! shapes do not agree, and settings out of range.

use std::path::PathBuf;

/// Localisation evaluation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LocalizationError {
    /// An annotation file could not be read from disk.
    #[error("{path}: {source}")]
    Io {
        /// File concerned.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// An annotation file was read but is not in the expected format.
    #[error("{path}: not a valid {format} annotation: {reason}")]
    Parse {
        /// File concerned.
        path: PathBuf,
        /// Expected format ("flickr xml", "vggss json", "synth jsonl").
        format: &'static str,
        /// What is wrong, with a line or element where known.
        reason: String,
    },
    /// A map does not have the size its dimensions claim, or a dimension is zero.
    #[error("{what}: expected {expected} values, got {got}")]
    Shape {
        /// Which map.
        what: &'static str,
        /// Expected number of values.
        expected: usize,
        /// Actual number of values.
        got: usize,
    },
    /// A setting is out of its range (the message names it and the range).
    #[error("{0}")]
    Invalid(String),
}
