//! `pretext eval avc`: a checkpoint's audio-visual correspondence accuracy and ROC AUC on
//! held-out files, with the negative policy written next to the numbers. `--untrained` scores
//! the same architecture with fresh weights (the ~50% baseline) under the same evaluation.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pretext::tasks::NegativeKinds;
use pretext::training::{build_model, checkpoint, predict, report_of, TaskKind};
use tch::Device;

use super::data::{open_source, DataArgs, Negatives};

/// Which held-out files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Split {
    /// Validation files.
    Val,
    /// Test files.
    Test,
}

/// Audio-visual correspondence accuracy, ROC AUC and counts of a checkpoint.
///
/// Positives pair a frame with the audio centred on it; negatives take audio from another file
/// (easy) or from the same file shifted in time (hard). Writes the JSON report to --out
/// (default: RUN/eval/avc-SPLIT-NEGATIVES.json beside the checkpoint's run).
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
    /// Negative policy.
    #[arg(long, value_enum, default_value = "easy")]
    pub negatives: Negatives,
    /// Batches to score (default: the whole split once).
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
    /// Device (auto, cpu, cuda:N).
    #[arg(long, default_value = "auto")]
    pub device: String,
    /// Also write every scored example as JSON Lines (file, frame and audio times, audio
    /// file, label, kind, p(correspond)), to see which examples a model gets wrong.
    #[arg(long)]
    pub predictions: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let device: Device = args.device.parse::<pretext::training::DeviceSpec>()?.resolve()?;
    super::train::set_torch_threads(
        super::data::cores().saturating_sub(args.data.decode_workers()).max(1),
    );
    let (meta, tensors) = checkpoint::read_checkpoint(&args.checkpoint)?;
    anyhow::ensure!(
        matches!(meta.run.task, TaskKind::Avc | TaskKind::AvcInBatch),
        "{} is a {} checkpoint, not AVC",
        args.checkpoint.display(),
        meta.run.task.name()
    );
    tch::manual_seed(meta.run.train.seed as i64);
    let vs = tch::nn::VarStore::new(device);
    let model = build_model(&meta.run, &vs.root())?;
    if !args.untrained {
        checkpoint::load_variables(&args.checkpoint, &vs, &tensors)?;
    }
    drop(tensors);
    let split = match args.split {
        Split::Val => "val",
        Split::Test => "test",
    };
    let negatives = match args.negatives {
        Negatives::Easy => "easy",
        Negatives::Hard => "hard",
    };
    let source = open_source(
        &args.data,
        TaskKind::Avc,
        &meta.run.model,
        args.seed.unwrap_or(meta.run.train.seed),
        split,
        Some(args.negatives),
        NegativeKinds::default(),
        None,
    )?;
    let preds =
        predict(model.as_ref(), source.val(meta.run.train.batch)?, args.max_batches, device)?;
    anyhow::ensure!(!preds.scores.is_empty(), "the {split} split produced no example");
    let report = report_of(&preds, "accuracy", &source.negative_policy());
    if let Some(path) = &args.predictions {
        write_predictions(path, &preds)?;
    }
    let json = serde_json::json!({
        "checkpoint": args.checkpoint,
        "step": meta.step,
        "weights": if args.untrained { "untrained (fresh init, same seed)" } else { "trained" },
        "split": split,
        "negatives": negatives,
        "example_seed": args.seed.unwrap_or(meta.run.train.seed),
        "loss": report.loss,
        "accuracy": report.report.accuracy,
        "balanced_accuracy": report.report.balanced_accuracy,
        "roc_auc": report.report.roc_auc,
        "positives": report.report.positives,
        "negatives_count": report.report.negatives,
        "by_kind": report.report.by_kind,
        "negative_policy": report.report.negative_policy,
    });
    let out = args.out.clone().unwrap_or_else(|| {
        let run = args
            .checkpoint
            .parent()
            .and_then(|p| p.parent())
            .map(PathBuf::from)
            .unwrap_or_default();
        let tag = if args.untrained { "-untrained" } else { "" };
        run.join("eval").join(format!("avc-{split}-{negatives}{tag}.json"))
    });
    if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    pretext::io::write_atomic(&out, serde_json::to_string_pretty(&json)?.as_bytes())?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        let r = &report.report;
        println!(
            "AVC {split} ({negatives} negatives{}): accuracy {:.4}, ROC AUC {}, {} positives / {} negatives",
            if args.untrained { ", untrained" } else { "" },
            r.accuracy,
            r.roc_auc.map(|a| format!("{a:.4}")).unwrap_or_else(|| "n/a".into()),
            r.positives,
            r.negatives
        );
        for (kind, c) in &r.by_kind {
            println!(
                "  {kind:<10} {:>6} examples, {:.4} correct",
                c.total,
                c.correct as f64 / c.total.max(1) as f64
            );
        }
        println!("  negative policy: {}", r.negative_policy);
        println!("report: {}", out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// One JSON line per scored example: its sample metadata and p(correspond).
fn write_predictions(
    path: &std::path::Path,
    preds: &pretext::training::Predictions,
) -> anyhow::Result<()> {
    let mut text = String::new();
    for (m, p) in preds.meta.iter().zip(&preds.scores) {
        let line = serde_json::json!({
            "file": m.file,
            "video_times": m.video_times,
            "audio_file": m.audio_file,
            "audio_time": m.audio_time,
            "label": m.label,
            "kind": m.kind,
            "p_correspond": p,
            "correct": (*p >= 0.5) == (m.label == 1),
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    pretext::io::write_atomic(path, text.as_bytes())?;
    Ok(())
}
