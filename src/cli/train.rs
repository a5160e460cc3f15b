//! `pretext train`: flags → a resolved [`Recipe`] → the task-generic [`Trainer`].
//!
//! Configuration precedence: the task's preset (or `--preset`/`--config`), then `--set`, then
//! the explicit flags below. `--resume` takes the configuration recorded in the run's last
//! checkpoint and lets only `--steps`, `--max-time`, `--device`, `--threads` and the data flags
//! change; flags that would change the model, task or optimiser are refused.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;
use pretext::tasks::{data_source, recorded_task, Recipe};
use pretext::training::{
    checkpoint, parse_duration, DeviceSpec, RunConfig, StopReason, TaskSpec, Trainer,
};

use super::data::{DataArgs, RecipeArgs};

/// Train a model on a pretext task, streaming examples from video folders.
///
/// Writes RUN/config.json (the resolved configuration), RUN/split.json, RUN/metrics.jsonl,
/// RUN/curves.png and RUN/checkpoints/{step-N,best}.safetensors (weights, optimizer state, step
/// and data position). A killed run loses at most the steps since its last checkpoint:
/// `--resume` continues it.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub recipe: RecipeArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Run folder.
    #[arg(long)]
    pub out: PathBuf,
    /// auto (CUDA when present, else CPU), cpu, cuda or cuda:N (an error when CUDA is missing).
    #[arg(long)]
    pub device: Option<String>,
    /// Total optimisation steps (train.steps).
    #[arg(long)]
    pub steps: Option<u64>,
    /// Wall-clock budget (e.g. 900, 15m, 1h30m); saves a checkpoint and stops when spent.
    #[arg(long)]
    pub max_time: Option<String>,
    /// Examples per batch (train.batch).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Peak learning rate (train.lr).
    #[arg(long)]
    pub lr: Option<f64>,
    /// Seed for weights and sampling (train.seed).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Validate and publish an exponential moving average of the weights with this decay
    /// (e.g. 0.999 ≈ the last thousand steps; 0 = off; train.ema).
    #[arg(long)]
    pub ema: Option<f64>,
    /// libtorch threads (default: the CPUs available to this process, by affinity and cgroup
    /// quota, minus the pipeline's decode and feature workers; at least 1).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Validate (and checkpoint) every N steps (train.val_every).
    #[arg(long)]
    pub val_every: Option<u64>,
    /// Validation batches per validation (train.val_batches).
    #[arg(long)]
    pub val_batches: Option<usize>,
    /// Mixed precision on CUDA (ignored on CPU).
    #[arg(long)]
    pub amp: bool,
    /// Continue the run in --out from its newest checkpoint (a step checkpoint, or
    /// best.safetensors when it is the newest).
    #[arg(long)]
    pub resume: bool,
    /// With --resume: when the newest checkpoint is unreadable (a disk filled up, a copy was
    /// cut), continue from the newest readable one instead of stopping with an error.
    #[arg(long, requires = "resume")]
    pub resume_fallback: bool,
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

/// The explicit flags as `train.*` overrides (applied after the preset and `--set`).
fn train_sets(args: &Args) -> Vec<String> {
    let mut sets = Vec::new();
    let mut push = |k: &str, v: Option<String>| {
        if let Some(v) = v {
            sets.push(format!("train.{k}={v}"));
        }
    };
    push("batch", args.batch.map(|v| v.to_string()));
    push("lr", args.lr.map(|v| format!("{v:?}")));
    push("seed", args.seed.map(|v| v.to_string()));
    push("ema", args.ema.map(|v| format!("{v:?}")));
    push("val_batches", args.val_batches.map(|v| v.to_string()));
    if let Some(v) = args.val_every {
        push("val_every", Some(v.to_string()));
        push("checkpoint_every", Some(v.to_string()));
    }
    if args.amp {
        push("amp", Some("true".into()));
    }
    sets
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let ckdir = args.out.join("checkpoints");
    let mut latest = checkpoint::latest_checkpoint(&ckdir);
    if args.resume && latest.is_none() && ckdir.join("best.safetensors").is_file() {
        latest = Some(ckdir.join("best.safetensors"));
    }
    let (task, mut cfg) = if args.resume {
        let mut ck = latest
            .clone()
            .ok_or_else(|| pretext::training::TrainingError::NothingToResume(ckdir.clone()))?;
        if let Err(e) = checkpoint::read_checkpoint(&ck) {
            let fallback = checkpoint::newest_readable(&ckdir);
            match (fallback, args.resume_fallback) {
                (Some((p, step)), true) => {
                    eprintln!(
                        "warning: {e}; resuming from {} (step {step}), the newest readable \
                         checkpoint",
                        p.display()
                    );
                    ck = p;
                }
                (Some((p, step)), false) => anyhow::bail!(
                    "{e}\nthe newest readable checkpoint is {} (step {step}): pass \
                     --resume-fallback to continue from it (or move the damaged file away)",
                    p.display()
                ),
                (None, _) => {
                    anyhow::bail!("{e}\nno other checkpoint in {} is readable", ckdir.display())
                }
            }
            latest = Some(ck.clone());
        }
        let changes = train_sets(&args);
        anyhow::ensure!(
            !args.recipe.given() && changes.is_empty(),
            "--resume continues {} with the configuration recorded in its checkpoint; \
             --task, --preset, --config, --set, --batch, --lr, --seed, --ema, --val-every, \
             --val-batches and --amp cannot change it (only --steps, --max-time, --device, \
             --threads and the data flags can): start a new run in another --out instead",
            args.out.display()
        );
        let (meta, _) = checkpoint::read_checkpoint(&ck)?;
        let task = recorded_task(&meta, &[])?;
        let mut run = meta.run;
        // The time budget is per invocation, not inherited.
        run.train.max_time_s = None;
        (task, run)
    } else {
        anyhow::ensure!(
            latest.is_none(),
            "{} already holds checkpoints: pass --resume to continue it, or choose another --out",
            args.out.display()
        );
        // Explicit flags win over the preset and --set.
        let mut source = args.recipe.source(Vec::new());
        source.sets.extend(train_sets(&args));
        let recipe = Recipe::resolve(&source).context("resolving the recipe")?;
        let run = RunConfig {
            task: TaskSpec { name: recipe.task.name().into(), options: recipe.task.options() },
            model: recipe.model,
            train: recipe.train,
            data: serde_json::Value::Null,
        };
        (recipe.task, run)
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
    let spec = args.data.spec(cfg.train.seed, "val", Some(args.out.clone()));
    let data = data_source(task.as_ref(), &cfg.model.input, &spec).context("opening the data")?;
    cfg.data = data.describe();
    let mut trainer = match (&latest, args.resume) {
        (Some(ck), true) => {
            eprintln!("resuming from {}", ck.display());
            Trainer::resume(&args.out, cfg.clone(), ck, &task)?
        }
        _ => Trainer::new(&args.out, cfg.clone(), &task)?,
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
    let metric = trainer.metric_name().to_string();
    eprintln!(
        "training {} ({} model) on {device:?} with {threads} libtorch threads; run in {}",
        task.name(),
        cfg.model.name,
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
        let others: Vec<String> = v
            .metrics
            .iter()
            .filter(|(k, _)| **k != v.metric_name)
            .map(|(k, x)| format!("{k} {x:.4}"))
            .collect();
        println!(
            "validation: {} {:.4} ({}), {} examples; {}",
            v.metric_name,
            v.metric,
            others.join(", "),
            v.examples,
            v.policy
        );
    }
    println!("checkpoint: {}", outcome.checkpoint.display());
    println!("best:       {}", ckdir.join("best.safetensors").display());
    println!("curves:     {}", args.out.join("curves.png").display());
    println!("metrics:    {}", args.out.join("metrics.jsonl").display());
    Ok(if outcome.stop == StopReason::Cancelled { ExitCode::from(130) } else { ExitCode::SUCCESS })
}
