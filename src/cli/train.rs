//! `pretext train`: flags → a validated [`RunConfig`] → the task-generic [`Trainer`].
//!
//! Configuration precedence: the preset (`--model`, default `quick`) or `--config FILE.toml`,
//! then explicit flags. `--resume` takes the configuration recorded in the run's last
//! checkpoint and lets only `--steps`, `--max-time`, `--device` and `--threads` change.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use pretext::models::{preset_text, ModelConfig};
use pretext::training::{
    checkpoint, parse_duration, DeviceSpec, RunConfig, StopReason, TaskKind, TrainConfig, Trainer,
};

use super::data::{open_source, DataArgs};

/// The pretext task to train.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Task {
    /// Audio-visual correspondence (L3-Net / AVE-Net / AVOL-Net heads).
    Avc,
    /// Shuffle & Learn frame order (triplet Siamese).
    FrameOrder,
    /// Sound-source localisation (issue #7): `--objective mil` is AVOL-Net's multiple-instance
    /// objective, i.e. the AVC task with the per-location `avol` head (σ of the max-location
    /// logit against the correspondence label is exactly its 2-way softmax); `--objective
    /// contrastive` is EZ-VSL's in-batch objective on the cosine map (validation metric:
    /// in-batch retrieval accuracy).
    Localize,
}

/// The training objective: which pairs the loss sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Objective {
    /// AVC: the stream's labelled pairs (positives and the --negatives kinds), 2-way
    /// cross-entropy. The default for --task avc.
    Pairs,
    /// AVC: every frame of a batch scored with every audio window of the batch: the other
    /// files' audio are easy negatives (about B - 1 per frame for the tower compute of B
    /// examples; two windows of one file are left out of the loss). With --negatives easy the batch holds matching pairs only; with
    /// easy,hard it also holds hard negatives (--train-positive-ratio of matching pairs,
    /// default half). Positives weigh half the loss, negatives half (split evenly between hard
    /// and easy when both are on). Validated on labelled pairs like --objective pairs.
    InBatch,
    /// Localisation, AVOL-Net: per-location similarity, max over locations, binary
    /// correspondence. The default for --task localize.
    Mil,
    /// Localisation, EZ-VSL: batches of matching pairs from distinct files, per-location cosine,
    /// max over locations, symmetric cross-entropy over the batch at `--temperature` (the cosine
    /// head).
    Contrastive,
}

/// The trainer's task for a `--task`/`--objective` pair.
fn task_kind(task: Task, objective: Option<Objective>) -> anyhow::Result<TaskKind> {
    use clap::ValueEnum;
    Ok(match (task, objective) {
        (Task::Avc, None | Some(Objective::Pairs)) => TaskKind::Avc,
        (Task::Avc, Some(Objective::InBatch)) => TaskKind::AvcInBatch,
        (Task::Localize, None | Some(Objective::Mil)) => TaskKind::Avc,
        (Task::Localize, Some(Objective::Contrastive)) => TaskKind::LocalizeContrastive,
        (Task::FrameOrder, None) => TaskKind::FrameOrder,
        (t, Some(o)) => {
            let allowed = match t {
                Task::Avc => "pairs or in-batch",
                Task::Localize => "mil or contrastive",
                Task::FrameOrder => "none (frame order has one objective)",
            };
            anyhow::bail!(
                "--objective {} does not apply to --task {}: its objectives are {allowed}",
                o.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default(),
                t.to_possible_value().map(|v| v.get_name().to_string()).unwrap_or_default(),
            )
        }
    })
}

impl From<Task> for TaskKind {
    fn from(t: Task) -> TaskKind {
        match t {
            Task::Avc => TaskKind::Avc,
            Task::FrameOrder => TaskKind::FrameOrder,
            Task::Localize => TaskKind::Avc,
        }
    }
}

/// Train a model on a pretext task, streaming examples from video folders.
///
/// Writes RUN/config.json (the resolved configuration), RUN/split.json, RUN/metrics.jsonl,
/// RUN/curves.png and RUN/checkpoints/{step-N,best}.safetensors (weights, optimizer state, step
/// and data position). A killed run loses at most the steps since its last checkpoint:
/// `--resume` continues it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The pretext task.
    #[arg(long, value_enum, default_value = "avc")]
    pub task: Task,
    /// Training objective: pairs (default) or in-batch for --task avc; mil (default) or
    /// contrastive for --task localize.
    #[arg(long, value_enum)]
    pub objective: Option<Objective>,
    /// Temperature of the contrastive objective (default: the preset's head.temperature, 0.03
    /// as in EZ-VSL).
    #[arg(long)]
    pub temperature: Option<f64>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Model preset shipped in models/ (quick, fast, sync, l3).
    #[arg(long, conflicts_with = "config")]
    pub model: Option<String>,
    /// A preset file of your own (same schema as models/quick.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// auto (CUDA when present, else CPU), cpu, cuda or cuda:N (an error when CUDA is missing).
    #[arg(long)]
    pub device: Option<String>,
    /// Total optimisation steps.
    #[arg(long)]
    pub steps: Option<u64>,
    /// Wall-clock budget (e.g. 900, 15m, 1h30m); saves a checkpoint and stops when spent.
    #[arg(long)]
    pub max_time: Option<String>,
    /// Examples per batch.
    #[arg(long)]
    pub batch: Option<usize>,
    /// Peak learning rate.
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed for weights and sampling.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Validate and publish an exponential moving average of the weights with this decay
    /// (e.g. 0.999 ≈ the last thousand steps; 0 = off; default: the preset's train.ema).
    #[arg(long)]
    pub ema: Option<f64>,
    /// libtorch threads (default: the CPUs available to this process, by affinity and cgroup
    /// quota, minus the pipeline's decode and feature workers; at least 1).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Validate (and checkpoint) every N steps.
    #[arg(long)]
    pub val_every: Option<u64>,
    /// Validation batches per validation.
    #[arg(long)]
    pub val_batches: Option<usize>,
    /// Mixed precision on CUDA (ignored on CPU).
    #[arg(long)]
    pub amp: bool,
    /// Training negatives for AVC: easy (another file), hard (same file, shifted), or both.
    #[arg(long, default_value = "easy,hard", value_parser = super::data::parse_negative_kinds)]
    pub negatives: pretext::tasks::NegativeKinds,
    /// --objective in-batch with --negatives easy,hard: also call two windows of one file in a
    /// batch a hard negative pair where the audio is at least --min-shift from the frame (a
    /// file visit gives --clips-per-file consecutive examples). With --train-positive-ratio 1
    /// every example is a matching pair and all hard negatives come from the batch.
    #[arg(long)]
    pub same_file_negatives: bool,
    /// Continue the run in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
}

/// Reads the preset or config file: (model, train defaults, origin).
pub fn load_preset(
    model: Option<&str>,
    config: Option<&Path>,
) -> anyhow::Result<(ModelConfig, TrainConfig)> {
    let (text, origin) = match config {
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
            path.display().to_string(),
        ),
        None => {
            let name = model.unwrap_or("quick");
            (preset_text(name)?.to_string(), format!("preset {name}"))
        }
    };
    Ok((ModelConfig::from_toml(&text, &origin)?, TrainConfig::from_toml(&text, &origin)?))
}

/// Sets libtorch's thread pools; call once, before any tensor work.
pub fn set_torch_threads(threads: usize) {
    tch::set_num_interop_threads(1);
    tch::set_num_threads(i32::try_from(threads.max(1)).unwrap_or(1));
}

fn cancel_flag() -> Arc<AtomicBool> {
    let flag = Arc::new(AtomicBool::new(false));
    let f = flag.clone();
    // A second Ctrl-C while saving falls through to the default (exit).
    let _ = ctrlc::set_handler(move || {
        if f.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\ninterrupted: saving a checkpoint, then stopping (Ctrl-C again to abort)");
    });
    flag
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let task = task_kind(args.task, args.objective)?;
    let ckdir = args.out.join("checkpoints");
    let latest = checkpoint::latest_checkpoint(&ckdir);
    let mut cfg = if args.resume {
        let ck = latest
            .clone()
            .ok_or_else(|| pretext::training::TrainingError::NothingToResume(ckdir.clone()))?;
        let (meta, _) = checkpoint::read_checkpoint(&ck)?;
        anyhow::ensure!(
            meta.run.task == task,
            "{} was trained on --task {}, not {}",
            args.out.display(),
            meta.run.task.name(),
            task.name()
        );
        let mut run = meta.run;
        // The time budget is per invocation, not inherited.
        run.train.max_time_s = None;
        run
    } else {
        anyhow::ensure!(
            latest.is_none(),
            "{} already holds checkpoints: pass --resume to continue it, or choose another --out",
            args.out.display()
        );
        let (mut model, mut train) = load_preset(args.model.as_deref(), args.config.as_deref())?;
        match task {
            // AVOL MIL needs the per-location head whatever the preset says.
            TaskKind::Avc if args.task == Task::Localize => {
                model.head.kind = pretext::models::HeadKind::Avol
            }
            // The contrastive objective trains the parameter-free cosine map, which is then what
            // `pretext localize` shows.
            TaskKind::LocalizeContrastive => {
                model.head.kind = pretext::models::HeadKind::Cosine;
                if let Some(t) = args.temperature {
                    model.head.temperature = t;
                }
                model.validate().map_err(anyhow::Error::msg)?;
            }
            _ => {}
        }
        anyhow::ensure!(
            task != TaskKind::AvcInBatch || args.data.hard.curriculum_to.is_none(),
            "--curriculum-to/--curriculum-over apply to --objective pairs (the share of hard \
             negatives in the stream); with --objective in-batch set the hard negatives' share of \
             the loss with --hard-share"
        );
        anyhow::ensure!(
            !(args.same_file_negatives || train.same_file_min_shift > 0.0)
                || (task == TaskKind::AvcInBatch && args.negatives.hard),
            "--same-file-negatives (train.same_file_min_shift) applies to --objective in-batch \
             with --negatives easy,hard (it takes hard negatives from the other windows of a \
             file in the batch)"
        );
        anyhow::ensure!(
            task != TaskKind::AvcInBatch || args.negatives.easy,
            "--objective in-batch always scores every frame against the batch's other audio \
             (easy negatives): use --negatives easy, or easy,hard to add the same clip's shifted \
             audio (hard negatives)"
        );
        anyhow::ensure!(
            args.temperature.is_none() || task == TaskKind::LocalizeContrastive,
            "--temperature only applies to --task localize --objective contrastive"
        );
        if let Some(b) = args.batch {
            train.batch = b;
        }
        if let Some(lr) = args.lr {
            train.lr = lr;
        }
        if let Some(s) = args.seed {
            train.seed = s;
        }
        if let Some(e) = args.ema {
            train.ema = e;
        }
        if let Some(v) = args.val_every {
            train.val_every = v;
            train.checkpoint_every = v;
        }
        if let Some(v) = args.val_batches {
            train.val_batches = v;
        }
        train.amp = args.amp;
        train.hard_share = args.data.hard.hard_share;
        if args.same_file_negatives {
            train.same_file_min_shift = args.data.hard.min_shift;
        }
        RunConfig { task, model, train, data: serde_json::Value::Null }
    };
    if let Some(s) = args.steps {
        cfg.train.steps = s;
    }
    if let Some(t) = &args.max_time {
        cfg.train.max_time_s = Some(parse_duration(t)?);
    }
    if let Some(d) = &args.device {
        cfg.train.device = d.parse::<DeviceSpec>()?;
    }
    let (threads, budget) = super::cpu_budget::torch_threads(args.threads, &args.data);
    eprintln!("{budget}");
    cfg.train.threads = Some(threads);
    cfg.train.validate()?;
    // Fail on a missing CUDA before any data work.
    let device = cfg.train.device.resolve()?;
    set_torch_threads(threads);
    if cfg.train.amp && !device.is_cuda() {
        eprintln!("note: --amp has no effect on the CPU; training in f32");
    }

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let data = open_source(
        &args.data,
        task,
        &cfg.model,
        cfg.train.seed,
        "val",
        None,
        args.negatives,
        Some(&args.out),
    )?;
    cfg.data = data.describe();
    let mut trainer = match (&latest, args.resume) {
        (Some(ck), true) => {
            eprintln!("resuming from {}", ck.display());
            Trainer::resume(&args.out, cfg.clone(), ck)?
        }
        _ => Trainer::new(&args.out, cfg.clone())?,
    };
    let cancel = cancel_flag();
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(cfg.train.steps);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] step {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_position(trainer.step());
        bar
    });
    let metric = task.metric_name();
    eprintln!(
        "training {} ({} model, {} head) on {device:?} with {threads} libtorch threads; run in {}",
        task.name(),
        cfg.model.name,
        format!("{:?}", cfg.model.head.kind).to_lowercase(),
        args.out.display()
    );
    let outcome = trainer.run(data.as_ref(), &cancel, &mut |r| {
        let val = r.val_metric.map(|v| format!(" val {metric} {v:.3}")).unwrap_or_default();
        let msg = format!(
            "loss {:.4} acc {:.3}{val} | {:.1} samples/s, data wait {:.0}%{}",
            r.loss,
            r.accuracy,
            r.samples_per_s,
            100.0 * r.data_wait_share,
            super::cpu_budget::contention_note(r.cpu_wait_share)
        );
        match &bar {
            Some(b) => {
                b.set_position(r.step);
                b.set_message(msg);
            }
            None if r.step % 50 == 0 || r.step == r.total => {
                eprintln!("step {}/{} {msg}", r.step, r.total)
            }
            None => {}
        }
    })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let stop = match outcome.stop {
        StopReason::Finished => "finished",
        StopReason::TimeBudget => "time budget spent",
        StopReason::Cancelled => "interrupted",
    };
    println!(
        "{stop} at step {} ({:.1} samples/s, data wait {:.1}% of step time)",
        outcome.step,
        outcome.samples_per_s,
        100.0 * outcome.data_wait_share
    );
    if let Some(v) = &outcome.last_val {
        let r = &v.report;
        let acc = if metric == "accuracy" {
            String::new()
        } else {
            format!(" (accuracy {:.4})", r.accuracy)
        };
        let auc = r.roc_auc.map(|a| format!("{a:.4}")).unwrap_or_else(|| "n/a".into());
        println!(
            "validation: {metric} {:.4}{acc}, ROC AUC {auc}, {} examples; negatives: {}",
            v.metric, v.examples, r.negative_policy
        );
    }
    println!("checkpoint: {}", outcome.checkpoint.display());
    println!("best:       {}", ckdir.join("best.safetensors").display());
    println!("curves:     {}", args.out.join("curves.png").display());
    println!("metrics:    {}", args.out.join("metrics.jsonl").display());
    Ok(if outcome.stop == StopReason::Cancelled { ExitCode::from(130) } else { ExitCode::SUCCESS })
}
