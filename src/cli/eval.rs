//! `pretext eval`: evaluation subcommands (each in its own file).

use std::process::ExitCode;

/// Evaluate a trained model.
#[derive(Debug, clap::Subcommand)]
pub enum Command {}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {}
}
