//! `pretext eval`: evaluation subcommands (each in its own file).

use std::process::ExitCode;

/// Evaluate a trained model.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Audio-visual correspondence accuracy and ROC AUC on held-out files.
    Avc(super::eval_avc::Args),
    /// Sound-source localisation (cIoU, AUC, pointing game, AP) against the centre prior and an
    /// untrained model.
    Localize(super::eval_localize::Args),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Avc(a) => super::eval_avc::run(a),
        Command::Localize(a) => super::eval_localize::run(a),
    }
}
