//! `pretext eval localize`: sound-source localisation metrics of a checkpoint, always next to
//! the centre-prior baseline and an untrained model of the same architecture, on the same
//! samples and with the same metric settings.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pretext::evaluation::localization::eval_set::{image_samples, mismatch_audio, synth_samples};
use pretext::evaluation::localization::evaluator::{
    choose_smoothing, evaluate_centre_prior, evaluate_localizer, EvalConfig, SMOOTHING_GRID,
};
use pretext::evaluation::localization::{
    flickr_xml, vggss_json, Interpolation, LocalizationSummary, Localizer, MapSmoothing,
    PointingRule, Protocol, SampleScore, SmoothingChoice, StoredSmoothing,
};
use pretext::pipeline::InputReader;
use pretext::tasks::{Restored, Role};
use tch::Device;

/// Annotation format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A synthetic world's annotations.jsonl (boxes per frame; sounding objects only).
    Synth,
    /// Flickr-SoundNet: a folder of XML files, 3 annotators, consensus weights 0/.5/1.
    Flickr,
    /// VGG-SS: one JSON file of normalised boxes, binary union.
    Vggss,
}

/// How the map scores each location (`pretext eval localize --map`, `pretext localize --map`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum MapArg {
    /// Cosine of each location's embedding with the audio embedding, as (cos+1)/2: direction
    /// only, so a location's feature norm cannot outshine the object that sounds.
    Cosine,
    /// The head's own map: σ of the AVOL head's calibrated per-location logits (the other heads
    /// have none and give the cosine).
    Head,
}

impl MapArg {
    /// Whether the head's own map was asked for.
    pub fn head(self) -> bool {
        self == MapArg::Head
    }
}

/// `--smooth`: a fixed σ or one chosen on another split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SmoothArg {
    /// This smoothing.
    Fixed(MapSmoothing),
    /// The best σ of [`SMOOTHING_GRID`] on `--smooth-split`.
    Auto,
}

fn parse_smooth(s: &str) -> Result<SmoothArg, String> {
    if s == "auto" {
        return Ok(SmoothArg::Auto);
    }
    parse_sigma(s).map(SmoothArg::Fixed)
}

/// A `--smooth SIGMA` value (also `pretext localize`'s), validated by [`MapSmoothing::new`].
pub fn parse_sigma(s: &str) -> Result<MapSmoothing, String> {
    let sigma: f64 = s.parse().map_err(|_| format!("expected a number, got {s:?}"))?;
    MapSmoothing::new(sigma).map_err(|e| e.to_string())
}

/// Upsampling of the coarse map to the 224×224 grid (overrides the protocol's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Upsample {
    /// PyTorch bilinear (EZ-VSL test.py).
    Bilinear,
    /// PyTorch bicubic (SLAVC test.py; EZ-VSL and SLAVC train.py validation).
    Bicubic,
    /// OpenCV cv2.resize INTER_LINEAR (LVS test.py); needs align_corners false.
    Cv2Linear,
}

/// `--protocol`: the test script whose arithmetic is reproduced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProtocolArg {
    /// stoneMo/EZ-VSL test.py: PyTorch bilinear with align_corners=True, min-max, foreground
    /// where P >= sort(P)[N/2].
    Ezvsl,
    /// stoneMo/SLAVC test.py --relative_prediction (its README's command): PyTorch bicubic with
    /// align_corners=True, min-max, P >= sort(P)[N/2].
    Slavc,
    /// stoneMo/SLAVC test.py with its defaults: bicubic, align_corners=True, no normalisation,
    /// foreground where the (cos+1)/2 map >= 0.5.
    SlavcAbsolute,
    /// hche11/Localizing-Visual-Sounds-the-Hard-Way test.py: cv2.resize INTER_LINEAR
    /// (half-pixel, like align_corners=False), P = 1 - min-max(-map), foreground where
    /// P > sort(P)[N/2] (and P >= 1).
    Lvs,
    /// pretext before issue #27 (docs/results.md figures before 2026-12-03): PyTorch bilinear
    /// with align_corners=False, min-max, P >= sort(P)[N/2].
    PretextV1,
}

impl From<ProtocolArg> for Protocol {
    fn from(p: ProtocolArg) -> Protocol {
        match p {
            ProtocolArg::Ezvsl => Protocol::Ezvsl,
            ProtocolArg::Slavc => Protocol::Slavc,
            ProtocolArg::SlavcAbsolute => Protocol::SlavcAbsolute,
            ProtocolArg::Lvs => Protocol::Lvs,
            ProtocolArg::PretextV1 => Protocol::PretextV1,
        }
    }
}

/// `pretext eval localize`'s flags (the help text is on `eval::Command::Localize`).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (.safetensors written by pretext train).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Folder of the clips (synth) or of frames/ and audio/ (flickr, vggss).
    #[arg(long)]
    pub data: PathBuf,
    /// annotations.jsonl (synth), a folder of XML files (flickr) or vggss.json.
    #[arg(long)]
    pub annotations: PathBuf,
    /// Annotation format.
    #[arg(long, value_enum, default_value = "synth")]
    pub format: Format,
    /// The test script whose arithmetic is reproduced: upsampling, align_corners,
    /// normalisation, and the comparison at the median.
    #[arg(long, value_enum, default_value = "ezvsl")]
    pub protocol: ProtocolArg,
    /// Override the protocol's upsampling of the coarse map (the report lists overrides).
    #[arg(long, value_enum)]
    pub upsample: Option<Upsample>,
    /// Override the protocol's align_corners (true or false; the report lists overrides).
    #[arg(long, value_name = "BOOL")]
    pub align_corners: Option<bool>,
    /// The pointing game's tolerance in pixels of the 224 grid: a hit when some ground-truth
    /// pixel is strictly closer than this to the map's arg-max (TorchRay's pointing_game.py,
    /// default 15). 0 = strict: the arg-max pixel itself must be inside a box.
    #[arg(long, default_value_t = pretext::evaluation::localization::pointing::TOLERANCE_PX,
          value_name = "PX", value_parser = clap::value_parser!(u32).range(0..=224))]
    pub pointing_tolerance: u32,
    /// How the map scores each location (the untrained row uses the same).
    #[arg(long, value_enum, default_value = "cosine")]
    pub map: MapArg,
    /// Gaussian smoothing of the coarse map before upsampling: σ as a fraction of the map's
    /// side (0 = off, the published protocol), or "auto": the σ of 0, 0.1, ..., 0.4 with the
    /// best cIoU@0.5 on --smooth-split (synthetic worlds; the model runs once there), then
    /// --split is read with it, and the choice is stored with the checkpoint (and in
    /// RUN/localize-smoothing.json) for later runs of this command and of `pretext localize`.
    /// Without --smooth: the σ stored with the checkpoint; if none is stored, "auto" where a
    /// synthetic world has the split to choose on, else 0. Every row but the centre prior (a
    /// fixed blob) gets the same σ. cIoU and pointing read the smoothed map, the confidence
    /// (AP, max-F1) the unsmoothed one.
    #[arg(long, value_name = "SIGMA|auto", value_parser = parse_smooth)]
    pub smooth: Option<SmoothArg>,
    /// The split "--smooth auto" chooses σ on (never the split being reported).
    #[arg(long, default_value = "val")]
    pub smooth_split: String,
    /// Control: give every frame the sound of a sample from another file (its ground truth
    /// stays). A map that follows the sound loses the frame's own source; a map that only looks
    /// at the picture does not notice.
    #[arg(long)]
    pub mismatch_audio: bool,
    /// Split of a synthetic world to score (all clips: "all").
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Frames scored per synthetic clip.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub frames_per_clip: u64,
    /// Seed of the untrained model's weights.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write every sample's cIoU and confidence (JSON Lines) here.
    #[arg(long)]
    pub scores: Option<PathBuf>,
    /// Also write the trained model's coarse maps here, before --smooth and upsampling (JSON
    /// Lines, one per sample in --scores order: name, height, width, row-major values in
    /// [0, 1]); what `scripts/localization_cells.py` reads.
    #[arg(long)]
    pub maps: Option<PathBuf>,
    /// Device (auto, cpu, cuda:N).
    #[arg(long, default_value = "auto")]
    pub device: String,
}

fn fmt(x: f64) -> String {
    if x.is_nan() {
        "-".into()
    } else {
        format!("{x:.3}")
    }
}

fn table(rows: &[(&str, &LocalizationSummary)]) -> String {
    let mut s = format!(
        "{:<14} {:>7} {:>7} {:>8} {:>9} {:>6} {:>8} {:>6} {:>7} {:>9} {:>9}\n",
        "model",
        "samples",
        "visible",
        "cIoU@0.5",
        "mean cIoU",
        "AUC",
        "pointing",
        "AP",
        "max-F1",
        "conf vis",
        "conf neg"
    );
    for (name, r) in rows {
        let e = &r.extended;
        s.push_str(&format!(
            "{:<14} {:>7} {:>7} {:>8} {:>9} {:>6} {:>8} {:>6} {:>7} {:>9} {:>9}\n",
            name,
            r.samples,
            r.visible,
            fmt(r.ciou_at_50),
            fmt(r.mean_ciou),
            fmt(r.auc),
            fmt(r.pointing_accuracy),
            fmt(e.ap),
            fmt(e.max_f1),
            fmt(e.mean_confidence_visible),
            fmt(e.mean_confidence_negative),
        ));
    }
    s
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The protocol first: a contradictory one fails before the model loads.
    let base = EvalConfig::for_protocol(args.protocol.into());
    let cfg = EvalConfig {
        interpolation: match args.upsample {
            None => base.interpolation,
            Some(Upsample::Bilinear) => Interpolation::Bilinear,
            Some(Upsample::Bicubic) => Interpolation::Bicubic,
            Some(Upsample::Cv2Linear) => Interpolation::Cv2Linear,
        },
        align_corners: args.align_corners.unwrap_or(base.align_corners),
        pointing: PointingRule { tolerance_px: args.pointing_tolerance },
        ..base
    };
    anyhow::ensure!(
        !(cfg.interpolation == Interpolation::Cv2Linear && cfg.align_corners),
        "cv2.resize has no align_corners: with --upsample cv2-linear (or --protocol lvs) leave \
         --align-corners unset or false"
    );
    let protocol = cfg.protocol_parameters();
    let device: Device = args.device.parse::<pretext::training::DeviceSpec>()?.resolve()?;
    super::train::set_torch_threads(super::data::cores());
    let r = Restored::load(&args.checkpoint, device, &[], false)
        .with_context(|| format!("loading {}", args.checkpoint.display()))?;
    let input = r.meta.run.model.input.clone();
    let (uvs, umodel) = r.untrained(args.seed, device)?;
    let mut reader = InputReader::new(
        r.task.data(Role::Eval),
        input.clone(),
        std::time::Duration::from_secs(300),
    );
    let name = args.checkpoint.display().to_string();
    let mut untrained = Localizer::new(uvs, umodel, input.clone(), "the untrained model", device)?
        .with_head_map(args.map.head());
    let mut trained =
        Localizer::new(r.vs, r.model, input.clone(), &name, device)?.with_head_map(args.map.head());
    let clips = match args.format {
        Format::Synth => pretext::synth::read_annotations(&args.annotations)?,
        Format::Flickr | Format::Vggss => Vec::new(),
    };
    let stored = StoredSmoothing::read(&r.meta)?;
    let can_choose = args.format == Format::Synth
        && args.smooth_split != args.split
        && args.split != "all"
        && clips.iter().any(|c| c.split == args.smooth_split);
    let choice = match (args.smooth, stored) {
        (Some(SmoothArg::Fixed(s)), _) => SmoothingChoice::Given(s),
        (None, Some(s)) => SmoothingChoice::Stored(s),
        (None, None) if !can_choose => SmoothingChoice::Unset,
        (Some(SmoothArg::Auto), _) | (None, None) => {
            anyhow::ensure!(
                args.format == Format::Synth,
                "--smooth auto needs a synthetic world's --smooth-split; for {:?} pass a σ chosen \
                 on held-out data",
                args.format
            );
            anyhow::ensure!(
                args.smooth_split != args.split && args.split != "all",
                "--smooth auto would choose σ on the split it reports ({}); pick another \
                 --smooth-split or --split",
                args.split
            );
            let fpc = args.frames_per_clip as usize;
            let held_out = synth_samples(
                &args.data,
                &clips,
                Some(args.smooth_split.as_str()),
                fpc,
                &mut reader,
                cfg.size,
            )
            .context("reading the clips --smooth auto chooses on")?;
            anyhow::ensure!(!held_out.is_empty(), "no clip in split {:?}", args.smooth_split);
            let (best, tried) = choose_smoothing(&mut trained, &held_out, &cfg, &SMOOTHING_GRID)?;
            let list: Vec<String> = tried
                .iter()
                .map(|(s, r)| format!("{}: {}", s.sigma(), fmt(r.ciou_at_50)))
                .collect();
            eprintln!(
                "choosing the map smoothing: cIoU@0.5 on {} ({} samples) by σ: {}; chose σ = {}",
                args.smooth_split,
                held_out.len(),
                list.join(", "),
                best.sigma()
            );
            let chosen = StoredSmoothing {
                sigma: best,
                split: args.smooth_split.clone(),
                data: args.data.clone(),
                samples: held_out.len(),
                metric: "cIoU@0.5".into(),
                tried: tried.iter().map(|(s, r)| (s.sigma(), r.ciou_at_50)).collect(),
                settings: serde_json::json!({
                    "protocol": cfg.protocol,
                    "upsample": cfg.interpolation,
                    "align_corners": cfg.align_corners,
                    "map": format!("{:?}", args.map).to_lowercase(),
                    "frames_per_clip": args.frames_per_clip,
                }),
            };
            // Stored for the next run of this command and of `pretext localize`; a checkpoint
            // that cannot be rewritten (read-only) is reported, the evaluation goes on.
            match chosen.store(&args.checkpoint) {
                Ok(run_file) => eprintln!(
                    "stored σ = {} with {}{}",
                    best.sigma(),
                    args.checkpoint.display(),
                    run_file.map(|f| format!(" and in {}", f.display())).unwrap_or_default()
                ),
                Err(e) => eprintln!("warning: could not store the chosen σ: {e}"),
            }
            SmoothingChoice::Chosen(chosen)
        }
    };
    eprintln!("{}", choice.describe());
    let smoothing = choice.smoothing();
    let cfg = EvalConfig { smoothing, ..cfg };
    let mut samples = match args.format {
        Format::Synth => {
            let split = (args.split != "all").then_some(args.split.as_str());
            let fpc = args.frames_per_clip as usize;
            synth_samples(&args.data, &clips, split, fpc, &mut reader, cfg.size)
                .context("reading the synthetic clips")?
        }
        Format::Flickr | Format::Vggss => {
            let targets = if args.format == Format::Flickr {
                flickr_xml::read_flickr_dir(&args.annotations, cfg.size)?
            } else {
                vggss_json::read_vggss_json(&args.annotations, cfg.size)?
            };
            let (samples, missing) = image_samples(&args.data, &targets, &input)?;
            if !missing.is_empty() {
                eprintln!(
                    "note: {} annotated samples have no frames/NAME.jpg + audio/NAME.wav in {} \
                     (first: {})",
                    missing.len(),
                    args.data.display(),
                    missing[0]
                );
            }
            samples
        }
    };
    anyhow::ensure!(!samples.is_empty(), "no sample to evaluate (check --split and --data)");
    if args.mismatch_audio {
        mismatch_audio(&mut samples)?;
    }
    let bar = std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new(2 * samples.len() as u64);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let n = samples.len() as u64;
    let (_, centre) = evaluate_centre_prior(&samples, &cfg)?;
    let (_, untrained_summary) =
        evaluate_localizer(&mut untrained, &samples, &cfg, &mut |d, _| {
            if let Some(b) = &bar {
                b.set_position(d as u64)
            }
        })?;
    let mut maps = Vec::new();
    let (scores, trained_summary) =
        evaluate_localizer(&mut trained, &samples, &cfg, &mut |d, batch| {
            if let Some(b) = &bar {
                b.set_position(n + d as u64)
            }
            if args.maps.is_some() {
                maps.extend_from_slice(batch);
            }
        })?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(path) = &args.scores {
        let mut text = String::new();
        for s in &scores {
            text.push_str(&serde_json::to_string::<SampleScore>(s)?);
            text.push('\n');
        }
        pretext::io::write_atomic(path, text.as_bytes())?;
    }
    if let Some(path) = &args.maps {
        let mut text = String::new();
        for (s, m) in scores.iter().zip(&maps) {
            let line = serde_json::json!({
                "name": s.name, "height": m.height, "width": m.width, "values": m.values,
            });
            text.push_str(&line.to_string());
            text.push('\n');
        }
        pretext::io::write_atomic(path, text.as_bytes())?;
    }
    let rows = [
        ("centre prior", &centre),
        ("untrained", &untrained_summary),
        ("trained", &trained_summary),
    ];
    if args.json {
        let report = serde_json::json!({
            "checkpoint": args.checkpoint,
            "format": format!("{:?}", args.format).to_lowercase(),
            "protocol": cfg.protocol,
            "protocol_parameters": protocol,
            "pointing_tolerance_px": cfg.pointing.tolerance_px,
            "pointing_rule": cfg.pointing.name(),
            "upsample": cfg.interpolation,
            "map": format!("{:?}", args.map).to_lowercase(),
            "smooth": smoothing.sigma(),
            "smooth_source": choice.source(),
            "smooth_chosen_on": choice.chosen_on(),
            "mismatch_audio": args.mismatch_audio,
            "align_corners": cfg.align_corners,
            "grid": cfg.size,
            "centre_prior": centre,
            "untrained": untrained_summary,
            "trained": trained_summary,
        });
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        let mut smoothed = if smoothing.is_off() {
            String::new()
        } else {
            format!(", maps smoothed (σ = {} of the side)", smoothing.sigma())
        };
        if args.mismatch_audio {
            smoothed.push_str(", every frame with ANOTHER file's sound (control)");
        }
        println!(
            "localisation on {} samples ({} with a visible source) on a {}x{} grid{}",
            trained_summary.samples, trained_summary.visible, cfg.size, cfg.size, smoothed
        );
        println!("protocol {}", protocol.describe());
        let pointing = if cfg.pointing.is_strict() {
            "strict (the arg-max inside the ground truth)".to_string()
        } else {
            format!(
                "arg-max within {} px of the ground truth (TorchRay)",
                cfg.pointing.tolerance_px
            )
        };
        println!("pointing game: {pointing}");
        print!("{}", table(&rows));
    }
    Ok(ExitCode::SUCCESS)
}
