//! `pretext audio`: decode a window of audio to a WAV file, so anyone can compare the decoder
//! with the `ffmpeg` CLI.

use std::path::PathBuf;
use std::process::ExitCode;

use pretext::media::{AudioBackend, AudioDecoder, AudioOptions};

/// Decode the audio window [start, start+duration) to a 32-bit float WAV file.
///
/// Times are on the container clock; where the stream has no samples (before it starts, after
/// it ends) the window is zero-filled, so the file always holds round(duration × rate) samples
/// per channel. Audio is mixed to mono by channel mean unless --keep-channels, and resampled
/// with a band-limited (Kaiser-windowed sinc) resampler. Symphonia decodes PCM, FLAC, Vorbis and
/// ALAC in audio-only containers; FFmpeg decodes everything else (AAC, MP3, Opus, AC-3, ...).
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The media file.
    file: PathBuf,
    /// Window start in seconds.
    #[arg(long, default_value_t = 0.0)]
    start: f64,
    /// Window length in seconds.
    #[arg(long)]
    duration: f64,
    /// Output sample rate in Hz.
    #[arg(long, default_value_t = 16_000, value_parser = clap::value_parser!(u32).range(1..=768_000))]
    rate: u32,
    /// Keep every channel (interleaved) instead of mixing to mono.
    #[arg(long)]
    keep_channels: bool,
    /// Decoding library.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    /// Output WAV file.
    #[arg(long)]
    out: PathBuf,
}

/// Decoding library choice.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Backend {
    /// Symphonia where it supports the file, FFmpeg otherwise.
    Auto,
    /// Always FFmpeg.
    Ffmpeg,
    /// Always Symphonia (fails where it cannot decode).
    Symphonia,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.duration >= 0.0 && args.duration <= 3600.0) {
        anyhow::bail!("--duration must be between 0 and 3600 seconds");
    }
    let options = AudioOptions { sample_rate: args.rate, mono: !args.keep_channels, ..Default::default() };
    let backend = match args.backend {
        Backend::Auto => AudioBackend::Auto,
        Backend::Ffmpeg => AudioBackend::Ffmpeg,
        Backend::Symphonia => AudioBackend::Symphonia,
    };
    let mut decoder = AudioDecoder::open_with_backend(&args.file, &options, backend)?;
    let clip = decoder.read(args.start, args.duration)?;
    pretext::io::write_wav_f32(&args.out, clip.sample_rate, clip.channels, &clip.samples)?;
    println!(
        "{}  {} samples x {} channels at {} Hz from {:.3}s ({:?})",
        args.out.display(),
        clip.samples.len() / usize::from(clip.channels.max(1)),
        clip.channels,
        clip.sample_rate,
        clip.start,
        decoder.backend()
    );
    Ok(ExitCode::SUCCESS)
}
