//! Issue #23: the probes' feature cache on the committed sample world — reused without decoding
//! on a second run, the same rows whatever the number of decoding threads, invalidated when the
//! checkpoint's content changes.

use std::path::{Path, PathBuf};

use pretext::evaluation::probe::{
    content_hash, Extraction, FeatureCache, LabelSet, LabelSource, ProbeClip,
};
use pretext::models::{ModelConfig, Trunk, TrunkNeeds};
use tch::{nn::VarStore, Device};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn trunk(seed: i64, cfg: &ModelConfig, save: &Path) -> (VarStore, Trunk) {
    tch::manual_seed(seed);
    let vs = VarStore::new(Device::Cpu);
    let t = Trunk::new(&vs.root(), cfg, TrunkNeeds { vision_channels: Some(3), audio: true });
    vs.save(save).unwrap();
    (vs, t)
}

fn extraction<'a>(
    t: &'a Trunk,
    cfg: &ModelConfig,
    clips: &[ProbeClip],
    key: String,
    workers: usize,
) -> Extraction<'a> {
    Extraction {
        trunk: t,
        input: cfg.input.clone(),
        key,
        split: "all".into(),
        clips: clips.to_vec(),
        per_clip: 2,
        layers: Vec::new(),
        batch: 4,
        workers,
        device: Device::Cpu,
    }
}

#[test]
fn feature_cache_is_reused_and_invalidated_and_independent_of_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = ModelConfig::preset("quick").unwrap();
    cfg.input.frame_size = 48;
    let ck = tmp.path().join("ck.safetensors");
    let (_vs, t) = trunk(1, &cfg, &ck);
    let labels = LabelSet::read(
        &LabelSource::Synth(pretext::evaluation::probe::SynthLabel::Visible),
        &samples(),
    )
    .unwrap();
    let clips: Vec<ProbeClip> =
        labels.clips.iter().map(|c| ProbeClip { file: c.file.clone(), span: None }).collect();
    let ex = |t, key, workers| extraction(t, &cfg, &clips, key, workers);
    let cache = FeatureCache::new(tmp.path().join("cache"));
    let key = content_hash(&ck).unwrap();
    let (first, s1) = cache.features(&ex(&t, key.clone(), 3), &|_, _| {}).unwrap();
    assert_eq!(s1.decoded_files, clips.len());
    assert_eq!(s1.rows, 2 * clips.len(), "3 s clips hold two 0.96 s windows each");
    let names: Vec<&str> = first.manifest.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "vision.1",
            "vision.2",
            "vision.3",
            "vision.4",
            "vision.emb",
            "audio.1",
            "audio.2",
            "audio.3",
            "audio.4",
            "audio.emb"
        ]
    );
    assert!(first
        .manifest
        .layers
        .iter()
        .filter(|l| l.depth == 1)
        .all(|l| l.dim > 4000 && l.dim <= 9216));
    // A second run: served by the cache, nothing decoded, the same rows.
    let (again, s2) = cache.features(&ex(&t, key.clone(), 3), &|_, _| {}).unwrap();
    assert_eq!(s2.decoded_files, 0);
    assert_eq!(again.manifest, first.manifest);
    assert_eq!(again.layer("audio.2").unwrap(), first.layer("audio.2").unwrap());
    // One decoding thread gives the same matrices as three.
    let other = FeatureCache::new(tmp.path().join("cache1"));
    let (one, _) = other.features(&ex(&t, key.clone(), 1), &|_, _| {}).unwrap();
    for l in ["vision.1", "vision.emb", "audio.3"] {
        assert_eq!(one.layer(l).unwrap(), first.layer(l).unwrap(), "{l}");
    }
    // Changed weights: another content hash, so a fresh extraction with other values.
    let (_vs2, t2) = trunk(2, &cfg, &ck);
    let key2 = content_hash(&ck).unwrap();
    assert_ne!(key2, key);
    let (changed, s3) = cache.features(&ex(&t2, key2, 2), &|_, _| {}).unwrap();
    assert_eq!(s3.decoded_files, clips.len());
    assert_ne!(changed.layer("vision.2").unwrap(), first.layer("vision.2").unwrap());
    // An unknown layer is a clear error naming the layers there are.
    let mut bad = ex(&t, key, 1);
    bad.layers = vec!["vision.9".into()];
    bad.split = "other".into();
    let e = cache.features(&bad, &|_, _| {}).unwrap_err().to_string();
    assert!(e.contains("vision.9") && e.contains("vision.emb"), "{e}");
}

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
warmup_steps = 1
val_every = 2
val_batches = 1
log_every = 1
"#;

#[test]
fn eval_probe_and_compare_through_the_cli() {
    use crate::common::run_pretext;
    let tmp = tempfile::tempdir().unwrap();
    let cfg = tmp.path().join("tiny.toml");
    std::fs::write(&cfg, TINY).unwrap();
    let run = tmp.path().join("run");
    let o = run_pretext(&[
        "train",
        "--data",
        "toy",
        "--config",
        cfg.to_str().unwrap(),
        "--device",
        "cpu",
        "--threads",
        "1",
        "--steps",
        "2",
        "--out",
        run.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let ck = run.join("checkpoints/best.safetensors");
    // Two made-up classes over the sample world's files (its annotations give the split).
    let csv = tmp.path().join("labels.csv");
    let mut text = String::from("path,label\n");
    for i in 0..6 {
        let f = samples().join(format!("clip_000{i}.mp4"));
        text.push_str(&format!("{},{}\n", f.display(), if i % 2 == 0 { "even" } else { "odd" }));
    }
    std::fs::write(&csv, &text).unwrap();
    let labels = format!("csv:{}", csv.display());
    let data = samples();
    let probe = |out: &str, extra: &[&str]| {
        let out = tmp.path().join(out);
        let mut args = vec![
            "eval",
            "probe",
            "--checkpoint",
            ck.to_str().unwrap(),
            "--data",
            data.to_str().unwrap(),
            "--labels",
            &labels,
            "--epochs",
            "2",
            "--threads",
            "1",
            "--workers",
            "2",
            "--device",
            "cpu",
        ];
        let o2 = out.to_str().unwrap().to_string();
        let cache = tmp.path().join("cache");
        let c = cache.to_str().unwrap().to_string();
        args.extend(["--out", &o2, "--cache", &c]);
        args.extend(extra);
        (run_pretext(&args), out)
    };
    let (o, out) = probe("p", &[]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    assert!(!err.contains("from the cache"), "{err}");
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    let names: Vec<&str> = report["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["layer"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "vision.1",
            "vision.2",
            "vision.3",
            "vision.emb",
            "audio.1",
            "audio.2",
            "audio.3",
            "audio.emb"
        ]
    );
    assert_eq!(report["cross_modal"].as_array().unwrap().len(), 2);
    assert_eq!(report["classes"], serde_json::json!(["even", "odd"]));
    // Again: every split from the cache.
    let (o, _) = probe("p2", &[]);
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(o.status.success(), "{err}");
    assert_eq!(err.matches("from the cache").count(), 3, "{err}");
    let (o, _) = probe("u", &["--untrained"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let cmp = tmp.path().join("cmp");
    let o = run_pretext(&[
        "eval",
        "compare",
        out.to_str().unwrap(),
        tmp.path().join("u").to_str().unwrap(),
        "--out",
        cmp.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for f in ["compare.md", "compare.json", "compare.png"] {
        assert!(cmp.join(f).is_file(), "{f}");
    }
    assert!(String::from_utf8_lossy(&o.stdout).contains("random init"));
    // A bad label file names its line.
    std::fs::write(&csv, format!("{text}oops\n")).unwrap();
    let (o, _) = probe("bad", &[]);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    assert!(err.contains("labels.csv line 8"), "{err}");
}
