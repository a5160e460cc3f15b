//! Hostile media (issue #26): damaged files must never pass as good data. Each test damages a
//! lavfi fixture by flipping, zeroing or cutting bytes, finds the damaged time with the ffmpeg
//! CLI (the ground truth, independent of pretext), and checks that `frames`, `audio`, `probe`
//! and the pipeline refuse it (or, with `--allow-damaged`, warn). Also the small ones: odd
//! numbers, file names that are not UTF-8, stream ranges of Matroska and late-starting video.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use pretext::media::{self, AudioDecoder, AudioOptions, VideoDecoder, VideoOptions};
use pretext::pipeline::{BatchStream, InputSpec, PipelineConfig};
use pretext::tasks::avc::{AvcData, AvcPolicy, NegativeKinds};

use crate::common::{ffmpeg, run_pretext};

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// testsrc2 + a two-tone sweep, `seconds` long, encoded with `codec` into `path`.
fn source(path: &Path, seconds: f64, rate: u32, codec: &[&str]) -> PathBuf {
    let mut args = vec![
        "-f".to_string(),
        "lavfi".into(),
        "-i".into(),
        format!("testsrc2=size=160x120:rate=25:duration={seconds}"),
        "-f".into(),
        "lavfi".into(),
        "-i".into(),
        format!(
            "aevalsrc=0.4*sin(2*PI*(300+200*t)*t)|0.3*sin(2*PI*(500+90*t)*t):s={rate}:d={seconds}"
        ),
    ];
    args.extend(codec.iter().map(|c| c.to_string()));
    args.extend(["-shortest".into(), path.to_string_lossy().into_owned()]);
    ffmpeg(&args.iter().map(String::as_str).collect::<Vec<_>>());
    path.to_path_buf()
}

fn mp4(dir: &Path, name: &str) -> PathBuf {
    let codec = ["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "aac"];
    source(&dir.join(name), 4.0, 44_100, &[&codec[..], &["-movflags", "+faststart"]].concat())
}

fn mkv(dir: &Path, name: &str) -> PathBuf {
    let codec = ["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p", "-c:a", "ac3"];
    source(&dir.join(name), 4.0, 48_000, &codec)
}

fn webm(dir: &Path, name: &str) -> PathBuf {
    let codec = [
        "-c:v",
        "libvpx-vp9",
        "-deadline",
        "realtime",
        "-cpu-used",
        "8",
        "-g",
        "25",
        "-b:v",
        "200k",
        "-c:a",
        "libopus",
    ];
    source(&dir.join(name), 4.0, 48_000, &codec)
}

/// The ffmpeg CLI's per-frame hashes of stream `stream`: (time in seconds, md5).
fn frame_hashes(file: &Path, stream: usize) -> Vec<(f64, String)> {
    let o = std::process::Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "quiet", "-i"])
        .arg(file)
        .args(["-f", "framemd5", "-"])
        .output()
        .expect("ffmpeg CLI");
    let text = String::from_utf8_lossy(&o.stdout).into_owned();
    // Header lines carry each stream's time base: "#tb 0: 1/25".
    let tb: Vec<f64> = text
        .lines()
        .filter_map(|l| l.strip_prefix("#tb "))
        .map(|l| {
            let (_, r) = l.split_once(':').unwrap();
            let (n, d) = r.trim().split_once('/').unwrap();
            n.parse::<f64>().unwrap() / d.parse::<f64>().unwrap()
        })
        .collect();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').map(str::trim).collect();
            let st: usize = f.first()?.parse().ok()?;
            (st == stream).then(|| (f[2].parse::<f64>().unwrap() * tb[st], f[5].to_string()))
        })
        .collect()
}

/// The first time at which the decode of `bad` differs from that of `good` (stream `stream`).
fn first_difference(good: &Path, bad: &Path, stream: usize) -> Option<f64> {
    let (a, b) = (frame_hashes(good, stream), frame_hashes(bad, stream));
    for (x, y) in a.iter().zip(&b) {
        if x != y {
            return Some(x.0.min(y.0));
        }
    }
    (a.len() != b.len()).then(|| a.get(b.len()).map_or(0.0, |x| x.0))
}

/// Writes damaged copies of `good` to `bad` (`mutate(bytes, attempt)`, each attempt moving the
/// damage) until the ffmpeg CLI's decode of `stream` differs; the first damaged time.
fn damage_stream(good: &Path, bad: &Path, stream: usize, mutate: impl Fn(&mut [u8], usize)) -> f64 {
    let clean = std::fs::read(good).unwrap();
    for attempt in 0..30 {
        let mut bytes = clean.clone();
        mutate(&mut bytes, attempt);
        std::fs::write(bad, &bytes).unwrap();
        if let Some(t) = first_difference(good, bad, stream) {
            return t;
        }
    }
    panic!("no damage to stream {stream} of {} after 30 attempts", good.display());
}

/// Offsets of AC-3 frames (sync word 0x0B77) in `bytes`.
fn ac3_frames(bytes: &[u8]) -> Vec<usize> {
    bytes.windows(2).enumerate().filter(|(_, w)| w == &[0x0b, 0x77]).map(|(i, _)| i).collect()
}

#[test]
fn r26_frames_at_corrupt_packets_fail_unless_damage_is_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.mp4");
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=4",
        "-c:v",
        "libx264",
        "-g",
        "25",
        "-pix_fmt",
        "yuv420p",
        "-movflags",
        "+faststart",
        s(&good),
    ]);
    let bad = dir.path().join("bad.mp4");
    let t = damage_stream(&good, &bad, 0, |bytes, attempt| {
        let at = bytes.len() / 2 + attempt * 997;
        for (k, b) in bytes[at..at + 600].iter_mut().enumerate() {
            *b ^= (k as u8).wrapping_mul(37) | 1;
        }
    });
    let t = format!("{:.3}", t + 0.01);
    let out = dir.path().join("png");
    let o = run_pretext(&["frames", s(&bad), "--at", &t, "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2), "a damaged frame must not be written: {}", stderr(&o));
    assert!(
        stderr(&o).contains("damaged") && stderr(&o).contains("--allow-damaged"),
        "{}",
        stderr(&o)
    );
    assert!(!out.join(format!("frame_000_{t}s.png")).exists());
    let o = run_pretext(&["frames", s(&bad), "--at", &t, "--out", s(&out), "--allow-damaged"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("warning") && stderr(&o).contains("damaged"), "{}", stderr(&o));
    // The good file at the same time is fine and silent.
    let o = run_pretext(&["frames", s(&good), "--at", &t, "--out", s(&out)]);
    assert!(o.status.success() && stderr(&o).is_empty(), "{}", stderr(&o));
    // The library: strict by default, the damage listed when allowed.
    let mut dec = VideoDecoder::open(&bad, &VideoOptions::default()).unwrap();
    let t: f64 = t.parse().unwrap();
    assert_eq!(dec.frame_at(t).unwrap_err().kind(), "damaged");
    dec.set_allow_damaged(true);
    assert!(dec.frame_at(t).is_ok());
    assert!(dec.damage().spans().iter().any(|d| d.stream == "video" && d.start <= t + 1e-6));
}

#[test]
fn r26_audio_with_bad_checksums_or_zeroed_packets_fails_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    // AC-3 in Matroska: garble the payload of one frame in the middle (FFmpeg decodes such a
    // frame without a word unless checksums are checked).
    let good = mkv(dir.path(), "good.mkv");
    let frames = ac3_frames(&std::fs::read(&good).unwrap());
    let bad = dir.path().join("bad.mkv");
    let t = damage_stream(&good, &bad, 1, |bytes, attempt| {
        let at = frames[frames.len() / 2 + attempt] + 40;
        for b in &mut bytes[at..at + 8] {
            *b ^= 0x5a;
        }
    });
    let wav = dir.path().join("w.wav");
    let start = format!("{:.3}", (t - 0.5).max(0.0));
    let args = ["audio", s(&bad), "--start", &start, "--duration", "1", "--out", s(&wav)];
    let o = run_pretext(&args);
    assert_eq!(o.status.code(), Some(2), "a damaged window must not pass: {}", stderr(&o));
    assert!(stderr(&o).contains("damaged"), "{}", stderr(&o));
    let o = run_pretext(&[&args[..], &["--allow-damaged"]].concat());
    assert!(o.status.success() && stderr(&o).contains("warning"), "{}", stderr(&o));
    let npy = dir.path().join("s.npy");
    let o = run_pretext(&["spectrogram", s(&bad), "--start", &start, "--out", s(&npy)]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    // Away from the damage the same file decodes, silently.
    let far = if t > 2.0 { "0.2" } else { "3.0" };
    let o = run_pretext(&["audio", s(&bad), "--start", far, "--duration", "0.5", "--out", s(&wav)]);
    assert!(o.status.success() && stderr(&o).is_empty(), "{}", stderr(&o));

    // AAC in MP4: zero a stretch of the interleaved data, which hits audio packets.
    let good = mp4(dir.path(), "good.mp4");
    let bad = dir.path().join("zeroed.mp4");
    let t = damage_stream(&good, &bad, 1, |bytes, attempt| {
        let at = bytes.len() / 2 + attempt * 3001;
        bytes[at..at + 2000].fill(0);
    });
    let opts = AudioOptions { sample_rate: 16_000, ..Default::default() };
    let mut dec = AudioDecoder::open(&bad, &opts).unwrap();
    let err = dec.read((t - 0.25).max(0.0), 0.5).unwrap_err();
    assert_eq!(err.kind(), "damaged", "{err}");
    dec.set_allow_damaged(true);
    assert_eq!(dec.read((t - 0.25).max(0.0), 0.5).unwrap().samples.len(), 8000);
}

#[test]
fn r26_truncated_matroska_and_webm_are_detected() {
    let dir = tempfile::tempdir().unwrap();
    for file in [webm(dir.path(), "a.webm"), mkv(dir.path(), "a.mkv")] {
        let bytes = std::fs::read(&file).unwrap();
        let cut = dir.path().join(format!("cut-{}", file.file_name().unwrap().to_string_lossy()));
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 5]).unwrap();
        // probe: damaged, in text and JSON, counted as such, --strict fails.
        let o = run_pretext(&["probe", "--json", s(&cut)]);
        let line: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
        assert_eq!(line["status"], "damaged", "{line}");
        assert!(line["damage_summary"].as_str().unwrap().contains("truncated"), "{line}");
        assert!(stderr(&o).contains("0 ok, 1 damaged"), "{}", stderr(&o));
        assert_eq!(run_pretext(&["probe", "--strict", s(&cut)]).status.code(), Some(1));
        // probe --verify: where the data ends, from timestamps.
        let o = run_pretext(&["probe", "--verify", "--json", s(&cut)]);
        let line: serde_json::Value =
            serde_json::from_str(String::from_utf8_lossy(&o.stdout).trim()).unwrap();
        assert_eq!(line["status"], "damaged");
        let kinds: Vec<&str> =
            line["damage"].as_array().unwrap().iter().filter_map(|d| d["kind"].as_str()).collect();
        assert!(kinds.contains(&"truncated"), "{line}");
        // The untouched file is ok either way.
        let o = run_pretext(&["probe", "--verify", "--json", s(&file)]);
        assert!(String::from_utf8_lossy(&o.stdout).contains("\"status\":\"ok\""));
        // A window in the missing part is damaged; past the declared end it is padding.
        let wav = dir.path().join("w.wav");
        let o =
            run_pretext(&["audio", s(&cut), "--start", "3", "--duration", "0.5", "--out", s(&wav)]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        assert!(stderr(&o).contains("truncated"), "{}", stderr(&o));
        let o = run_pretext(&[
            "audio",
            s(&file),
            "--start",
            "3.5",
            "--duration",
            "1",
            "--out",
            s(&wav),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(stderr(&o).contains("zero padding"), "padding must be noted: {}", stderr(&o));
        let o = run_pretext(&["frames", s(&cut), "--at", "3.5", "--out", s(&dir.path().join("f"))]);
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    }
}

#[test]
fn r26_matroska_and_late_video_have_stream_ranges() {
    let dir = tempfile::tempdir().unwrap();
    for file in [mkv(dir.path(), "r.mkv"), webm(dir.path(), "r.webm")] {
        let dec = VideoDecoder::open(&file, &VideoOptions::default()).unwrap();
        let (start, end) = dec.time_range();
        let end = end.unwrap_or_else(|| panic!("{}: the video's end is unknown", file.display()));
        assert!(
            start.abs() < 0.05 && (end - 4.0).abs() < 0.06,
            "{}: [{start}, {end})",
            file.display()
        );
        let info = media::probe(&file).unwrap();
        assert_eq!(info.video.as_ref().unwrap().end, Some(end));
        let audio = AudioDecoder::open(&file, &AudioOptions::default()).unwrap();
        assert!(audio.time_range().1.is_some_and(|e| (e - 4.0).abs() < 0.06));
    }
    // Video starting at 0.52 s, audio at 0 (the MP4).
    let late = dir.path().join("late.mp4");
    ffmpeg(&[
        "-itsoffset",
        "0.52",
        "-f",
        "lavfi",
        "-i",
        "testsrc2=size=160x120:rate=25:duration=3",
        "-f",
        "lavfi",
        "-i",
        "sine=duration=3.6",
        "-c:v",
        "libx264",
        "-c:a",
        "aac",
        // Keep the video's own timestamps (the CLI would otherwise repeat the first frame
        // from 0 to fill the offset).
        "-vsync",
        "passthrough",
        s(&late),
    ]);
    let mut dec = VideoDecoder::open(&late, &VideoOptions::default()).unwrap();
    let (start, end) = dec.time_range();
    let end = end.unwrap();
    assert!((start - 0.52).abs() < 0.03 && (end - 3.52).abs() < 0.05, "[{start}, {end})");
    // Every time sampled inside that range decodes.
    for k in 0..10 {
        let t = start + (end - start) * f64::from(k) / 10.0;
        dec.frame_at(t).unwrap();
    }
    let info = media::probe(&late).unwrap();
    assert!(info.audio.unwrap().start_time.abs() < 0.03);
}

#[test]
fn r26_absurd_numbers_are_refused_without_panics() {
    let dir = tempfile::tempdir().unwrap();
    let file = mp4(dir.path(), "n.mp4");
    let out = dir.path().join("o");
    let wav = dir.path().join("o.wav");
    let cases: Vec<Vec<&str>> = vec![
        vec!["frames", s(&file), "--at", "1", "--deadline", "1e20", "--out", s(&out)],
        vec!["audio", s(&file), "--start", "1e15", "--duration", "1", "--out", s(&wav)],
        vec!["audio", s(&file), "--start", "1e9", "--duration", "1", "--out", s(&wav)],
        vec!["audio", s(&file), "--rate", "768000", "--duration", "3600", "--out", s(&wav)],
    ];
    for args in cases {
        let t0 = std::time::Instant::now();
        let o = run_pretext(&args);
        let err = stderr(&o);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(t0.elapsed() < Duration::from_secs(20), "{args:?} took {:?}", t0.elapsed());
        if args.contains(&"768000") {
            assert_eq!(o.status.code(), Some(2), "{err}");
            assert!(err.contains("limit"), "the limit must be named: {err}");
        }
        if args.contains(&"1e20") {
            assert_eq!(o.status.code(), Some(2), "{err}");
        }
    }
    // A window far past the end is padding, decoded from nothing.
    let o =
        run_pretext(&["audio", s(&file), "--start", "1e9", "--duration", "1", "--out", s(&wav)]);
    assert!(o.status.success() && stderr(&o).contains("zero padding"), "{}", stderr(&o));
    let mut dec = AudioDecoder::open(&file, &AudioOptions::default()).unwrap();
    assert_eq!(dec.read(1e15, 1.0).unwrap_err().kind(), "request");
    // Negative times parse as numbers (not flags) and get the library's answer.
    let o = run_pretext(&["frames", s(&file), "--at", "-1", "--out", s(&out)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("outside the video stream"), "{}", stderr(&o));
    let o =
        run_pretext(&["audio", s(&file), "--start", "-0.5", "--duration", "1", "--out", s(&wav)]);
    assert!(o.status.success() && stderr(&o).contains("before the audio starts"), "{}", stderr(&o));
}

#[test]
fn r26_probe_json_keeps_names_that_are_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let good = mp4(dir.path(), "g.mp4");
    let odd = dir.path().join(std::ffi::OsStr::from_bytes(b"clip-\xff\xfe.mp4"));
    std::fs::copy(&good, &odd).unwrap();
    let broken = dir.path().join(std::ffi::OsStr::from_bytes(b"broken-\xff.mp4"));
    std::fs::write(&broken, b"not a video at all").unwrap();
    let o = run_pretext(&["probe", "--json", s(dir.path())]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    let by_hex = |hex: &str| {
        lines.iter().find(|l| l["path_bytes"].as_str().is_some_and(|b| b.ends_with(hex)))
    };
    let ok = by_hex("2dfffe2e6d7034").expect("the odd name is listed");
    assert_eq!(ok["status"], "ok");
    assert_eq!(ok["video"]["width"], 160);
    assert!(ok["path"].as_str().unwrap().contains("clip-\u{fffd}\u{fffd}.mp4"));
    let bad = by_hex("2dff2e6d7034").expect("the broken odd name is listed");
    assert_eq!(bad["status"], "error");
    assert!(
        stderr(&o).contains("2 ok, 1 failed") || stderr(&o).contains("2 ok, 0 damaged, 1 failed"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn r26_pipeline_verifies_at_index_time_and_never_uses_damaged_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good: Vec<PathBuf> = (0..3).map(|i| mp4(d, &format!("g{i}.mp4"))).collect();
    // Damaged in the audio only (bad AC-3 checksums), damaged in the video, and cut short.
    let a = mkv(d, "audio-damaged.mkv");
    let mut bytes = std::fs::read(&a).unwrap();
    for &f in ac3_frames(&bytes).iter().step_by(7) {
        if f + 48 < bytes.len() {
            bytes[f + 40] ^= 0xff;
        }
    }
    std::fs::write(&a, &bytes).unwrap();
    let v = mp4(d, "video-damaged.mp4");
    let mut bytes = std::fs::read(&v).unwrap();
    let n = bytes.len();
    for k in (n / 4..n - 100).step_by(n / 9) {
        bytes[k..k + 64].fill(0);
    }
    std::fs::write(&v, &bytes).unwrap();
    let w = webm(d, "cut.webm");
    let bytes = std::fs::read(&w).unwrap();
    std::fs::write(&w, &bytes[..bytes.len() / 2]).unwrap();
    let damaged = ["audio-damaged.mkv", "video-damaged.mp4", "cut.webm"];

    let qpath = d.join("out/quarantine.jsonl");
    let manifest = d.join("out/manifest.json");
    let task = AvcData::new(
        "avc",
        AvcPolicy {
            negatives: NegativeKinds { easy: true, hard: true },
            min_shift: 0.5,
            ..Default::default()
        },
    );
    let input = InputSpec {
        frame_size: 32,
        decode_size: Some(40),
        clip_seconds: 0.5,
        ..Default::default()
    };
    let mut config = PipelineConfig::new(vec![d.to_path_buf()], std::sync::Arc::new(task), input);
    config.seed = 3;
    config.epochs = Some(2);
    config.batch_size = 4;
    config.clips_per_file = 3;
    config.decode_workers = 2;
    config.queue_depth = 2;
    config.quarantine = Some(qpath.clone());
    config.manifest = Some(manifest.clone());
    config.verify = true;
    let mut used = Vec::new();
    for b in BatchStream::start(config.clone()).unwrap() {
        let b = b.unwrap();
        for m in &b.meta {
            used.push(m.file.clone());
            used.extend(m.audio_file.clone());
        }
    }
    assert!(!used.is_empty());
    for name in damaged {
        assert!(!used.iter().any(|u| u.ends_with(name)), "{name} was used: {used:?}");
    }
    for g in &good {
        assert!(used.iter().any(|u| Path::new(u) == g), "{} never used", g.display());
    }
    let listed = std::fs::read_to_string(&qpath).unwrap();
    for name in damaged {
        assert!(listed.lines().any(|l| l.contains(name) && l.contains("\"damaged\"")), "{listed}");
    }
    // The verdicts are cached in the manifest, good and bad alike.
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest).unwrap()).unwrap();
    let verdicts = m["verdicts"].as_array().unwrap();
    assert_eq!(verdicts.iter().filter(|v| v["ok"] == true).count(), 3, "{verdicts:?}");
    assert!(verdicts.iter().any(|v| v["ok"] == false));
}

/// A clean file read at scattered times (the rotation task's access pattern: a seek, then
/// B-frames skipped on the way to the frame) is not damaged: H.264 logs reference-list errors
/// of its own making when skipped frames' memory operations are missing ("mmco: unref short
/// failure"), and those are not the file's fault.
#[test]
fn r26_skipping_b_frames_on_the_way_is_not_damage() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("w");
    let o = run_pretext(&[
        "synth",
        "--out",
        s(&world),
        "--clips",
        "2",
        "--seconds",
        "2",
        "--size",
        "64x64",
        "--objects",
        "1-1",
        "--threads",
        "1",
        "--seed",
        "5",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    for clip in ["clip_0000.mp4", "clip_0001.mp4"] {
        let times: Vec<String> = (1..40).map(|i| format!("{:.2}", 0.05 * i as f64)).collect();
        for t in &times {
            let out = dir.path().join("f");
            let o = run_pretext(&["frames", s(&world.join(clip)), "--at", t, "--out", s(&out)]);
            assert!(o.status.success(), "{clip} at {t}: {}", stderr(&o));
        }
    }
}

/// An endless stream whose every file turns out damaged at decode time stops with an error
/// naming the cause instead of planning and dropping examples forever.
#[test]
fn r26_an_endless_stream_of_quarantined_files_stops() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let v = mp4(d, "video-damaged.mp4");
    let mut bytes = std::fs::read(&v).unwrap();
    let n = bytes.len();
    for k in (n / 4..n - 100).step_by(n / 9) {
        bytes[k..k + 64].fill(0);
    }
    std::fs::write(&v, &bytes).unwrap();
    let task = AvcData::new("avc", AvcPolicy::default());
    let input = InputSpec { frame_size: 32, clip_seconds: 0.5, ..Default::default() };
    let mut config = PipelineConfig::new(vec![v], std::sync::Arc::new(task), input);
    config.epochs = None;
    config.clips_per_file = 8;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let last = BatchStream::start(config).unwrap().last();
        let _ = tx.send(last.map(|r| r.map(|b| b.len()).map_err(|e| e.to_string())));
    });
    let last = rx.recv_timeout(std::time::Duration::from_secs(120)).expect("the stream hung");
    let err = last.expect("an item").expect_err("an error");
    assert!(err.contains("quarantined"), "{err}");
}
