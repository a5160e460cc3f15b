//! Frozen features of a labelled split, extracted once and kept on disk.
//!
//! One pass over the split's clips: each clip gives up to `per_clip` moments (evenly spread
//! windows of the model's audio length inside its video stream, or the centre of a labelled
//! span), read through [`InputReader`] with the probes' [`ProbeView`] (the pipeline's decode and
//! assembly code, no augmentation). Every requested layer of the vision and audio towers is
//! average-pooled to a grid that gives about 9,216 values, as VISSL pools ResNet stages for its
//! linear benchmarks ([`layer_grid`]: `g = round(√(9216 / C))` per side, capped by the map's own
//! size), and the towers' embeddings are kept as layer `emb`. Rows stream to one `.npy` per layer
//! ([`crate::io::NpyRowWriter`]), so memory is bounded by a batch whatever the split's size.
//!
//! Layout: `CACHE/KEY/SPLIT/{LAYER}.npy` + `manifest.json` (the clips' digest, the input spec,
//! the rows' file and time, each layer's channels, grid and width). `KEY` is the checkpoint's
//! content hash (SHA-256 of the `.safetensors`, plus a suffix for an untrained trunk); a second
//! run with the same key, clips and layers reads the cache without decoding anything, and a
//! changed checkpoint has another key. Decoding runs on `workers` threads (each with its own
//! reader); rows keep clip order whatever the number of workers, and the model runs on the
//! calling thread.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tch::{Device, Kind, Tensor};

use super::view::ProbeView;
use crate::evaluation::{EvaluationError, Result};
use crate::io::NpyRowWriter;
use crate::models::{Tower, Trunk};
use crate::pipeline::{Example, InputReader, InputSpec};

/// Values VISSL keeps per pooled stage (e.g. ResNet-50 res2: 256 × 6 × 6).
pub const TARGET_DIM: i64 = 9216;

/// The pooling grid `(gh, gw)` of a `[C, h, w]` stage: `round(√(TARGET_DIM / C))` per side,
/// at least 1 and at most the map's own size on each axis.
pub fn layer_grid(channels: i64, h: i64, w: i64) -> (i64, i64) {
    let g = ((TARGET_DIM as f64 / channels.max(1) as f64).sqrt().round() as i64).max(1);
    (g.min(h.max(1)), g.min(w.max(1)))
}

/// SHA-256 of a file's content, hex (the cache key of a checkpoint).
pub fn content_hash(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| EvaluationError::file(path, e))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|e| EvaluationError::file(path, e))?;
    Ok(format!("{:x}", h.finalize()))
}

/// A clip to read: a file, and the span its label holds for (if not the whole file).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeClip {
    /// The video file.
    pub file: PathBuf,
    /// `(start, end)` seconds, or the whole file.
    pub span: Option<(f64, f64)>,
}

/// One row of every layer's matrix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureRow {
    /// Index of the clip in the request.
    pub clip: usize,
    /// The moment's time (seconds, container clock).
    pub time: f64,
}

/// One cached layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerInfo {
    /// `vision.1` … `vision.N`, `vision.emb`, `audio.1` …, `audio.emb`.
    pub name: String,
    /// Depth: the stage's 1-based index (`N + 1` for the embedding).
    pub depth: usize,
    /// Channels of the stage.
    pub channels: i64,
    /// The stage's map size `(h, w)` for these inputs.
    pub map: (i64, i64),
    /// The pooling grid.
    pub grid: (i64, i64),
    /// Values per row.
    pub dim: usize,
}

/// What `manifest.json` records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SplitManifest {
    /// The cache key (checkpoint content hash).
    pub key: String,
    /// The split's name.
    pub split: String,
    /// SHA-256 of the requested clips and moments per clip.
    pub clips_digest: String,
    /// What the model saw.
    pub input: InputSpec,
    /// The rows, in order.
    pub rows: Vec<FeatureRow>,
    /// The layers.
    pub layers: Vec<LayerInfo>,
    /// Files that could not be read, with why.
    pub failed: Vec<(PathBuf, String)>,
}

/// A split's cached features.
#[derive(Debug, Clone)]
pub struct CachedSplit {
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: SplitManifest,
}

/// A layer's features: `rows × dim`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerMatrix {
    /// Rows.
    pub rows: usize,
    /// Values per row.
    pub dim: usize,
    /// The values.
    pub data: Vec<f32>,
}

impl CachedSplit {
    /// Reads layer `name`.
    pub fn layer(&self, name: &str) -> Result<LayerMatrix> {
        let info = self.manifest.layers.iter().find(|l| l.name == name).ok_or_else(|| {
            EvaluationError::Config(format!(
                "{}: no layer '{name}' in the cache",
                self.dir.display()
            ))
        })?;
        let a = crate::io::read_npy_f32(&self.dir.join(format!("{name}.npy")))?;
        if a.shape != [self.manifest.rows.len(), info.dim] {
            return Err(EvaluationError::Other(format!(
                "{}: layer {name} holds {:?}, the manifest says [{}, {}]",
                self.dir.display(),
                a.shape,
                self.manifest.rows.len(),
                info.dim
            )));
        }
        Ok(LayerMatrix { rows: a.shape[0], dim: a.shape[1], data: a.data })
    }
}

/// What [`FeatureCache::features`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ExtractStats {
    /// Files decoded (0 when the cache served the request).
    pub decoded_files: usize,
    /// Rows written.
    pub rows: usize,
    /// Wall-clock seconds of the extraction.
    pub seconds: f64,
}

/// An extraction request.
pub struct Extraction<'a> {
    /// The frozen trunk.
    pub trunk: &'a Trunk,
    /// What the model sees (the run's input spec).
    pub input: InputSpec,
    /// The cache key (the checkpoint's content hash, with a suffix for variants).
    pub key: String,
    /// The split's name.
    pub split: String,
    /// The clips.
    pub clips: Vec<ProbeClip>,
    /// Moments per whole-file clip.
    pub per_clip: usize,
    /// Layers wanted (names as in [`LayerInfo::name`]); empty = every layer.
    pub layers: Vec<String>,
    /// Examples per forward pass.
    pub batch: usize,
    /// Decoding threads.
    pub workers: usize,
    /// Where the model runs.
    pub device: Device,
}

impl std::fmt::Debug for Extraction<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Extraction")
            .field("key", &self.key)
            .field("split", &self.split)
            .field("clips", &self.clips.len())
            .finish_non_exhaustive()
    }
}

/// The layers a trunk offers for inputs of `input`'s shape, by a forward pass of zeros.
pub fn trunk_layers(trunk: &Trunk, input: &InputSpec, device: Device) -> Result<Vec<LayerInfo>> {
    let _g = tch::no_grad_guard();
    let mut out = Vec::new();
    for (modality, tower, x) in towers(trunk, input, device)? {
        let stages = tower.backbone().stages(&x, false);
        let n = stages.len();
        for (i, s) in stages.iter().enumerate() {
            let sz = s.size();
            let (c, h, w) = (sz[1], sz[2], sz[3]);
            let grid = layer_grid(c, h, w);
            out.push(LayerInfo {
                name: format!("{modality}.{}", i + 1),
                depth: i + 1,
                channels: c,
                map: (h, w),
                grid,
                dim: (c * grid.0 * grid.1) as usize,
            });
        }
        let e = tower.project(&tower.pool(&stages[n - 1])).size()[1];
        out.push(LayerInfo {
            name: format!("{modality}.emb"),
            depth: n + 1,
            channels: e,
            map: (1, 1),
            grid: (1, 1),
            dim: e as usize,
        });
    }
    Ok(out)
}

fn towers<'t>(
    trunk: &'t Trunk,
    input: &InputSpec,
    device: Device,
) -> Result<Vec<(&'static str, &'t Tower, Tensor)>> {
    let mut v = Vec::new();
    let s = i64::from(input.frame_size);
    if let Ok(t) = trunk.vision() {
        v.push(("vision", t, Tensor::zeros([1, t.in_channels(), s, s], (Kind::Float, device))));
    }
    if let Ok(t) = trunk.audio() {
        let (f, tt) = input.spec_shape();
        v.push(("audio", t, Tensor::zeros([1, 1, f as i64, tt as i64], (Kind::Float, device))));
    }
    if v.is_empty() {
        return Err(EvaluationError::Config(
            "the trunk has neither a vision nor an audio tower".into(),
        ));
    }
    Ok(v)
}

fn clips_digest(ex: &Extraction<'_>) -> String {
    let mut h = Sha256::new();
    h.update(format!("per_clip={}\n", ex.per_clip));
    for c in &ex.clips {
        h.update(format!("{}\t{:?}\n", c.file.display(), c.span));
    }
    format!("{:x}", h.finalize())
}

/// The moments of a clip: its span's centre, or `per_clip` windows of `window` seconds spread
/// evenly over the video stream `[start, end]`.
pub fn clip_times(
    clip: &ProbeClip,
    start: f64,
    end: f64,
    window: f64,
    per_clip: usize,
) -> Vec<f64> {
    if let Some((s, e)) = clip.span {
        return vec![(s + e) / 2.0];
    }
    let free = end - start - window;
    if free < 0.0 || per_clip == 0 {
        return Vec::new();
    }
    let n = per_clip;
    (0..n).map(|i| start + window / 2.0 + free * (i as f64 + 0.5) / n as f64).collect()
}

/// The feature cache under one folder.
#[derive(Debug, Clone)]
pub struct FeatureCache {
    root: PathBuf,
}

type Decoded = (usize, std::result::Result<Vec<(f64, Example)>, String>);

impl FeatureCache {
    /// A cache under `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        FeatureCache { root: root.into() }
    }

    /// The folder of `key`'s `split`.
    pub fn dir(&self, key: &str, split: &str) -> PathBuf {
        self.root.join(key).join(split)
    }

    /// The cached split, if it serves `ex` as is.
    pub fn lookup(&self, ex: &Extraction<'_>) -> Option<CachedSplit> {
        let dir = self.dir(&ex.key, &ex.split);
        let text = std::fs::read_to_string(dir.join("manifest.json")).ok()?;
        let m: SplitManifest = serde_json::from_str(&text).ok()?;
        let fits = m.key == ex.key
            && m.clips_digest == clips_digest(ex)
            && m.input == ex.input
            && ex.layers.iter().all(|l| m.layers.iter().any(|i| &i.name == l))
            && m.layers.iter().all(|l| dir.join(format!("{}.npy", l.name)).is_file());
        fits.then_some(CachedSplit { dir, manifest: m })
    }

    /// The features `ex` asks for: from the cache when it serves them, else extracted (and
    /// cached). `progress(done, total)` is called as clips are read.
    pub fn features(
        &self,
        ex: &Extraction<'_>,
        progress: &dyn Fn(u64, u64),
    ) -> Result<(CachedSplit, ExtractStats)> {
        if let Some(c) = self.lookup(ex) {
            let rows = c.manifest.rows.len();
            return Ok((c, ExtractStats { decoded_files: 0, rows, seconds: 0.0 }));
        }
        self.extract(ex, progress)
    }

    fn extract(
        &self,
        ex: &Extraction<'_>,
        progress: &dyn Fn(u64, u64),
    ) -> Result<(CachedSplit, ExtractStats)> {
        let t0 = Instant::now();
        let dir = self.dir(&ex.key, &ex.split);
        std::fs::create_dir_all(&dir).map_err(|e| EvaluationError::file(&dir, e))?;
        let _ = std::fs::remove_file(dir.join("manifest.json"));
        let all = trunk_layers(ex.trunk, &ex.input, ex.device)?;
        let layers: Vec<LayerInfo> = if ex.layers.is_empty() {
            all
        } else {
            let mut v = Vec::new();
            for l in &ex.layers {
                v.push(all.iter().find(|i| &i.name == l).cloned().ok_or_else(|| {
                    EvaluationError::Config(format!(
                        "no layer '{l}' in this trunk (it has {})",
                        all.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
                    ))
                })?);
            }
            v
        };
        let mut writers = layers
            .iter()
            .map(|l| NpyRowWriter::create(&dir.join(format!("{}.npy", l.name)), l.dim))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let frames = ex.trunk.vision().map(|t| (t.in_channels() / 3).max(1) as usize).unwrap_or(1);
        let view = Arc::new(ProbeView { frames, audio: ex.trunk.has_audio() });
        let (mut rows, mut failed) = (Vec::new(), Vec::new());
        let total = ex.clips.len();
        let next = AtomicUsize::new(0);
        let cancel = AtomicBool::new(false);
        let workers = ex.workers.clamp(1, 64);
        let mut pending: Vec<(FeatureRow, Example)> = Vec::new();
        let mut run_err: Option<EvaluationError> = None;
        std::thread::scope(|scope| {
            let (tx, rx) = crossbeam_channel::bounded::<Decoded>(2 * workers);
            for _ in 0..workers {
                let tx = tx.clone();
                let (view, next, cancel, input) = (view.clone(), &next, &cancel, ex.input.clone());
                let clips = &ex.clips;
                let per_clip = ex.per_clip;
                scope.spawn(move || {
                    let mut reader =
                        InputReader::new(view, input.clone(), Duration::from_secs(300));
                    loop {
                        if cancel.load(Ordering::Relaxed) {
                            break;
                        }
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(clip) = clips.get(i) else { break };
                        let got = read_clip(&mut reader, clip, &input, per_clip);
                        if tx.send((i, got)).is_err() {
                            break;
                        }
                    }
                });
            }
            drop(tx);
            let mut buffer: BTreeMap<usize, std::result::Result<Vec<(f64, Example)>, String>> =
                BTreeMap::new();
            let mut expect = 0usize;
            for (i, got) in rx.iter() {
                buffer.insert(i, got);
                while let Some(got) = buffer.remove(&expect) {
                    match got {
                        Ok(v) => pending.extend(
                            v.into_iter().map(|(time, e)| (FeatureRow { clip: expect, time }, e)),
                        ),
                        Err(reason) => failed.push((ex.clips[expect].file.clone(), reason)),
                    }
                    expect += 1;
                    progress(expect as u64, total as u64);
                    while pending.len() >= ex.batch.max(1) {
                        let chunk: Vec<_> = pending.drain(..ex.batch.max(1)).collect();
                        if let Err(e) = forward(ex, &layers, &mut writers, chunk, &mut rows) {
                            run_err.get_or_insert(e);
                            cancel.store(true, Ordering::Relaxed);
                        }
                    }
                }
                if run_err.is_some() {
                    break;
                }
            }
        });
        if let Some(e) = run_err {
            return Err(e);
        }
        if !pending.is_empty() {
            let chunk = std::mem::take(&mut pending);
            forward(ex, &layers, &mut writers, chunk, &mut rows)?;
        }
        if rows.is_empty() {
            return Err(EvaluationError::Other(format!(
                "split {}: no clip gave an example ({} files failed{})",
                ex.split,
                failed.len(),
                failed
                    .first()
                    .map(|(p, r)| format!("; first: {}: {r}", p.display()))
                    .unwrap_or_default()
            )));
        }
        for w in writers {
            w.finish()?;
        }
        let manifest = SplitManifest {
            key: ex.key.clone(),
            split: ex.split.clone(),
            clips_digest: clips_digest(ex),
            input: ex.input.clone(),
            rows,
            layers,
            failed,
        };
        let json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| EvaluationError::Other(format!("manifest: {e}")))?;
        crate::io::write_atomic(&dir.join("manifest.json"), &json)?;
        let stats = ExtractStats {
            decoded_files: total - manifest.failed.len(),
            rows: manifest.rows.len(),
            seconds: t0.elapsed().as_secs_f64(),
        };
        Ok((CachedSplit { dir, manifest }, stats))
    }
}

fn read_clip(
    reader: &mut InputReader,
    clip: &ProbeClip,
    input: &InputSpec,
    per_clip: usize,
) -> std::result::Result<Vec<(f64, Example)>, String> {
    let entry = InputReader::entry(&clip.file).map_err(|e| e.to_string())?;
    let times = clip_times(clip, entry.video_start, entry.video_end, input.clip_seconds, per_clip);
    let got = reader.at_entry(&entry, &times).map_err(|e| e.to_string())?;
    Ok(times.into_iter().zip(got).filter_map(|(t, e)| Some((t, e?))).collect())
}

fn field(examples: &[(FeatureRow, Example)], name: &str, device: Device) -> Result<Option<Tensor>> {
    let Some(first) = examples[0].1.field(name) else { return Ok(None) };
    let mut data = Vec::with_capacity(first.values.len() * examples.len());
    for (_, e) in examples {
        match e.field(name).map(|f| &f.values) {
            Some(crate::pipeline::Values::F32(v)) => data.extend_from_slice(v),
            _ => {
                return Err(EvaluationError::Other(format!(
                    "{}: the example has no f32 field '{name}'",
                    e.meta.file
                )))
            }
        }
    }
    let mut dims = vec![examples.len() as i64];
    dims.extend(first.shape.iter().map(|&d| d as i64));
    Ok(Some(Tensor::from_slice(&data).f_view(dims.as_slice())?.f_to(device)?))
}

fn forward(
    ex: &Extraction<'_>,
    layers: &[LayerInfo],
    writers: &mut [NpyRowWriter],
    chunk: Vec<(FeatureRow, Example)>,
    rows: &mut Vec<FeatureRow>,
) -> Result<()> {
    let _g = tch::no_grad_guard();
    let inputs = [
        ("vision", field(&chunk, "frames", ex.device)?),
        ("audio", field(&chunk, "spec", ex.device)?),
    ];
    for (modality, x) in inputs {
        let Some(x) = x else { continue };
        let tower = match modality {
            "vision" => ex.trunk.vision()?,
            _ => ex.trunk.audio()?,
        };
        let stages = tower.backbone().stages(&x, false);
        for (l, w) in layers.iter().zip(writers.iter_mut()) {
            let Some(rest) = l.name.strip_prefix(modality).and_then(|r| r.strip_prefix('.')) else {
                continue;
            };
            let y = if rest == "emb" {
                let last =
                    stages.last().ok_or_else(|| EvaluationError::Other("no stage".into()))?;
                tower.project(&tower.pool(last))
            } else {
                let s = &stages[l.depth - 1];
                s.f_adaptive_avg_pool2d([l.grid.0, l.grid.1])?.f_flatten(1, -1)?
            };
            let y = y.f_to(Device::Cpu)?.f_to_kind(Kind::Float)?.f_contiguous()?;
            let v = Vec::<f32>::try_from(y.f_flatten(0, -1)?)?;
            w.push(&v)?;
        }
    }
    rows.extend(chunk.into_iter().map(|(r, _)| r));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grids_give_about_9k_values_within_the_map() {
        assert_eq!(layer_grid(256, 56, 56), (6, 6));
        assert_eq!(layer_grid(64, 112, 112), (12, 12));
        assert_eq!(layer_grid(16, 96, 96), (24, 24));
        assert_eq!(layer_grid(128, 6, 6), (6, 6), "capped by the map");
        assert_eq!(layer_grid(2048, 7, 7), (2, 2));
        assert_eq!(layer_grid(32, 4, 47), (4, 17));
    }

    #[test]
    fn moments_spread_over_the_stream_or_sit_at_a_span_centre() {
        let c = ProbeClip { file: "a.mp4".into(), span: None };
        let t = clip_times(&c, 0.0, 3.0, 1.0, 2);
        assert_eq!(t, vec![1.0, 2.0]);
        assert!(clip_times(&c, 0.0, 0.5, 1.0, 2).is_empty());
        let s = ProbeClip { file: "a.mp4".into(), span: Some((1.0, 2.0)) };
        assert_eq!(clip_times(&s, 0.0, 3.0, 1.0, 3), vec![1.5]);
    }
}
