//! `pretext localize`: where does the sound come from, frame by frame, as pictures people can
//! check. For each clip: `OUT/<clip>/frame_<t>.png` overlays (heatmap over the frame with a
//! colour bar), `OUT/<clip>.mp4` (the overlays with the original audio), `OUT/<clip>.json`
//! (per-frame peak, box and confidence in frame pixels), and `OUT/contact_sheet.png` with the
//! first overlay of every clip.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use pretext::evaluation::localization::eval_set::{centre_crop, decode_size, model_view};
use pretext::evaluation::localization::{
    localize_frame, top_quartile_mean, upsample, FrameLocalization, Interpolation, Localizer,
    MapSmoothing, BOX_THRESHOLD,
};
use pretext::media::{
    discover, probe, AudioDecoder, AudioOptions, Container, EncoderConfig, MediaEncoder,
    ResizeMode, VideoDecoder, VideoOptions,
};
use pretext::viz::{contact_sheet, overlay, save_rgb_png, OverlayStyle, RgbImage};
use tch::Device;

use super::eval_localize::{parse_sigma, MapArg};

/// Heatmaps of where the sound comes from, for every sampled frame of each clip.
///
/// The model sees the centred square of each frame, cropped as in training (shorter side scaled
/// to 9/8 of the model's input, centre crop); the overlays show that view at its native
/// resolution (at most 512 px) with the map upsampled
/// bilinearly. Heat values are the model's scores on an absolute 0–1 scale ((cos+1)/2 of each
/// location's embedding with the audio embedding; σ of the AVOL logits with --map head), so a
/// clip whose sound has no visible source stays dark. Confidence = mean of the top quarter of
/// the (unsmoothed) map (SLAVC). The box is the region around the peak above half the frame's
/// score range. Audio windows are centred on each frame.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The checkpoint (.safetensors written by pretext train).
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
    /// How the map scores each location.
    #[arg(long, value_enum, default_value = "cosine")]
    pub map: MapArg,
    /// Gaussian smoothing of the coarse map before upsampling, σ as a fraction of the map's
    /// side (0 = off; see `pretext eval localize --smooth` for choosing it on held-out clips).
    #[arg(long, default_value = "0", value_name = "SIGMA", value_parser = parse_sigma)]
    pub smooth: MapSmoothing,
    /// Device (auto, cpu, cuda:N).
    #[arg(long, default_value = "auto")]
    pub device: String,
}

const DEADLINE: Duration = Duration::from_secs(300);
const MAX_DISPLAY: u32 = 512;

/// Per-clip report written to `OUT/<clip>.json`.
#[derive(Debug, serde::Serialize)]
struct ClipReport {
    clip: String,
    checkpoint: String,
    /// The square of the frame the model saw: `[x0, y0, side]` in frame pixels.
    view: [u32; 3],
    frames: Vec<FrameLocalization>,
}

struct ClipResult {
    first_overlay: Option<RgbImage>,
    frames: usize,
}

fn localize_clip(
    loc: &mut Localizer,
    path: &Path,
    out: &Path,
    args: &Args,
    name: &str,
) -> anyhow::Result<ClipResult> {
    let info = probe(path)?;
    let video = info.video.as_ref().ok_or_else(|| anyhow::anyhow!("no video stream"))?;
    let clip_fps = video.avg_fps.or(video.real_fps).unwrap_or(25.0).max(1e-3);
    let duration = video.duration.or(info.duration).unwrap_or(0.0);
    anyhow::ensure!(duration > 0.0, "unknown or zero duration");
    let (w, h) = (video.width, video.height);
    let fs = loc.frame_size();
    let v = model_view(w, h, fs);
    let side = v.width.floor() as u32;
    let view = [v.x0.round() as u32, v.y0.round() as u32, side];
    let display = (side.min(MAX_DISPLAY) / 2 * 2).max(2);
    // The display decoder scales like the model's, so its centre crop covers the same view.
    let display_decode = (display as f64 * decode_size(fs) as f64 / fs as f64).round() as u32;
    let step = if args.every_frame { 1.0 / clip_fps } else { 1.0 / args.fps.max(1e-3) };
    let first = if args.every_frame { 0.0 } else { step / 2.0 };
    let times: Vec<f64> =
        (0..).map(|i| first + i as f64 * step).take_while(|t| *t < duration - 1e-6).collect();
    anyhow::ensure!(!times.is_empty(), "shorter than one sampling step");
    let open = |size: u32| {
        VideoDecoder::open(
            path,
            &VideoOptions {
                size: Some((size, size)),
                resize: ResizeMode::ShorterSideCrop,
                threads: 1,
                deadline: Some(DEADLINE),
                apply_rotation: true,
            },
        )
    };
    let mut model_video = open(decode_size(fs))?;
    let mut display_video = open(display_decode)?;
    let sr = loc.sample_rate();
    let mut audio = AudioDecoder::open(
        path,
        &AudioOptions { sample_rate: sr, mono: true, deadline: Some(DEADLINE) },
    )?;
    let clip_dir = out.join(name);
    std::fs::create_dir_all(&clip_dir)
        .with_context(|| format!("creating {}", clip_dir.display()))?;
    let enc_fps = (1.0 / step).round().max(1.0) as u32;
    let style = OverlayStyle::default();
    let bar = pretext::viz::colour_bar_width(display, display, &style);
    let mut encoder = MediaEncoder::create(
        &out.join(format!("{name}.mp4")),
        &EncoderConfig {
            width: display + bar,
            height: display,
            fps: enc_fps,
            sample_rate: sr,
            container: Container::Mp4,
            gop: enc_fps.max(1),
            ..EncoderConfig::default()
        },
    )?;
    let nudge = 0.25 / clip_fps;
    let mut report = ClipReport {
        clip: path.display().to_string(),
        checkpoint: args.checkpoint.display().to_string(),
        view,
        frames: Vec::new(),
    };
    let mut first_overlay = None;
    let scale = side as f64 / display as f64;
    for &t in &times {
        let mf = centre_crop(&model_video.frame_at(t + nudge)?, fs);
        let df = centre_crop(&display_video.frame_at(t + nudge)?, display);
        let window = audio.read(t - loc.clip_seconds() / 2.0, loc.clip_seconds())?;
        let map = loc
            .score_maps(&[&mf], &[window.samples.as_slice()])?
            .pop()
            .ok_or_else(|| anyhow::anyhow!("the model returned no map"))?;
        let d = display as usize;
        let up = |m: &[f32]| {
            upsample(m, (map.height, map.width), (d, d), Interpolation::Bilinear, false)
        };
        let heat = up(&args.smooth.smoothed(&map).values)?;
        let Some(mut fl) = localize_frame(&heat, display, display, t, BOX_THRESHOLD) else {
            continue;
        };
        if !args.smooth.is_off() {
            // Smoothing moves the map, not the confidence (see MapSmoothing).
            fl.confidence = top_quartile_mean(&up(&map.values)?);
        }
        let caption = format!("t={t:.2}s conf {:.2}", fl.confidence);
        let frame = RgbImage { width: df.width, height: df.height, rgb: df.data };
        let picture = overlay(&frame, &heat, &style, Some(&caption));
        save_rgb_png(
            &clip_dir.join(format!("frame_{t:08.3}.png")),
            picture.width,
            picture.height,
            &picture.rgb,
        )?;
        encoder.push_frame(&picture.rgb)?;
        // Original audio for this frame's display interval.
        let piece = audio.read(t - first, step)?;
        encoder.push_audio(&piece.samples)?;
        // Report in frame pixels.
        let to_frame = |v: u32, off: u32| off + (v as f64 * scale).round() as u32;
        fl.peak = [to_frame(fl.peak[0], view[0]), to_frame(fl.peak[1], view[1])];
        fl.bbox = [
            to_frame(fl.bbox[0], view[0]),
            to_frame(fl.bbox[1], view[1]),
            to_frame(fl.bbox[2], view[0]),
            to_frame(fl.bbox[3], view[1]),
        ];
        report.frames.push(fl);
        if first_overlay.is_none() {
            first_overlay = Some(picture);
        }
    }
    encoder.finish()?;
    let json = serde_json::to_vec_pretty(&report)?;
    pretext::io::write_atomic(&out.join(format!("{name}.json")), &json)?;
    Ok(ClipResult { first_overlay, frames: report.frames.len() })
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.fps > 0.0 && args.fps <= 120.0, "--fps must be in (0, 120]");
    let device: Device = args.device.parse::<pretext::training::DeviceSpec>()?.resolve()?;
    super::train::set_torch_threads(super::data::cores());
    let mut loc = Localizer::from_checkpoint(&args.checkpoint, device)
        .with_context(|| format!("loading {}", args.checkpoint.display()))?
        .with_map_score(args.map.into());
    let (files, errors) = discover(&args.inputs);
    for (p, e) in &errors {
        eprintln!("skipping {}: {e}", p.display());
    }
    anyhow::ensure!(!files.is_empty(), "no video file in the inputs");
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let bar =
        std::io::stderr().is_terminal().then(|| indicatif::ProgressBar::new(files.len() as u64));
    let mut tiles = Vec::new();
    let mut failed = 0usize;
    for path in &files {
        let name = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        match localize_clip(&mut loc, path, &args.out, &args, &name) {
            Ok(r) => {
                eprintln!("{}: {} frames", path.display(), r.frames);
                if let Some(o) = r.first_overlay {
                    tiles.push((name, o));
                }
            }
            Err(e) => {
                failed += 1;
                eprintln!("{}: {e:#}", path.display());
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
