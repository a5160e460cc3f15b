//! Flags shared by several subcommands: the recipe (`--task`, `--preset`, `--config`, `--set`)
//! and the data (`--data`, split, workers, validation size). They only become the library's
//! [`RecipeSource`] and `DataSpec`; resolving and validating happens there.

use std::path::PathBuf;

use pretext::tasks::RecipeSource;

/// What to train (or sample): the task, the preset and overrides.
#[derive(Debug, Clone, clap::Args)]
pub struct RecipeArgs {
    /// The pretext task (`pretext tasks` lists them with their options and presets; default
    /// avc).
    #[arg(long, value_parser = task_name)]
    pub task: Option<String>,
    /// A preset: quick, fast, sync, l3 (models/*.toml) or a task's own (avc, localize, jigsaw,
    /// ...); default: the task's, see `pretext tasks`. `--model` is the same flag.
    #[arg(long, alias = "model", conflicts_with = "config")]
    pub preset: Option<String>,
    /// A preset file of your own (the schema of models/quick.toml: [input], [vision], [audio],
    /// [head], [train], [task]).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one value, e.g. `--set task.objective=in-batch --set train.lr=0.002
    /// --set input.frame_size=64` (repeatable; task options are listed by `pretext tasks`).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

impl RecipeArgs {
    /// The task asked for (avc when none).
    pub fn task_name(&self) -> &str {
        self.task.as_deref().unwrap_or("avc")
    }

    /// Whether any flag that defines the recipe was given.
    #[cfg(feature = "torch")]
    pub fn given(&self) -> bool {
        self.task.is_some()
            || self.preset.is_some()
            || self.config.is_some()
            || !self.sets.is_empty()
    }

    /// The library's description of the recipe, with `extra` overrides applied first.
    pub fn source(&self, extra: Vec<String>) -> RecipeSource {
        let mut sets = extra;
        sets.extend(self.sets.iter().cloned());
        RecipeSource {
            task: self.task_name().to_string(),
            preset: self.preset.clone(),
            config: self.config.clone(),
            sets,
        }
    }
}

/// Accepts the registered task names only (the error lists them).
fn task_name(s: &str) -> Result<String, String> {
    pretext::tasks::find(s).map(|d| d.name.to_string()).map_err(|e| e.to_string())
}

/// Where examples come from.
#[cfg(feature = "torch")]
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
    /// Examples each file yields per pass over the files (one decode visit).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=10000))]
    pub clips_per_file: u64,
    /// Decode every file whole when indexing it and quarantine damaged ones before training
    /// (slower first run; the verdict is cached in the run's manifest).
    #[arg(long)]
    pub verify: bool,
}

#[cfg(feature = "torch")]
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

    /// The library's data description.
    pub fn spec(
        &self,
        seed: u64,
        eval_split: &str,
        run_dir: Option<PathBuf>,
    ) -> pretext::tasks::DataSpec {
        pretext::tasks::DataSpec {
            data: self.data.clone(),
            split_file: self.split_file.clone(),
            workers: self.decode_workers(),
            val_examples: self.val_examples,
            clips_per_file: self.clips_per_file as usize,
            eval_split: eval_split.to_string(),
            seed,
            run_dir,
            verify: self.verify,
        }
    }
}

/// Logical cores.
#[cfg(feature = "torch")]
pub fn cores() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
