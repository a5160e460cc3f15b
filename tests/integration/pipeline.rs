//! The streaming pair pipeline (issue #5), end to end on small lavfi fixtures: determinism
//! across worker counts, audio/frame alignment of positives, hard-negative shifts, quarantine of
//! broken files, clean shutdown on consumer drop and cancellation, bounded memory.

use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use pretext::features::{Preset, Spectrogram};
use pretext::media::{AudioDecoder, AudioOptions};
use pretext::pipeline::{
    AugmentConfig, Batch, BatchStream, InputSpec, PipelineConfig, PipelineError, TaskData,
};
use pretext::tasks::avc::{AvcData, AvcPolicy, NegativeKinds};
use pretext::tasks::frame_order::{FrameOrderData, FrameOrderPolicy};

use crate::common::{ffmpeg, run_pretext};

/// A clip whose luma encodes the frame number (`8 * N mod 256`) and whose audio is a tone of
/// `300 + 200 * floor(t)` Hz: both streams say what time it is.
fn timed_clip(dir: &Path, name: &str, seconds: u32, fps: u32) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("nullsrc=s=64x48:r={fps}:d={seconds},geq=lum='mod(N*8,256)':cb=128:cr=128"),
        "-f",
        "lavfi",
        "-i",
        &format!("aevalsrc='0.5*sin(2*PI*(300+200*floor(t))*t)':s=16000:d={seconds}"),
        "-c:v",
        "libx264",
        "-qp",
        "0",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "10",
        "-c:a",
        "pcm_s16le",
        "-shortest",
        path.to_str().expect("utf-8 path"),
    ]);
    path
}

/// A small moving testsrc2 clip with a tone (H.264 + AAC).
fn moving_clip(dir: &Path, name: &str, seconds: f64, freq: u32) -> PathBuf {
    let path = dir.join(name);
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        &format!("testsrc2=size=64x48:rate=20:duration={seconds}"),
        "-f",
        "lavfi",
        "-i",
        &format!("sine=frequency={freq}:sample_rate=16000:duration={seconds}"),
        "-c:v",
        "libx264",
        "-pix_fmt",
        "yuv420p",
        "-g",
        "8",
        "-c:a",
        "aac",
        "-shortest",
        path.to_str().expect("utf-8 path"),
    ]);
    path
}

fn avc(policy: AvcPolicy) -> Arc<dyn TaskData> {
    Arc::new(AvcData::new("avc", policy))
}

fn frame_order(gap: usize) -> Arc<dyn TaskData> {
    Arc::new(FrameOrderData::new(FrameOrderPolicy { gap, ..Default::default() }))
}

fn base_config(files: Vec<PathBuf>, task: Arc<dyn TaskData>) -> PipelineConfig {
    let input = InputSpec {
        frame_size: 32,
        decode_size: Some(40),
        clip_seconds: 1.0,
        ..Default::default()
    };
    let mut c = PipelineConfig::new(files, task, input);
    c.seed = 7;
    c.epochs = Some(1);
    c.batch_size = 4;
    c.clips_per_file = 3;
    c.queue_depth = 2;
    c
}

/// The f32 values of field `name` of a batch.
fn values<'a>(b: &'a Batch, name: &str) -> &'a [f32] {
    b.f32(name).map(|(v, _)| v).unwrap_or(&[])
}

/// Runs `config` to the end in a helper thread; fails the test if it takes over `limit`.
fn collect(config: PipelineConfig, limit: Duration) -> (Vec<Batch>, Option<PipelineError>) {
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let mut batches = Vec::new();
        let mut err = None;
        match BatchStream::start(config) {
            Err(e) => err = Some(e),
            Ok(stream) => {
                for b in stream {
                    match b {
                        Ok(b) => batches.push(b),
                        Err(e) => err = Some(e),
                    }
                }
            }
        }
        let _ = tx.send((batches, err));
    });
    rx.recv_timeout(limit).expect("pipeline did not finish in time (hang?)")
}

#[test]
fn same_examples_whatever_the_worker_count() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> =
        (0..3).map(|i| moving_clip(dir.path(), &format!("m{i}.mp4"), 2.0, 300 + 100 * i)).collect();
    for task in [
        avc(AvcPolicy {
            negatives: NegativeKinds { easy: true, hard: true },
            min_shift: 0.5,
            ..Default::default()
        }),
        frame_order(2),
    ] {
        let mut runs = Vec::new();
        for (dw, fw) in [(1, 1), (3, 2)] {
            let mut c = base_config(files.clone(), task.clone());
            c.input.clip_seconds = 0.5;
            c.decode_workers = dw;
            c.feature_workers = fw;
            let (batches, err) = collect(c, Duration::from_secs(120));
            assert!(err.is_none(), "{err:?}");
            runs.push(batches);
        }
        let flat = |bs: &[Batch]| {
            let meta: Vec<_> = bs.iter().flat_map(|b| b.meta.clone()).collect();
            let frames: Vec<u32> =
                bs.iter().flat_map(|b| values(b, "frames").iter().map(|v| v.to_bits())).collect();
            let specs: Vec<u32> =
                bs.iter().flat_map(|b| values(b, "spec").iter().map(|v| v.to_bits())).collect();
            (meta, frames, specs)
        };
        let (m1, f1, s1) = flat(&runs[0]);
        let (m2, f2, s2) = flat(&runs[1]);
        assert_eq!(m1.len(), 9, "3 files x 3 clips");
        let seqs: Vec<u64> = m1.iter().map(|m| m.seq).collect();
        assert_eq!(seqs, (0..9).collect::<Vec<_>>());
        assert_eq!(m1, m2, "metadata differs between worker counts");
        assert!(f1 == f2 && s1 == s2, "pixels or spectrograms differ between worker counts");
        // Resuming at seq 5 replays exactly the tail of the full run.
        let mut c = base_config(files.clone(), task.clone());
        c.input.clip_seconds = 0.5;
        c.start_seq = 5;
        let (tail, err) = collect(c, Duration::from_secs(120));
        assert!(err.is_none(), "{err:?}");
        let (m3, f3, _) = flat(&tail);
        assert_eq!(m3[..], m1[5..], "resumed stream differs");
        let per = f1.len() / 9;
        assert!(f3[..] == f1[5 * per..], "resumed pixels differ");
        let shape = runs[0][0].f32("frames").unwrap().1;
        if task.needs_audio() {
            assert_eq!(shape, &[4, 3, 32, 32]);
            assert_eq!(runs[0][0].f32("spec").unwrap().1[..2], [4, 1]);
        } else {
            assert_eq!(shape, &[4, 3, 3, 32, 32]);
            assert!(runs[0][0].field("spec").is_none());
        }
    }
}

#[test]
fn positive_audio_is_the_audio_at_the_frame_time() {
    let dir = tempfile::tempdir().unwrap();
    let files =
        vec![timed_clip(dir.path(), "t0.mkv", 4, 10), timed_clip(dir.path(), "t1.mkv", 4, 10)];
    let mut c = base_config(files, avc(AvcPolicy { positive_ratio: 1.0, ..Default::default() }));
    c.input.clip_seconds = 0.3;
    c.clips_per_file = 8;
    c.augment = AugmentConfig::none();
    c.input.mean = [0.0; 3];
    c.input.std = [1.0; 3];
    let (batches, err) = collect(c, Duration::from_secs(120));
    assert!(err.is_none(), "{err:?}");
    let mut spectrogram = Spectrogram::new(Preset::Vggish.config()).unwrap();
    let mut checked = 0;
    for b in &batches {
        let sshape = b.f32("spec").unwrap().1;
        let (f, t) = (sshape[2], sshape[3]);
        let (frames, specs) = (values(b, "frames"), values(b, "spec"));
        for (i, m) in b.meta.iter().enumerate() {
            assert_eq!(m.kind, "positive");
            let vt = m.video_times[0];
            let at = m.audio_time.unwrap();
            assert!((at + 0.15 - vt).abs() < 1e-9, "audio window centred on the frame");
            // The frame is the one displayed at vt: its grey level encodes its number.
            let n = (vt * 10.0).round() as usize;
            let plane = &frames[i * 3 * 32 * 32..i * 3 * 32 * 32 + 32 * 32];
            let mean = plane.iter().sum::<f32>() / plane.len() as f32 * 255.0;
            // Limited-range luma Y maps to RGB (Y - 16) * 255 / 219; neighbours differ by ~9.3.
            let y = ((n * 8) % 256) as f32;
            let want = ((y - 16.0) * 255.0 / 219.0).clamp(0.0, 255.0);
            assert!((mean - want).abs() < 4.0, "frame {n}: grey {mean}, want {want}");
            // The audio is the tone of second floor(vt) (window inside one second).
            let centre_sec = vt.floor();
            if (vt - centre_sec) > 0.16 && (vt - centre_sec) < 0.84 {
                let spec = &specs[i * f * t..(i + 1) * f * t];
                let mut energy = vec![0.0f64; f];
                for row in 0..f {
                    energy[row] = spec[row * t..(row + 1) * t].iter().map(|v| *v as f64).sum();
                }
                let best = (0..f).max_by(|a, b| energy[*a].total_cmp(&energy[*b])).unwrap();
                let hz = spectrogram.row_frequency(best);
                let want_hz = 300.0 + 200.0 * centre_sec;
                assert!((hz - want_hz).abs() < 0.12 * want_hz, "t={vt}: {hz} Hz, want {want_hz}");
                checked += 1;
            }
            // And it is exactly the spectrogram of the decoded window.
            let mut dec = AudioDecoder::open(Path::new(&m.file), &AudioOptions::default()).unwrap();
            let clip = dec.read(at, 0.3).unwrap();
            let own = spectrogram.compute(&clip.samples).unwrap();
            assert_eq!(own.len(), f * t);
            let diff = own
                .iter()
                .zip(&specs[i * f * t..(i + 1) * f * t])
                .map(|(a, b)| (a - b).abs())
                .fold(0.0f32, f32::max);
            assert!(diff < 1e-4, "spectrogram differs by {diff}");
        }
    }
    assert!(checked >= 4, "too few windows checked: {checked}");
}

#[test]
fn hard_negatives_respect_the_minimum_shift() {
    let dir = tempfile::tempdir().unwrap();
    let files = vec![moving_clip(dir.path(), "h.mp4", 5.0, 500)];
    let task = avc(AvcPolicy {
        positive_ratio: 0.2,
        negatives: NegativeKinds { easy: false, hard: true },
        min_shift: 1.5,
        ..Default::default()
    });
    let mut c = base_config(files, task);
    c.clips_per_file = 30;
    c.input.clip_seconds = 0.5;
    let (batches, err) = collect(c, Duration::from_secs(120));
    assert!(err.is_none(), "{err:?}");
    let metas: Vec<_> = batches.iter().flat_map(|b| b.meta.clone()).collect();
    assert_eq!(metas.len(), 30);
    let hard: Vec<_> = metas.iter().filter(|m| m.kind == "hard").collect();
    assert!(hard.len() >= 15, "only {} hard negatives", hard.len());
    for m in hard {
        let shift = (m.audio_time.unwrap() + 0.25 - m.video_times[0]).abs();
        assert!(shift >= 1.5 - 1e-9, "shift {shift}");
        assert_eq!(m.audio_file.as_deref(), Some(m.file.as_str()));
        assert_eq!(m.label, 0);
    }
}

#[test]
fn broken_files_are_quarantined_and_good_ones_all_sampled() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good: Vec<PathBuf> =
        (0..3).map(|i| moving_clip(d, &format!("g{i}.mp4"), 1.5, 400)).collect();
    std::fs::write(
        d.join("random.mp4"),
        (0..4000u32).map(|i| (i * 7919 % 251) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    std::fs::write(d.join("empty.mkv"), b"").unwrap();
    std::fs::write(d.join("text.webm"), b"this is not a video\n").unwrap();
    ffmpeg(&[
        "-f",
        "lavfi",
        "-i",
        "sine=d=1",
        "-c:a",
        "aac",
        d.join("audio_only.mp4").to_str().unwrap(),
    ]);
    let qpath = d.join("out/quarantine.jsonl");
    let mut c = base_config(vec![d.to_path_buf()], frame_order(2));
    c.decode_workers = 2;
    c.quarantine = Some(qpath.clone());
    c.manifest = Some(d.join("out/manifest.json"));
    let (batches, err) = collect(c.clone(), Duration::from_secs(120));
    assert!(err.is_none(), "{err:?}");
    let files: Vec<String> =
        batches.iter().flat_map(|b| b.meta.iter().map(|m| m.file.clone())).collect();
    assert_eq!(files.len(), 9, "exactly 3 clips of each good file");
    for g in &good {
        let g = g.to_string_lossy();
        assert_eq!(files.iter().filter(|f| **f == g).count(), 3, "{g}");
    }
    let text = std::fs::read_to_string(&qpath).unwrap();
    let mut listed: Vec<String> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            assert!(v["reason"].as_str().is_some_and(|r| !r.is_empty()));
            assert!(v["kind"].as_str().is_some());
            Path::new(v["path"].as_str().unwrap())
                .file_name()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    listed.sort();
    assert_eq!(listed, ["audio_only.mp4", "empty.mkv", "random.mp4", "text.webm"]);
    // A second run never retries them (no new lines) and starts from the manifest.
    let (batches2, err) = collect(c, Duration::from_secs(120));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(batches2.iter().map(Batch::len).sum::<usize>(), 9);
    assert_eq!(std::fs::read_to_string(&qpath).unwrap(), text);
}

#[test]
fn consumer_drop_and_cancellation_stop_every_thread() {
    let dir = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> =
        (0..2).map(|i| moving_clip(dir.path(), &format!("c{i}.mp4"), 2.0, 440)).collect();
    let mut c = base_config(files, avc(AvcPolicy::default()));
    c.epochs = None; // endless stream
    c.input.clip_seconds = 0.5;
    c.decode_workers = 2;
    c.feature_workers = 2;
    // Drop after one batch: Drop must join every thread.
    let (tx, rx) = crossbeam_channel::bounded(1);
    let c1 = c.clone();
    std::thread::spawn(move || {
        let mut s = BatchStream::start(c1).unwrap();
        let first = s.next().map(|b| b.map(|b| b.len()));
        drop(s);
        let _ = tx.send(first);
    });
    let first = rx.recv_timeout(Duration::from_secs(60)).expect("drop hung");
    assert!(matches!(first, Some(Ok(4))), "{first:?}");
    // Cancel through the flag: the stream ends with `Cancelled`.
    let (tx, rx) = crossbeam_channel::bounded(1);
    std::thread::spawn(move || {
        let mut s = BatchStream::start(c).unwrap();
        let _ = s.next();
        s.cancel_flag().store(true, Ordering::SeqCst);
        let rest: Vec<_> = s.by_ref().collect();
        let _ = tx.send(rest.last().map(|r| matches!(r, Err(PipelineError::Cancelled))));
    });
    let last = rx.recv_timeout(Duration::from_secs(60)).expect("cancel hung");
    assert_eq!(last, Some(true));
}

#[test]
fn memory_stays_bounded_over_many_files() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let src = moving_clip(d, "src.mp4", 1.0, 440);
    let many = d.join("many");
    std::fs::create_dir(&many).unwrap();
    for i in 0..150 {
        std::fs::copy(&src, many.join(format!("f{i:03}.mp4"))).unwrap();
    }
    let few = d.join("few");
    std::fs::create_dir(&few).unwrap();
    for i in 0..10 {
        std::fs::copy(&src, few.join(format!("f{i:03}.mp4"))).unwrap();
    }
    let rss = |folder: &Path, count: usize, stats: &Path| -> (u64, u64) {
        let out = run_pretext(&[
            "pairs",
            folder.to_str().unwrap(),
            "--task",
            "avc",
            "--set",
            "task.negatives=easy",
            "--count",
            &count.to_string(),
            "--frame-size",
            "32",
            "--decode-size",
            "40",
            "--audio-seconds",
            "0.5",
            "--clips-per-file",
            "1",
            "--workers",
            "2",
            "--out",
            d.join("o").to_str().unwrap(),
            // The second run replaces the first's shards (a rerun is refused without it).
            "--overwrite",
            "--stats",
            stats.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(stats).unwrap()).unwrap();
        // Every file visit decoded at least the frame it cut.
        let (visits, frames) =
            (v["files_done"].as_u64().unwrap(), v["video_frames_decoded"].as_u64());
        assert!(visits > 0 && frames.is_some_and(|f| f >= visits), "video counters: {v}");
        (v["peak_rss_kb"].as_u64().unwrap(), v["reorder_max"].as_u64().unwrap())
    };
    let (small, r1) = rss(&few, 20, &d.join("s1.json"));
    // The CLI wrote a shard and one log line per example, with the AVC fields.
    let log = std::fs::read_to_string(d.join("o/samples.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 20);
    let first: serde_json::Value = serde_json::from_str(log.lines().next().unwrap()).unwrap();
    for k in ["file", "video_times", "audio_file", "audio_time", "label", "kind", "shard"] {
        assert!(!first[k].is_null(), "samples.jsonl lacks {k}: {first}");
    }
    assert!(d.join("o/shard-000000.tar").is_file());
    // A rerun into the same folder without --overwrite is refused and leaves it as it was
    // (issue #26 §3: it used to truncate samples.jsonl and keep the old shards).
    let again = run_pretext(&[
        "pairs",
        few.to_str().unwrap(),
        "--count",
        "4",
        "--out",
        d.join("o").to_str().unwrap(),
    ]);
    let err = String::from_utf8_lossy(&again.stderr);
    assert_eq!(again.status.code(), Some(2), "{err}");
    assert!(err.contains("--overwrite"), "{err}");
    assert_eq!(std::fs::read_to_string(d.join("o/samples.jsonl")).unwrap(), log);
    let (large, r2) = rss(&many, 300, &d.join("s2.json"));
    // 15x the files and examples (two passes over 150 files): peak memory must not follow.
    assert!(large < small + 40 * 1024, "peak RSS grew from {small} kB to {large} kB");
    // The reorder buffer is capped by the token window (queue 8 x 2 workers x 1 clip, >= 2 batches).
    assert!(r1 <= 32 && r2 <= 32, "reorder buffer peaked at {r1} / {r2}");
}

#[test]
fn positive_audio_onsets_line_up_with_the_synthetic_world() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let clips = pretext::synth::read_annotations(&root.join("annotations.jsonl")).unwrap();
    let pick = ["clip_0002.mp4", "clip_0004.mp4", "clip_0005.mp4"];
    let files: Vec<PathBuf> = pick.iter().map(|f| root.join(f)).collect();
    let onsets = |file: &str| -> Vec<f64> {
        let name = Path::new(file).file_name().unwrap().to_string_lossy().into_owned();
        let c = clips.iter().find(|c| c.file == name).unwrap();
        let mut o: Vec<f64> = c.objects.iter().flat_map(|o| o.onsets.clone()).collect();
        o.extend(&c.offscreen_onsets);
        o
    };
    let task = avc(AvcPolicy { positive_ratio: 1.0, ..Default::default() });
    let mut c = base_config(files, task);
    c.input.clip_seconds = 0.4;
    c.clips_per_file = 40;
    let (batches, err) = collect(c, Duration::from_secs(120));
    assert!(err.is_none(), "{err:?}");
    let mut checked = 0;
    for b in &batches {
        let sshape = b.f32("spec").unwrap().1;
        let (f, t) = (sshape[2], sshape[3]);
        let specs = values(b, "spec");
        for (i, m) in b.meta.iter().enumerate() {
            let a = m.audio_time.unwrap();
            let os = onsets(&m.file);
            // Exactly one onset well inside the window and no other one shortly before it.
            let inside: Vec<f64> =
                os.iter().copied().filter(|o| *o > a + 0.08 && *o < a + 0.32).collect();
            let near = os.iter().filter(|o| **o > a - 0.3 && **o < a + 0.4).count();
            if inside.len() != 1 || near != 1 {
                continue;
            }
            // Spectral flux of the log-mel: the onset is where energy jumps most.
            let spec = &specs[i * f * t..(i + 1) * f * t];
            let flux = |k: usize| -> f32 {
                (0..f).map(|r| (spec[r * t + k] - spec[r * t + k - 1]).max(0.0)).sum()
            };
            let best = (1..t).max_by(|x, y| flux(*x).total_cmp(&flux(*y))).unwrap();
            // VGGish frame k covers [k*10 ms, k*10 ms + 25 ms) of the window.
            let want = (inside[0] - a) / 0.010;
            assert!(
                (best as f64 - want).abs() <= 3.0,
                "{}: onset at {:.3}s, window at {a:.3}s: flux peak at frame {best}, want ~{want:.1}",
                m.file,
                inside[0]
            );
            checked += 1;
        }
    }
    assert!(checked >= 5, "only {checked} windows had a single clean onset");
}
