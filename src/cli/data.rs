//! The data flags shared by `train`, `eval avc` and `bench train`, and the one place that turns
//! them into a [`DataSource`]: `--data toy` is the in-memory generated source (smoke tests,
//! benchmarks of the trainer alone); folders go through the streaming pipeline.

use std::path::{Path, PathBuf};

use anyhow::Context;
use pretext::models::ModelConfig;
use pretext::tasks::NegativeKinds;
use pretext::training::{
    split_files, DataSource, PipelineSource, PipelineSourceConfig, TaskKind, ToySource,
};

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
    /// Held-out examples scored per validation / evaluation.
    #[arg(long, default_value_t = 240)]
    pub val_examples: u64,
    /// Share of positives in the training stream (default: the task's, 50% AVC, 25% frame
    /// order); validation keeps the task's default.
    #[arg(long)]
    pub train_positive_ratio: Option<f64>,
    /// Examples each file yields per pass over the files.
    #[arg(long, default_value_t = 4)]
    pub clips_per_file: usize,
    /// Frame order: frames between consecutive members of the window a..e. The default, 10
    /// (0.4 s at 25 fps), lets objects moving 8-30% of the frame per second travel 3-12% of
    /// the frame between b, c and d; 3 frames (0.12 s) left the order invisible.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub gap: u16,
    #[command(flatten)]
    pub hard: HardNegativeArgs,
}

/// The AVC hard-negative policy flags, shared by `pairs`, `bench pipeline`, `train`, `eval avc`
/// and `bench train`.
#[derive(Debug, Clone, clap::Args)]
pub struct HardNegativeArgs {
    /// AVC: minimum shift in seconds of a hard negative's audio from its frame.
    #[arg(long, default_value_t = 1.0)]
    pub min_shift: f64,
    /// AVC: share of hard negatives among negatives when both kinds are on (training stream;
    /// with --objective in-batch, the hard negatives' share of the negatives' loss).
    #[arg(long, default_value_t = 0.5)]
    pub hard_share: f64,
    /// AVC curriculum: the hard share rises linearly from --hard-share to this value over the
    /// first --curriculum-over examples (training stream).
    #[arg(long, requires = "curriculum_over")]
    pub curriculum_to: Option<f64>,
    /// AVC curriculum: examples over which the hard share rises.
    #[arg(long, requires = "curriculum_to")]
    pub curriculum_over: Option<u64>,
}

impl HardNegativeArgs {
    /// The curriculum, when both of its flags are given.
    pub fn curriculum(&self) -> Option<pretext::tasks::Curriculum> {
        match (self.curriculum_to, self.curriculum_over) {
            (Some(to), Some(over)) => Some(pretext::tasks::Curriculum { to, over }),
            _ => None,
        }
    }
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

/// Feature workers of a pipeline with `decode_workers`.
pub fn feature_workers(decode_workers: usize) -> usize {
    (decode_workers / 2).max(1)
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

/// Opens the data source for `task`. `split` is the held-out split validation reads,
/// `eval_negatives` overrides its negative policy (evaluation), `train_negatives` is the
/// training policy, and `run_dir` (training) receives split.json, the probe cache and the
/// quarantine list.
#[allow(clippy::too_many_arguments)] // One call site per subcommand; a struct would only rename them.
pub fn open_source(
    args: &DataArgs,
    task: TaskKind,
    model: &ModelConfig,
    seed: u64,
    split: &str,
    eval_negatives: Option<Negatives>,
    train_negatives: NegativeKinds,
    run_dir: Option<&Path>,
) -> anyhow::Result<Box<dyn DataSource>> {
    if args.is_toy() {
        anyhow::ensure!(
            eval_negatives != Some(Negatives::Hard),
            "--data toy has no hard negatives (it has no time axis)"
        );
        let mut toy = ToySource::new(task, model.input.frame_size as usize, seed);
        if split == "test" {
            toy.seed = seed ^ 0x7e57;
        }
        return Ok(Box::new(toy));
    }
    for d in &args.data {
        anyhow::ensure!(d.exists(), "--data {}: no such folder", d.display());
    }
    let files = split_files(&args.data, args.split_file.as_deref())?;
    if let Some(dir) = run_dir {
        let json = serde_json::to_vec_pretty(&files)?;
        pretext::io::write_atomic(&dir.join("split.json"), &json)?;
    }
    let eval = match eval_negatives {
        None => train_negatives,
        Some(Negatives::Easy) => NegativeKinds { easy: true, hard: false },
        Some(Negatives::Hard) => NegativeKinds { easy: false, hard: true },
    };
    let workers = args.decode_workers();
    let cfg = PipelineSourceConfig {
        task,
        seed,
        decode_workers: workers,
        feature_workers: feature_workers(workers),
        eval_split: split.to_string(),
        train_negatives,
        eval_negatives: eval,
        min_shift: args.hard.min_shift,
        hard_share: args.hard.hard_share,
        curriculum: args.hard.curriculum(),
        val_examples: args.val_examples,
        train_positive_ratio: args.train_positive_ratio,
        clips_per_file: args.clips_per_file,
        frame_order_gap: usize::from(args.gap),
        state_dir: run_dir.map(Path::to_path_buf),
    };
    let source = PipelineSource::new(files, model, cfg).context("opening the data")?;
    Ok(Box::new(source))
}

/// Parses `easy`, `hard` or `easy,hard`.
pub fn parse_negative_kinds(s: &str) -> Result<NegativeKinds, String> {
    let mut k = NegativeKinds { easy: false, hard: false };
    for part in s.split(',').map(str::trim) {
        match part {
            "easy" => k.easy = true,
            "hard" => k.hard = true,
            _ => return Err(format!("'{part}': expected easy, hard or easy,hard")),
        }
    }
    Ok(k)
}
