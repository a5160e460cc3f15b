//! The task plug-in point of the one training loop: a task's model is a [`TaskModel`]. It owns
//! the shared trunk and the task's heads, turns a [`TensorBatch`] (the task's named fields on the
//! device) into a loss for training ([`TaskModel::train_step`]) and into plain scores for its
//! metrics ([`TaskModel::evaluate`]); the loop, optimiser, weight averaging, mixed precision,
//! checkpoints and logs are the same for every task. Tasks implement it in their own folders
//! (`crate::tasks::*`) and give the trainer a builder and their [`super::MetricSet`].

use tch::{Device, Kind, Tensor};

use super::{Scored, TrainingError};
use crate::models::Trunk;
use crate::pipeline::{Batch, SampleMeta, Values};

/// A batch moved to the training device: each declared field as a tensor (f32 or int64, shape
/// `[B, ...]`), the examples' metadata and where they came from.
#[derive(Debug)]
pub struct TensorBatch {
    fields: Vec<(String, Tensor)>,
    /// One record per example.
    pub meta: Vec<SampleMeta>,
    /// Source files and times (in-batch objectives pair examples with each other).
    pub origins: Origins,
}

/// Where the examples of a batch come from, as objectives that pair every example with every
/// other need it: two windows of one file are not an easy negative, and are a hard one only when
/// far enough apart in time.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Origins {
    /// Source group per example: equal for examples cut from the same file. Empty = all
    /// distinct.
    pub groups: Vec<i64>,
    /// Per example: the time of its frame (the middle of a frame stack) and the start of its
    /// audio window, seconds on the file's clock (NaN where there is none). Empty = unknown.
    pub times: Vec<(f64, f64)>,
}

impl Origins {
    /// Examples with these source groups and unknown times.
    pub fn groups(groups: Vec<i64>) -> Self {
        Origins { groups, times: Vec::new() }
    }

    /// Groups and times from the examples' metadata.
    pub fn of(meta: &[SampleMeta]) -> Self {
        let mut files: Vec<&str> = Vec::new();
        let groups = meta
            .iter()
            .map(|m| match files.iter().position(|f| *f == m.file) {
                Some(g) => g as i64,
                None => {
                    files.push(&m.file);
                    files.len() as i64 - 1
                }
            })
            .collect();
        let times = meta
            .iter()
            .map(|m| {
                let v = &m.video_times;
                let frame = if v.is_empty() {
                    f64::NAN
                } else {
                    // A stack's frames spread evenly around its anchor frame.
                    v.iter().sum::<f64>() / v.len() as f64
                };
                (frame, m.audio_time.unwrap_or(f64::NAN))
            })
            .collect();
        Origins { groups, times }
    }
}

impl TensorBatch {
    /// Copies a pipeline batch onto `device`, checking that buffers and shapes agree.
    pub fn from_batch(b: &Batch, device: Device) -> Result<Self, TrainingError> {
        let mut fields = Vec::with_capacity(b.fields.len());
        for f in &b.fields {
            let n: usize = f.shape.iter().product();
            if n != f.values.len() || f.shape.first() != Some(&b.len()) {
                return Err(TrainingError::Batch(format!(
                    "field '{}': shape {:?} for a batch of {} holding {} values",
                    f.name,
                    f.shape,
                    b.len(),
                    f.values.len()
                )));
            }
            let dims: Vec<i64> = f.shape.iter().map(|&d| d as i64).collect();
            let t = match &f.values {
                Values::F32(v) => Tensor::from_slice(v),
                Values::I64(v) => Tensor::from_slice(v),
            };
            fields.push((f.name.clone(), t.f_view(dims.as_slice())?.f_to(device)?));
        }
        Ok(TensorBatch { fields, meta: b.meta.clone(), origins: Origins::of(&b.meta) })
    }

    /// A batch of given tensors (tests, tools that build inputs themselves).
    pub fn from_tensors(fields: Vec<(String, Tensor)>, meta: Vec<SampleMeta>) -> Self {
        let origins = Origins::of(&meta);
        TensorBatch { fields, meta, origins }
    }

    /// The field `name`, or an error naming the fields there are.
    pub fn get(&self, name: &str) -> Result<&Tensor, TrainingError> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, t)| t).ok_or_else(|| {
            TrainingError::Batch(format!(
                "no field '{name}' in the batch (it has {})",
                self.fields.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", ")
            ))
        })
    }

    /// Replaces (or adds) field `name`.
    pub fn set(&mut self, name: &str, t: Tensor) {
        match self.fields.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = t,
            None => self.fields.push((name.to_string(), t)),
        }
    }

    /// Number of examples.
    pub fn len(&self) -> usize {
        self.meta.len()
    }

    /// Whether there is no example.
    pub fn is_empty(&self) -> bool {
        self.meta.is_empty()
    }
}

/// What a training step gives the loop.
#[derive(Debug)]
pub struct StepOutput {
    /// The mean loss to backpropagate (a scalar).
    pub loss: Tensor,
    /// Per-example hits in [0, 1] (the train accuracy the progress bar shows), detached.
    pub hits: Tensor,
}

/// Pictures of one example for people to look at (a row of a contact sheet): for colourisation
/// the grey input, the prediction and the original; for inpainting the masked input, the
/// reconstruction and the original.
#[derive(Debug, Clone, PartialEq)]
pub struct PictureRow {
    /// What the row shows (the example's file and time).
    pub label: String,
    /// The pictures left to right, each with a caption ("input", "prediction", "original").
    pub pictures: Vec<(String, crate::viz::RgbImage)>,
}

/// Per-example embeddings of a batch (what `pretext embed` writes).
#[derive(Debug)]
pub struct Embeddings {
    /// `[B, E]` from the vision side.
    pub vision: Tensor,
    /// `[B, E]` from the audio side, for audio-visual tasks.
    pub audio: Option<Tensor>,
}

/// Localisation maps: where in each frame the sound comes from.
pub trait Localize {
    /// `[B, h, w]` maps (values in [-1, 1] for cosines, [0, 1] for probabilities; see
    /// [`Localize::map_is_probability`]), in eval mode.
    fn maps(&self, batch: &TensorBatch) -> Result<Tensor, TrainingError>;
    /// Whether [`Localize::maps`] gives probabilities rather than cosines.
    fn map_is_probability(&self) -> bool;
}

/// A task's model: the shared trunk plus the task's heads, objectives and scores.
pub trait TaskModel: std::fmt::Debug {
    /// Train-mode forward: the loss to backpropagate and per-example hits.
    fn train_step(&self, batch: &TensorBatch) -> Result<StepOutput, TrainingError>;

    /// Eval-mode forward (the caller holds `no_grad`): the batch's loss and what the task's
    /// metrics read.
    fn evaluate(&self, batch: &TensorBatch) -> Result<Scored, TrainingError>;

    /// The task's logits in eval mode, as its evaluation objective reads them (what a PyTorch
    /// re-implementation is checked against).
    fn logits(&self, batch: &TensorBatch) -> Result<Tensor, TrainingError>;

    /// The shared trunk (every stage of each tower).
    fn trunk(&self) -> &Trunk;

    /// Per-example embeddings in eval mode.
    fn embed(&self, batch: &TensorBatch) -> Result<Embeddings, TrainingError>;

    /// The task's localisation maps, when it has them.
    fn localizer(&self) -> Option<&dyn Localize> {
        None
    }

    /// Sets the task's own display of a map's scoring (e.g. the AVOL head's σ map instead of
    /// the cosine); `false` when the task has no such choice.
    fn set_map_score(&mut self, head: bool) -> bool {
        let _ = head;
        false
    }

    /// Pictures of a batch's examples in eval mode (the caller holds `no_grad`), one row each,
    /// for tasks whose output is an image (`pretext eval task` lays them out as a contact sheet).
    /// The default, for tasks whose output is a class, is none.
    fn pictures(&self, batch: &TensorBatch) -> Result<Vec<PictureRow>, TrainingError> {
        let _ = batch;
        Ok(Vec::new())
    }
}

/// Mean cross-entropy of `[N, C]` logits against int64 targets `[N]`, in f32.
pub fn cross_entropy(logits: &Tensor, targets: &Tensor) -> Result<Tensor, TrainingError> {
    Ok(logits.f_to_kind(Kind::Float)?.f_log_softmax(-1, Kind::Float)?.f_nll_loss::<Tensor>(
        targets,
        None,
        tch::Reduction::Mean,
        -100,
    )?)
}

/// Per-row hits `[N]` (f32): argmax of `[N, C]` logits equals the target.
pub fn argmax_hits(logits: &Tensor, targets: &Tensor) -> Result<Tensor, TrainingError> {
    Ok(logits.f_argmax(-1, false)?.f_eq_tensor(targets)?.f_to_kind(Kind::Float)?)
}

/// [`Scored`] of a classifier: `[N, C]` logits against `[N]` targets, one row per example
/// (`kinds` from the metadata), hits the argmax hits.
pub fn classifier_scores(
    logits: &Tensor,
    targets: &Tensor,
    meta: &[SampleMeta],
) -> Result<Scored, TrainingError> {
    let n = meta.len();
    let loss = cross_entropy(logits, targets)?.f_double_value(&[])?;
    let classes = logits.size().last().copied().unwrap_or(0) as usize;
    let probs = logits.f_softmax(-1, Kind::Float)?.f_to(Device::Cpu)?.f_contiguous()?;
    let probs = Vec::<f32>::try_from(probs.f_flatten(0, -1)?)?;
    let targets_v = Vec::<i64>::try_from(targets.f_to(Device::Cpu)?.f_flatten(0, -1)?)?;
    let hits = Vec::<f32>::try_from(argmax_hits(logits, targets)?.f_to(Device::Cpu)?)?;
    let rows = targets_v.len();
    // Rows per example (e.g. four rotations of one frame).
    let per = rows.checked_div(n).unwrap_or(1).max(1);
    let s = Scored {
        loss,
        examples: n,
        classes,
        probs,
        kinds: (0..rows).map(|r| row_kind(meta, r / per, per, targets_v[r])).collect(),
        rows_example: (0..rows).map(|r| r / per).collect(),
        targets: targets_v,
        hits,
        values: Default::default(),
    };
    s.check().map_err(TrainingError::Batch)?;
    Ok(s)
}

/// The kind of a row of example `i` with target `target`: the example's kind, or, when an
/// example has several rows (one per target, such as four rotations), the row's class.
fn row_kind(meta: &[SampleMeta], i: usize, per: usize, target: i64) -> String {
    match meta.get(i) {
        Some(m) if per == 1 => m.kind.clone(),
        _ => format!("class {target}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::BatchField;

    #[test]
    fn tensor_batches_carry_fields_groups_and_times() {
        let meta = |file: &str, v: Vec<f64>, a: Option<f64>| SampleMeta {
            file: file.into(),
            video_times: v,
            audio_time: a,
            label: 1,
            kind: "positive".into(),
            ..Default::default()
        };
        let b = Batch {
            fields: vec![
                BatchField {
                    name: "frames".into(),
                    shape: vec![3, 1],
                    values: Values::F32(vec![0.0; 3]),
                },
                BatchField {
                    name: "label".into(),
                    shape: vec![3],
                    values: Values::I64(vec![1, 0, 1]),
                },
            ],
            meta: vec![
                meta("a.mp4", vec![0.8, 1.0, 1.2], Some(0.5)),
                meta("b.mp4", vec![2.0], Some(1.5)),
                meta("a.mp4", vec![], None),
            ],
        };
        let tb = TensorBatch::from_batch(&b, Device::Cpu).unwrap();
        assert_eq!(tb.origins.groups, vec![0, 1, 0]);
        assert!((tb.origins.times[0].0 - 1.0).abs() < 1e-12 && tb.origins.times[0].1 == 0.5);
        assert_eq!(tb.origins.times[1], (2.0, 1.5));
        assert!(tb.origins.times[2].0.is_nan() && tb.origins.times[2].1.is_nan());
        assert_eq!(tb.get("label").unwrap().kind(), Kind::Int64);
        assert_eq!(tb.get("frames").unwrap().size(), vec![3, 1]);
        assert!(tb.get("spec").unwrap_err().to_string().contains("frames, label"));
        let mut bad = b.clone();
        bad.fields[0].shape = vec![2, 1];
        assert!(TensorBatch::from_batch(&bad, Device::Cpu).is_err());
    }

    #[test]
    fn classifier_scores_keep_rows_per_example() {
        // Two examples with four rows each (rotations): rows 0..4 belong to example 0.
        let logits = Tensor::eye(4, (Kind::Float, Device::Cpu)).repeat([2, 1]) * 5.0;
        let targets = Tensor::from_slice(&[0i64, 1, 2, 3, 0, 1, 2, 0]);
        let meta = vec![SampleMeta::default(), SampleMeta::default()];
        let s = classifier_scores(&logits, &targets, &meta).unwrap();
        assert_eq!((s.classes, s.rows(), s.examples), (4, 8, 2));
        assert_eq!(s.rows_example, vec![0, 0, 0, 0, 1, 1, 1, 1]);
        assert_eq!(s.hits, vec![1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.0]);
        assert_eq!(s.predicted(7), 3);
    }
}
