//! The data flags shared by `train`, `eval avc` and `bench train`, and the one place that turns
//! them into a [`DataSource`]: `--data toy` is the in-memory generated source (smoke tests,
//! benchmarks of the trainer alone); folders go through the streaming pipeline.

use std::path::PathBuf;

use anyhow::Context;
use pretext::models::ModelConfig;
use pretext::training::{DataSource, TaskKind, ToySource};

/// Where examples come from.
#[derive(Debug, Clone, clap::Args)]
pub struct DataArgs {
    /// Video folders (walked recursively), or `toy` for generated in-memory batches.
    #[arg(long, required = true, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// A split file (`PATH SPLIT` lines or JSON Lines `{"file", "split"}`); default: a
    /// synthetic world's annotations.jsonl, else a stable hash of each path (80/10/10).
    #[arg(long)]
    pub split_file: Option<PathBuf>,
    /// Decode workers of the pipeline (default: half the cores, at least 1).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
}

impl DataArgs {
    /// Whether this is the generated in-memory source.
    pub fn is_toy(&self) -> bool {
        self.data.len() == 1 && self.data[0].as_os_str() == "toy"
    }

    /// Decode workers to plan the CPU budget with (0 for toy data).
    pub fn decode_workers(&self) -> usize {
        if self.is_toy() {
            return 0;
        }
        self.workers.map(usize::from).unwrap_or_else(|| (cores() / 2).max(1))
    }
}

/// Logical cores.
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// How evaluation negatives are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Negatives {
    /// Audio from another file.
    Easy,
    /// Audio from the same file, shifted in time.
    Hard,
}

/// Opens the data source for `task`; `negatives` overrides the policy (evaluation).
pub fn open_source(
    args: &DataArgs,
    task: TaskKind,
    model: &ModelConfig,
    seed: u64,
    split: &str,
    negatives: Option<Negatives>,
) -> anyhow::Result<Box<dyn DataSource>> {
    if args.is_toy() {
        anyhow::ensure!(
            negatives != Some(Negatives::Hard),
            "--data toy has no hard negatives (it has no time axis)"
        );
        let mut toy = ToySource::new(task, model.input.frame_size as usize, seed);
        if split == "test" {
            toy.seed = seed ^ 0x7e57;
        }
        return Ok(Box::new(toy));
    }
    for d in &args.data {
        anyhow::ensure!(d.is_dir(), "--data {}: not a folder", d.display());
    }
    let _ = (split, negatives);
    Err(anyhow::anyhow!(
        "training from video folders needs the streaming pipeline (issue #5), not merged in \
         this build; use --data toy for a smoke run"
    ))
    .context("opening the data")
}
