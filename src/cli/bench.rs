//! `pretext bench`: benchmarks that measure pretext and a reference in the same run.

use std::process::ExitCode;

use super::bench_spectrogram;

/// Measure speed against the reference tools, side by side in one run.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Spectrograms per second on one thread, against librosa and torchaudio.
    Spectrogram(bench_spectrogram::Args),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Spectrogram(a) => bench_spectrogram::run(a),
    }
}
