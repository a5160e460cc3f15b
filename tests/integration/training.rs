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
    let o =
        run_pretext(&["train", "--data", "toy", "--out", out.to_str().unwrap(), "--model", "nope"]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown model preset 'nope'"), "{}", stderr(&o));
    let o = run_pretext(&[
        "train",
        "--data",
        "toy",
        "--out",
        out.to_str().unwrap(),
        "--max-time",
        "soon",
    ]);
    assert!(stderr(&o).contains("duration 'soon'"), "{}", stderr(&o));
    let o = run_pretext(&["train", "--data", "toy", "--out", out.to_str().unwrap(), "--resume"]);
    assert!(stderr(&o).contains("cannot resume"), "{}", stderr(&o));
    let o =
        run_pretext(&["eval", "avc", "--checkpoint", "/nonexistent.safetensors", "--data", "toy"]);
    assert!(stderr(&o).contains("/nonexistent.safetensors"), "{}", stderr(&o));
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

    let ck = run.join("checkpoints/best.safetensors");
    let o = run_pretext(&[
        "eval",
        "avc",
        "--checkpoint",
        ck.to_str().unwrap(),
        "--data",
        videos.to_str().unwrap(),
        "--split-file",
        split_file.to_str().unwrap(),
        "--negatives",
        "hard",
        "--val-examples",
        "8",
        "--json",
        "--device",
        "cpu",
    ]);
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
}
