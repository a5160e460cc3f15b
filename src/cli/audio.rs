//! `pretext audio`: decode a window of audio to a WAV file, so anyone can compare the decoder
//! with the `ffmpeg` CLI. A window that meets damage (decode errors, zero-filled gaps, a
//! truncated stream) is an error unless `--allow-damaged`; a window reaching outside the stream
//! is zero-padded with a note saying how much.

use std::path::PathBuf;
use std::process::ExitCode;

use pretext::media::{AudioBackend, AudioClip, AudioDecoder, AudioOptions, MediaError};

/// Decode the audio window [start, start+duration) to a 32-bit float WAV file.
///
/// Times are on the container clock; where the stream has no samples (before it starts, after
/// it ends) the window is zero-filled, so the file always holds round(duration × rate) samples
/// per channel. Audio is mixed to mono by channel mean unless --keep-channels, and resampled
/// with a band-limited (Kaiser-windowed sinc) resampler. Symphonia decodes PCM, FLAC, Vorbis and
/// ALAC in audio-only containers; FFmpeg decodes everything else (AAC, MP3, Opus, AC-3, ...).
///
/// A window that meets damage (packets that fail to decode or fail their checksum, gaps in the
/// timestamps, a stream cut short of the end its container declares) is an error;
/// --allow-damaged writes it anyway and warns what was damaged.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The media file.
    file: PathBuf,
    /// Window start in seconds (may be negative: zero padding before the stream).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
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
    /// Write the window even where the file is damaged (a warning lists the damage).
    #[arg(long)]
    allow_damaged: bool,
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

/// Reads a window, printing a hint when it is damaged (and damaged data was not allowed).
pub fn read_window(
    decoder: &mut AudioDecoder,
    start: f64,
    duration: f64,
) -> Result<AudioClip, MediaError> {
    decoder.read(start, duration).inspect_err(|e| {
        if e.kind() == "damaged" {
            eprintln!("hint: --allow-damaged writes the window anyway, with a warning");
        }
    })
}

/// Notes on a window read: zero padding outside the stream, and damage met (allowed).
pub fn report_window(file: &std::path::Path, decoder: &AudioDecoder, clip: &AudioClip, end: f64) {
    let (stream_start, stream_end) = decoder.time_range();
    if clip.padded_before > 0.0 {
        eprintln!(
            "note: the first {:.3}s of the window lie before the audio starts ({stream_start:.3}s) \
             and are zero padding",
            clip.padded_before
        );
    }
    if clip.padded_after > 0.0 {
        let declared = stream_end.map_or_else(|| "unknown".to_string(), |e| format!("{e:.3}s"));
        eprintln!(
            "note: the last {:.3}s of the window lie past the end of the audio (declared end \
             {declared}) and are zero padding",
            clip.padded_after
        );
    }
    let damage = decoder.damage().touching(clip.start, end);
    if !damage.is_empty() {
        eprintln!(
            "warning: {} is damaged in this window; the samples there are wrong or zero: {}",
            file.display(),
            damage.summary()
        );
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.duration >= 0.0 && args.duration <= 3600.0) {
        anyhow::bail!("--duration must be between 0 and 3600 seconds");
    }
    if !(args.start.is_finite() && args.start.abs() <= pretext::media::MAX_TIME_S) {
        anyhow::bail!(
            "--start {} must be a time within {:e} seconds of 0",
            args.start,
            pretext::media::MAX_TIME_S
        );
    }
    let options =
        AudioOptions { sample_rate: args.rate, mono: !args.keep_channels, ..Default::default() };
    let backend = match args.backend {
        Backend::Auto => AudioBackend::Auto,
        Backend::Ffmpeg => AudioBackend::Ffmpeg,
        Backend::Symphonia => AudioBackend::Symphonia,
    };
    let mut decoder = AudioDecoder::open_with_backend(&args.file, &options, backend)?;
    decoder.set_allow_damaged(args.allow_damaged);
    let clip = read_window(&mut decoder, args.start, args.duration)?;
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
    report_window(&args.file, &decoder, &clip, args.start + args.duration);
    Ok(ExitCode::SUCCESS)
}
