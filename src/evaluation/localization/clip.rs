//! Localising every sampled frame of a clip, as pictures people can check: what
//! `pretext localize` writes per clip.
//!
//! Frame times are taken inside the span where the model's audio window fits the file's video
//! and audio streams (the stream's own start, not the container's), on the frame grid. The
//! model's inputs for each time come from [`InputReader`] (the task's example of that moment,
//! exactly as validation makes it); a second decoder at display size gives the picture the
//! heat is drawn over, cropped to the same centred view. Outputs in `out`: `<clip>/frame_<t>.png`
//! overlays (heat map over the frame with a colour bar), `<clip>.mp4` (the overlays with the
//! original audio) and `<clip>.json` (per-frame peak, box and confidence in frame pixels).

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::eval_set::{centre_crop, model_view};
use super::{
    localize_frame, top_quartile_mean, upsample, FrameLocalization, Interpolation, Localizer,
    MapSmoothing, BOX_THRESHOLD,
};
use crate::evaluation::{EvaluationError as Error, Result};
use crate::media::{
    AudioDecoder, AudioOptions, Container, EncoderConfig, MediaEncoder, ResizeMode, VideoDecoder,
    VideoOptions,
};
use crate::pipeline::InputReader;
use crate::viz::{colour_bar_width, overlay, save_rgb_png, OverlayStyle, RgbImage};

/// How heat values map to colours in the overlays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeatScale {
    /// Min-max over each frame's map: the picture the box metrics binarise (and what the
    /// papers' figures show); whether the sound is there at all is the caption's confidence.
    #[default]
    Frame,
    /// The model's scores on their own 0-1 scale: a frame whose sound has no visible source
    /// stays dark, and a weakly peaked map looks flat.
    Absolute,
}

/// How a clip is sampled and drawn.
#[derive(Debug, Clone)]
pub struct ClipOptions {
    /// Sampled frames per second (ignored with `every_frame`).
    pub fps: f64,
    /// Every frame of the clip (the MP4 then plays at the clip's frame rate).
    pub every_frame: bool,
    /// Smoothing of the coarse map before upsampling.
    pub smooth: MapSmoothing,
    /// The checkpoint's name, written into the report.
    pub checkpoint: String,
    /// Colour scale of the heat.
    pub scale: HeatScale,
    /// Smallest side of the display pictures (small frames are scaled up to it).
    pub min_display: u32,
    /// Largest side of the display pictures.
    pub max_display: u32,
    /// Per-file decoding budget.
    pub deadline: Duration,
}

impl Default for ClipOptions {
    fn default() -> Self {
        ClipOptions {
            fps: 2.0,
            every_frame: false,
            smooth: MapSmoothing::OFF,
            checkpoint: String::new(),
            scale: HeatScale::Frame,
            min_display: 288,
            max_display: 512,
            deadline: Duration::from_secs(300),
        }
    }
}

/// Per-clip report written to `OUT/<clip>.json`.
#[derive(Debug, serde::Serialize)]
pub struct ClipReport {
    /// The clip.
    pub clip: String,
    /// The checkpoint.
    pub checkpoint: String,
    /// The square of the frame the model saw: `[x0, y0, side]` in frame pixels.
    pub view: [u32; 3],
    /// The map smoothing applied (σ as a fraction of the map side; 0 = off).
    pub smooth: f64,
    /// One record per localised frame.
    pub frames: Vec<FrameLocalization>,
}

/// What one clip gave.
#[derive(Debug)]
pub struct ClipResult {
    /// The first overlay (for a contact sheet).
    pub first_overlay: Option<RgbImage>,
    /// The report written to `<clip>.json`.
    pub report: ClipReport,
    /// The MP4 written.
    pub video: PathBuf,
}

/// Localises `path` into `out` under the name `name`.
pub fn localize_clip(
    loc: &mut Localizer,
    reader: &mut InputReader,
    path: &Path,
    out: &Path,
    name: &str,
    opts: &ClipOptions,
) -> Result<ClipResult> {
    let entry = InputReader::entry(path)?;
    let info = crate::media::probe(path)?;
    let video = info
        .video
        .as_ref()
        .ok_or_else(|| Error::Other(format!("{}: no video stream", path.display())))?;
    let input = loc.input().clone();
    let (w, h) = (video.width, video.height);
    let v = model_view(w, h, &input);
    let side = v.width.floor() as u32;
    let view = [v.x0.round() as u32, v.y0.round() as u32, side];
    let display = (side.max(opts.min_display).min(opts.max_display) / 2 * 2).max(2);
    // The display decoder scales like the model's, so its centre crop covers the same view.
    let display_decode = (f64::from(display) * f64::from(input.decode_side())
        / f64::from(input.frame_size))
    .round() as u32;
    if entry.audio.is_none() {
        return Err(Error::Other(format!(
            "{}: no audio stream: nothing to localise a sound of",
            path.display()
        )));
    }
    let step = if opts.every_frame { 1.0 / entry.fps } else { 1.0 / opts.fps.max(1e-3) };
    // The span where the model's window fits both streams.
    let half = input.clip_seconds / 2.0;
    let (lo, hi) = match entry.audio {
        Some((a0, a1)) => (entry.video_start.max(a0) + half, entry.video_end.min(a1) - half),
        None => (entry.video_start + half, entry.video_end - half),
    };
    let times: Vec<f64> =
        (0..).map(|i| lo + step / 2.0 + i as f64 * step).take_while(|t| *t <= hi + 1e-9).collect();
    if times.is_empty() {
        return Err(Error::Other(format!(
            "{}: the model's {:.2} s window does not fit the streams ([{:.3}, {:.3}] s of video)",
            path.display(),
            input.clip_seconds,
            entry.video_start,
            entry.video_end
        )));
    }
    let examples = reader.at_entry(&entry, &times)?;
    let mut display_video = VideoDecoder::open(
        path,
        &VideoOptions {
            size: Some((display_decode, display_decode)),
            resize: ResizeMode::ShorterSideCrop,
            threads: 1,
            deadline: Some(opts.deadline),
            apply_rotation: true,
        },
    )?;
    let sr = input.sample_rate();
    let mut audio = AudioDecoder::open(
        path,
        &AudioOptions { sample_rate: sr, mono: true, deadline: Some(opts.deadline) },
    )?;
    let clip_dir = out.join(name);
    std::fs::create_dir_all(&clip_dir).map_err(|e| Error::file(&clip_dir, e))?;
    let enc_fps = (1.0 / step).round().max(1.0) as u32;
    let style = OverlayStyle::default();
    let bar = colour_bar_width(display, display, &style);
    let mp4 = out.join(format!("{name}.mp4"));
    let mut encoder = MediaEncoder::create(
        &mp4,
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
    let mut report = ClipReport {
        clip: path.display().to_string(),
        checkpoint: opts.checkpoint.clone(),
        view,
        smooth: opts.smooth.sigma(),
        frames: Vec::new(),
    };
    let mut first_overlay = None;
    let scale = f64::from(side) / f64::from(display);
    for (&t, example) in times.iter().zip(&examples) {
        let Some(example) = example else { continue };
        // The frame the model saw (its first, on the grid), at display size.
        let shown = example.meta.video_times.first().copied().unwrap_or(t);
        let df = centre_crop(&display_video.frame_at(shown + 0.25 / entry.fps)?, display);
        let map = loc
            .score_maps(&[example])?
            .pop()
            .ok_or_else(|| Error::Other("the model returned no map".into()))?;
        let d = display as usize;
        let up = |m: &[f32]| {
            upsample(m, (map.height, map.width), (d, d), Interpolation::Bilinear, false)
        };
        let heat = up(&opts.smooth.smoothed(&map).values)?;
        let Some(mut fl) = localize_frame(&heat, display, display, shown, BOX_THRESHOLD) else {
            continue;
        };
        if !opts.smooth.is_off() {
            // Smoothing moves the map, not the confidence (see MapSmoothing).
            fl.confidence = top_quartile_mean(&up(&map.values)?);
        }
        let caption = format!("t={shown:.2}s conf {:.2}", fl.confidence);
        let frame = RgbImage { width: df.width, height: df.height, rgb: df.data };
        let shown_heat = match opts.scale {
            HeatScale::Absolute => heat.clone(),
            HeatScale::Frame => min_max(&heat),
        };
        let mut picture = overlay(&frame, &shown_heat, &style, Some(&caption));
        // The box around the peak (the region above half the frame's score range).
        picture.outline(fl.bbox, (display / 160).max(1), [255, 255, 255]);
        save_rgb_png(
            &clip_dir.join(format!("frame_{shown:08.3}.png")),
            picture.width,
            picture.height,
            &picture.rgb,
        )?;
        encoder.push_frame(&picture.rgb)?;
        // Original audio for this frame's display interval.
        let piece = audio.read(t - step / 2.0, step)?;
        encoder.push_audio(&piece.samples)?;
        // Report in frame pixels.
        let to_frame = |v: u32, off: u32| off + (f64::from(v) * scale).round() as u32;
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
    let json = serde_json::to_vec_pretty(&report).map_err(|e| Error::Other(e.to_string()))?;
    crate::io::write_atomic(&out.join(format!("{name}.json")), &json)?;
    Ok(ClipResult { first_overlay, report, video: mp4 })
}

/// `v` min-max normalised to [0, 1] (a flat map becomes zeros).
fn min_max(v: &[f32]) -> Vec<f32> {
    let (lo, hi) =
        v.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return vec![0.0; v.len()];
    }
    v.iter().map(|x| (x - lo) / span).collect()
}
