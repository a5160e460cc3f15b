//! `pretext eval task`: a checkpoint's own task metrics on held-out files (for AVC: accuracy,
//! balanced accuracy, ROC AUC and counts per kind under the stated negative policy; for frame
//! order: balanced accuracy; for rotation: 4-way accuracy; ...), with how the examples were
//! drawn written next to the numbers. `--untrained` scores the same architecture with fresh
//! weights (the baseline) under the same evaluation.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pretext::tasks::{data_source, Restored};
use pretext::training::{evaluate, Scored};
use tch::Device;

use super::data::DataArgs;

/// Which held-out files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// Validation files.
    Val,
    /// Test files.
    Test,
}

/// The task's metrics of a checkpoint on held-out files.
///
/// The examples are drawn by the task's evaluation sampler with the options recorded in the
/// checkpoint; `--set task.KEY=VALUE` changes them for this evaluation (for AVC,
/// `--set task.eval_negatives=hard` scores hard negatives only). Writes the JSON report to
/// --out (default: RUN/eval/TASK-SPLIT[-untrained].json beside the checkpoint's run).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (.safetensors written by pretext train).
    #[arg(long)]
    pub checkpoint: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// Held-out split to score.
    #[arg(long, value_enum, default_value = "val")]
    pub split: Split,
    /// Change how the task draws evaluation examples, e.g. task.eval_negatives=hard
    /// (repeatable; `pretext tasks` lists the options).
    #[arg(long = "set", value_name = "task.KEY=VALUE")]
    pub sets: Vec<String>,
    /// Batches to score (default: the whole --val-examples once).
    #[arg(long)]
    pub max_batches: Option<usize>,
    /// Seed of the sampled examples (default: the run's own seed); give two checkpoints the
    /// same seed to score them on identical examples.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Score freshly initialised weights of the same architecture (baseline).
    #[arg(long)]
    pub untrained: bool,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Where to write the JSON report.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Held-out examples on the contact sheet of tasks whose output is a picture
    /// (colourisation, inpainting), written beside the report as a PNG; 0 for none.
    #[arg(long, default_value_t = 12)]
    pub sheet_examples: usize,
    /// Device (auto, cpu, cuda:N).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Also write every scored row as JSON Lines (the example's file, frame and audio times,
    /// label and kind, the target, the predicted class and its probabilities), to see which
    /// examples a model gets wrong.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let device: Device = args.device.parse::<pretext::training::DeviceSpec>()?.resolve()?;
    super::train::set_torch_threads(
        super::data::cores().saturating_sub(args.data.decode_workers()).max(1),
    );
    let r = Restored::load(&args.checkpoint, device, &args.sets, args.untrained)
        .with_context(|| format!("loading {}", args.checkpoint.display()))?;
    let split = match args.split {
        Split::Val => "val",
        Split::Test => "test",
    };
    let seed = args.seed.unwrap_or(r.meta.run.train.seed);
    let source =
        data_source(r.task.as_ref(), &r.meta.run.model.input, &args.data.spec(seed, split, None))?;
    let mut metrics = r.task.metrics();
    let mut lines = String::new();
    let want = args.predictions.is_some();
    let report = evaluate(
        r.model.as_ref(),
        source.val(r.meta.run.train.batch)?,
        args.max_batches,
        device,
        &mut metrics,
        &source.policy(),
        &mut |batch, scored| {
            if want {
                write_rows(&mut lines, batch, scored);
            }
        },
    )
    .with_context(|| format!("the {split} split"))?;
    if let Some(path) = &args.predictions {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        pretext::io::write_atomic(path, lines.as_bytes())?;
    }
    let mut json = serde_json::json!({
        "checkpoint": args.checkpoint,
        "task": r.task.name(),
        "options": r.task.options(),
        "step": r.meta.step,
        "weights": if args.untrained { "untrained (fresh init, the run's seed)" } else { "trained" },
        "split": split,
        "example_seed": seed,
    });
    if let Some(o) = json.as_object_mut() {
        o.extend(report.record());
    }
    let out = args.out.clone().unwrap_or_else(|| {
        let run = args
            .checkpoint
            .parent()
            .and_then(|p| p.parent())
            .map(PathBuf::from)
            .unwrap_or_default();
        let tag = if args.untrained { "-untrained" } else { "" };
        run.join("eval").join(format!("{}-{split}{tag}.json", r.task.name()))
    });
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    let sheet = if args.sheet_examples > 0 {
        let path = out.with_extension("png");
        write_sheet(&r, source.val(r.meta.run.train.batch)?, args.sheet_examples, device, &path)
            .with_context(|| format!("the contact sheet {}", path.display()))?
            .then_some(path)
    } else {
        None
    };
    if let (Some(path), Some(o)) = (&sheet, json.as_object_mut()) {
        o.insert("contact_sheet".into(), serde_json::json!(path));
    }
    pretext::io::write_atomic(&out, serde_json::to_string_pretty(&json)?.as_bytes())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        println!(
            "{} {split}{}: {} {:.4}, {} examples",
            r.task.name(),
            if args.untrained { " (untrained)" } else { "" },
            report.metric_name,
            report.metric,
            report.examples
        );
        for (k, v) in report.metrics.iter().filter(|(k, _)| **k != report.metric_name) {
            println!("  {k:<18} {v:.4}");
        }
        if let Some(kinds) = report.details.get("by_kind").and_then(|k| k.as_object()) {
            for (kind, c) in kinds {
                println!(
                    "  {kind:<18} {:>6} rows, {:.4} correct",
                    c["n"].as_u64().unwrap_or(0),
                    c["accuracy"].as_f64().unwrap_or(f64::NAN)
                );
            }
        }
        println!("  examples: {}", report.policy);
        if let Some(path) = &sheet {
            println!("contact sheet: {}", path.display());
        }
        println!("report: {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the contact sheet of the first `n` held-out examples when the task's output is a
/// picture; `false` when it is not (nothing written).
fn write_sheet(
    r: &Restored,
    batches: pretext::training::BatchIter,
    n: usize,
    device: Device,
    path: &std::path::Path,
) -> anyhow::Result<bool> {
    let _guard = tch::no_grad_guard();
    let mut rows = Vec::new();
    for batch in batches {
        let batch = batch?;
        if batch.is_empty() {
            continue;
        }
        let tb = pretext::training::TensorBatch::from_batch(&batch, device)?;
        let got = r.model.pictures(&tb)?;
        if got.is_empty() {
            return Ok(false);
        }
        rows.extend(got);
        if rows.len() >= n {
            break;
        }
    }
    rows.truncate(n);
    let Some(sheet) = pretext::evaluation::picture_sheet(&rows, 128) else { return Ok(false) };
    pretext::viz::save_rgb_png(path, sheet.width, sheet.height, &sheet.rgb)?;
    Ok(true)
}

/// One JSON line per scored row: its example's metadata, target, prediction and probabilities.
fn write_rows(out: &mut String, batch: &pretext::pipeline::Batch, s: &Scored) {
    for r in 0..s.rows() {
        let Some(m) = batch.meta.get(s.rows_example[r]) else { continue };
        let probs = &s.probs[r * s.classes..(r + 1) * s.classes];
        let line = serde_json::json!({
            "file": m.file,
            "video_times": m.video_times,
            "audio_file": m.audio_file,
            "audio_time": m.audio_time,
            "label": m.label,
            "kind": s.kinds[r],
            "target": s.targets[r],
            "predicted": s.predicted(r),
            "probs": probs,
            "correct": s.predicted(r) == s.targets[r],
        });
        out.push_str(&line.to_string());
        out.push('\n');
    }
}
