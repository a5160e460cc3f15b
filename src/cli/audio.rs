//! `pretext audio` (issue #2).

use std::process::ExitCode;

/// Placeholder until issue #2 lands.
#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("pretext audio is not built yet")
}
