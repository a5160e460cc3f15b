//! Subcommands. Each file owns one subcommand's flags (clap derive) and its `run`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod allocator;
mod audio;
mod bench;
mod bench_decode;
mod bench_pipeline;
mod bench_spectrogram;
#[cfg(feature = "torch")]
mod bench_train;
#[cfg(feature = "torch")]
mod cpu_budget;
mod cpu_clock;
mod data;
#[cfg(feature = "torch")]
mod embed;
#[cfg(feature = "torch")]
mod eval;
#[cfg(feature = "torch")]
mod eval_compare;
#[cfg(feature = "torch")]
mod eval_localize;
#[cfg(feature = "torch")]
mod eval_probe;
#[cfg(feature = "torch")]
mod eval_task;
mod frames;
#[cfg(feature = "torch")]
mod localize;
#[cfg(feature = "torch")]
pub mod omp_env;
mod pairs;
mod probe;
mod spectrogram;
mod spectrogram_png;
mod synth;
mod tasks;
#[cfg(feature = "torch")]
mod train;

/// Self-supervised learning from video and sound.
///
/// pretext streams video files, decodes frames and audio on the container clock, computes
/// reference-exact spectrograms, and builds training examples whose labels come from the data
/// itself (audio-visual correspondence, frame order, rotation, ...; `pretext tasks` lists
/// them). Built without the `torch` feature it has the data commands only.
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
    Tasks(tasks::Args),
    #[cfg(feature = "torch")]
    Train(train::Args),
    #[cfg(feature = "torch")]
    Embed(embed::Args),
    #[cfg(feature = "torch")]
    Localize(localize::Args),
    #[cfg(feature = "torch")]
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
        Command::Tasks(a) => tasks::run(a),
        #[cfg(feature = "torch")]
        Command::Train(a) => train::run(a),
        #[cfg(feature = "torch")]
        Command::Embed(a) => embed::run(a),
        #[cfg(feature = "torch")]
        Command::Localize(a) => localize::run(a),
        #[cfg(feature = "torch")]
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
