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
    let ex = |t: &Trunk, key: String, workers: usize| Extraction {
        trunk: t,
        input: cfg.input.clone(),
        key,
        split: "all".into(),
        clips: clips.clone(),
        per_clip: 2,
        layers: Vec::new(),
        batch: 4,
        workers,
        device: Device::Cpu,
    };
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
