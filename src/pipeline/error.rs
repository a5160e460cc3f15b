//! Typed errors of the pipeline. Decode failures of single files are *not* errors here: they go
//! to the quarantine list and the stream carries on. What remains is fatal: bad configuration,
//! unwritable outputs, a panicked stage, or a feature extractor that cannot be built.

use std::path::PathBuf;

/// A fatal pipeline failure. The first one raised stops every stage.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PipelineError {
    /// A configuration value is invalid; the message names it and says why.
    #[error("invalid pipeline configuration: {0}")]
    Config(String),
    /// No usable input file: every file was missing, unreadable or quarantined.
    #[error(
        "no usable video file: {quarantined} of the {given} file(s) this stream reads were \
         quarantined (the quarantine list says why) and the rest are unreadable, too short or \
         lack a stream the task needs"
    )]
    NoFiles {
        /// Files given or discovered.
        given: usize,
        /// Files that were quarantined.
        quarantined: usize,
    },
    /// Walking an input folder failed.
    #[error("{path}: cannot list folder: {source}")]
    Walk {
        /// Folder concerned.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// Reading or writing a pipeline side file (manifest, quarantine, shard) failed.
    #[error("{path}: {what}: {source}")]
    File {
        /// File concerned.
        path: PathBuf,
        /// What we were doing.
        what: &'static str,
        /// Underlying error.
        source: std::io::Error,
    },
    /// A side file exists but cannot be parsed.
    #[error("{path}: malformed {what}: {reason}")]
    Malformed {
        /// File concerned.
        path: PathBuf,
        /// Which kind of file.
        what: &'static str,
        /// Parser message.
        reason: String,
    },
    /// The spectrogram extractor could not be built or used.
    #[error("spectrogram: {0}")]
    Features(#[from] crate::features::FeatureError),
    /// A stage thread panicked; the message is the panic payload.
    #[error("pipeline stage '{stage}' panicked: {message}")]
    Panic {
        /// Stage name.
        stage: String,
        /// Panic message.
        message: String,
    },
    /// Probing or decoding a file failed where no quarantine applies (inputs read for one file,
    /// outside a streaming run).
    #[error(transparent)]
    Media(Box<crate::media::MediaError>),
    /// A file's examples could not be decoded; the reason is the decoder's.
    #[error("{path}: {reason}")]
    Decode {
        /// File concerned.
        path: PathBuf,
        /// Why (the quarantine reason).
        reason: String,
    },
    /// The task cannot use this file (too short for its window, no audio stream, ...).
    #[error(
        "{path}: the {task} task cannot use this file (too short, or a stream it needs is missing)"
    )]
    Unusable {
        /// File concerned.
        path: PathBuf,
        /// The task's name.
        task: String,
    },
    /// An example's assembly failed; the message names the example and the reason.
    #[error("assembling example {seq}: {reason}")]
    Assemble {
        /// The example's sequence number.
        seq: u64,
        /// Why.
        reason: String,
    },
    /// The run was cancelled (Ctrl-C or a dropped consumer).
    #[error("pipeline cancelled")]
    Cancelled,
    /// The output folder already holds an earlier run's shards or sample index.
    #[error(
        "{dir} already holds an earlier run's output ({shards} shard(s) and samples.jsonl): choose \
         another folder, or replace it (pretext pairs --overwrite)"
    )]
    OutputExists {
        /// The output folder.
        dir: PathBuf,
        /// Shards found there.
        shards: usize,
    },
}

impl PipelineError {
    pub(crate) fn file(path: &std::path::Path, what: &'static str, source: std::io::Error) -> Self {
        PipelineError::File { path: path.to_path_buf(), what, source }
    }
}
