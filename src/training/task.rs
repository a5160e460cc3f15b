//! The task plug-in point of the one training loop: a task is a model that turns a batch into
//! logits ([`TaskModel`]), the [`Objective`] that reads them (a 2-way classification against the
//! batch labels, or an in-batch contrastive loss whose targets are the diagonal) and the metric
//! that ranks checkpoints. Adding a pretext task means adding a head (in `models`), a sampler (in
//! the pipeline) and at most an objective here, not a new loop.

use tch::{nn, Device, Kind, Tensor};

use super::{TaskKind, TrainingError};
use crate::models::{AvcNet, FrameOrderNet, ModelConfig};
use crate::pipeline::Batch;
use crate::tasks::localize;

/// A batch moved to the training device.
#[derive(Debug)]
pub struct TensorBatch {
    /// Frames, shaped as the pipeline gave them.
    pub frames: Tensor,
    /// Spectrograms `[B, 1, F, T]`, when the task has audio.
    pub specs: Option<Tensor>,
    /// Labels `[B]` (int64).
    pub labels: Tensor,
}

fn tensor_of(
    data: &[f32],
    shape: &[usize],
    what: &str,
    device: Device,
) -> Result<Tensor, TrainingError> {
    let n: usize = shape.iter().product();
    if n != data.len() || shape.is_empty() {
        return Err(TrainingError::Batch(format!(
            "{what}: shape {shape:?} holds {n} values but the buffer has {}",
            data.len()
        )));
    }
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    Ok(Tensor::from_slice(data).f_view(dims.as_slice())?.f_to(device)?)
}

impl TensorBatch {
    /// Copies a pipeline batch onto `device`, checking that buffers and shapes agree.
    pub fn from_batch(b: &Batch, device: Device) -> Result<Self, TrainingError> {
        if b.frame_shape.first() != Some(&b.len()) {
            return Err(TrainingError::Batch(format!(
                "frames shape {:?} does not start with the batch size {}",
                b.frame_shape,
                b.len()
            )));
        }
        let frames = tensor_of(&b.frames, &b.frame_shape, "frames", device)?;
        let specs = if b.spec_shape.is_empty() {
            None
        } else {
            Some(tensor_of(&b.specs, &b.spec_shape, "spectrograms", device)?)
        };
        let labels = Tensor::from_slice(&b.labels).f_to(device)?;
        Ok(TensorBatch { frames, specs, labels })
    }
}

/// How the loop turns a model's logits into a loss, an accuracy and validation scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// `[B, 2]` logits, cross-entropy against the batch labels.
    Classification,
    /// `[B, B]` logits of every frame with every audio window of the batch (all matching pairs),
    /// symmetric cross-entropy against the diagonal; accuracy is in-batch retrieval.
    InBatchContrastive,
}

impl Objective {
    /// The mean loss of a batch.
    pub fn loss(self, logits: &Tensor, labels: &Tensor) -> Result<Tensor, TrainingError> {
        match self {
            Objective::Classification => loss_of(logits, labels),
            Objective::InBatchContrastive => Ok(localize::symmetric_cross_entropy(logits)?),
        }
    }

    /// Per-example hits `[B]` (f32): argmax = label, or in-batch retrieval hits (frame → audio
    /// and audio → frame, averaged).
    pub fn hits(self, logits: &Tensor, labels: &Tensor) -> Result<Tensor, TrainingError> {
        Ok(match self {
            Objective::Classification => {
                logits.f_argmax(-1, false)?.f_eq_tensor(labels)?.f_to_kind(Kind::Float)?
            }
            Objective::InBatchContrastive => localize::retrieval_hits(logits)?,
        })
    }
}

/// A network trained by the loop.
pub trait TaskModel {
    /// Logits for the batch, shaped as [`TaskModel::objective`] reads them.
    fn logits(&self, batch: &TensorBatch, train: bool) -> Result<Tensor, TrainingError>;

    /// How the logits are trained and scored.
    fn objective(&self) -> Objective {
        Objective::Classification
    }
}

/// The contrastive localisation model: the AVC network (any head; the CLI picks the
/// parameter-free cosine head so `pretext localize` reads the same cosine map) trained with
/// EZ-VSL's in-batch objective on its per-location vision map and audio embedding.
#[derive(Debug)]
pub struct ContrastiveLocalizer {
    net: AvcNet,
}

impl ContrastiveLocalizer {
    /// Builds the network under `p` (same variables as [`AvcNet`], so the localisation tools
    /// load its checkpoints as an AVC model).
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Result<Self, TrainingError> {
        Ok(ContrastiveLocalizer { net: AvcNet::new(p, cfg)? })
    }
}

impl TaskModel for ContrastiveLocalizer {
    fn logits(&self, batch: &TensorBatch, train: bool) -> Result<Tensor, TrainingError> {
        let specs = batch.specs.as_ref().ok_or_else(|| {
            TrainingError::Batch("the localisation task needs spectrograms".into())
        })?;
        let (vmap, a) = self.net.maps_t(&batch.frames, specs, train)?;
        Ok(localize::contrastive_logits(&vmap, &a, self.net.temperature())?)
    }

    fn objective(&self) -> Objective {
        Objective::InBatchContrastive
    }
}

impl TaskModel for AvcNet {
    fn logits(&self, batch: &TensorBatch, train: bool) -> Result<Tensor, TrainingError> {
        let specs = batch
            .specs
            .as_ref()
            .ok_or_else(|| TrainingError::Batch("the AVC task needs spectrograms".into()))?;
        Ok(self.forward_t(&batch.frames, specs, train)?)
    }
}

impl TaskModel for FrameOrderNet {
    fn logits(&self, batch: &TensorBatch, train: bool) -> Result<Tensor, TrainingError> {
        Ok(self.forward_t(&batch.frames, train)?)
    }
}

/// Builds the task's model under `p`.
pub fn build_model(
    task: TaskKind,
    p: &nn::Path,
    cfg: &ModelConfig,
) -> Result<Box<dyn TaskModel>, TrainingError> {
    Ok(match task {
        TaskKind::Avc => Box::new(AvcNet::new(p, cfg)?),
        TaskKind::FrameOrder => Box::new(FrameOrderNet::new(p, cfg)?),
        TaskKind::LocalizeContrastive => Box::new(ContrastiveLocalizer::new(p, cfg)?),
    })
}

impl TaskKind {
    /// The metric that ranks checkpoints ("best") and is shown in the progress bar.
    pub fn metric_name(self) -> &'static str {
        match self {
            TaskKind::Avc => "accuracy",
            // 25% positives: plain accuracy of "always shuffled" would be 0.75.
            TaskKind::FrameOrder => "balanced_accuracy",
            // Top-1 in-batch retrieval, frame → audio and audio → frame averaged.
            TaskKind::LocalizeContrastive => "retrieval_accuracy",
        }
    }
}

/// Mean cross-entropy of `[B, 2]` logits against int64 labels, in f32.
pub fn loss_of(logits: &Tensor, labels: &Tensor) -> Result<Tensor, TrainingError> {
    Ok(logits.f_to_kind(Kind::Float)?.f_log_softmax(-1, Kind::Float)?.f_nll_loss::<Tensor>(
        labels,
        None,
        tch::Reduction::Mean,
        -100,
    )?)
}
