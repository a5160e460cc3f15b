//! Subcommands. Each file owns one subcommand's flags (clap derive) and its `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod allocator;
mod audio;
mod bench;
mod bench_decode;
mod bench_pipeline;
mod bench_spectrogram;
mod bench_train;
mod cpu_budget;
mod cpu_clock;
mod data;
mod embed;
mod eval;
mod eval_avc;
mod eval_localize;
mod frames;
mod localize;
pub mod omp_env;
mod pairs;
mod probe;
mod spectrogram;
mod spectrogram_png;
mod synth;
mod train;

/// Self-supervised learning from video and sound.
///
/// pretext streams video files, decodes frames and audio on the container clock, computes
/// reference-exact spectrograms, and builds training examples whose labels come from the data
/// itself (audio-visual correspondence, frame order, ...).
#[derive(Debug, Parser)]
#[command(name = "pretext", version, about, long_about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Probe(probe::Args),
    Frames(frames::Args),
    Audio(audio::Args),
    Spectrogram(spectrogram::Args),
    Synth(synth::Args),
    Pairs(pairs::Args),
    Train(train::Args),
    Embed(embed::Args),
    Localize(localize::Args),
    #[command(subcommand)]
    Eval(eval::Command),
    #[command(subcommand)]
    Bench(bench::Command),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Probe(a) => probe::run(a),
        Command::Frames(a) => frames::run(a),
        Command::Audio(a) => audio::run(a),
        Command::Spectrogram(a) => spectrogram::run(a),
        Command::Synth(a) => synth::run(a),
        Command::Pairs(a) => pairs::run(a),
        Command::Train(a) => train::run(a),
        Command::Embed(a) => embed::run(a),
        Command::Localize(a) => localize::run(a),
        Command::Eval(c) => eval::run(c),
        Command::Bench(c) => bench::run(c),
    }
}

/// Tunes glibc malloc for streaming decode (see `allocator.rs`); call first thing in `main`.
pub fn tune_allocator() {
    allocator::tune();
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        super::Cli::command().debug_assert();
    }
}
