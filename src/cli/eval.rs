//! `pretext eval`: evaluation subcommands (each in its own file).

use std::process::ExitCode;

/// Evaluate a trained model.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Audio-visual correspondence accuracy and ROC AUC on held-out files.
    Avc(super::eval_avc::Args),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Avc(a) => super::eval_avc::run(a),
    }
}
