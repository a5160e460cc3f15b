//! `pretext localize`: where does the sound come from, frame by frame, as pictures people can
//! check (the work is `evaluation::localization::clip::localize_clip`). For each clip:
//! `OUT/<clip>/frame_<t>.png` overlays, `OUT/<clip>.mp4` (the overlays with the original
//! audio), `OUT/<clip>.json` (per-frame peak, box and confidence in frame pixels), and
//! `OUT/contact_sheet.png` with the first overlay of every clip.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pretext::evaluation::localization::clip::{localize_clip, ClipOptions, HeatScale};
use pretext::evaluation::localization::{
    Localizer, MapSmoothing, SmoothingChoice, StoredSmoothing,
};
use pretext::media::discover;
use pretext::pipeline::InputReader;
use pretext::tasks::{Restored, Role};
use pretext::viz::{contact_sheet, save_rgb_png};
use tch::Device;

use super::eval_localize::{parse_sigma, MapArg};

/// Heatmaps of where the sound comes from, for every sampled frame of each clip.
///
/// The model sees the centred square of each frame, cropped as in training (shorter side scaled
/// to the model's decode size, centre crop); the overlays show that view (288 to 512 px) with
/// the map upsampled bilinearly. Frames are sampled where the model's audio window fits the
/// file's streams, with the window centred on each frame. The model's scores are (cos+1)/2 of
/// each location's embedding with the audio embedding (σ of the AVOL logits with --map head);
/// they are drawn min-max scaled per frame by default (--scale absolute: as they are, so a clip
/// whose sound has no visible source stays dark). Confidence = mean of the top quarter of the
/// (unsmoothed) map (SLAVC), in the caption. The white box is the region around the peak above
/// half the frame's score range. The map smoothing stored with the checkpoint is applied.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (.safetensors written by pretext train; an avc or localize task).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Video files or folders (walked recursively).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Sampled frames per second (ignored with --every-frame).
    #[arg(long, default_value_t = 2.0)]
    pub fps: f64,
    /// Localise every frame of the clip (the MP4 then plays at the clip's frame rate).
    #[arg(long)]
    pub every_frame: bool,
    /// Colour scale of the heat: frame (min-max over each frame's map, the picture the box
    /// metrics binarise, as the papers draw it) or absolute (the model's 0-1 scores: a frame
    /// whose sound has no visible source stays dark). The caption's confidence is absolute
    /// either way.
    #[arg(long, value_enum, default_value = "frame")]
    pub scale: ScaleArg,
    /// How the map scores each location.
    #[arg(long, value_enum, default_value = "cosine")]
    pub map: MapArg,
    /// Gaussian smoothing of the coarse map before upsampling, σ as a fraction of the map's
    /// side (0 = off). Default: the σ stored with the checkpoint by `pretext eval localize`
    /// (which chooses it on a validation split), else 0; the command says which it used.
    #[arg(long, value_name = "SIGMA", value_parser = parse_sigma)]
    pub smooth: Option<MapSmoothing>,
    /// Device (auto, cpu, cuda:N).
    #[arg(long, default_value = "auto")]
    pub device: String,
}

/// `--scale`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScaleArg {
    /// Min-max over each frame's map.
    Frame,
    /// The model's scores as they are.
    Absolute,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.fps > 0.0 && args.fps <= 120.0, "--fps must be in (0, 120]");
    let device: Device = args.device.parse::<pretext::training::DeviceSpec>()?.resolve()?;
    super::train::set_torch_threads(super::data::cores());
    let name = args.checkpoint.display().to_string();
    let r = Restored::load(&args.checkpoint, device, &[], false)
        .with_context(|| format!("loading {name}"))?;
    let input = r.meta.run.model.input.clone();
    let choice = match (args.smooth, StoredSmoothing::read(&r.meta)?) {
        (Some(s), _) => SmoothingChoice::Given(s),
        (None, Some(s)) => SmoothingChoice::Stored(s),
        (None, None) => SmoothingChoice::Unset,
    };
    eprintln!("{}", choice.describe());
    let mut reader = InputReader::new(
        r.task.data(Role::Eval),
        input.clone(),
        std::time::Duration::from_secs(300),
    );
    let mut loc =
        Localizer::new(r.vs, r.model, input, &name, device)?.with_head_map(args.map.head());
    let (files, errors) = discover(&args.inputs);
    for (p, e) in &errors {
        eprintln!("skipping {}: {e}", p.display());
    }
    anyhow::ensure!(!files.is_empty(), "no video file in the inputs");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let opts = ClipOptions {
        fps: args.fps,
        every_frame: args.every_frame,
        smooth: choice.smoothing(),
        scale: match args.scale {
            ScaleArg::Frame => HeatScale::Frame,
            ScaleArg::Absolute => HeatScale::Absolute,
        },
        checkpoint: name,
        ..ClipOptions::default()
    };
    let bar =
        std::io::stderr().is_terminal().then(|| indicatif::ProgressBar::new(files.len() as u64));
    let mut tiles = Vec::new();
    let mut failed = 0usize;
    for path in &files {
        let clip = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match localize_clip(&mut loc, &mut reader, path, &args.out, &clip, &opts) {
            Ok(r) => {
                eprintln!("{}: {} frames", path.display(), r.report.frames.len());
                if let Some(o) = r.first_overlay {
                    tiles.push((clip, o));
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e}", path.display());
            }
        }
        if let Some(b) = &bar {
            b.inc(1);
        }
    }
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if !tiles.is_empty() {
        let columns = (tiles.len() as f64).sqrt().ceil() as usize;
        let sheet = contact_sheet(&tiles, columns, 192, 160);
        save_rgb_png(&args.out.join("contact_sheet.png"), sheet.width, sheet.height, &sheet.rgb)?;
    }
    eprintln!(
        "{} clips localised, {failed} failed; results in {}",
        files.len() - failed,
        args.out.display()
    );
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
