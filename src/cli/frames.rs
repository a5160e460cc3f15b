//! `pretext frames`: decode the frames displayed at given times to PNG files, so anyone can
//! compare the decoder with the `ffmpeg` CLI. A frame that is (or should have been replaced by)
//! a damaged one is an error, unless `--allow-damaged`, which writes it and lists the damage.

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
/// A frame the decoder could not decode cleanly (decode errors, concealed slices, or predicted
/// from such a frame) is an error; --allow-damaged writes it anyway and warns what was damaged.
///
/// Files are named frame_<index>_<time>s.png in the output folder.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The video file.
    file: PathBuf,
    /// Times in seconds, comma or space separated (e.g. 1.0,2.5; a list starting with a
    /// negative time: --at=-1,2 or --at -1 2).
    #[arg(long, value_delimiter = ',', required = true, num_args = 1.., allow_negative_numbers = true)]
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
    #[arg(long, default_value = "60", value_parser = parse_seconds)]
    deadline: std::time::Duration,
    /// Write frames even where the file is damaged (a warning lists the damage).
    #[arg(long)]
    allow_damaged: bool,
}

/// Longest per-file deadline accepted, in seconds (a day).
pub const MAX_DEADLINE_S: f64 = 86_400.0;

/// Parses a positive number of seconds, at most [`MAX_DEADLINE_S`].
pub fn parse_seconds(s: &str) -> Result<std::time::Duration, String> {
    let v: f64 = s.trim().parse().map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(v > 0.0 && v <= MAX_DEADLINE_S) {
        return Err(format!("{v} s is not in (0, {MAX_DEADLINE_S}] seconds"));
    }
    std::time::Duration::try_from_secs_f64(v).map_err(|e| format!("{v} s: {e}"))
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
    if let Some(t) = args.at.iter().find(|t| !t.is_finite()) {
        anyhow::bail!("--at {t} is not a time in seconds");
    }
    let options = VideoOptions {
        size: args.size,
        resize: if args.crop { ResizeMode::ShorterSideCrop } else { ResizeMode::Stretch },
        deadline: Some(args.deadline),
        ..VideoOptions::default()
    };
    let mut decoder = VideoDecoder::open(&args.file, &options)?;
    decoder.set_allow_damaged(args.allow_damaged);
    let frames = match decoder.frames_at(&args.at) {
        Ok(f) => f,
        Err(e) => {
            if e.kind() == "damaged" {
                eprintln!("hint: --allow-damaged writes the frames anyway, with a warning");
            }
            return Err(e.into());
        }
    };
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
    let damage = decoder.damage();
    if !damage.is_empty() {
        let effect = if args.allow_damaged {
            "frames at or after the damage (up to the next keyframe) may be wrong"
        } else {
            "found elsewhere in the file, not near the frames written"
        };
        eprintln!("warning: {} is damaged ({effect}): {}", args.file.display(), damage.summary());
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn deadlines_are_checked_at_the_edge() {
        assert_eq!(parse_seconds("2.5"), Ok(std::time::Duration::from_millis(2500)));
        for bad in ["1e20", "0", "-1", "nan", "inf", "soon"] {
            assert!(parse_seconds(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn negative_times_parse_as_numbers() {
        for at in [&["--at", "-1"][..], &["--at", "-1", "-2"], &["--at=-1,-2"], &["--at", "1,2"]] {
            let mut argv = vec!["pretext", "frames", "a.mp4"];
            argv.extend(at);
            argv.extend(["--out", "o"]);
            let cli = crate::cli::Cli::try_parse_from(&argv);
            assert!(cli.is_ok(), "{argv:?}: {:?}", cli.err());
        }
        let cli = crate::cli::Cli::try_parse_from([
            "pretext",
            "audio",
            "a.mp4",
            "--start",
            "-0.5",
            "--duration",
            "1",
            "--out",
            "o.wav",
        ]);
        assert!(cli.is_ok(), "{:?}", cli.err());
    }
}
