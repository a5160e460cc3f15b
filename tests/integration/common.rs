//! Shared test helpers: the built binary, temporary folders, and lavfi fixtures.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `pretext` binary built for this test run.
pub fn pretext() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pretext"))
}

/// Runs `pretext` with `args`, returning its output.
pub fn run_pretext(args: &[&str]) -> Output {
    pretext().args(args).output().expect("failed to start pretext")
}

/// Runs the `ffmpeg` CLI quietly with `args`; panics with its stderr on failure.
pub fn ffmpeg(args: &[&str]) {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-y"])
        .args(args)
        .output()
        .expect("the ffmpeg CLI is needed for fixtures (make setup installs it)");
    assert!(
        out.status.success(),
        "ffmpeg {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A lavfi test clip: `testsrc2` video and a 440 Hz sine at 44.1 kHz, H.264 + AAC in MP4.
pub fn testsrc_clip(dir: &Path, name: &str, seconds: f64, size: &str, fps: u32) -> PathBuf {
    tone_clip(dir, name, seconds, size, fps, 440, 44_100)
}

/// A lavfi test clip: `testsrc2` video and a sine of `hz` at `rate`, H.264 + AAC in MP4.
pub fn tone_clip(
    dir: &Path,
    name: &str,
    seconds: f64,
    size: &str,
    fps: u32,
    hz: u32,
    rate: u32,
) -> PathBuf {
    let path = dir.join(name);
    let d = format!("{seconds}");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size={size}:rate={fps}:duration={d}"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency={hz}:sample_rate={rate}:duration={d}"),
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "12",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().expect("utf-8 path"),
    ]);
    path
}
