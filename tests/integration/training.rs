//! `pretext train`, `eval avc` and `bench train` end to end on the generated in-memory data
//! (`--data toy`) with a tiny model, so they run in seconds on a CPU. CUDA tests run only with
//! the `cuda-tests` feature or PRETEXT_CUDA_TESTS=1, and fail loudly if CUDA is missing then.

use std::path::Path;

use crate::common::run_pretext;

const TINY: &str = r#"
name = "tiny"
[input]
frame_size = 16
[vision]
channels = [4, 8, 8]
[audio]
channels = [4, 8, 8]
[head]
kind = "ave"
embedding = 8
hidden = 8
[train]
batch = 8
warmup_steps = 2
val_every = 4
val_batches = 2
log_every = 1
"#;

fn tiny_config(dir: &Path) -> String {
    let p = dir.join("tiny.toml");
    std::fs::write(&p, TINY).unwrap();
    p.to_str().unwrap().to_string()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn train_losses(run: &Path) -> Vec<(u64, f64)> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["phase"] == "train")
        .map(|v| (v["step"].as_u64().unwrap(), v["loss"].as_f64().unwrap()))
        .collect()
}

#[test]
fn train_resume_and_eval_on_toy_data() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path());
    let full = dir.path().join("full");
    let base = ["train", "--data", "toy", "--config", &cfg, "--device", "cpu", "--threads", "1"];
    let o = run_pretext(&[&base[..], &["--out", full.to_str().unwrap(), "--steps", "8"]].concat());
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("finished at step 8"), "{}", stdout(&o));
    for f in ["config.json", "metrics.jsonl", "curves.png", "checkpoints/best.safetensors"] {
        assert!(full.join(f).is_file(), "{f} missing");
    }
    let cfg_json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(full.join("config.json")).unwrap()).unwrap();
    assert_eq!(cfg_json["model"]["head"]["kind"], "ave");
    assert_eq!(cfg_json["train"]["steps"], 8);

    // The same run cut by a tiny time budget (after 0 or a few steps) and resumed.
    let cut = dir.path().join("cut");
    let cut_s = cut.to_str().unwrap();
    let o = run_pretext(
        &[&base[..], &["--out", cut_s, "--steps", "8", "--max-time", "0.001s"]].concat(),
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("time budget spent at step"), "{}", stdout(&o));
    // Starting again without --resume must refuse to clobber the run.
    let o = run_pretext(&[&base[..], &["--out", cut_s, "--steps", "8"]].concat());
    assert!(!o.status.success());
    assert!(stderr(&o).contains("--resume"), "{}", stderr(&o));
    let o = run_pretext(&[
        "train",
        "--data",
        "toy",
        "--out",
        cut_s,
        "--resume",
        "--steps",
        "8",
        "--threads",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let (a, b) = (train_losses(&full), train_losses(&cut));
    assert_eq!(a.len(), 8);
    let steps_b: Vec<u64> = b.iter().map(|s| s.0).collect();
    assert_eq!(steps_b, (1..=8).collect::<Vec<_>>(), "each step logged once across the cut");
    for (x, y) in a.iter().zip(&b) {
        assert!((x.1 - y.1).abs() < 1e-5, "step {}: {} vs {}", x.0, x.1, y.1);
    }

    // Evaluation writes JSON with the negative policy next to the numbers.
    let ck = full.join("checkpoints/best.safetensors");
    let o = run_pretext(&[
        "eval",
        "avc",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--data",
        "toy",
        "--json",
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let acc = report["accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert!(report["negative_policy"].as_str().unwrap().contains("easy"));
    assert_eq!(
        report["positives"].as_u64().unwrap() + report["negatives_count"].as_u64().unwrap(),
        256
    );
    assert!(full.join("eval/avc-val-easy.json").is_file());
}

#[test]
fn bad_inputs_fail_with_clear_messages() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    // `pretext train --data toy --out RUN` plus `extra` flags.
    let train = |extra: &[&str]| {
        run_pretext(
            &[&["train", "--data", "toy", "--out", out.to_str().unwrap()][..], extra].concat(),
        )
    };
    let o = train(&["--model", "nope"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown model preset 'nope'"), "{}", stderr(&o));
    let o = train(&["--max-time", "soon"]);
    assert!(stderr(&o).contains("duration 'soon'"), "{}", stderr(&o));
    let o = train(&["--resume"]);
    assert!(stderr(&o).contains("cannot resume"), "{}", stderr(&o));
    let o =
        run_pretext(&["eval", "avc", "--checkpoint", "/nonexistent.safetensors", "--data", "toy"]);
    assert!(stderr(&o).contains("/nonexistent.safetensors"), "{}", stderr(&o));
    // An objective of another task is named, with the task's own objectives.
    for (task, objective, allowed) in [
        ("avc", "contrastive", "pairs or in-batch"),
        ("localize", "in-batch", "mil or contrastive"),
        ("frame-order", "pairs", "frame order has one objective"),
    ] {
        let o = train(&["--task", task, "--objective", objective]);
        assert!(!o.status.success());
        let e = stderr(&o);
        assert!(
            e.contains(&format!("--objective {objective} does not apply to --task {task}")),
            "{e}"
        );
        assert!(e.contains(allowed), "{e}");
    }
    // In-batch AVC takes its easy negatives from the batch, and its hard share from the loss.
    let o = train(&["--objective", "in-batch", "--negatives", "hard"]);
    assert!(stderr(&o).contains("--negatives easy"), "{}", stderr(&o));
    let o = train(&["--objective", "in-batch", "--curriculum-to", "0.5", "--curriculum-over", "9"]);
    assert!(stderr(&o).contains("--objective pairs"), "{}", stderr(&o));
    let o = train(&["--ema", "1"]);
    assert!(stderr(&o).contains("ema 1 must be in [0, 1)"), "{}", stderr(&o));
    // Same-file hard negatives are an option of the in-batch objective with hard negatives.
    for extra in [
        &["--same-file-negatives"][..],
        &["--objective", "in-batch", "--negatives", "easy", "--same-file-negatives"],
    ] {
        let o = train(extra);
        assert!(!o.status.success());
        assert!(
            stderr(&o).contains(
                "--same-file-negatives (train.same_file_min_shift) applies to \
                 --objective in-batch"
            ),
            "{}",
            stderr(&o)
        );
    }
}

fn cuda_tests_requested() -> bool {
    cfg!(feature = "cuda-tests") || std::env::var("PRETEXT_CUDA_TESTS").is_ok_and(|v| v == "1")
}

#[test]
fn device_cuda_without_cuda_is_a_clear_error() {
    if cuda_tests_requested() || tch::Cuda::is_available() {
        return; // This machine has (or claims) CUDA: the CUDA test below covers it.
    }
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let o = run_pretext(&[
        "train",
        "--data",
        "toy",
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cuda",
    ]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("device 'cuda:0' requested") && err.contains("--device cpu"), "{err}");
    assert!(!out.join("checkpoints").exists(), "nothing may be trained on a silent fallback");
}

#[test]
fn cuda_training_runs_when_requested() {
    if !cuda_tests_requested() {
        // Written to the real stderr (not the captured one) so the skip shows in every run.
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED training::cuda_training_runs_when_requested: set PRETEXT_CUDA_TESTS=1 (or \
             --features cuda-tests) on a machine with a GPU to run it"
        );
        return;
    }
    assert!(
        tch::Cuda::is_available(),
        "CUDA tests were requested but libtorch sees no CUDA device"
    );
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path());
    let out = dir.path().join("run");
    let o = run_pretext(&[
        "train",
        "--data",
        "toy",
        "--config",
        &cfg,
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cuda",
        "--steps",
        "8",
        "--amp",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("Cuda(0)"), "{}", stderr(&o));
}

#[test]
fn train_eval_embed_on_video_files_through_the_pipeline() {
    let dir = tempfile::tempdir().unwrap();
    let videos = dir.path().join("videos");
    std::fs::create_dir_all(&videos).unwrap();
    let mut split = String::new();
    for i in 0..5 {
        let name = format!("c{i}.mp4");
        crate::common::testsrc_clip(&videos, &name, 3.0, "64x64", 25);
        split.push_str(&format!("{name} {}\n", if i < 3 { "train" } else { "val" }));
    }
    let split_file = videos.join("split.txt");
    std::fs::write(&split_file, split).unwrap();
    let cfg = tiny_config(dir.path());
    let run = dir.path().join("run");
    let args = [
        "train",
        "--data",
        videos.to_str().unwrap(),
        "--split-file",
        split_file.to_str().unwrap(),
        "--config",
        &cfg,
        "--out",
        run.to_str().unwrap(),
        "--steps",
        "3",
        "--val-examples",
        "8",
        "--device",
        "cpu",
        "--workers",
        "1",
        "--threads",
        "1",
        "--min-shift",
        "0.8",
        "--hard-share",
        "0.25",
        "--curriculum-to",
        "0.75",
        "--curriculum-over",
        "64",
    ];
    let o = run_pretext(&args);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("finished at step 3"), "{}", stdout(&o));
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("split.json")).unwrap()).unwrap();
    assert_eq!(split["train"].as_array().unwrap().len(), 3);
    assert_eq!(split["val"].as_array().unwrap().len(), 2);
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["data"]["source"], "pipeline");
    assert!(config["data"]["negative_policy"].as_str().unwrap().contains("frame grid"));
    // The hard-negative policy the run used is recorded with it.
    let pipeline = &config["data"]["pipeline"];
    assert_eq!(pipeline["min_shift"], 0.8);
    assert_eq!(pipeline["hard_share"], 0.25);
    assert_eq!(pipeline["curriculum"]["to"], 0.75);
    assert_eq!(pipeline["curriculum"]["over"], 64);

    // `pretext eval avc` of a checkpoint of this test on the 8 val examples, plus `extra` flags.
    let eval_avc = |ck: &Path, extra: &[&str]| {
        let base = [
            "eval",
            "avc",
            "--checkpoint",
            ck.to_str().unwrap(),
            "--data",
            videos.to_str().unwrap(),
            "--split-file",
            split_file.to_str().unwrap(),
            "--val-examples",
            "8",
            "--json",
            "--device",
            "cpu",
        ];
        run_pretext(&[&base[..], extra].concat())
    };
    let ck = run.join("checkpoints/best.safetensors");
    let o = eval_avc(&ck, &["--negatives", "hard"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let kinds = report["by_kind"].as_object().unwrap();
    assert!(kinds.keys().all(|k| k == "positive" || k == "hard"), "{kinds:?}");
    assert_eq!(
        report["positives"].as_u64().unwrap() + report["negatives_count"].as_u64().unwrap(),
        8
    );

    let emb = dir.path().join("emb");
    let o = run_pretext(&[
        "embed",
        "--checkpoint",
        ck.to_str().unwrap(),
        videos.join("c3.mp4").to_str().unwrap(),
        "--out",
        emb.to_str().unwrap(),
        "--device",
        "cpu",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let rows = std::fs::read_to_string(emb.join("index.jsonl")).unwrap().lines().count();
    assert_eq!(rows, 3, "3 s of video = 3 clips of 0.96 s");
    let v = pretext::io::read_npy_f32(&emb.join("visual.npy")).unwrap();
    let a = pretext::io::read_npy_f32(&emb.join("audio.npy")).unwrap();
    assert_eq!((v.shape.clone(), a.shape.clone()), (vec![3, 8], vec![3, 8]));

    // The in-batch objective: trained on every frame x audio pair of batches of matching pairs
    // (batch 8 from 3 train files: same-file pairs are left out of the loss), validated and
    // evaluated on labelled pairs like any AVC checkpoint.
    let run2 = dir.path().join("in-batch");
    let mut args2: Vec<&str> = args[..args.len() - 8].to_vec();
    let out_at = args2.iter().position(|a| *a == "--out").unwrap() + 1;
    args2[out_at] = run2.to_str().unwrap();
    args2.extend(["--objective", "in-batch", "--negatives", "easy"]);
    let o = run_pretext(&args2);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("finished at step 3"), "{}", stdout(&o));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run2.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["task"], "avc-in-batch");
    let val = std::fs::read_to_string(run2.join("metrics.jsonl")).unwrap();
    let val = val.lines().rev().find(|l| l.contains("\"phase\":\"val\"")).unwrap().to_string();
    let val: serde_json::Value = serde_json::from_str(&val).unwrap();
    assert_eq!(val["examples"], 8, "validation scores the 8 labelled val pairs: {val}");
    assert!(val["by_kind"]["easy"]["total"].as_u64().unwrap() > 0, "{val}");
    let ck2 = run2.join("checkpoints/best.safetensors");
    let preds = dir.path().join("preds.jsonl");
    let o = eval_avc(&ck2, &["--predictions", preds.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    // One line per scored example, its metadata with the score, agreeing with the report.
    let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let lines = std::fs::read_to_string(&preds).unwrap();
    let rows: Vec<serde_json::Value> =
        lines.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 8);
    let correct = rows.iter().filter(|r| r["correct"] == true).count() as f64;
    assert!((correct / 8.0 - report["accuracy"].as_f64().unwrap()).abs() < 1e-9);
    for r in &rows {
        assert!(r["file"].as_str().unwrap().ends_with(".mp4"), "{r}");
        let p = r["p_correspond"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&p));
        assert_eq!(r["label"] == 1, r["kind"] == "positive", "{r}");
    }
    // --seed picks the examples: the run's own seed gives the same ones, another seed others.
    let examples = |path: &Path| -> Vec<String> {
        std::fs::read_to_string(path)
            .unwrap()
            .lines()
            .map(|l| {
                let r: serde_json::Value = serde_json::from_str(l).unwrap();
                format!("{} {} {}", r["file"], r["audio_file"], r["audio_time"])
            })
            .collect()
    };
    let seeded = |seed: &str| {
        let path = dir.path().join(format!("preds-{seed}.jsonl"));
        let o = eval_avc(&ck2, &["--predictions", path.to_str().unwrap(), "--seed", seed]);
        assert!(o.status.success(), "{}", stderr(&o));
        let report: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
        assert_eq!(report["example_seed"].to_string(), seed);
        examples(&path)
    };
    let own = config["train"]["seed"].to_string();
    assert_eq!(report["example_seed"].to_string(), own);
    assert_eq!(seeded(&own), examples(&preds));
    assert_ne!(seeded("99"), examples(&preds));

    // Same-file hard negatives: a stream of matching pairs only, the hard negatives taken from
    // the batch's other windows of a file; the minimum shift is recorded with the run.
    let run3 = dir.path().join("same-file");
    let mut args3: Vec<&str> = args[..args.len() - 8].to_vec();
    args3[out_at] = run3.to_str().unwrap();
    args3.extend([
        "--objective",
        "in-batch",
        "--negatives",
        "easy,hard",
        "--same-file-negatives",
        "--train-positive-ratio",
        "1",
        "--min-shift",
        "0.8",
    ]);
    let o = run_pretext(&args3);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("finished at step 3"), "{}", stdout(&o));
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run3.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["same_file_min_shift"], 0.8);
    assert_eq!(config["data"]["pipeline"]["train_positive_ratio"], 1.0);
}

/// A clip whose frames change over time (testsrc2) and whose tone is its own, so that every
/// (frame, audio window) pair is distinct and a network can memorise them.
/// The overfit check of issue #6: pipeline batches carry labels that agree with what was
/// sampled (positives: the frame's own audio, centred on it; easy negatives: another file's
/// audio), and the trainer drives the training accuracy on a few fixed pipeline batches to
/// (nearly) 100%. A loop that cannot memorise 16 examples cannot learn the synthetic world.
#[test]
fn trainer_overfits_fixed_pipeline_batches_with_consistent_labels() {
    use pretext::models::{HeadConfig, HeadKind, InputConfig, ModelConfig, TowerConfig};
    use pretext::pipeline::{AugmentConfig, BatchStream, PipelineConfig};
    use pretext::tasks::{AvcConfig, TaskConfig};
    use pretext::training::TaskKind;

    let dir = tempfile::tempdir().unwrap();
    let files: Vec<_> = [300, 700, 1500]
        .iter()
        .map(|hz| {
            crate::common::tone_clip(
                dir.path(),
                &format!("t{hz}.mp4"),
                3.0,
                "48x48",
                25,
                *hz,
                16_000,
            )
        })
        .collect();
    let audio_seconds = 0.96;
    let pipe = PipelineConfig {
        files,
        task: TaskConfig::Avc(AvcConfig::default()),
        seed: 3,
        epochs: None,
        max_samples: Some(16),
        batch_size: 8,
        decode_size: 36,
        frame_size: 32,
        clips_per_file: 4,
        audio_seconds,
        augment: AugmentConfig::none(),
        decode_workers: 1,
        feature_workers: 1,
        ..Default::default()
    };
    let batches: Vec<_> = BatchStream::start(pipe).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(batches.len(), 2);
    let (mut pos, mut neg) = (0, 0);
    for b in &batches {
        assert_eq!(b.labels.len(), b.meta.len());
        for (label, m) in b.labels.iter().zip(&b.meta) {
            assert_eq!(*label, m.label, "batch label and sample metadata disagree");
            let audio_file = m.audio_file.as_deref().unwrap();
            let centre = m.audio_time.unwrap() + audio_seconds / 2.0;
            match m.kind.as_str() {
                "positive" => {
                    pos += 1;
                    assert_eq!(*label, 1);
                    assert_eq!(audio_file, m.file, "a positive's audio comes from its own file");
                    assert!((centre - m.video_times[0]).abs() < 1e-9, "and is centred on it");
                }
                "easy" => {
                    neg += 1;
                    assert_eq!(*label, 0);
                    assert_ne!(audio_file, m.file, "an easy negative's audio is another file's");
                }
                k => panic!("unexpected kind {k}"),
            }
        }
    }
    assert!(pos >= 3 && neg >= 3, "{pos} positives, {neg} negatives");

    let tower = TowerConfig { channels: vec![8, 16, 16], ..Default::default() };
    let model = ModelConfig {
        name: "overfit".into(),
        input: InputConfig { frame_size: 32, ..Default::default() },
        vision: tower.clone(),
        audio: tower,
        head: HeadConfig { kind: HeadKind::L3, embedding: 16, hidden: 16, ..Default::default() },
    };
    overfit_fixed_batches(TaskKind::Avc, model, &batches, dir.path(), "examples");
}

/// The frame-order overfit check: tuples cut by the pipeline from a small synthetic world carry
/// labels that agree with their frame times (ordered or reversed = 1), and the trainer drives 16
/// fixed tuples to 100% training accuracy (the loop and the model can fit them at all).
#[test]
fn trainer_overfits_fixed_frame_order_tuples_with_consistent_labels() {
    use pretext::models::{HeadConfig, InputConfig, ModelConfig, TowerConfig};
    use pretext::pipeline::{AugmentConfig, BatchStream, PipelineConfig};
    use pretext::tasks::{FrameOrderConfig, TaskConfig};
    use pretext::training::TaskKind;

    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("world");
    let out = run_pretext(&[
        "synth",
        "--out",
        world.to_str().unwrap(),
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
    assert!(out.status.success(), "synth: {}", stderr(&out));
    let files: Vec<_> = (0..2).map(|i| world.join(format!("clip_{i:04}.mp4"))).collect();
    let pipe = PipelineConfig {
        files,
        task: TaskConfig::FrameOrder(FrameOrderConfig {
            positive_ratio: 0.5,
            gap: 4,
            ..Default::default()
        }),
        seed: 3,
        epochs: None,
        max_samples: Some(16),
        batch_size: 8,
        decode_size: 36,
        frame_size: 32,
        clips_per_file: 8,
        augment: AugmentConfig::none(),
        decode_workers: 1,
        feature_workers: 1,
        ..Default::default()
    };
    let batches: Vec<_> = BatchStream::start(pipe).unwrap().collect::<Result<Vec<_>, _>>().unwrap();
    assert_eq!(batches.len(), 2);
    let mut pos = 0;
    for b in &batches {
        assert_eq!(b.frame_shape, vec![8, 3, 3, 32, 32]);
        for (label, m) in b.labels.iter().zip(&b.meta) {
            assert_eq!(*label, m.label, "batch label and sample metadata disagree");
            let t = &m.video_times;
            assert_eq!(t.len(), 3);
            let ordered = (t[0] < t[1] && t[1] < t[2]) || (t[0] > t[1] && t[1] > t[2]);
            assert_eq!(ordered, *label == 1, "{t:?} labelled {label} ({})", m.kind);
            assert!((t[0] - t[2]).abs() > 0.3, "b and d are 2 gaps (8 frames) apart: {t:?}");
            pos += label;
        }
    }
    assert!((3..=13).contains(&pos), "{pos} positives of 16");

    let tower = TowerConfig { channels: vec![8, 16, 16], ..Default::default() };
    let model = ModelConfig {
        name: "overfit".into(),
        input: InputConfig { frame_size: 32, ..Default::default() },
        vision: tower.clone(),
        audio: tower,
        head: HeadConfig { embedding: 16, hidden: 16, ..Default::default() },
    };
    overfit_fixed_batches(TaskKind::FrameOrder, model, &batches, dir.path(), "tuples");
}

/// Trains 120 steps cycling over `batches` (16 fixed examples) and asserts the trainer
/// memorises them: training accuracy >= 0.95 over the last 10 steps, loss halved.
fn overfit_fixed_batches(
    task: pretext::training::TaskKind,
    model: pretext::models::ModelConfig,
    batches: &[pretext::pipeline::Batch],
    dir: &Path,
    what: &str,
) {
    use pretext::training::{DeviceSpec, RunConfig, TensorBatch, TrainConfig, Trainer};
    let steps = 120;
    let train = TrainConfig {
        steps,
        batch: 8,
        lr: 3e-3,
        warmup_steps: 5,
        val_every: 0,
        checkpoint_every: 0,
        device: DeviceSpec::Cpu,
        ..Default::default()
    };
    let run = RunConfig { task, model, train, data: serde_json::Value::Null };
    let mut trainer = Trainer::new(&dir.join("run"), run).unwrap();
    let tensors: Vec<_> =
        batches.iter().map(|b| TensorBatch::from_batch(b, tch::Device::Cpu).unwrap()).collect();
    let mut history = Vec::new();
    for step in 0..steps as usize {
        history.push(trainer.train_step(&tensors[step % tensors.len()]).unwrap());
    }
    let tail = &history[history.len() - 10..];
    let acc = tail.iter().map(|h| h.1).sum::<f64>() / tail.len() as f64;
    let loss = tail.iter().map(|h| h.0).sum::<f64>() / tail.len() as f64;
    let first = history[..4].iter().map(|h| h.0).sum::<f64>() / 4.0;
    assert!(acc >= 0.95, "training accuracy on 16 fixed {what} stayed at {acc}");
    assert!(loss < 0.5 * first, "loss {first} -> {loss}");
}

/// The last value libgomp printed for `name` under `OMP_DISPLAY_ENV=verbose`.
fn omp_setting(stderr: &str, name: &str) -> Option<String> {
    let key = format!("{name} = '");
    let line = stderr.lines().rfind(|l| l.trim_start().starts_with(&key))?;
    Some(line.trim_start()[key.len()..].trim_end_matches('\'').to_string())
}

#[test]
fn r26_training_waits_passively_and_reports_contention() {
    // See issue #26 §5: libgomp's idle threads spun for 300,000 iterations at every barrier and
    // took the CPU from the thread the barrier waited for on a busy machine.
    let dir = tempfile::tempdir().unwrap();
    let cfg = tiny_config(dir.path());
    let run = |out: &str, wait: Option<&str>| {
        let mut cmd = crate::common::pretext();
        cmd.args(["train", "--data", "toy", "--config", &cfg, "--device", "cpu"])
            .args(["--steps", "3", "--out", dir.path().join(out).to_str().unwrap()])
            .env_remove("GOMP_SPINCOUNT")
            .env("OMP_DISPLAY_ENV", "verbose");
        match wait {
            Some(w) => cmd.env("OMP_WAIT_POLICY", w),
            None => cmd.env_remove("OMP_WAIT_POLICY"),
        };
        let o = cmd.output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    // Nothing set: libgomp (as loaded by the process that trains) does not spin.
    let err = run("passive", None);
    assert_eq!(omp_setting(&err, "GOMP_SPINCOUNT").as_deref(), Some("0"), "{err}");
    assert!(err.contains("idle OpenMP threads sleep"), "{err}");
    assert!(err.contains("CPU budget:"), "{err}");
    // The user's choice stands, and pretext says nothing about it.
    let err = run("active", Some("ACTIVE"));
    assert_eq!(omp_setting(&err, "OMP_WAIT_POLICY").as_deref(), Some("ACTIVE"), "{err}");
    assert!(!err.contains("idle OpenMP threads sleep"), "{err}");
    // Every logged step carries the CPU wait share (null only where the kernel keeps no
    // scheduler statistics).
    let text = std::fs::read_to_string(dir.path().join("passive/metrics.jsonl")).unwrap();
    let train: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["phase"] == "train")
        .collect();
    assert!(!train.is_empty());
    for v in &train {
        let w = &v["cpu_wait_share"];
        assert!(w.is_null() || (0.0..=1.0).contains(&w.as_f64().unwrap()), "{v}");
    }
}
