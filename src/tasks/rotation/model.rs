//! The rotation head on the shared vision trunk: the trunk's last feature map is reduced to
//! [`RotationNet::REDUCED`] channels by a 1×1 convolution and average-pooled to a 4×4 grid (which
//! way is up is a question about *where* things are, so the layout is kept), then an MLP gives
//! the 4-way logits. Every rotated copy of an example goes through the trunk as its own image.
//! VarStore paths: `trunk.vision.*` and `heads.rotation.{reduce,fc1,fc2}`.

use tch::{nn, nn::ModuleT, Tensor};

use crate::models::{ModelConfig, ModelError, Trunk, TrunkNeeds};
use crate::training::{
    argmax_hits, classifier_scores, cross_entropy, Accuracy, BalancedAccuracy, ByKind, Embeddings,
    MetricSet, Scored, StepOutput, TaskModel, TensorBatch, TrainingError,
};

/// RotNet on the shared trunk.
#[derive(Debug)]
pub struct RotationNet {
    trunk: Trunk,
    reduce: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl RotationNet {
    /// Channels the feature map is reduced to.
    pub const REDUCED: i64 = 32;
    /// Side of the pooled grid.
    pub const GRID: i64 = 4;

    /// Builds the model under `p` (the VarStore root).
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Result<Self, ModelError> {
        cfg.validate().map_err(ModelError::Config)?;
        let trunk = Trunk::new(p, cfg, TrunkNeeds { vision_channels: Some(3), audio: false });
        let c = trunk.vision()?.out_channels();
        let hp = p.sub("heads").sub("rotation");
        let reduce = nn::conv2d(hp.sub("reduce"), c, Self::REDUCED, 1, Default::default());
        let flat = Self::REDUCED * Self::GRID * Self::GRID;
        let fc1 = nn::linear(hp.sub("fc1"), flat, cfg.head.hidden, Default::default());
        let fc2 = nn::linear(hp.sub("fc2"), cfg.head.hidden, 4, Default::default());
        Ok(RotationNet { trunk, reduce, fc1, fc2 })
    }

    /// `[N, 4]` logits of single images `[N, 3, H, W]`.
    pub fn forward_t(&self, images: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        let map = self.trunk.vision()?.feature_map(images, train);
        let x = map.apply(&self.reduce).relu().adaptive_avg_pool2d([Self::GRID, Self::GRID]);
        Ok(x.flatten(1, -1).apply(&self.fc1).relu().apply(&self.fc2))
    }

    /// The batch's images as `[N, 3, H, W]` and targets as `[N]`: four copies per example are
    /// folded into the batch.
    fn images(b: &TensorBatch) -> Result<(Tensor, Tensor), TrainingError> {
        let frames = b.get("frames")?;
        let labels = b.get("label")?;
        let s = frames.size();
        let images = match s.as_slice() {
            [_, 3, _, _] => frames.shallow_clone(),
            [n, k, 3, h, w] => frames.f_reshape([n * k, 3, *h, *w])?,
            _ => {
                return Err(TrainingError::Batch(format!(
                    "rotation frames: expected [B, 3, H, W] or [B, 4, 3, H, W], got {s:?}"
                )))
            }
        };
        Ok((images, labels.f_flatten(0, -1)?))
    }
}

/// The rotation metrics: 4-way accuracy first.
pub fn metrics() -> MetricSet {
    MetricSet::new(
        Box::new(Accuracy::default()),
        vec![Box::new(BalancedAccuracy::default()), Box::new(ByKind::default())],
    )
}

impl TaskModel for RotationNet {
    fn train_step(&self, b: &TensorBatch) -> Result<StepOutput, TrainingError> {
        let (images, targets) = Self::images(b)?;
        let logits = self.forward_t(&images, true)?;
        Ok(StepOutput {
            loss: cross_entropy(&logits, &targets)?,
            hits: argmax_hits(&logits.f_detach()?, &targets)?,
        })
    }

    fn evaluate(&self, b: &TensorBatch) -> Result<Scored, TrainingError> {
        let (images, targets) = Self::images(b)?;
        classifier_scores(&self.forward_t(&images, false)?, &targets, &b.meta)
    }

    fn logits(&self, b: &TensorBatch) -> Result<Tensor, TrainingError> {
        Ok(self.forward_t(&Self::images(b)?.0, false)?)
    }

    fn trunk(&self) -> &Trunk {
        &self.trunk
    }

    /// The upright copy's vision embedding.
    fn embed(&self, b: &TensorBatch) -> Result<Embeddings, TrainingError> {
        let frames = b.get("frames")?;
        let upright =
            if frames.dim() == 5 { frames.f_select(1, 0)? } else { frames.shallow_clone() };
        Ok(Embeddings { vision: self.trunk.vision()?.forward_t(&upright, false), audio: None })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use crate::training::Trainer;

    /// The task learns which way is up on toy frames (a bright bar on top): the overfit test of
    /// the rotation head, and a check that accuracy counts all four classes.
    #[test]
    fn rotation_learns_which_way_is_up_on_toy_frames() {
        let (task, mut run, mut toy) =
            crate::tasks::trainer_contract::tiny_run("rotation", &[], 40);
        run.model.vision.channels = vec![8, 16];
        run.model.head.hidden = 16;
        (run.train.lr, run.train.warmup_steps, run.train.val_batches) = (3e-3, 2, 4);
        toy.val_examples = 32;
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::new(dir.path(), run, &task).unwrap();
        let before = t.validate(&toy).unwrap();
        assert_eq!(before.metric_name, "accuracy");
        // 32 examples × 4 copies scored, a quarter of each class.
        let kinds = &before.details["by_kind"];
        assert_eq!(kinds["class 2"]["n"].as_u64(), Some(32));
        let never = AtomicBool::new(false);
        let out = t.run(&toy, &never, &mut |_| {}).unwrap();
        let after = out.last_val.unwrap();
        assert!(after.metric >= 0.95, "rotation accuracy {} -> {}", before.metric, after.metric);
    }
}
