//! `pretext synth` (issue #4): flags → [`SynthConfig`], a progress bar, Ctrl-C cancellation,
//! and a one-line summary. `--contact-sheet PNG` draws the class contact sheet instead.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use pretext::media::Container;
use pretext::synth::{self, SplitRatios, SynthConfig};

/// Write a synthetic audio-visual world with ground truth.
///
/// Writes DIR/clip_NNNN.mp4 (H.264 + AAC; or mkv, or webm with VP9 + Vorbis), DIR/annotations.jsonl
/// (one line per clip: split, per-frame boxes, sounding flags, onset times, parameters) and
/// DIR/README.md. Objects of 9 classes, each with its own look and sound, move over a textured
/// background; sounding objects pulse on every onset of their sound. The same flags and seed
/// give byte-identical output for any --threads.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output folder (created if missing).
    #[arg(long, value_name = "DIR", required_unless_present = "contact_sheet")]
    out: Option<PathBuf>,
    /// Number of clips.
    #[arg(long, default_value_t = 20)]
    clips: usize,
    /// Seconds per clip.
    #[arg(long, default_value_t = 4.0)]
    seconds: f64,
    /// Frame size WxH (even numbers).
    #[arg(long, default_value = "160x160", value_parser = parse_size)]
    size: (u32, u32),
    /// Frames per second.
    #[arg(long, default_value_t = 25)]
    fps: u32,
    /// Audio sample rate in Hz (mono).
    #[arg(long, default_value_t = 16_000)]
    rate: u32,
    /// Master seed.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Split fractions, e.g. train=0.7,val=0.15,test=0.15 (assigned by clip).
    #[arg(long, default_value = "train=0.7,val=0.15,test=0.15")]
    split: SplitRatios,
    /// Container: mp4 (H.264+AAC), mkv (H.264+AAC) or webm (VP9+Vorbis).
    #[arg(long, default_value = "mp4")]
    container: Container,
    /// Video quality (CRF; lower = better and bigger).
    #[arg(long, default_value_t = 23, value_parser = clap::value_parser!(u32).range(0..=51))]
    crf: u32,
    /// Worker threads (0 = all cores). Does not change the output.
    #[arg(long, default_value_t = 0)]
    threads: usize,
    /// Objects per clip as MIN-MAX (or one number).
    #[arg(long, default_value = "1-3", value_parser = parse_range)]
    objects: (usize, usize),
    /// Most sounding objects per clip (1 or 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=2))]
    max_sounding: u64,
    /// Probability of an extra sound whose source is off screen.
    #[arg(long, default_value_t = 0.1)]
    offscreen: f64,
    /// Probability that no on-screen object sounds.
    #[arg(long, default_value_t = 0.05)]
    silence: f64,
    /// Background noise SNR in dB, or "none" for clean audio.
    #[arg(long, default_value = "25", value_parser = parse_snr)]
    noise_snr: NoiseSnr,
    /// Camera pan amplitude in pixels (0 = fixed camera; at most 1/8 of the frame).
    #[arg(long, default_value_t = 6.0)]
    pan: f64,
    /// Probability of two objects of the same class, only one of them sounding.
    #[arg(long, default_value_t = 0.1)]
    duplicate: f64,
    /// Multiplier of object radii (1 = 8–13 % of the shorter side; e.g. 2.5 for boxes big
    /// enough for the cIoU protocol). At most 4.
    #[arg(long, default_value_t = 1.0)]
    object_scale: f64,
    /// Give the scene an up direction, as natural video has: a horizon (lighter sky above a
    /// darker ground, at a random height per clip) and light from above on every object. The
    /// rotation task needs it; without it the default textures and most shapes look the same
    /// upside down.
    #[arg(long)]
    horizon: bool,
    /// Instead of generating, write a PNG contact sheet of every class (look + spectrogram).
    #[arg(long, value_name = "PNG")]
    contact_sheet: Option<PathBuf>,
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s.split_once(['x', 'X']).ok_or_else(|| format!("size {s:?} is not WxH"))?;
    let p = |v: &str| v.trim().parse::<u32>().map_err(|_| format!("size {s:?} is not WxH"));
    Ok((p(w)?, p(h)?))
}

fn parse_range(s: &str) -> Result<(usize, usize), String> {
    let p = |v: &str| v.trim().parse::<usize>().map_err(|_| format!("{s:?} is not MIN-MAX"));
    match s.split_once('-') {
        Some((a, b)) => Ok((p(a)?, p(b)?)),
        None => {
            let n = p(s)?;
            Ok((n, n))
        }
    }
}

/// An SNR in dB or none (a newtype, because clap treats a plain `Option` field as optional).
#[derive(Debug, Clone, Copy)]
struct NoiseSnr(Option<f64>);

fn parse_snr(s: &str) -> Result<NoiseSnr, String> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(NoiseSnr(None));
    }
    s.parse::<f64>()
        .map(|v| NoiseSnr(Some(v)))
        .map_err(|_| format!("SNR {s:?} is neither a number nor \"none\""))
}

impl Args {
    fn config(&self, out: PathBuf) -> SynthConfig {
        SynthConfig {
            out,
            clips: self.clips,
            seconds: self.seconds,
            width: self.size.0,
            height: self.size.1,
            fps: self.fps,
            sample_rate: self.rate,
            seed: self.seed,
            split: self.split,
            container: self.container,
            crf: self.crf,
            threads: self.threads,
            min_objects: self.objects.0,
            max_objects: self.objects.1,
            max_sounding: self.max_sounding as usize,
            offscreen_prob: self.offscreen,
            silence_prob: self.silence,
            noise_snr_db: self.noise_snr.0,
            pan_px: self.pan,
            duplicate_prob: self.duplicate,
            object_scale: self.object_scale,
            horizon: self.horizon,
        }
    }
}

/// Runs `pretext synth`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(png) = &args.contact_sheet {
        synth::contact_sheet(png).with_context(|| format!("writing {}", png.display()))?;
        eprintln!("wrote {}", png.display());
        return Ok(ExitCode::SUCCESS);
    }
    let out = args.out.clone().context("--out DIR is required")?;
    let config = args.config(out);
    config.validate()?;
    // libx264 and the AAC encoder print statistics at Info level; keep the terminal for errors.
    ffmpeg_next::log::set_level(ffmpeg_next::log::Level::Error);
    let cancel = Arc::new(AtomicBool::new(false));
    {
        let cancel = Arc::clone(&cancel);
        // Failing to install the handler only loses graceful Ctrl-C; generation still works.
        let _ = ctrlc::set_handler(move || cancel.store(true, Ordering::SeqCst));
    }
    let bar = if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(config.clips as u64);
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{spinner} {elapsed_precise} [{bar:40}] {pos}/{len} clips ({per_sec}, eta {eta})",
        ) {
            bar.set_style(style);
        }
        Some(bar)
    } else {
        None
    };
    let start = Instant::now();
    let progress = |n: usize| {
        if let Some(b) = &bar {
            b.set_position(n as u64);
        }
    };
    let result = synth::generate(&config, &progress, &cancel);
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let annotations = result.with_context(|| format!("generating {}", config.out.display()))?;
    let secs = start.elapsed().as_secs_f64();
    let media_s: f64 = annotations.iter().map(|a| a.duration).sum();
    eprintln!(
        "wrote {} clips ({:.0} s of media) to {} in {:.2} s ({:.1} clips/s)",
        annotations.len(),
        media_s,
        config.out.display(),
        secs,
        annotations.len() as f64 / secs.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Wrapper {
        #[command(flatten)]
        args: Args,
    }

    #[test]
    fn recorded_flags_reproduce_the_config() {
        let config = SynthConfig {
            out: PathBuf::from("w"),
            clips: 7,
            seconds: 2.5,
            noise_snr_db: None,
            container: Container::Webm,
            split: SplitRatios { train: 0.5, val: 0.25, test: 0.25 },
            object_scale: 2.5,
            horizon: true,
            ..SynthConfig::default()
        };
        let mut argv = vec!["synth".to_string(), "--out".into(), "w".into()];
        for flag in config.to_args() {
            argv.extend(flag.split(' ').map(String::from));
        }
        let parsed = Wrapper::try_parse_from(&argv).unwrap();
        assert_eq!(parsed.args.config(PathBuf::from("w")), config);
    }

    #[test]
    fn sizes_and_ranges_parse() {
        assert_eq!(parse_size("224x160"), Ok((224, 160)));
        assert!(parse_size("224").is_err());
        assert_eq!(parse_range("2"), Ok((2, 2)));
        assert_eq!(parse_range("1-3"), Ok((1, 3)));
        assert!(parse_snr("loud").is_err());
        assert_eq!(parse_snr("none").map(|s| s.0), Ok(None));
    }
}
