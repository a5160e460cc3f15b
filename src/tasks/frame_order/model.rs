//! Shuffle & Learn triplet Siamese: one shared vision tower reads each of the three frames, the
//! three feature maps are compared *location by location*, and a small head says whether the
//! order is right (class 1) or shuffled (class 0).
//!
//! Order is a question about *where* things are in each frame (is the middle frame's object
//! between the outer two?). The AVC tower's globally pooled embedding throws position away (and
//! left this task at chance on the synthetic world), so this head keeps the layout: each
//! frame's last feature map is reduced to [`FrameOrderNet::REDUCED`] channels by a 1×1
//! convolution, the three reduced maps are stacked along channels in tuple order, and two 3×3
//! convolutions look at the same neighbourhood in all three frames at once, which is where
//! "b, then c, then d" shows. Max- and average-pooling over locations then give a fixed-size
//! vector for the MLP. (Shuffle & Learn concatenates fc7 features of an AlexNet whose fc layers
//! see the spatial conv5 map; comparing maps with shared local filters needs far fewer examples
//! than an MLP on flattened maps, which matters for a 10-minute CPU budget.)
//!
//! VarStore paths: `trunk.vision.*` (the shared trunk's vision tower, so the learned trunk
//! transfers; the tower's own `trunk.vision.proj` is unused here), `heads.frame-order.reduce`,
//! `.fuse1`, `.fuse2`, `.fc1`, `.fc2`.

use tch::{nn, Device, Tensor};

use crate::models::{ModelConfig, ModelError, Tower, Trunk, TrunkNeeds};
use crate::training::{
    argmax_hits, classifier_scores, cross_entropy, Accuracy, BalancedAccuracy, ByKind, Embeddings,
    MetricSet, RocAuc, Scored, StepOutput, TaskModel, TensorBatch, TrainingError,
};

/// Triplet Siamese frame-order model.
#[derive(Debug)]
pub struct FrameOrderNet {
    trunk: Trunk,
    reduce: nn::Conv2D,
    fuse1: nn::Conv2D,
    fuse2: nn::Conv2D,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl FrameOrderNet {
    /// Frames per example.
    pub const FRAMES: i64 = 3;
    /// Channels each frame's feature map is reduced to before the three are stacked.
    pub const REDUCED: i64 = 16;
    /// Channels of the fusion convolutions.
    pub const FUSED: i64 = 64;

    /// Builds the model under `p` (the VarStore root). The vision tower reads single frames
    /// (`input.frames` is ignored: the tuple is the input).
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Result<Self, ModelError> {
        cfg.validate().map_err(ModelError::Config)?;
        let trunk = Trunk::new(p, cfg, TrunkNeeds { vision_channels: Some(3), audio: false });
        let vision = trunk.vision()?;
        let hp = p.sub("heads").sub("frame-order");
        let reduce = nn::conv2d(
            hp.sub("reduce"),
            vision.out_channels(),
            Self::REDUCED,
            1,
            Default::default(),
        );
        let pad = nn::ConvConfig { padding: 1, ..Default::default() };
        let fuse1 = nn::conv2d(hp.sub("fuse1"), Self::FRAMES * Self::REDUCED, Self::FUSED, 3, pad);
        let fuse2 = nn::conv2d(hp.sub("fuse2"), Self::FUSED, Self::FUSED, 3, pad);
        let fc1 = nn::linear(hp.sub("fc1"), 2 * Self::FUSED, cfg.head.hidden, Default::default());
        let fc2 = nn::linear(hp.sub("fc2"), cfg.head.hidden, 2, Default::default());
        Ok(FrameOrderNet { trunk, reduce, fuse1, fuse2, fc1, fc2 })
    }

    /// `[B, 3, 3, H, W]` tuples → `[B, 2]` logits.
    pub fn forward_t(&self, frames: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        let s = frames.size();
        let (b, h, w) = match s.as_slice() {
            [b, k, 3, h, w] if *k == Self::FRAMES => (*b, *h, *w),
            _ => {
                return Err(ModelError::Shape {
                    what: "frame tuples",
                    expected: "[B, 3, 3, H, W]".into(),
                    got: s,
                })
            }
        };
        let maps = self.reduced_maps(&frames.reshape([b * Self::FRAMES, 3, h, w]), train)?;
        let ms = maps.size();
        // [B·3, R, h, w] → [B, 3·R, h, w], frames in tuple order.
        let stacked = maps.reshape([b, Self::FRAMES * Self::REDUCED, ms[2], ms[3]]);
        let x = stacked.apply(&self.fuse1).relu().apply(&self.fuse2).relu();
        let pooled =
            Tensor::cat(&[x.amax([2, 3], false), x.mean_dim([2i64, 3].as_slice(), false, None)], 1);
        Ok(pooled.apply(&self.fc1).relu().apply(&self.fc2))
    }

    fn vision(&self) -> Result<&Tower, ModelError> {
        self.trunk.vision()
    }

    /// Per-frame reduced feature maps `[N, R, h, w]` of single frames `[N, 3, H, W]`.
    fn reduced_maps(&self, frames: &Tensor, train: bool) -> Result<Tensor, ModelError> {
        Ok(self.vision()?.feature_map(frames, train).apply(&self.reduce).relu())
    }

    /// Per-frame descriptors `[N, R·4]` of single frames `[N, 3, H, W]` in eval mode: the
    /// reduced map the order head compares, average-pooled to a 2×2 grid (coarse layout kept).
    pub fn embed_frames(&self, frames: &Tensor) -> Result<Tensor, ModelError> {
        Ok(self.reduced_maps(frames, false)?.adaptive_avg_pool2d([2, 2]).flatten(1, -1))
    }
}

/// The frame-order metrics: balanced accuracy first (a quarter of the validation tuples are
/// ordered, so "always shuffled" would score 0.75 plain accuracy).
pub fn metrics() -> MetricSet {
    MetricSet::new(
        Box::new(BalancedAccuracy::default()),
        vec![
            Box::new(Accuracy::default()),
            Box::new(RocAuc::default()),
            Box::new(ByKind::default()),
        ],
    )
}

impl TaskModel for FrameOrderNet {
    fn train_step(&self, b: &TensorBatch) -> Result<StepOutput, TrainingError> {
        let logits = self.forward_t(b.get("frames")?, true)?;
        let labels = b.get("label")?;
        Ok(StepOutput {
            loss: cross_entropy(&logits, labels)?,
            hits: argmax_hits(&logits.f_detach()?, labels)?,
        })
    }

    fn evaluate(&self, b: &TensorBatch) -> Result<Scored, TrainingError> {
        let logits = self.forward_t(b.get("frames")?, false)?;
        classifier_scores(&logits, b.get("label")?, &b.meta)
    }

    fn logits(&self, b: &TensorBatch) -> Result<Tensor, TrainingError> {
        Ok(self.forward_t(b.get("frames")?, false)?)
    }

    fn trunk(&self) -> &Trunk {
        &self.trunk
    }

    /// The middle frame's descriptor (the tuple's c).
    fn embed(&self, b: &TensorBatch) -> Result<Embeddings, TrainingError> {
        let frames = b.get("frames")?;
        let middle = frames.f_select(1, 1)?;
        Ok(Embeddings { vision: self.embed_frames(&middle)?.f_to(Device::Cpu)?, audio: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{HeadConfig, TowerConfig};
    use tch::{Kind, Tensor};

    fn tiny() -> ModelConfig {
        let tower = TowerConfig { channels: vec![4, 8, 8, 8], ..Default::default() };
        ModelConfig {
            vision: tower.clone(),
            audio: tower,
            head: HeadConfig { embedding: 16, hidden: 8, ..Default::default() },
            ..Default::default()
        }
    }

    #[test]
    fn frame_order_net_shapes_and_shared_paths() {
        let vs = nn::VarStore::new(Device::Cpu);
        let net = FrameOrderNet::new(&vs.root(), &tiny()).unwrap();
        let frames = Tensor::randn([4, 3, 3, 32, 32], (Kind::Float, Device::Cpu));
        assert_eq!(net.forward_t(&frames, true).unwrap().size(), vec![4, 2]);
        let names = vs.variables();
        assert!(names.contains_key("trunk.vision.block0.conv0.weight"));
        assert!(names.contains_key("heads.frame-order.fc2.bias"));
        // The AVC model's vision tower has the same names, so weights transfer.
        let vs2 = nn::VarStore::new(Device::Cpu);
        let _ = crate::tasks::avc::AvcNet::new(&vs2.root(), &tiny()).unwrap();
        for name in names.keys().filter(|n| n.starts_with("trunk.vision.")) {
            assert!(vs2.variables().contains_key(name), "{name}");
        }
    }
}
