//! `pretext frames`: decode the frames displayed at given times to PNG files, so anyone can
//! compare the decoder with the `ffmpeg` CLI.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use pretext::media::{ResizeMode, VideoDecoder, VideoOptions};

/// Write the video frames displayed at given times as PNG files.
///
/// The frame "at t" is the one being displayed at t seconds on the container clock (the last
/// frame whose timestamp is <= t), so variable frame rate and late-starting video are handled.
/// Rotation metadata is applied, so rotated phone videos come out upright. Without --size the
/// frames keep their native (rotated) size; with --size they are scaled with a bilinear filter,
/// stretched, or with --crop scaled on the shorter side and centre-cropped.
///
/// Files are named frame_<index>_<time>s.png in the output folder.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The video file.
    file: PathBuf,
    /// Times in seconds, comma separated (e.g. 1.0,2.5).
    #[arg(long, value_delimiter = ',', required = true, num_args = 1..)]
    at: Vec<f64>,
    /// Output size WIDTHxHEIGHT (e.g. 224x224); default: native size after rotation.
    #[arg(long, value_parser = parse_size)]
    size: Option<(u32, u32)>,
    /// Scale the shorter side to the size and centre-crop, instead of stretching.
    #[arg(long, requires = "size")]
    crop: bool,
    /// Output folder (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// Per-file decode deadline in seconds.
    #[arg(long, default_value_t = 60.0)]
    deadline: f64,
}

/// Parses `WIDTHxHEIGHT`.
pub fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or("expected WIDTHxHEIGHT, e.g. 224x224")?;
    let w: u32 = w.trim().parse().map_err(|_| format!("bad width {w:?}"))?;
    let h: u32 = h.trim().parse().map_err(|_| format!("bad height {h:?}"))?;
    if w == 0 || h == 0 || w > 16_384 || h > 16_384 {
        return Err(format!("size {w}x{h} must be between 1 and 16384 per side"));
    }
    Ok((w, h))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.deadline > 0.0 && args.deadline.is_finite()) {
        anyhow::bail!("--deadline must be a positive number of seconds");
    }
    let options = VideoOptions {
        size: args.size,
        resize: if args.crop { ResizeMode::ShorterSideCrop } else { ResizeMode::Stretch },
        deadline: Some(std::time::Duration::from_secs_f64(args.deadline)),
        ..VideoOptions::default()
    };
    let mut decoder = VideoDecoder::open(&args.file, &options)?;
    let frames = decoder.frames_at(&args.at)?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    for (i, (t, frame)) in args.at.iter().zip(&frames).enumerate() {
        let path = args.out.join(format!("frame_{i:03}_{t:.3}s.png"));
        pretext::viz::save_rgb_png(&path, frame.width, frame.height, &frame.data)?;
        println!(
            "{}  t={t:.3}s  pts={:.3}s  {}x{}",
            path.display(),
            frame.pts,
            frame.width,
            frame.height
        );
    }
    if decoder.corrupt_packets() > 0 {
        eprintln!("note: {} corrupt packets were skipped", decoder.corrupt_packets());
    }
    Ok(ExitCode::SUCCESS)
}
