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
//! VarStore paths: `vision.*` (same layout as the AVC model's vision tower, so the learned trunk
//! transfers; the tower's own `vision.proj` is unused here), `order_head.reduce`,
//! `order_head.fuse1`, `order_head.fuse2`, `order_head.fc1`, `order_head.fc2`.

use tch::{nn, Tensor};

use super::{ModelConfig, ModelError, Tower};

/// Triplet Siamese frame-order model.
#[derive(Debug)]
pub struct FrameOrderNet {
    vision: Tower,
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

    /// Builds the model under `p`. The vision tower reads single frames (`input.frames` is
    /// ignored: the tuple is the input).
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Result<Self, ModelError> {
        cfg.validate().map_err(ModelError::Config)?;
        let emb = cfg.head.embedding;
        let vision = Tower::new(&p.sub("vision"), &cfg.vision, 3, emb);
        let hp = p.sub("order_head");
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
        Ok(FrameOrderNet { vision, reduce, fuse1, fuse2, fc1, fc2 })
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
        let maps = self.reduced_maps(&frames.reshape([b * Self::FRAMES, 3, h, w]), train);
        let ms = maps.size();
        // [B·3, R, h, w] → [B, 3·R, h, w], frames in tuple order.
        let stacked = maps.reshape([b, Self::FRAMES * Self::REDUCED, ms[2], ms[3]]);
        let x = stacked.apply(&self.fuse1).relu().apply(&self.fuse2).relu();
        let pooled =
            Tensor::cat(&[x.amax([2, 3], false), x.mean_dim([2i64, 3].as_slice(), false, None)], 1);
        Ok(pooled.apply(&self.fc1).relu().apply(&self.fc2))
    }

    /// Per-frame reduced feature maps `[N, R, h, w]` of single frames `[N, 3, H, W]`.
    fn reduced_maps(&self, frames: &Tensor, train: bool) -> Tensor {
        self.vision.feature_map(frames, train).apply(&self.reduce).relu()
    }

    /// Per-frame descriptors `[N, R·4]` of single frames `[N, 3, H, W]` in eval mode: the
    /// reduced map the order head compares, average-pooled to a 2×2 grid (coarse layout kept).
    pub fn embed_frames(&self, frames: &Tensor) -> Tensor {
        self.reduced_maps(frames, false).adaptive_avg_pool2d([2, 2]).flatten(1, -1)
    }
}
