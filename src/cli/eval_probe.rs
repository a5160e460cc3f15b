//! `pretext eval probe`: how good a checkpoint's frozen features are, layer by layer and for both
//! modalities: linear probes (VISSL's recipe), weighted kNN (solo-learn's), within- and
//! cross-modal retrieval (AVE-Net's R@K and nDCG@30), against labels from a synthetic world, a
//! CSV or folder names. `--untrained` probes a random-init trunk of the same architecture,
//! `--supervised` a fresh trunk trained on the labels for `--max-time` first (the upper bound).
//! Features are cached per checkpoint hash, split and layer, so a second run decodes nothing.
//! Writes OUT/report.json and OUT/report.md.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pretext::evaluation::probe::{
    content_hash, probe_layers, train_supervised, Extraction, FeatureCache, LabelSet, LabelSource,
    LabelledSplit, ProbeClip, ProbeConfig, ProbeReport, SupervisedConfig,
};
use pretext::models::{Trunk, TrunkNeeds};
use pretext::tasks::Restored;
use pretext::training::{parse_duration, split_files};
use tch::Device;

/// Per-layer linear probes, kNN and retrieval of a checkpoint's frozen features.
///
/// The labelled files of --data are split as training splits them (a world's annotations.jsonl,
/// --split-file, or a hash of each path). Each file gives --per-clip moments (a CSV span gives
/// its centre); each moment is read as validation reads it (centre crop, no augmentation). Every
/// stage of the vision and audio towers is average-pooled to a grid of about 9,216 values
/// (VISSL's), the embeddings are layer `emb`. Probes and kNN banks are fitted on the train split
/// and scored on val and test; retrieval is scored on test.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (.safetensors written by pretext train).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The data folder.
    #[arg(long)]
    pub data: PathBuf,
    /// Labels: synth:sounding (the sounding object's class), synth:audio (the heard sound's
    /// class), synth:largest (the largest object's class), csv:PATH (`path,label` or `path,start,end,label` lines), or folders.
    #[arg(long, default_value = "synth:sounding")]
    pub labels: String,
    /// A split file (as `pretext train --split-file`).
    #[arg(long)]
    pub split_file: Option<PathBuf>,
    /// Layers: all, or a comma list such as vision.2,vision.emb,audio.3.
    #[arg(long, default_value = "all")]
    pub layers: String,
    /// Probe a random-init trunk of the same architecture (weights from the run's seed).
    #[arg(long, conflicts_with = "supervised")]
    pub untrained: bool,
    /// Train a fresh trunk of the same architecture on the labels for --max-time, then probe it.
    #[arg(long)]
    pub supervised: bool,
    /// Training budget of --supervised (e.g. 5m, 300s).
    #[arg(long, default_value = "5m")]
    pub max_time: String,
    /// Moments per file.
    #[arg(long, default_value_t = 3)]
    pub per_clip: usize,
    /// Seed of the probes (weights, batch order) and of the supervised trunk.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Probe epochs (VISSL: 28).
    #[arg(long, default_value_t = 28)]
    pub epochs: usize,
    /// Probe learning rate.
    #[arg(long, default_value_t = 0.01)]
    pub lr: f64,
    /// Probe batch.
    #[arg(long, default_value_t = 32)]
    pub batch: usize,
    /// Decoding threads of the extraction (default: every core).
    #[arg(long)]
    pub workers: Option<usize>,
    /// Torch threads (default: every core).
    #[arg(long)]
    pub threads: Option<usize>,
    /// The feature cache (default: RUN/probe-cache beside the checkpoint's run).
    #[arg(long)]
    pub cache: Option<PathBuf>,
    /// Output folder (default: RUN/probe, RUN/probe-untrained or RUN/probe-supervised).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The name of this line in `eval compare` (default: the task, "random init" or
    /// "supervised").
    #[arg(long)]
    pub name: Option<String>,
    /// Device (auto, cpu, cuda:N).
    #[arg(long, default_value = "auto")]
    pub device: String,
}

fn bar(len: u64, what: &str) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(len);
    b.set_style(
        indicatif::ProgressStyle::with_template(&format!(
            "{what} {{elapsed_precise}} [{{bar:30}}] {{pos}}/{{len}}"
        ))
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    b
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let device: Device = args.device.parse::<pretext::training::DeviceSpec>()?.resolve()?;
    let cores = super::data::cores();
    super::train::set_torch_threads(args.threads.unwrap_or(cores));
    let r = Restored::load(&args.checkpoint, device, &[], args.untrained)
        .with_context(|| format!("loading {}", args.checkpoint.display()))?;
    let run_dir =
        args.checkpoint.parent().and_then(|p| p.parent()).map(PathBuf::from).unwrap_or_default();
    let variant = if args.untrained {
        "untrained"
    } else if args.supervised {
        "supervised"
    } else {
        "trained"
    };
    let out = args.out.clone().unwrap_or_else(|| {
        run_dir.join(match variant {
            "trained" => "probe".to_string(),
            v => format!("probe-{v}"),
        })
    });
    std::fs::create_dir_all(&out).with_context(|| format!("creating {}", out.display()))?;
    let cache =
        FeatureCache::new(args.cache.clone().unwrap_or_else(|| run_dir.join("probe-cache")));
    let source: LabelSource = args.labels.parse()?;
    // The clips' paths are part of the cache's digest: the same folder given as a relative or an
    // absolute path must hit the same entries.
    let data = std::fs::canonicalize(&args.data)
        .with_context(|| format!("--data {}", args.data.display()))?;
    let mut labels = LabelSet::read(&source, &data)?;
    let canonical =
        |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    for c in &mut labels.clips {
        c.file = canonical(&c.file);
    }
    anyhow::ensure!(
        !labels.multi_label,
        "{}: multi-label probes are not implemented yet; use synth:sounding or synth:audio",
        source.name()
    );
    let split = split_files(std::slice::from_ref(&data), args.split_file.as_deref())?;
    let per_split = |name: &str| -> (Vec<ProbeClip>, Vec<i64>) {
        let mut files: Vec<PathBuf> =
            split.get(name).unwrap_or(&[]).iter().map(|p| canonical(p)).collect();
        files.sort();
        labels
            .clips
            .iter()
            .filter(|c| files.binary_search(&c.file).is_ok())
            .map(|c| (ProbeClip { file: c.file.clone(), span: c.span }, c.classes[0] as i64))
            .unzip()
    };
    let input = r.meta.run.model.input.clone();
    let needs = TrunkNeeds {
        vision_channels: r.model.trunk().vision().ok().map(|t| t.in_channels()),
        audio: r.model.trunk().has_audio(),
    };
    let mut key = content_hash(&args.checkpoint)?;
    if args.untrained {
        key = format!("{key}-untrained-seed{}", r.meta.run.train.seed);
    }
    let mut supervised = None;
    if args.supervised {
        let (clips, ys) = per_split("train");
        let cfg = SupervisedConfig {
            max_time: std::time::Duration::from_secs_f64(parse_duration(&args.max_time)?),
            batch: 32,
            lr: 1e-3,
            seed: args.seed,
            per_clip: args.per_clip,
        };
        let save = out.join("supervised.safetensors");
        let b = bar(cfg.max_time.as_secs(), "supervised (s)");
        let (t, stats) = train_supervised(
            &r.meta.run.model,
            needs,
            &clips,
            &ys,
            labels.names.len(),
            &cfg,
            device,
            &save,
            &|_, s| b.set_position(s as u64),
        )?;
        b.finish_and_clear();
        eprintln!(
            "supervised: {} steps on {} moments, train accuracy {:.3} (last 20 steps)",
            stats.steps, stats.examples, stats.train_accuracy
        );
        key = content_hash(&save)?;
        supervised = Some(t);
    }
    let trunk: &Trunk = match &supervised {
        Some(s) => &s.trunk,
        None => r.model.trunk(),
    };
    let layers: Vec<String> = if args.layers == "all" {
        Vec::new()
    } else {
        args.layers.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
    };
    let mut splits = Vec::new();
    let mut rows = Vec::new();
    for name in ["train", "val", "test"] {
        let (clips, ys) = per_split(name);
        anyhow::ensure!(!clips.is_empty(), "the {name} split has no labelled file");
        let ex = Extraction {
            trunk,
            input: input.clone(),
            key: key.clone(),
            split: name.to_string(),
            clips,
            per_clip: args.per_clip,
            layers: layers.clone(),
            batch: 32,
            workers: args.workers.unwrap_or(cores),
            device,
        };
        let b = bar(ex.clips.len() as u64, &format!("features {name}"));
        let (c, st) = cache.features(&ex, &|d, _| b.set_position(d))?;
        b.finish_and_clear();
        if st.decoded_files == 0 {
            eprintln!("{name}: {} rows from the cache {}", st.rows, c.dir.display());
        } else {
            eprintln!(
                "{name}: {} rows from {} files in {:.1} s ({:.1} files/s, {} failed)",
                st.rows,
                st.decoded_files,
                st.seconds,
                st.decoded_files as f64 / st.seconds.max(1e-9),
                c.manifest.failed.len()
            );
        }
        let row_labels = c.manifest.rows.iter().map(|row| ys[row.clip]).collect();
        rows.push((name.to_string(), c.manifest.rows.len()));
        splits.push(LabelledSplit { name: name.to_string(), cache: c, labels: row_labels });
    }
    let cfg = ProbeConfig {
        epochs: args.epochs,
        batch: args.batch,
        lr: args.lr,
        seed: args.seed,
        ..Default::default()
    };
    let n_layers = splits[0].cache.manifest.layers.len() as u64;
    let b = bar(n_layers, "probes (layers)");
    let (layer_reports, cross) =
        probe_layers(&splits[0], &splits[1..], labels.names.len(), &cfg, device, &|d, _| {
            b.set_position(d as u64)
        })?;
    b.finish_and_clear();
    let task = r.task.name().to_string();
    let report = ProbeReport {
        name: args.name.clone().unwrap_or_else(|| match variant {
            "untrained" => format!("random init ({task} trunk)"),
            "supervised" => format!("supervised ({task} trunk)"),
            _ => task.clone(),
        }),
        task,
        variant: variant.into(),
        checkpoint: args.checkpoint.display().to_string(),
        key,
        labels: source.name(),
        classes: labels.names.clone(),
        rows,
        probe_config: cfg,
        layers: layer_reports,
        cross_modal: cross,
    };
    let json = serde_json::to_string_pretty(&report)?;
    pretext::io::write_atomic(&out.join("report.json"), json.as_bytes())?;
    let md = pretext::evaluation::probe::report_markdown(&report);
    pretext::io::write_atomic(&out.join("report.md"), md.as_bytes())?;
    print!("{md}");
    println!("report: {}", out.join("report.json").display());
    Ok(ExitCode::SUCCESS)
}
