//! One trunk's probe report: for every cached layer, the linear probe's and the weighted kNN's
//! accuracy on the held-out splits (probes and kNN banks fitted on the train split only), the
//! within-modal retrieval scores on the test split, and cross-modal retrieval (image → audio,
//! audio → image) between the towers' embeddings. Written as `report.json`; `eval compare`
//! reads any number of them.

use serde::{Deserialize, Serialize};
use tch::Device;

use super::{
    cosine_matrix, knn_scores, retrieval, top_k_accuracy, CachedSplit, LayerInfo, LinearProbe,
    ProbeConfig, RetrievalScores, KNN_K, KNN_T,
};
use crate::evaluation::{EvaluationError, Result};

/// Top-1 (and top-5 where there are at least 10 classes) accuracy.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Accuracy {
    /// Top-1.
    pub top1: f64,
    /// Top-5 (10+ classes only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top5: Option<f64>,
}

/// One layer's scores.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerReport {
    /// The layer (see [`LayerInfo`]).
    pub layer: LayerInfo,
    /// `vision` or `audio`.
    pub modality: String,
    /// The linear probe on each held-out split (`val`, `test`).
    pub probe: Vec<(String, Accuracy)>,
    /// Weighted kNN on each held-out split.
    pub knn: Vec<(String, Accuracy)>,
    /// Within-modal retrieval on the test split (the query left out of its gallery).
    pub retrieval: RetrievalScores,
}

/// A trunk's report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeReport {
    /// What the line is called in comparisons (the task, `random init`, `supervised`).
    pub name: String,
    /// The checkpoint's task.
    pub task: String,
    /// `trained`, `untrained` or `supervised`.
    pub variant: String,
    /// The checkpoint.
    pub checkpoint: String,
    /// The feature cache key.
    pub key: String,
    /// The label source.
    pub labels: String,
    /// Class names.
    pub classes: Vec<String>,
    /// Rows per split (`train`, `val`, `test`).
    pub rows: Vec<(String, usize)>,
    /// How the probes were trained (with their seed).
    pub probe_config: ProbeConfig,
    /// Per layer, shallowest first, vision then audio.
    pub layers: Vec<LayerReport>,
    /// Cross-modal retrieval between the embeddings on the test split:
    /// (`image→audio` / `audio→image`, scores).
    pub cross_modal: Vec<(String, RetrievalScores)>,
}

/// A split's cached features and the class of each row.
#[derive(Debug, Clone)]
pub struct LabelledSplit {
    /// The split's name.
    pub name: String,
    /// Its cached features.
    pub cache: CachedSplit,
    /// The class of each row.
    pub labels: Vec<i64>,
}

fn accuracy(scores: &tch::Tensor, labels: &[i64], classes: usize) -> Result<Accuracy> {
    Ok(Accuracy {
        top1: top_k_accuracy(scores, labels, 1)?,
        top5: if classes >= 10 { Some(top_k_accuracy(scores, labels, 5)?) } else { None },
    })
}

/// Cross-modal retrieval scores by direction (`image→audio`, `audio→image`).
pub type CrossModal = Vec<(String, RetrievalScores)>;

/// Scores every layer of `train`'s cache: probes and kNN banks from `train`, evaluated on each
/// of `held_out`; retrieval on the last of `held_out` (the test split). `step(layer, of)` is
/// called as layers finish.
pub fn probe_layers(
    train: &LabelledSplit,
    held_out: &[LabelledSplit],
    classes: usize,
    cfg: &ProbeConfig,
    device: Device,
    step: &dyn Fn(usize, usize),
) -> Result<(Vec<LayerReport>, CrossModal)> {
    let test = held_out
        .last()
        .ok_or_else(|| EvaluationError::Config("no held-out split to score".into()))?;
    let layers = train.cache.manifest.layers.clone();
    let mut out = Vec::with_capacity(layers.len());
    for (li, layer) in layers.iter().enumerate() {
        let x = train.cache.layer(&layer.name)?;
        let probe = LinearProbe::train(&x, &train.labels, classes, cfg, device, &|_| {})?;
        let (mut p, mut k) = (Vec::new(), Vec::new());
        for h in held_out {
            let hx = h.cache.layer(&layer.name)?;
            p.push((h.name.clone(), accuracy(&probe.logits(&hx)?, &h.labels, classes)?));
            let s = knn_scores(&x, &train.labels, &hx, classes, KNN_K, KNN_T, device)?;
            k.push((h.name.clone(), accuracy(&s, &h.labels, classes)?));
        }
        let tx = test.cache.layer(&layer.name)?;
        let sims = cosine_matrix(&tx.data, &tx.data, tx.dim);
        let r = retrieval(&sims, &test.labels, &test.labels, true);
        let modality = layer.name.split('.').next().unwrap_or("").to_string();
        out.push(LayerReport { layer: layer.clone(), modality, probe: p, knn: k, retrieval: r });
        step(li + 1, layers.len());
    }
    let mut cross = Vec::new();
    let has = |n: &str| layers.iter().any(|l| l.name == n);
    if has("vision.emb") && has("audio.emb") {
        let v = test.cache.layer("vision.emb")?;
        let a = test.cache.layer("audio.emb")?;
        if v.dim == a.dim {
            let va = cosine_matrix(&v.data, &a.data, v.dim);
            cross.push(("image→audio".into(), retrieval(&va, &test.labels, &test.labels, false)));
            let av = cosine_matrix(&a.data, &v.data, v.dim);
            cross.push(("audio→image".into(), retrieval(&av, &test.labels, &test.labels, false)));
        }
    }
    Ok((out, cross))
}

fn pct(a: f64) -> String {
    format!("{:.1}", 100.0 * a)
}

fn split_acc(v: &[(String, Accuracy)], split: &str) -> Option<Accuracy> {
    v.iter().find(|(s, _)| s == split).map(|(_, a)| *a)
}

/// One run's report as Markdown: a row per layer (probe and kNN top-1 on val and test, test
/// retrieval), then cross-modal retrieval.
pub fn report_markdown(r: &ProbeReport) -> String {
    let mut s = format!(
        "## {} ({}, {})\n\nlabels {} ({} classes, chance {:.1} %), rows {}; probe seed {}\n\n",
        r.name,
        r.task,
        r.variant,
        r.labels,
        r.classes.len(),
        100.0 / r.classes.len().max(1) as f64,
        r.rows.iter().map(|(n, k)| format!("{n} {k}")).collect::<Vec<_>>().join(", "),
        r.probe_config.seed
    );
    s.push_str(
        "| layer | dim | probe val | probe test | kNN val | kNN test | R@1 | R@5 | R@10 | nDCG@30 |\n\
         |---|---|---|---|---|---|---|---|---|---|\n",
    );
    let top = |a: Option<Accuracy>| {
        a.map_or("–".into(), |a| match a.top5 {
            Some(t5) => format!("{} ({} top-5)", pct(a.top1), pct(t5)),
            None => pct(a.top1),
        })
    };
    for l in &r.layers {
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
            l.layer.name,
            l.layer.dim,
            top(split_acc(&l.probe, "val")),
            top(split_acc(&l.probe, "test")),
            top(split_acc(&l.knn, "val")),
            top(split_acc(&l.knn, "test")),
            pct(l.retrieval.r1),
            pct(l.retrieval.r5),
            pct(l.retrieval.r10),
            pct(l.retrieval.ndcg30),
        ));
    }
    if !r.cross_modal.is_empty() {
        s.push_str(
            "\n| cross-modal (emb, test) | R@1 | R@5 | R@10 | nDCG@30 |\n|---|---|---|---|---|\n",
        );
        for (n, x) in &r.cross_modal {
            s.push_str(&format!(
                "| {n} | {} | {} | {} | {} |\n",
                pct(x.r1),
                pct(x.r5),
                pct(x.r10),
                pct(x.ndcg30)
            ));
        }
    }
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::super::{FeatureRow, SplitManifest};
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// A cached split of three layers where only `vision.2` encodes the label.
    fn planted(dir: &std::path::Path, name: &str, labels: &[i64], seed: u64) -> LabelledSplit {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let dir = dir.join(name);
        std::fs::create_dir_all(&dir).unwrap();
        let d = 24usize;
        let mut layers = Vec::new();
        for (depth, lname) in [(1, "vision.1"), (2, "vision.2"), (3, "vision.3")] {
            let mut data = vec![0f32; labels.len() * d];
            for (i, &y) in labels.iter().enumerate() {
                for j in 0..d {
                    data[i * d + j] = rng.gen::<f32>();
                }
                if lname == "vision.2" {
                    data[i * d + y as usize] += 3.0;
                }
            }
            crate::io::write_npy_f32(&dir.join(format!("{lname}.npy")), &[labels.len(), d], &data)
                .unwrap();
            layers.push(LayerInfo {
                name: lname.into(),
                depth,
                channels: d as i64,
                map: (1, 1),
                grid: (1, 1),
                dim: d,
            });
        }
        let manifest = SplitManifest {
            key: "k".into(),
            split: name.into(),
            clips_digest: String::new(),
            input: Default::default(),
            rows: (0..labels.len()).map(|i| FeatureRow { clip: i, time: 0.0 }).collect(),
            layers,
            failed: Vec::new(),
        };
        LabelledSplit {
            name: name.into(),
            cache: CachedSplit { dir, manifest },
            labels: labels.to_vec(),
        }
    }

    #[test]
    fn probes_and_knn_find_the_layer_that_holds_the_label() {
        let tmp = tempfile::tempdir().unwrap();
        let classes = 4;
        let lab = |n: usize| (0..n).map(|i| (i % classes) as i64).collect::<Vec<_>>();
        let train = planted(tmp.path(), "train", &lab(240), 1);
        let test = planted(tmp.path(), "test", &lab(80), 2);
        let cfg = ProbeConfig::default();
        let (layers, cross) =
            probe_layers(&train, &[test], classes, &cfg, Device::Cpu, &|_, _| {}).unwrap();
        assert!(cross.is_empty());
        for l in &layers {
            let (p, k) = (l.probe[0].1.top1, l.knn[0].1.top1);
            if l.layer.name == "vision.2" {
                assert!(p > 0.95 && k > 0.95, "{}: probe {p}, kNN {k}", l.layer.name);
                assert!(l.retrieval.ndcg30 > 0.9, "{:?}", l.retrieval);
            } else {
                assert!(p < 0.45 && k < 0.45, "{}: probe {p}, kNN {k} (chance 0.25)", l.layer.name);
            }
            assert!(l.probe[0].1.top5.is_none(), "top-5 only from 10 classes");
        }
        let rows = super::super::comparison_rows(&[ProbeReport {
            name: "planted".into(),
            task: "none".into(),
            variant: "trained".into(),
            checkpoint: String::new(),
            key: "k".into(),
            labels: "test".into(),
            classes: (0..classes).map(|c| c.to_string()).collect(),
            rows: Vec::new(),
            probe_config: cfg,
            layers,
            cross_modal: Vec::new(),
        }]);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].best_layer, "vision.2");
        assert_eq!(rows[0].best_knn_layer, "vision.2");
        let png = tmp.path().join("c.png");
        super::super::plot_comparison(&rows, &png).unwrap();
        assert!(std::fs::metadata(&png).unwrap().len() > 1000);
    }
}
