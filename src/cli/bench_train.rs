//! `pretext bench train`: training throughput (samples/s) and the share of step time spent
//! waiting for data, measured by the real trainer for a fixed number of steps in a scratch run
//! folder. With `--python PY` the same model and batch size run in PyTorch
//! (`docs/python_reference.py bench`) in the same invocation, and the ratio is printed: on
//! in-memory batches with `--data toy`, and with a video folder on batches made the
//! `benches/python/pairs_ref.py` way (PyAV + librosa) in as many DataLoader workers as pretext
//! has decode workers. The reference script refuses tasks and presets it does not implement.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;

use anyhow::Context;
use pretext::tasks::{data_source, Recipe};
use pretext::training::{DeviceSpec, RunConfig, TaskSpec, Trainer};

use super::data::{DataArgs, RecipeArgs};

/// Measure training samples/s and data-wait share (and PyTorch's, side by side).
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub recipe: RecipeArgs,
    #[command(flatten)]
    pub data: DataArgs,
    /// Steps to time (after 5 warm-up steps).
    #[arg(long, default_value_t = 50)]
    pub steps: u64,
    /// Examples per batch (default: the preset's).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Device (auto, cpu, cuda:N).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// libtorch threads (default: the CPUs available minus the pipeline's workers).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Mixed precision on CUDA.
    #[arg(long)]
    pub amp: bool,
    /// A Python with torch: also time docs/python_reference.py on the same model.
    #[arg(long)]
    pub python: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let recipe = Recipe::resolve(&args.recipe.source(Vec::new()))?;
    let (task, model, mut train) = (recipe.task, recipe.model, recipe.train);
    let (threads, budget) = super::cpu_budget::torch_threads(args.threads, &args.data);
    eprintln!("{budget}");
    super::train::set_torch_threads(threads);
    if let Some(b) = args.batch {
        train.batch = b;
    }
    train.steps = args.steps + 5;
    train.warmup_steps = 1;
    train.val_every = 0;
    train.checkpoint_every = 0;
    train.val_batches = 1;
    train.log_every = 1;
    train.device = args.device.parse::<DeviceSpec>()?;
    train.threads = Some(threads);
    train.amp = args.amp;
    let device = train.device.resolve()?;
    let data = data_source(task.as_ref(), &model.input, &args.data.spec(train.seed, "val", None))?;
    let scratch = std::env::temp_dir().join(format!("pretext-bench-train-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let cfg = RunConfig {
        task: TaskSpec { name: task.name().into(), options: task.options() },
        model: model.clone(),
        train: train.clone(),
        data: data.describe(),
    };
    let mut trainer = Trainer::new(&scratch, cfg, &task)?;
    let never = AtomicBool::new(false);
    let (mut samples, mut wall, mut wait) = (0.0, 0.0, 0.0);
    let result = trainer.run(data.as_ref(), &never, &mut |r| {
        if r.step > 5 {
            let dt = train.batch as f64 / r.samples_per_s.max(1e-9);
            samples += train.batch as f64;
            wall += dt;
            wait += dt * r.data_wait_share;
        }
    });
    let _ = std::fs::remove_dir_all(&scratch);
    result?;
    let ours = samples / wall.max(1e-9);
    println!(
        "pretext train  task {} model {} batch {} on {device:?}, {threads} threads: {:.1} samples/s, data wait {:.1}% of step time ({} timed steps)",
        task.name(),
        model.name,
        train.batch,
        ours,
        100.0 * wait / wall.max(1e-9),
        args.steps
    );
    if let Some(py) = &args.python {
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/python_reference.py");
        let mut cmd = std::process::Command::new(py);
        cmd.arg(&script).arg("bench").args(["--task", task.name(), "--model", &model.name]);
        if !args.data.is_toy() {
            // Batches made the benches/python/pairs_ref.py way, in as many DataLoader workers
            // as pretext has decode workers.
            cmd.arg("--data").args(&args.data.data).args([
                "--workers",
                &args.data.decode_workers().to_string(),
                "--frame-size",
                &model.input.frame_size.to_string(),
                "--audio-seconds",
                &model.input.clip_seconds.to_string(),
            ]);
        }
        let out = cmd
            .args(["--steps", &args.steps.to_string(), "--batch", &train.batch.to_string()])
            .args([
                "--threads",
                &threads.to_string(),
                "--device",
                if device.is_cuda() { "cuda" } else { "cpu" },
            ])
            .output()
            .with_context(|| format!("running {} {}", py.display(), script.display()))?;
        anyhow::ensure!(
            out.status.success(),
            "python reference failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        let theirs: f64 = text
            .lines()
            .find_map(|l| l.strip_prefix("samples_per_s "))
            .and_then(|v| v.trim().parse().ok())
            .context("the python reference printed no 'samples_per_s' line")?;
        let wait: Option<f64> = text
            .lines()
            .find_map(|l| l.strip_prefix("data_wait_share "))
            .and_then(|v| v.trim().parse().ok());
        let fed = if args.data.is_toy() {
            "in-memory batches"
        } else {
            "batches made the pairs_ref.py way (PyAV + librosa) in DataLoader workers"
        };
        let wait =
            wait.map(|w| format!(", data wait {:.1}% of step time", 100.0 * w)).unwrap_or_default();
        println!("pytorch (same model, {fed}): {theirs:.1} samples/s{wait}");
        println!("ratio pretext / pytorch: {:.2}", ours / theirs.max(1e-9));
    }
    Ok(ExitCode::SUCCESS)
}
