//! `pretext bench decode`: frames/s decoding every frame to 224×224 RGB on one thread, against
//! the `ffmpeg` CLI doing the same work in the same run.
//!
//! Both sides use one decoder thread and swscale's bilinear filter; the CLI writes to the null
//! muxer, pretext converts into one reused buffer. Each file is timed on both sides and the
//! totals give the ratio (pretext fps / CLI fps; > 1 means pretext is faster).

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::Instant;

use anyhow::Context;
use pretext::media::{self, RgbFrame, VideoDecoder, VideoOptions};

/// Decode every frame of the videos under a folder to 224x224 RGB, pretext vs the ffmpeg CLI.
///
/// pretext: one thread, bilinear swscale, frames converted into a reused buffer. Reference, in
/// the same run: `ffmpeg -threads 1 -i FILE -threads 1 -vf scale=224:224:flags=bilinear
/// -pix_fmt rgb24 -f null -`. Prints frames/s for both and the ratio.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Folder (walked recursively) or files.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Repeat the whole measurement this many times and keep the best of each side.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    repeat: u32,
    /// Output size WIDTHxHEIGHT.
    #[arg(long, default_value = "224x224", value_parser = super::frames::parse_size)]
    size: (u32, u32),
}

fn pretext_pass(files: &[PathBuf], size: (u32, u32)) -> anyhow::Result<(u64, f64)> {
    let options = VideoOptions { size: Some(size), threads: 1, deadline: None, ..Default::default() };
    let mut frame = RgbFrame::empty();
    let mut frames = 0u64;
    let start = Instant::now();
    for f in files {
        let mut dec = VideoDecoder::open(f, &options)?;
        while dec.next_frame_into(&mut frame)? {
            frames += 1;
        }
    }
    Ok((frames, start.elapsed().as_secs_f64()))
}

fn ffmpeg_pass(files: &[PathBuf], size: (u32, u32)) -> anyhow::Result<f64> {
    let start = Instant::now();
    for f in files {
        let status = Command::new("ffmpeg")
            .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-threads", "1", "-i"])
            .arg(f)
            .args(["-threads", "1", "-filter_threads", "1", "-vf"])
            .arg(format!("scale={}:{}:flags=bilinear", size.0, size.1))
            .args(["-pix_fmt", "rgb24", "-an", "-f", "null", "-"])
            .stdin(Stdio::null())
            .status()
            .context("cannot run the ffmpeg CLI (is it installed?)")?;
        if !status.success() {
            anyhow::bail!("ffmpeg failed on {}", f.display());
        }
    }
    Ok(start.elapsed().as_secs_f64())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let (files, errors) = media::discover(&args.paths);
    for (p, e) in &errors {
        eprintln!("skipping {}: {e}", p.display());
    }
    let files: Vec<PathBuf> =
        files.into_iter().filter(|f| media::probe(f).is_ok_and(|i| i.video.is_some())).collect();
    if files.is_empty() {
        anyhow::bail!("no decodable video files under the given paths");
    }
    let (mut ours, mut theirs) = (f64::INFINITY, f64::INFINITY);
    let mut frames = 0;
    for _ in 0..args.repeat {
        let (n, t) = pretext_pass(&files, args.size)?;
        frames = n;
        ours = ours.min(t);
        theirs = theirs.min(ffmpeg_pass(&files, args.size)?);
    }
    let (fps_ours, fps_cli) = (frames as f64 / ours, frames as f64 / theirs);
    println!(
        "{} files, {frames} frames to {}x{} RGB, 1 thread, best of {}",
        files.len(),
        args.size.0,
        args.size.1,
        args.repeat
    );
    println!("pretext     {fps_ours:9.1} frames/s  ({ours:.3} s)");
    println!("ffmpeg CLI  {fps_cli:9.1} frames/s  ({theirs:.3} s)");
    println!("ratio       {:9.2}x  (pretext / ffmpeg CLI)", fps_ours / fps_cli);
    Ok(ExitCode::SUCCESS)
}
