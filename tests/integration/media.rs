//! Integration tests for media ingest (issue #2): differential checks against the `ffmpeg` CLI,
//! timestamps (VFR, late video, rotation), every bad input with its error kind, and the CLI.
//!
//! Fixtures are generated once per test run with the `ffmpeg` CLI from lavfi sources (small:
//! 160x120, 2-3 s) into a temporary folder shared by the tests of this module.
// Helpers outside #[test] functions panic on fixture failures by design, like the tests.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use pretext::media::{
    self, AudioBackend, AudioDecoder, AudioOptions, ResizeMode, VideoDecoder, VideoOptions,
};

use crate::common::{ffmpeg, run_pretext, testsrc_clip};

/// The shared fixture folder.
fn dir() -> &'static Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| tempfile::tempdir().expect("temp dir")).path()
}

/// A fixture generated once: `name` in the shared folder, made by `make` if missing.
fn fixture(name: &str, make: impl FnOnce(&Path)) -> PathBuf {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let path = dir().join(name);
    if !path.exists() {
        let tmp = dir().join(format!("tmp-{name}"));
        make(&tmp);
        std::fs::rename(&tmp, &path).expect("rename fixture");
    }
    path
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// testsrc2 160x120 25 fps + 440 Hz sine (AAC 44.1 kHz), 3 s, GOP 12.
fn clip() -> PathBuf {
    fixture("clip.mp4", |p| {
        let made = testsrc_clip(p.parent().unwrap(), "tmp-clip-src.mp4", 3.0, "160x120", 25);
        std::fs::rename(made, p).unwrap();
    })
}

/// The same picture, rotated by display-matrix metadata (the muxer's `rotate=90` tag).
fn rotated() -> PathBuf {
    fixture("rotated.mp4", |p| {
        let src = dir().join("rot-src.mp4");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=2",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            s(&src),
        ]);
        ffmpeg(&["-i", s(&src), "-c", "copy", "-metadata:s:v:0", "rotate=90", "-f", "mp4", s(p)]);
    })
}

/// Red top half, blue bottom half, rotated by metadata.
fn rotated_bars() -> PathBuf {
    fixture("rotated_bars.mp4", |p| {
        let src = dir().join("bars-src.mp4");
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "color=red:s=160x60:d=1[a];color=blue:s=160x60:d=1[b];[a][b]vstack[out0]",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            s(&src),
        ]);
        ffmpeg(&["-i", s(&src), "-c", "copy", "-metadata:s:v:0", "rotate=90", "-f", "mp4", s(p)]);
    })
}

/// Variable frame rate: 10 frames 0.1 s apart, then frames 0.25 s apart.
fn vfr() -> PathBuf {
    fixture("vfr.mkv", |p| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=10:duration=3",
            "-vf",
            "settb=1/1000,setpts='if(lt(N,10),N*0.1,1+(N-10)*0.25)/TB'",
            "-fps_mode",
            "vfr",
            "-enc_time_base",
            "1/1000",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "matroska",
            s(p),
        ]);
    })
}

fn vfr_pts(n: usize) -> f64 {
    if n < 10 {
        n as f64 * 0.1
    } else {
        1.0 + (n - 10) as f64 * 0.25
    }
}

/// Video starting about 0.5 s after the audio (Matroska keeps the offset; the muxer adds a few
/// ms for the AAC priming shift, so tests read the start from the probe).
fn late_video() -> PathBuf {
    fixture("late_video.mkv", |p| {
        ffmpeg(&[
            "-itsoffset",
            "0.5",
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=44100:duration=2.5",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-c:a",
            "aac",
            "-f",
            "matroska",
            s(p),
        ]);
    })
}

/// Stereo PCM WAV: 440 Hz left, 1000 Hz right (Symphonia path).
fn stereo_wav() -> PathBuf {
    fixture("stereo.wav", |p| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:sample_rate=48000:duration=2",
            "-filter_complex",
            "[0:a][1:a]amerge=inputs=2[a]",
            "-map",
            "[a]",
            "-c:a",
            "pcm_s16le",
            "-f",
            "wav",
            s(p),
        ]);
    })
}

/// Time of the first decoded audio frame, per ffprobe (after encoder delay or Opus pre-skip).
fn first_audio_frame_time(file: &Path) -> f64 {
    let out = Command::new("ffprobe")
        .args(["-v", "error", "-select_streams", "a:0", "-read_intervals", "%+#1"])
        .args(["-show_entries", "frame=pts_time", "-of", "csv=p=0", s(file)])
        .output()
        .expect("ffprobe");
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().next().and_then(|l| l.trim().trim_end_matches(',').parse().ok()).unwrap_or(0.0)
}

/// Two tones (440 Hz left, 1000 Hz right, 48 kHz, 2 s) encoded with `codec_args`.
fn encoded(name: &str, codec_args: &[&str]) -> PathBuf {
    fixture(name, |p| {
        let ext = name.rsplit('.').next().unwrap();
        let format = match ext {
            "mka" | "mkv" => "matroska",
            "mp3" => "mp3",
            other => other,
        };
        let mut args = vec![
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=2",
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=1000:sample_rate=48000:duration=2",
            "-filter_complex",
            "[0:a][1:a]amerge=inputs=2[a]",
            "-map",
            "[a]",
        ];
        args.extend_from_slice(codec_args);
        args.extend_from_slice(&["-f", format, s(p)]);
        ffmpeg(&args);
    })
}

/// The frame the CLI displays at `t` (last frame with pts <= t on the container clock), RGB24.
fn cli_frame_at(file: &Path, t: f64, w: u32, h: u32) -> Vec<u8> {
    let vf = format!("select='lte(t\\,{t})',scale={w}:{h}:flags=bilinear");
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-copyts", "-i", s(file)])
        .args(["-vf", &vf, "-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .expect("ffmpeg CLI");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let n = (w * h * 3) as usize;
    assert!(out.stdout.len() >= n, "CLI gave no frame at {t}");
    out.stdout[out.stdout.len() - n..].to_vec()
}

/// Mean absolute error per RGB channel.
fn mae(a: &[u8], b: &[u8]) -> [f64; 3] {
    assert_eq!(a.len(), b.len());
    let mut sum = [0f64; 3];
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        sum[i % 3] += (f64::from(*x) - f64::from(*y)).abs();
    }
    let n = (a.len() / 3) as f64;
    sum.map(|v| v / n)
}

fn assert_close_to_cli(file: &Path, frame: &media::RgbFrame, t: f64) {
    let want = cli_frame_at(file, t, frame.width, frame.height);
    let err = mae(&frame.data, &want);
    assert!(err.iter().all(|e| *e <= 2.0), "{} at t={t}: MAE per channel {err:?}", file.display());
}

/// Mono 16 kHz f32 from the CLI (channel mean), whole file from its first sample.
fn cli_audio(file: &Path, rate: u32) -> Vec<f32> {
    let channels = media::probe(file).unwrap().audio.unwrap().channels;
    // Stereo: an explicit channel mean (what pretext does); mono: as is.
    let mix = if channels == 2 { "pan=mono|c0=0.5*c0+0.5*c1" } else { "anull" };
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-i", s(file), "-vn"])
        .args(["-af", mix, "-ac", "1", "-ar", &rate.to_string(), "-f", "f32le", "-"])
        .output()
        .expect("ffmpeg CLI");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    out.stdout.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

fn max_abs_and_corr(a: &[f32], b: &[f32]) -> (f32, f64) {
    assert_eq!(a.len(), b.len());
    let max = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    let n = a.len() as f64;
    let (ma, mb) = (
        a.iter().map(|v| f64::from(*v)).sum::<f64>() / n,
        b.iter().map(|v| f64::from(*v)).sum::<f64>() / n,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x) - ma, f64::from(*y) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    (max, sab / (saa * sbb).sqrt())
}

#[test]
fn frames_match_ffmpeg_cli_at_requested_times() {
    let file = clip();
    for (size, mode) in [(None, ResizeMode::Stretch), (Some((224, 224)), ResizeMode::Stretch)] {
        let opts = VideoOptions { size, resize: mode, ..Default::default() };
        let mut dec = VideoDecoder::open(&file, &opts).unwrap();
        // Forward, backward (seek), repeated, and far-ahead requests.
        for t in [0.0, 0.5, 1.02, 0.3, 2.97, 2.97, 1.5] {
            let f = dec.frame_at(t).unwrap();
            let want_pts = (t * 25.0 + 1e-9).floor() / 25.0;
            assert!((f.pts - want_pts).abs() < 1e-6, "t={t}: pts {} want {want_pts}", f.pts);
            assert_eq!((f.width, f.height), size.unwrap_or((160, 120)));
            assert_close_to_cli(&file, &f, t);
        }
    }
}

/// Seeking forward by the keyframe index and skipping non-reference frames before the target give
/// exactly (bit for bit) the frames of a plain sequential decode, which skips nothing.
#[test]
fn keyframe_seeks_and_skipped_frames_give_the_sequential_frames() {
    let file = clip();
    let opts = VideoOptions { size: Some((64, 48)), ..Default::default() };
    let mut seq = VideoDecoder::open(&file, &opts).unwrap();
    let mut all = Vec::new();
    while let Some(f) = seq.next_frame().unwrap() {
        all.push(f);
    }
    assert_eq!(seq.skippable_packets(), 0, "sequential decoding never skips");
    let mut dec = VideoDecoder::open(&file, &opts).unwrap();
    // Small and large forward steps (GOP 12 at 25 fps: keyframes every 0.48 s), a backward seek.
    let mut forward_seeks = 0;
    let mut last = -1.0;
    for t in [0.31, 0.45, 1.13, 1.15, 2.61, 0.9, 2.95] {
        let before = dec.seeks();
        let f = dec.frame_at(t).unwrap();
        if t > last && dec.seeks() > before {
            forward_seeks += 1;
        }
        last = t;
        let k = (t * 25.0 + 1e-9).floor() as usize;
        assert!((f.pts - all[k].pts).abs() < 1e-6, "t={t}: pts {} want {}", f.pts, all[k].pts);
        assert!(f.data == all[k].data, "t={t}: frame differs from the sequential decode");
    }
    assert!(forward_seeks >= 2, "forward jumps across keyframes should seek ({forward_seeks})");
    assert!(dec.skippable_packets() > 0, "no B-frame packet was sent as skippable");
    // One `frames_at` call also skips frames between two requests that a later frame, already
    // sent, displaces: adjacent, close and far requests, in any order, still give exactly the
    // sequential frames, for less decoding than one request at a time.
    let times = [1.13, 0.05, 1.17, 0.09, 2.61, 1.21, 2.65, 0.13, 1.69, 2.93];
    let mut batch = VideoDecoder::open(&file, &opts).unwrap();
    let got = batch.frames_at(&times).unwrap();
    let mut single = VideoDecoder::open(&file, &opts).unwrap();
    let mut sorted = times;
    sorted.sort_by(f64::total_cmp);
    for t in sorted {
        single.frame_at(t).unwrap();
    }
    for (t, f) in times.iter().zip(&got) {
        let k = (t * 25.0 + 1e-9).floor() as usize;
        assert!((f.pts - all[k].pts).abs() < 1e-6, "t={t}: pts {} want {}", f.pts, all[k].pts);
        assert!(f.data == all[k].data, "t={t}: frame differs from the sequential decode");
    }
    assert!(
        batch.frames_decoded() < single.frames_decoded(),
        "frames_at decoded {} frames, one request at a time {}",
        batch.frames_decoded(),
        single.frames_decoded()
    );
    // The last request drained the decoder (nothing after it was needed): decoding on from
    // there continues with the next frame.
    let next = batch.next_frame().unwrap().expect("a frame follows 2.93 s");
    let k = (2.93f64 * 25.0 + 1e-9).floor() as usize + 1;
    assert!((next.pts - all[k].pts).abs() < 1e-6, "next after frames_at: pts {}", next.pts);
    assert!(next.data == all[k].data, "next frame after frames_at differs");
    // After the call, any later request is still exact (nothing it needs was dropped unseen).
    for t in [2.69, 2.97, 1.45] {
        let f = batch.frame_at(t).unwrap();
        let k = (t * 25.0 + 1e-9).floor() as usize;
        assert!(f.data == all[k].data, "t={t} after frames_at: frame differs");
    }
}

/// MPEG-TS starts its clock at 1.4 s and seeks by byte position; frames still match the CLI
/// (`-copyts`, so both sides use the container clock) forward and after backward seeks.
#[test]
fn mpeg_ts_frames_on_the_container_clock() {
    let ts = fixture("clip.ts", |p| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=6",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-g",
            "25",
            "-f",
            "mpegts",
            s(p),
        ]);
    });
    let t0 = media::probe(&ts).unwrap().video.unwrap().start_time;
    assert!(t0 > 1.0, "MPEG-TS start {t0}");
    let mut dec = VideoDecoder::open(&ts, &VideoOptions::default()).unwrap();
    for dt in [0.5, 4.9, 1.3, 0.02, 5.5] {
        let f = dec.frame_at(t0 + dt).unwrap();
        let want = t0 + (dt * 25.0 + 1e-6).floor() / 25.0;
        assert!((f.pts - want).abs() < 1e-3, "t0+{dt}: pts {} want {want}", f.pts);
        assert_close_to_cli(&ts, &f, t0 + dt);
    }
    assert_eq!(dec.frame_at(0.5).unwrap_err().kind(), "out_of_range");
    // Audio windows in a TS file, read out of order, agree with reading straight through.
    let ts_audio = fixture("tone.ts", |p| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=8",
            "-c:a",
            "mp2",
            "-f",
            "mpegts",
            s(p),
        ]);
    });
    let a0 = media::probe(&ts_audio).unwrap().audio.unwrap().start_time;
    let straight =
        AudioDecoder::open(&ts_audio, &AudioOptions::default()).unwrap().read(a0, 8.0).unwrap();
    let mut dec = AudioDecoder::open(&ts_audio, &AudioOptions::default()).unwrap();
    for start in [7.5, 1.0, 6.5, 0.0] {
        let got = dec.read(a0 + start, 0.5).unwrap().samples;
        let k = (start * 16_000.0) as usize;
        let (max, corr) = max_abs_and_corr(&got, &straight.samples[k..k + 8_000]);
        assert!(max < 1e-3 && corr > 0.9999, "TS audio at {start}: max {max} corr {corr}");
    }
}

/// Two MPEG-TS parts of different sizes joined byte-wise: the decoder reinitialises mid-stream
/// and the scaler is rebuilt for the new input size.
#[test]
fn size_change_mid_stream_rebuilds_the_scaler() {
    let joined = fixture("joined.ts", |p| {
        let mut bytes = Vec::new();
        for (i, size) in ["160x120", "96x64"].iter().enumerate() {
            let part = dir().join(format!("part{i}.ts"));
            ffmpeg(&[
                "-f",
                "lavfi",
                "-i",
                &format!("testsrc2=size={size}:rate=25:duration=1"),
                "-c:v",
                "libx264",
                "-pix_fmt",
                "yuv420p",
                "-f",
                "mpegts",
                s(&part),
            ]);
            bytes.extend(std::fs::read(&part).unwrap());
        }
        std::fs::write(p, bytes).unwrap();
    });
    for (size, want) in [(None, [(160, 120), (96, 64)]), (Some((32, 32)), [(32, 32), (32, 32)])] {
        let opts = VideoOptions { size, ..Default::default() };
        let mut dec = VideoDecoder::open(&joined, &opts).unwrap();
        let mut sizes = Vec::new();
        while let Some(f) = dec.next_frame().unwrap() {
            assert_eq!(f.data.len(), (f.width * f.height * 3) as usize);
            sizes.push((f.width, f.height));
        }
        assert_eq!(sizes.len(), 50);
        assert!(sizes[..25].iter().all(|s| *s == want[0]), "{sizes:?}");
        assert!(sizes[25..].iter().all(|s| *s == want[1]), "{sizes:?}");
    }
}

#[test]
fn bt709_full_range_and_yuv444_convert_like_the_cli() {
    let hd = fixture("bt709_full.mp4", |p| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv420p",
            "-colorspace",
            "bt709",
            "-color_primaries",
            "bt709",
            "-color_trc",
            "bt709",
            "-color_range",
            "pc",
            "-f",
            "mp4",
            s(p),
        ]);
    });
    let yuv444 = fixture("yuv444.mkv", |p| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=1",
            "-c:v",
            "libx264",
            "-pix_fmt",
            "yuv444p",
            "-f",
            "matroska",
            s(p),
        ]);
    });
    for file in [hd, yuv444] {
        for size in [None, Some((96, 64))] {
            let opts = VideoOptions { size, ..Default::default() };
            let f = VideoDecoder::open(&file, &opts).unwrap().frame_at(0.5).unwrap();
            assert_close_to_cli(&file, &f, 0.5);
        }
    }
}

#[test]
fn every_frame_in_order_and_frames_at_fps() {
    let mut dec = VideoDecoder::open(&clip(), &VideoOptions::default()).unwrap();
    let mut pts = Vec::new();
    while let Some(f) = dec.next_frame().unwrap() {
        assert_eq!(f.data.len(), 160 * 120 * 3);
        pts.push(f.pts);
    }
    assert_eq!(pts.len(), 75);
    for (k, p) in pts.iter().enumerate() {
        assert!((p - k as f64 / 25.0).abs() < 1e-6, "frame {k} at {p}");
    }
    let mut dec = VideoDecoder::open(&clip(), &VideoOptions::default()).unwrap();
    // Increasing times (also repeated ones) decode forward: no seek at all.
    for k in 0..40 {
        dec.frame_at(k as f64 * 0.07).unwrap();
        dec.frame_at(k as f64 * 0.07).unwrap();
    }
    assert_eq!(dec.seeks(), 0);
    let frames = dec.frames_fps(1.0, 2.0, 5.0).unwrap();
    assert_eq!(dec.seeks(), 1, "one backward seek");
    let got: Vec<f64> = frames.iter().map(|f| f.pts).collect();
    let want = [1.0, 1.2, 1.4, 1.6, 1.8];
    assert_eq!(got.len(), want.len());
    assert!(got.iter().zip(want).all(|(g, w)| (g - w).abs() < 1e-6), "{got:?}");
    // Requests out of order come back in the order asked.
    let frames = dec.frames_at(&[2.0, 0.4]).unwrap();
    assert!((frames[0].pts - 2.0).abs() < 1e-6 && (frames[1].pts - 0.4).abs() < 1e-6);
}

#[test]
fn shorter_side_crop_keeps_the_centre() {
    let file = clip();
    let opts = VideoOptions {
        size: Some((64, 64)),
        resize: ResizeMode::ShorterSideCrop,
        ..Default::default()
    };
    let f = VideoDecoder::open(&file, &opts).unwrap().frame_at(1.0).unwrap();
    assert_eq!((f.width, f.height), (64, 64));
    // Reference: the CLI crops the centre 120x120 of the 160x120 source and scales it to 64x64.
    let vf = "select='lte(t\\,1.0)',crop=120:120:20:0,scale=64:64:flags=bilinear";
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-copyts", "-i", s(&file), "-vf", vf])
        .args(["-fps_mode", "passthrough", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"])
        .output()
        .unwrap();
    let want = &out.stdout[out.stdout.len() - 64 * 64 * 3..];
    let err = mae(&f.data, want);
    assert!(err.iter().all(|e| *e <= 2.0), "crop MAE {err:?}");
}

#[test]
fn variable_frame_rate_timestamps() {
    let file = vfr();
    let mut dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
    let mut pts = Vec::new();
    while let Some(f) = dec.next_frame().unwrap() {
        pts.push(f.pts);
    }
    assert_eq!(pts.len(), 30);
    for (n, p) in pts.iter().enumerate() {
        assert!((p - vfr_pts(n)).abs() < 2e-3, "frame {n}: {p} want {}", vfr_pts(n));
    }
    let mut dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
    for (t, want) in [(0.55, 0.5), (1.3, 1.25), (1.24, 1.0), (5.8, 5.75), (0.05, 0.0)] {
        let f = dec.frame_at(t).unwrap();
        assert!((f.pts - want).abs() < 2e-3, "t={t}: pts {} want {want}", f.pts);
        assert_close_to_cli(&file, &f, t);
    }
}

#[test]
fn video_starting_after_audio_keeps_the_container_clock() {
    let file = late_video();
    let info = media::probe(&file).unwrap();
    let v = info.video.as_ref().unwrap();
    let a = info.audio.as_ref().unwrap();
    let v0 = v.start_time;
    assert!((0.45..0.6).contains(&v0), "video start {v0}");
    assert!(a.start_time.abs() < 0.01, "audio start {}", a.start_time);
    let mut dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
    let f = dec.frame_at(v0).unwrap();
    assert!((f.pts - v0).abs() < 1e-3, "first frame at {} (start {v0})", f.pts);
    let f = dec.frame_at(v0 + 0.53).unwrap();
    assert!((f.pts - (v0 + 0.52)).abs() < 1e-3, "frame at start+0.53 has pts {}", f.pts);
    assert_close_to_cli(&file, &f, v0 + 0.53);
    // Long before the video starts there is nothing displayed.
    assert_eq!(dec.frame_at(0.1).unwrap_err().kind(), "out_of_range");
    // The audio is there from 0.
    let mut ad = AudioDecoder::open(&file, &AudioOptions::default()).unwrap();
    let clip = ad.read(0.0, 0.5).unwrap();
    let energy: f32 = clip.samples[800..8000].iter().map(|v| v * v).sum::<f32>() / 7200.0;
    // lavfi sine has amplitude 1/8: mean square 0.0078.
    assert!(energy > 0.006, "audio before the video starts is silent: {energy}");
}

/// Rotation is applied after colour conversion (exact quarter turns of the RGB picture). The
/// ffmpeg CLI instead transposes the YUV planes first, which moves the 4:2:0 chroma siting by
/// half a chroma pixel; on testsrc2's sharp colour edges that alone gives an MAE of ~7, so the
/// CLI comparison uses flat colour bars and testsrc2 is checked as an exact rotation.
#[test]
fn rotated_file_comes_out_upright() {
    let file = rotated();
    let info = media::probe(&file).unwrap();
    let rotation = info.video.as_ref().unwrap().rotation;
    assert_ne!(rotation, 0);
    let mut dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
    let f = dec.frame_at(1.0).unwrap();
    assert_eq!((f.width, f.height), (120, 160));
    let opts = VideoOptions { apply_rotation: false, ..Default::default() };
    let raw = VideoDecoder::open(&file, &opts).unwrap().frame_at(1.0).unwrap();
    // Pixel (x, y) of the upright frame comes from the coded frame per the clockwise turn.
    for (x, y) in [(0usize, 0usize), (119, 0), (0, 159), (37, 101)] {
        let (cx, cy) = match rotation {
            90 => (y, 119 - x),
            270 => (159 - y, x),
            _ => unreachable!("quarter turn expected"),
        };
        let got = &f.data[(y * 120 + x) * 3..][..3];
        let want = &raw.data[(cy * 160 + cx) * 3..][..3];
        assert_eq!(got, want, "pixel ({x},{y})");
    }
    let opts = VideoOptions { size: Some((90, 120)), ..Default::default() };
    let f = VideoDecoder::open(&file, &opts).unwrap().frame_at(1.0).unwrap();
    assert_eq!((f.width, f.height), (90, 120));
    // A centre crop is cut from the coded source before scaling: at native scale it is the
    // middle rows of the upright frame (displayed rows 20..140 are coded columns 20..140).
    let upright = dec.frame_at(1.0).unwrap();
    let opts = VideoOptions {
        size: Some((120, 120)),
        resize: ResizeMode::ShorterSideCrop,
        ..Default::default()
    };
    let sq = VideoDecoder::open(&file, &opts).unwrap().frame_at(1.0).unwrap();
    assert_eq!((sq.width, sq.height), (120, 120));
    let want = &upright.data[20 * 120 * 3..140 * 120 * 3];
    let err = mae(&sq.data, want);
    assert!(err.iter().all(|e| *e <= 1.0), "rotated centre crop MAE {err:?}");

    // Bars: red on top, blue below in the coded picture; the tag turns them sideways, the way
    // the ffmpeg CLI shows it (red on the left).
    let bars = rotated_bars();
    let f = VideoDecoder::open(&bars, &VideoOptions::default()).unwrap().frame_at(0.5).unwrap();
    assert_eq!((f.width, f.height), (120, 160));
    assert_close_to_cli(&bars, &f, 0.5);
    let px = |x: usize, y: usize| {
        let i = (y * 120 + x) * 3;
        (f.data[i], f.data[i + 2])
    };
    let (r_left, b_left) = px(20, 80);
    let (r_right, b_right) = px(100, 80);
    assert!(r_left > 200 && b_left < 60, "left should be red: {:?}", px(20, 80));
    assert!(b_right > 200 && r_right < 60, "right should be blue: {:?}", px(100, 80));
    // Without rotation the coded layout comes back.
    let opts = VideoOptions { apply_rotation: false, ..Default::default() };
    let f = VideoDecoder::open(&bars, &opts).unwrap().frame_at(0.5).unwrap();
    assert_eq!((f.width, f.height), (160, 120));
    assert!(f.data[(10 * 160 + 80) * 3] > 200, "top should be red unrotated");
}

#[test]
fn audio_matches_ffmpeg_cli_resampled_mono() {
    let cases = [
        (clip(), "ffmpeg"),
        (stereo_wav(), "symphonia"),
        (encoded("tone.flac", &["-c:a", "flac"]), "symphonia"),
        (encoded("tone.ogg", &["-c:a", "libvorbis"]), "symphonia"),
        (encoded("tone.webm", &["-c:a", "libopus"]), "ffmpeg"),
        (encoded("tone.mp3", &["-c:a", "libmp3lame"]), "ffmpeg"),
        (encoded("tone.mka", &["-c:a", "ac3"]), "ffmpeg"),
        (encoded("tone_mp2.mkv", &["-c:a", "mp2"]), "ffmpeg"),
        (encoded("tone_pcm.mov", &["-c:a", "pcm_s16le"]), "ffmpeg"),
    ];
    for (file, backend) in cases {
        let want = cli_audio(&file, 16_000);
        // The CLI's raw output starts with the first decoded sample, whatever its time.
        let t0 = first_audio_frame_time(&file);
        let mut dec = AudioDecoder::open(&file, &AudioOptions::default()).unwrap();
        let used = format!("{:?}", dec.backend()).to_lowercase();
        assert_eq!(used, backend, "{}", file.display());
        for (start, dur) in [(0.0, 1.5), (0.75, 0.5), (0.1, 0.25)] {
            let got = dec.read(t0 + start, dur).unwrap();
            let n = (dur * 16_000.0).round() as usize;
            assert_eq!(got.samples.len(), n);
            let s0 = (start * 16_000.0).round() as usize;
            let (max, corr) = max_abs_and_corr(&got.samples, &want[s0..s0 + n]);
            assert!(
                max <= 1e-2 && corr >= 0.999,
                "{} [{start}+{dur}]: max {max} corr {corr}",
                file.display()
            );
        }
    }
    // Forcing FFmpeg on the WAV gives the same samples as Symphonia.
    let wav = stereo_wav();
    let a = AudioDecoder::open_with_backend(&wav, &AudioOptions::default(), AudioBackend::Ffmpeg)
        .unwrap()
        .read(0.3, 0.5)
        .unwrap();
    let b =
        AudioDecoder::open_with_backend(&wav, &AudioOptions::default(), AudioBackend::Symphonia)
            .unwrap()
            .read(0.3, 0.5)
            .unwrap();
    let (max, _) = max_abs_and_corr(&a.samples, &b.samples);
    assert!(max < 1e-4, "backends differ by {max}");
}

/// Decoder opens of MP4/Matroska skip FFmpeg's stream-info probe when the header suffices; the
/// stream parameters and the clock must be exactly those of a full probe.
#[test]
fn decoder_opens_without_the_stream_probe_keep_parameters_and_clock() {
    for file in [clip(), rotated(), late_video()] {
        let probed = media::probe(&file).unwrap().video.unwrap();
        let dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
        let info = dec.info();
        let name = file.display();
        assert_eq!((info.width, info.height), (probed.width, probed.height), "{name}");
        assert_eq!((info.avg_fps, info.real_fps), (probed.avg_fps, probed.real_fps), "{name}");
        assert_eq!(info.rotation, probed.rotation, "{name}");
        assert_eq!(info.codec, probed.codec, "{name}");
        assert!((info.start_time - probed.start_time).abs() < 1e-9, "{name}: start");
    }
    let cases = [
        clip(),
        late_video(),
        encoded("tone_pcm.mov", &["-c:a", "pcm_s16le"]),
        encoded("tone.mka", &["-c:a", "ac3"]),
        encoded("tone.webm", &["-c:a", "libopus"]),
    ];
    for file in cases {
        let probed = media::probe(&file).unwrap().audio.unwrap();
        let mut dec = AudioDecoder::open(&file, &AudioOptions::default()).unwrap();
        let info = dec.info().clone();
        let name = file.display();
        assert_eq!(info.sample_rate, probed.sample_rate, "{name}");
        assert_eq!(info.channels, probed.channels, "{name}");
        assert_eq!(info.codec, probed.codec, "{name}");
        assert!((info.start_time - probed.start_time).abs() < 1e-9, "{name}: start");
        match (info.duration, probed.duration) {
            (Some(a), Some(b)) => assert!((a - b).abs() < 1e-6, "{name}: duration {a} vs {b}"),
            (a, b) => assert_eq!(a, b, "{name}: duration"),
        }
        // The first sample sits where the CLI (full probe) puts the first decoded frame.
        let t0 = first_audio_frame_time(&file);
        let clip = dec.read(t0, 0.25).unwrap();
        assert_eq!(clip.samples.len(), 4000, "{name}");
        assert!(clip.samples[400..].iter().any(|v| v.abs() > 0.01), "{name}: silent start");
    }
}

#[test]
fn consecutive_windows_equal_one_long_window() {
    for file in [clip(), stereo_wav()] {
        let whole =
            AudioDecoder::open(&file, &AudioOptions::default()).unwrap().read(0.0, 1.8).unwrap();
        let mut dec = AudioDecoder::open(&file, &AudioOptions::default()).unwrap();
        let mut parts = Vec::new();
        for k in 0..6 {
            parts.extend(dec.read(k as f64 * 0.3, 0.3).unwrap().samples);
        }
        assert_eq!(parts.len(), whole.samples.len());
        assert_eq!(dec.seeks(), 0, "{}: forward windows must not seek", file.display());
        let (max, _) = max_abs_and_corr(&parts, &whole.samples);
        assert!(max < 1e-5, "{}: windows differ by {max}", file.display());
        // Going back seeks and gives the same samples again.
        let again = dec.read(0.6, 0.3).unwrap().samples;
        let (max, _) = max_abs_and_corr(&again, &whole.samples[9_600..14_400]);
        assert!(max < 1e-3, "{}: after a backward seek, differs by {max}", file.display());
    }
}

/// A window deep into a long file seeks instead of decoding the whole track, and lands exactly
/// on the container clock: the samples equal the analytic tone lavfi generated.
#[test]
fn long_file_window_seeks_and_matches_the_analytic_tone() {
    let long = fixture("long_tone.mka", |p| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000:duration=120",
            "-c:a",
            "flac",
            "-f",
            "matroska",
            s(p),
        ]);
    });
    let mut dec = AudioDecoder::open(&long, &AudioOptions::default()).unwrap();
    for start in [100.0, 57.3, 110.0] {
        let got = dec.read(start, 0.5).unwrap().samples;
        let want: Vec<f32> = (0..8_000)
            .map(|k| {
                let t = start + k as f64 / 16_000.0;
                (0.125 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as f32
            })
            .collect();
        let (max, corr) = max_abs_and_corr(&got, &want);
        assert!(max < 2e-3 && corr > 0.9999, "window at {start}: max {max} corr {corr}");
    }
    // Each window is more than 5 s from the buffered audio: three seeks, no full decode.
    assert_eq!(dec.seeks(), 3);
}

#[test]
fn audio_windows_are_zero_padded_and_exact_length() {
    let file = clip();
    let mut dec = AudioDecoder::open(&file, &AudioOptions::default()).unwrap();
    let c = dec.read(-0.5, 1.0).unwrap();
    assert_eq!(c.samples.len(), 16_000);
    assert!(c.samples[..7_900].iter().all(|v| v.abs() < 1e-3), "before the stream must be silent");
    assert!(c.samples[8_200..].iter().any(|v| v.abs() > 0.1));
    let c = dec.read(2.5, 1.0).unwrap();
    assert_eq!(c.samples.len(), 16_000);
    assert!(c.samples[..7_000].iter().any(|v| v.abs() > 0.1));
    assert!(c.samples[8_400..].iter().all(|v| v.abs() < 1e-3), "after the end must be silent");
    let c = dec.read(1.0, 0.0333).unwrap();
    assert_eq!(c.samples.len(), 533);
    // Keeping channels interleaves them.
    let opts = AudioOptions { mono: false, sample_rate: 8_000, ..Default::default() };
    let c = AudioDecoder::open(&stereo_wav(), &opts).unwrap().read(0.5, 0.25).unwrap();
    assert_eq!((c.channels, c.samples.len()), (2, 4_000));
    // ... and their mean is the mono mix.
    let mono_opts = AudioOptions { sample_rate: 8_000, ..Default::default() };
    let m = AudioDecoder::open(&stereo_wav(), &mono_opts).unwrap().read(0.5, 0.25).unwrap();
    let mean: Vec<f32> = c.samples.chunks(2).map(|p| (p[0] + p[1]) / 2.0).collect();
    let (max, _) = max_abs_and_corr(&mean, &m.samples);
    assert!(max < 1e-5, "channel mean differs from mono by {max}");
    // The channels are distinct: left 440 Hz, right 1000 Hz.
    let left: Vec<f32> = c.samples.iter().step_by(2).copied().collect();
    let right: Vec<f32> = c.samples.iter().skip(1).step_by(2).copied().collect();
    let (_, corr) = max_abs_and_corr(&left, &right);
    assert!(corr.abs() < 0.2, "channels look identical: corr {corr}");
}

// ---- bad inputs: each gives a typed error naming the file, never a panic or a hang ----

fn write(name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn assert_kind(result: Result<impl std::fmt::Debug, media::MediaError>, kind: &str, file: &Path) {
    let err = result.expect_err("expected an error");
    assert_eq!(err.kind(), kind, "{err}");
    assert!(err.to_string().contains(s(file)), "error does not name the file: {err}");
}

#[test]
fn zero_byte_random_text_and_truncated_files_are_not_media() {
    let zero = write("zero.mp4", b"");
    assert_kind(media::probe(&zero), "empty", &zero);
    assert_kind(VideoDecoder::open(&zero, &VideoOptions::default()).map(|_| ()), "empty", &zero);
    let rand = write("random.mp4", &random_bytes(64 * 1024, 7));
    assert_kind(media::probe(&rand), "not_media", &rand);
    let text = write("text.mp4", "this is a text file, not a video\n".repeat(50).as_bytes());
    assert_kind(media::probe(&text), "not_media", &text);
    assert_kind(
        AudioDecoder::open(&text, &AudioOptions::default()).map(|_| ()),
        "not_media",
        &text,
    );
    // Cut in half: the index (moov) at the end is gone.
    let full = std::fs::read(clip()).unwrap();
    let cut = write("truncated.mp4", &full[..full.len() / 2]);
    assert_kind(media::probe(&cut), "not_media", &cut);
    let missing = dir().join("missing.mp4");
    assert_kind(media::probe(&missing), "io", &missing);
}

#[test]
fn missing_streams_are_reported_by_kind() {
    let audio_only = fixture("audio_only.m4a", |p| {
        ffmpeg(&["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", "-f", "mp4", s(p)]);
    });
    let info = media::probe(&audio_only).unwrap();
    assert!(info.video.is_none() && info.audio.is_some());
    assert_kind(
        VideoDecoder::open(&audio_only, &VideoOptions::default()).map(|_| ()),
        "no_stream",
        &audio_only,
    );
    let video_only = fixture("video_only.mp4", |p| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=64x48:duration=1",
            "-c:v",
            "libx264",
            "-f",
            "mp4",
            s(p),
        ]);
    });
    assert_kind(
        AudioDecoder::open(&video_only, &AudioOptions::default()).map(|_| ()),
        "no_stream",
        &video_only,
    );
}

/// A faststart MP4 (index first) whose media data is damaged or cut.
fn faststart() -> Vec<u8> {
    let p = fixture("faststart.mp4", |p| {
        ffmpeg(&[
            "-f",
            "lavfi",
            "-i",
            "testsrc2=size=160x120:rate=25:duration=3",
            "-c:v",
            "libx264",
            "-g",
            "12",
            "-movflags",
            "+faststart",
            "-f",
            "mp4",
            s(p),
        ]);
    });
    std::fs::read(p).unwrap()
}

#[test]
fn corrupt_packets_in_the_middle_are_skipped_and_counted() {
    let mut bytes = faststart();
    let mid = bytes.len() / 2;
    let noise = random_bytes(3000, 11);
    bytes[mid..mid + 3000].copy_from_slice(&noise);
    let file = write("corrupt.mp4", &bytes);
    // Issue #26: by default the first damaged frame is an error, not a silent success...
    let mut dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
    let strict = (|| {
        while dec.next_frame()?.is_some() {}
        Ok(())
    })();
    assert_kind(strict, "damaged", &file);
    // ...and allowed, every frame still comes out, with the damage listed by time.
    let mut dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
    dec.set_allow_damaged(true);
    let mut n = 0;
    let mut last = -1.0;
    while let Some(f) = dec.next_frame().unwrap() {
        assert!(f.pts > last);
        last = f.pts;
        n += 1;
    }
    assert!(n >= 60, "only {n} of 75 frames decoded");
    assert!(dec.corrupt_packets() > 0 || !dec.damage().is_empty(), "corruption was not counted");
    assert!(!dec.damage().is_empty(), "damage was not recorded");
    assert!(last > 2.9, "decoding stopped at {last}");
}

#[test]
fn container_claiming_more_frames_than_it_holds_ends_cleanly() {
    let bytes = faststart();
    let file = write("claims_more.mp4", &bytes[..bytes.len() * 6 / 10]);
    let info = media::probe(&file).unwrap();
    assert_eq!(info.video.as_ref().unwrap().frames, Some(75));
    // Issue #26: the probe sees the file is cut short (the mdat box claims more bytes)...
    let cut = info.integrity.as_ref().expect("truncation found by the probe");
    assert_eq!(cut.file_bytes, (bytes.len() * 6 / 10) as u64);
    // ...and the frames cut in half at the end are damaged, not silently returned.
    let mut dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
    let strict = (|| {
        while dec.next_frame()?.is_some() {}
        Ok(())
    })();
    assert_kind(strict, "damaged", &file);
    let mut dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
    dec.set_allow_damaged(true);
    let mut n = 0;
    while dec.next_frame().unwrap().is_some() {
        n += 1;
    }
    assert!(n > 10 && n < 75, "{n} frames");
    assert_kind(dec.frame_at(2.9), "truncated", &file);
    assert_kind(dec.frame_at(10.0), "out_of_range", &file);
    // The decoder still works after those errors.
    assert!(dec.frame_at(0.2).is_ok());
}

#[test]
fn absurd_dimensions_are_invalid_streams() {
    let mut y4m = b"YUV4MPEG2 W100000 H2 F25:1 Ip A1:1 C420jpeg\nFRAME\n".to_vec();
    y4m.extend(vec![128u8; 100_000 * 2 * 3 / 2]);
    let file = write("absurd.y4m", &y4m);
    assert_kind(media::probe(&file), "invalid_stream", &file);
    assert_kind(
        VideoDecoder::open(&file, &VideoOptions::default()).map(|_| ()),
        "invalid_stream",
        &file,
    );
}

#[test]
fn unreadable_file_is_an_io_error() {
    use std::os::unix::fs::PermissionsExt;
    let src = std::fs::read(clip()).unwrap();
    let file = write("unreadable.mp4", &src);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&file).is_ok() {
        eprintln!("SKIPPED unreadable_file_is_an_io_error: running as root, mode 000 is readable");
        return;
    }
    assert_kind(media::probe(&file), "io", &file);
}

#[test]
fn a_fifo_without_writer_does_not_hang() {
    let fifo = dir().join("pipe.mp4");
    let ok = Command::new("mkfifo").arg(&fifo).status().is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED a_fifo_without_writer_does_not_hang: mkfifo unavailable");
        return;
    }
    assert_kind(media::probe(&fifo), "not_media", &fifo);
}

#[test]
fn deadline_bounds_decoding() {
    let opts = VideoOptions { deadline: Some(Duration::ZERO), ..Default::default() };
    let file = clip();
    assert_kind(VideoDecoder::open(&file, &opts).map(|_| ()), "deadline", &file);
    // A budget far below what decoding 75 frames takes stops inside the decode loop (or at
    // open on a slow machine): either way a deadline error, not a hang or partial success.
    let opts = VideoOptions { deadline: Some(Duration::from_micros(500)), ..Default::default() };
    let result = VideoDecoder::open(&file, &opts).and_then(|mut dec| {
        while dec.next_frame()?.is_some() {}
        Ok(())
    });
    assert_kind(result, "deadline", &file);
    let opts = AudioOptions { deadline: Some(Duration::from_micros(500)), ..Default::default() };
    let result = AudioDecoder::open(&file, &opts).and_then(|mut dec| dec.read(0.0, 3.0));
    assert_kind(result, "deadline", &file);
    // A long-lived decoder can restart its budget between requests.
    let opts = VideoOptions { deadline: Some(Duration::from_secs(30)), ..Default::default() };
    let mut dec = VideoDecoder::open(&file, &opts).unwrap();
    dec.frame_at(1.0).unwrap();
    dec.restart_deadline();
    dec.frame_at(2.0).unwrap();
}

// ---- the command line ----

#[test]
fn probe_cli_walks_past_broken_files() {
    let folder = dir().join("walk");
    std::fs::create_dir_all(folder.join("sub")).unwrap();
    std::fs::copy(clip(), folder.join("sub/good.mp4")).unwrap();
    std::fs::write(folder.join("a_broken.mp4"), random_bytes(4096, 3)).unwrap();
    std::fs::write(folder.join("notes.txt"), "not media").unwrap();

    let out = run_pretext(&["probe", s(&folder)]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("1 ok, 1 failed"), "{text}");
    assert!(text.contains("not_media"), "{text}");
    assert!(!text.contains("notes.txt"));

    let out = run_pretext(&["probe", "--json", s(&folder)]);
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["status"], "error");
    assert_eq!(lines[0]["error_kind"], "not_media");
    assert!(lines[0]["error"].as_str().unwrap().contains("a_broken.mp4"));
    assert_eq!(lines[1]["status"], "ok");
    assert_eq!(lines[1]["video"]["width"], 160);
    assert_eq!(lines[1]["audio"]["sample_rate"], 44_100);

    let out = run_pretext(&["probe", "--strict", s(&folder)]);
    assert_eq!(out.status.code(), Some(1));
    let out = run_pretext(&["probe", "--strict", s(&folder.join("sub"))]);
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn frames_and_audio_cli_write_files() {
    let out_dir = dir().join("cli-out");
    let file = clip();
    let out = run_pretext(&[
        "frames",
        s(&file),
        "--at",
        "0.5,1.5",
        "--size",
        "64x48",
        "--out",
        s(&out_dir),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let pngs: Vec<_> = std::fs::read_dir(&out_dir).unwrap().collect();
    assert_eq!(pngs.len(), 2);
    let wav = dir().join("cli-clip.wav");
    let out = run_pretext(&[
        "audio",
        s(&file),
        "--start",
        "1.0",
        "--duration",
        "0.5",
        "--rate",
        "8000",
        "--out",
        s(&wav),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let (rate, ch, samples) = pretext::io::read_wav_f32(&wav).unwrap();
    assert_eq!((rate, ch, samples.len()), (8000, 1, 4000));
    let out = run_pretext(&["frames", s(&file), "--at", "9", "--out", s(&out_dir)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("outside the video stream"));
    for sub in ["probe", "frames", "audio", "bench"] {
        let out = run_pretext(&[sub, "--help"]);
        assert!(out.status.success() && out.stdout.len() > 200, "{sub} --help");
    }
}

/// Heap bytes in use (every arena plus mmapped blocks), from glibc's own accounting.
fn heap_in_use() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let m = unsafe { libc::mallinfo2() };
    m.uordblks + m.hblkhd
}

/// Decodes `file` whole, video frame by frame and audio in 1 s windows, and prints the heap's
/// growth between the end of the first 5 s and the end of the file.
fn decode_and_measure(file: &Path) {
    let opts = VideoOptions { size: Some((64, 48)), ..Default::default() };
    let mut video = VideoDecoder::open(file, &opts).unwrap();
    let mut audio = AudioDecoder::open(file, &AudioOptions::default()).unwrap();
    let mut frame = media::RgbFrame::empty();
    let mut window = 0.0;
    let mut decode_until = |t: f64| {
        while frame.pts < t - 1e-6 && video.next_frame_into(&mut frame).unwrap() {}
        while window + 1.0 <= t + 1e-6 {
            assert_eq!(audio.read(window, 1.0).unwrap().samples.len(), 16_000);
            window += 1.0;
        }
    };
    decode_until(5.0);
    let before = heap_in_use();
    decode_until(30.0);
    let after = heap_in_use();
    println!("heap growth {} bytes over 25 s", after as i64 - before as i64);
    // A leaked packet per frame is 750 packets of several kB; a bounded decoder holds the
    // same buffers at the end as after 5 s.
    assert!(after < before + 256 * 1024, "heap grew from {before} to {after} bytes over 25 s");
}

#[test]
fn r26_decoders_release_every_packet() {
    // See issue #26 §2: `Packet::read` into one reused packet never released the previous
    // packet's buffer, so memory grew with every packet decoded. Measured in a child process
    // that runs only this test, so no other test's allocations are counted.
    if let Some(file) = std::env::var_os("PRETEXT_R26_CHILD") {
        decode_and_measure(Path::new(&file));
        return;
    }
    let file = fixture("long.mp4", |p| {
        let made = testsrc_clip(p.parent().unwrap(), "tmp-long-src.mp4", 30.0, "320x240", 25);
        std::fs::rename(made, p).unwrap();
    });
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["media::r26_decoders_release_every_packet", "--exact", "--test-threads", "1"])
        .args(["--nocapture"])
        .env("PRETEXT_R26_CHILD", &file)
        .output()
        .unwrap();
    let text =
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("heap growth"), "the child did not measure: {text}");
}
