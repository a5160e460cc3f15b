//! `pretext spectrogram`: one audio window → a log spectrogram as `.npy`, and optionally a PNG.
//!
//! The flags become a [`Preset`] plus a validated window; decoding goes through
//! [`AudioDecoder`] (mono by channel mean, resampled to the preset's rate on the
//! container clock), the numbers through [`Spectrogram`], the picture through
//! [`super::spectrogram_png`]. A damaged window is an error unless `--allow-damaged`; zero
//! padding outside the stream is noted (see `super::audio`).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};

use pretext::features::{Frequency, LogScale, Preset, Spectrogram};
use pretext::io::write_npy_f32;
use pretext::media::{AudioDecoder, AudioOptions};

use super::spectrogram_png::{render, PlotAxes};

/// Longest window one call may ask for (the audio decoder's own cap), in seconds.
const MAX_DURATION_S: f64 = 3600.0;

/// Recipes, as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PresetArg {
    /// AudioSet VGGish: 16 kHz, 64 mel bands 125–7500 Hz, ln(mel + 0.01); 1 s → 64×98.
    Vggish,
    /// L3-Net: 48 kHz, linear 257 bins, 10·log10 power; 1 s → 257×199.
    L3,
    /// LVS / EZ-VSL / SLAVC: 16 kHz scipy density spectrogram, ln(x + 1e-7)/12; 3 s → 257×200.
    Lvs,
    /// librosa melspectrogram defaults at 22.05 kHz + power_to_db (top_db 80).
    Librosa,
}

impl From<PresetArg> for Preset {
    fn from(p: PresetArg) -> Preset {
        match p {
            PresetArg::Vggish => Preset::Vggish,
            PresetArg::L3 => Preset::L3,
            PresetArg::Lvs => Preset::Lvs,
            PresetArg::Librosa => Preset::Librosa,
        }
    }
}

/// Compute the log spectrogram of one audio window and save it as .npy (and optionally a PNG).
///
/// FILE's best audio stream is decoded (any container FFmpeg or Symphonia reads, video files
/// included), mixed to mono by channel mean and resampled to the preset's rate; the window
/// [start, start + duration) on the container clock is zero-padded where the stream has no
/// samples. The .npy holds float32 [freq, time]: mel bands or linear bins (lowest first) by
/// frames. Frame counts follow docs/spectrograms.md (VGGish: 1 s → 98 frames, uncentred).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Audio or video file.
    file: PathBuf,
    /// Window start in seconds on the container clock.
    #[arg(long, default_value_t = 0.0)]
    start: f64,
    /// Window length in seconds [default: the preset's clip length: 1 s, or 3 s for lvs].
    #[arg(long)]
    duration: Option<f64>,
    /// Spectrogram recipe.
    #[arg(long, value_enum, default_value_t = PresetArg::Vggish)]
    preset: PresetArg,
    /// Output .npy file (float32, shape [freq, time]).
    #[arg(long)]
    out: PathBuf,
    /// Also draw the spectrogram as a PNG (viridis, time and frequency axes, colour bar).
    #[arg(long)]
    png: Option<PathBuf>,
    /// Compute it even where the file is damaged (a warning lists the damage).
    #[arg(long)]
    allow_damaged: bool,
}

/// A validated request.
struct Request {
    preset: Preset,
    start: f64,
    duration: f64,
}

impl Request {
    fn from_args(args: &Args) -> anyhow::Result<Request> {
        let preset = Preset::from(args.preset);
        let duration = args.duration.unwrap_or(preset.clip_seconds());
        if !(args.start.is_finite()
            && args.start >= 0.0
            && args.start <= pretext::media::MAX_TIME_S)
        {
            bail!("--start must be a non-negative number of seconds, got {}", args.start);
        }
        if !(duration.is_finite() && duration > 0.0 && duration <= MAX_DURATION_S) {
            bail!("--duration must be in (0, {MAX_DURATION_S}] seconds, got {duration}");
        }
        Ok(Request { preset, start: args.start, duration })
    }
}

/// Runs `pretext spectrogram`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let req = Request::from_args(&args)?;
    let mut spec = Spectrogram::new(req.preset.config())?;
    let options = AudioOptions { sample_rate: spec.sample_rate(), ..AudioOptions::default() };
    let mut decoder = AudioDecoder::open(&args.file, &options)
        .with_context(|| format!("opening {}", args.file.display()))?;
    decoder.set_allow_damaged(args.allow_damaged);
    let clip = super::audio::read_window(&mut decoder, req.start, req.duration)?;
    super::audio::report_window(&args.file, &decoder, &clip, req.start + req.duration);
    let (n_freq, n_frames) = spec.shape(clip.samples.len());
    if n_frames == 0 {
        bail!(
            "a {:.3} s window has {} samples at {} Hz; preset {} needs at least {} for one frame",
            req.duration,
            clip.samples.len(),
            spec.sample_rate(),
            req.preset,
            spec.min_samples()
        );
    }
    let data = spec.compute(&clip.samples)?;
    write_npy_f32(&args.out, &[n_freq, n_frames], &data)?;
    let (lo, hi) = data.iter().fold((f32::MAX, f32::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
    println!(
        "{}: {} {n_freq}x{n_frames} ({} x frames) from {:.3}s+{:.3}s, values {lo:.3}..{hi:.3}",
        args.out.display(),
        req.preset,
        if matches!(spec.config().frequency, Frequency::Mel(_)) { "mel bands" } else { "bins" },
        clip.start,
        req.duration,
    );
    if let Some(png) = &args.png {
        let hop = spec.config().stft.hop as f64 / spec.sample_rate() as f64;
        let axes = PlotAxes {
            title: format!(
                "{} — {} [{:.2}s, {:.2}s)",
                args.file.file_name().map_or_else(String::new, |n| n.to_string_lossy().into()),
                req.preset,
                clip.start,
                clip.start + req.duration
            ),
            start: clip.start,
            duration: req.duration,
            frame_centres: (0..n_frames).map(|t| clip.start + spec.frame_time(t)).collect(),
            frame_span: hop,
            row_hz: (0..n_freq).map(|f| spec.row_frequency(f)).collect(),
            mel: matches!(spec.config().frequency, Frequency::Mel(_)),
            value_label: value_label(&spec),
        };
        render(png, &data, n_freq, n_frames, &axes)
            .with_context(|| format!("drawing {}", png.display()))?;
        println!("{}: PNG", png.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn value_label(spec: &Spectrogram) -> String {
    let cfg = spec.config();
    let base = match cfg.log {
        LogScale::None => "amplitude".to_string(),
        LogScale::Ln { eps } => format!("ln(x + {eps:e})"),
        LogScale::Db { .. } => "dB".to_string(),
    };
    let (mean, std) = (cfg.normalize.mean, cfg.normalize.std);
    match (mean == 0.0, std == 1.0) {
        (true, true) => base,
        (true, false) => format!("{base} / {std}"),
        (false, true) => format!("{base} − {mean}"),
        (false, false) => format!("({base} − {mean}) / {std}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(start: f64, duration: Option<f64>) -> Args {
        Args {
            file: "x.wav".into(),
            start,
            duration,
            preset: PresetArg::Lvs,
            out: "x.npy".into(),
            png: None,
            allow_damaged: false,
        }
    }

    #[test]
    fn request_defaults_to_the_preset_clip_and_validates() {
        let r = Request::from_args(&args(0.0, None)).unwrap();
        assert_eq!((r.preset, r.duration), (Preset::Lvs, 3.0));
        assert!(Request::from_args(&args(-1.0, None)).is_err());
        assert!(Request::from_args(&args(0.0, Some(0.0))).is_err());
        assert!(Request::from_args(&args(0.0, Some(f64::NAN))).is_err());
    }
}
