//! `pretext pairs`: stream training examples from video folders into WebDataset tar shards.
//!
//! The flags become a resolved recipe (task, input spec) and a validated [`PipelineConfig`];
//! the library does the work. Ctrl-C stops
//! every pipeline thread cleanly (what was written stays valid: shards are renamed only when
//! complete). A progress bar is shown when stderr is a terminal.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::Ordering;

use anyhow::Context;

use super::data::RecipeArgs;
use super::spectrogram::PresetArg;
use pretext::pipeline::{
    AugmentConfig, BatchStream, PipelineConfig, PipelineError, PipelineStats, ShardWriter,
    ShardWriterConfig,
};
use pretext::tasks::{Recipe, Role};

/// Flags shared by `pairs` and `bench pipeline`: what to sample and how.
#[derive(Debug, Clone, clap::Args)]
pub struct PipelineArgs {
    /// Video files or folders (walked recursively for video extensions).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// The task, its preset and options (`--set task.negatives=easy,hard`,
    /// `--set task.gap=10`, ...; `pretext tasks` lists them). The training stream's sampler is
    /// used.
    #[command(flatten)]
    pub recipe: RecipeArgs,
    /// Number of examples to produce.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    pub count: u64,
    /// Master seed: the same seed gives the same examples whatever --workers is.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Decode worker threads (default: all cores).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub workers: Option<u16>,
    /// Feature (augmentation + spectrogram) worker threads (default: half of --workers).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub feature_workers: Option<u16>,
    /// Spectrogram recipe (input.spectrogram).
    #[arg(long, value_enum, default_value = "vggish")]
    pub spectrogram: PresetArg,
    /// Examples cut from each file per pass (one visit per file).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=10000))]
    pub clips_per_file: u64,
    /// Audio window in seconds (input.clip_seconds).
    #[arg(long, default_value_t = 1.0)]
    pub audio_seconds: f64,
    /// Square crop side handed to the model (input.frame_size).
    #[arg(long, default_value_t = 224)]
    pub frame_size: u32,
    /// Square the decoder scales frames to before cropping (input.decode_size; default: the
    /// frame size plus an eighth).
    #[arg(long)]
    pub decode_size: Option<u32>,
    /// Disable augmentation (centre crop, no flip, no colour jitter).
    #[arg(long)]
    pub no_augment: bool,
    /// Decode every file whole when indexing it and quarantine damaged ones before any example
    /// is cut (slower first run; the verdict is cached in the manifest).
    #[arg(long)]
    pub verify: bool,
    /// Probe cache (default: OUT/manifest.json for pairs, none for bench).
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Quarantine list of broken files (default: OUT/quarantine.jsonl for pairs).
    #[arg(long)]
    pub quarantine: Option<PathBuf>,
    /// Write the per-stage telemetry as JSON to this file.
    #[arg(long)]
    pub stats: Option<PathBuf>,
}

impl PipelineArgs {
    /// The resolved recipe: the flags above are applied as `input.*` overrides before `--set`.
    pub fn recipe(&self) -> anyhow::Result<Recipe> {
        let preset: pretext::features::Preset = self.spectrogram.into();
        let mut sets = vec![
            format!("input.frame_size={}", self.frame_size),
            format!("input.clip_seconds={:?}", self.audio_seconds),
            format!("input.spectrogram=\"{}\"", preset.name()),
        ];
        if let Some(d) = self.decode_size {
            sets.push(format!("input.decode_size={d}"));
        }
        Ok(Recipe::resolve(&self.recipe.source(sets))?)
    }

    /// The validated library configuration.
    pub fn config(&self, workers_override: Option<usize>) -> anyhow::Result<PipelineConfig> {
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let workers = workers_override.unwrap_or(self.workers.map(usize::from).unwrap_or(cores));
        let feature_workers =
            self.feature_workers.map(usize::from).unwrap_or(workers.div_ceil(2)).max(1);
        let recipe = self.recipe()?;
        let mut config = PipelineConfig::new(
            self.inputs.clone(),
            recipe.task.data(Role::Train),
            recipe.model.input,
        );
        config.seed = self.seed;
        config.max_samples = Some(self.count);
        config.batch_size = 16;
        config.decode_workers = workers;
        config.feature_workers = feature_workers;
        config.augment =
            if self.no_augment { AugmentConfig::none() } else { AugmentConfig::default() };
        config.clips_per_file = self.clips_per_file as usize;
        config.manifest = self.manifest.clone();
        config.quarantine = self.quarantine.clone();
        config.verify = self.verify;
        config.validate()?;
        Ok(config)
    }
}

/// Write WebDataset tar shards of any task's examples (one .npy per field: frames, spec, label,
/// ...).
///
/// Every example is logged in OUT/samples.jsonl (file, video time, audio file and time, label,
/// kind, augmentation) so it can be reproduced; broken files are listed in
/// OUT/quarantine.jsonl and skipped by later runs; probe results are cached in
/// OUT/manifest.json so re-runs start at once.
///
/// Outputs are whole or absent: a shard is written as OUT/.shard-N.tar.partial and renamed
/// when complete, and its lines are added to samples.jsonl only then, so samples.jsonl names
/// exactly the samples of the shards present after any stop (finished, an error such as a full
/// disk, or Ctrl-C). A failed run deletes its partial files; a run deletes any left by a killed
/// one.
///
/// Rerunning into a folder that already holds shards or a non-empty samples.jsonl is refused;
/// --overwrite deletes them first (manifest.json and quarantine.jsonl are kept, as caches).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pipeline: PipelineArgs,
    /// Output folder for shards, samples.jsonl, quarantine.jsonl and manifest.json.
    #[arg(long)]
    out: PathBuf,
    /// Examples per tar shard.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..))]
    per_shard: u64,
    /// Replace the shards and samples.jsonl of an earlier run in --out (default: refuse).
    #[arg(long)]
    overwrite: bool,
}

/// Installs the Ctrl-C handler once per process, pointing it at `flag`.
pub fn install_ctrlc(flag: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    // A second installation fails harmlessly (the first flag keeps working).
    let _ = ctrlc::set_handler(move || flag.store(true, Ordering::SeqCst));
}

/// Runs the pipeline to completion, calling `each` per batch; shows a progress bar on a
/// terminal. Returns the telemetry.
pub fn drive(
    config: PipelineConfig,
    total: u64,
    mut each: impl FnMut(&pretext::pipeline::Batch) -> anyhow::Result<()>,
) -> anyhow::Result<(PipelineStats, usize)> {
    let mut stream = BatchStream::start(config)?;
    install_ctrlc(stream.cancel_flag());
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(total);
        let style = indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} examples {per_sec} {msg} eta {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
        b.set_style(style);
        Some(b)
    } else {
        None
    };
    let mut failure: Option<PipelineError> = None;
    while let Some(batch) = stream.next() {
        match batch {
            Ok(b) => {
                each(&b)?;
                if let Some(bar) = &bar {
                    let (samples, files, errors) = stream.progress();
                    bar.set_position(samples);
                    bar.set_message(format!("{files} files, {errors} quarantined"));
                }
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let quarantined = stream.quarantined();
    for q in &quarantined {
        eprintln!("quarantined {} ({}): {}", q.path.display(), q.kind, q.reason);
    }
    // Drain to the end so the telemetry is complete.
    while stream.next().is_some() {}
    let stats = stream.stats().unwrap_or_default();
    if let Some(e) = failure {
        return Err(e).context("pipeline stopped");
    }
    Ok((stats, quarantined.len()))
}

/// Writes the telemetry JSON when asked.
pub fn write_stats(path: Option<&PathBuf>, stats: &PipelineStats) -> anyhow::Result<()> {
    if let Some(p) = path {
        let text = serde_json::to_vec_pretty(stats)?;
        std::fs::write(p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut p = args.pipeline.clone();
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    p.manifest.get_or_insert_with(|| args.out.join("manifest.json"));
    p.quarantine.get_or_insert_with(|| args.out.join("quarantine.jsonl"));
    let config = p.config(None)?;
    let mut writer = ShardWriter::create(ShardWriterConfig {
        dir: args.out.clone(),
        per_shard: args.per_shard as usize,
        overwrite: args.overwrite,
    })?;
    let result = drive(config, p.count, |b| Ok(writer.write_batch(b)?));
    // Commit the last shard even after Ctrl-C or a pipeline error: what was written stays
    // usable. After a write error the writer has already dropped the shard it could not write.
    let closed = writer.close();
    let (committed, shards) = (writer.committed(), writer.shards().len());
    let kept = || {
        format!(
            "{committed} examples in {shards} whole shard(s), all listed in samples.jsonl, are in {}",
            args.out.display()
        )
    };
    let (stats, _) = result.with_context(kept)?;
    closed.with_context(kept)?;
    eprint!("{}", stats.table());
    eprintln!("wrote {committed} examples in {shards} shard(s) to {}", args.out.display());
    write_stats(p.stats.as_ref(), &stats)?;
    Ok(ExitCode::SUCCESS)
}
