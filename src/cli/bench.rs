//! `pretext bench`: benchmarks that measure pretext and a reference in the same run.

use std::process::ExitCode;

use super::bench_spectrogram;

/// Measure speed against the reference tools, side by side in one run.
// Parsed once per process: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Training samples/s and data-wait share (optionally against PyTorch).
    #[cfg(feature = "torch")]
    Train(super::bench_train::Args),
    /// Decode every video frame to 224x224 RGB on one thread, pretext vs the ffmpeg CLI.
    Decode(super::bench_decode::Args),
    /// Spectrograms per second on one thread, against librosa and torchaudio.
    Spectrogram(bench_spectrogram::Args),
    /// Pipeline samples/s for any task (1 worker, all cores) vs the Python PyAV+librosa
    /// reference (AVC pairs).
    Pipeline(super::bench_pipeline::Args),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        #[cfg(feature = "torch")]
        Command::Train(a) => super::bench_train::run(a),
        Command::Decode(a) => super::bench_decode::run(a),
        Command::Spectrogram(a) => bench_spectrogram::run(a),
        Command::Pipeline(a) => super::bench_pipeline::run(a),
    }
}
