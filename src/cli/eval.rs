//! `pretext eval`: evaluation subcommands (each in its own file).

use std::process::ExitCode;

/// Evaluate a trained model.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// The task's own metrics (AVC accuracy and ROC AUC, frame-order balanced accuracy,
    /// rotation accuracy, ...) on held-out files, next to the policy the examples were drawn by.
    Task(super::eval_task::Args),
    /// Sound-source localisation (cIoU, AUC, pointing game, AP) against the centre prior and an
    /// untrained model.
    Localize(super::eval_localize::Args),
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Task(a) => super::eval_task::run(a),
        Command::Localize(a) => super::eval_localize::run(a),
    }
}
