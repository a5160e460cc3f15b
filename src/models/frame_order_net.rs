//! Shuffle & Learn triplet Siamese: one shared vision tower embeds each of the three frames,
//! the embeddings are concatenated in order, and an MLP says whether the order is right
//! (class 1) or shuffled (class 0). VarStore paths: `vision.*` (same layout as the AVC model's
//! vision tower, so the learned tower transfers), `order_head.fc1`, `order_head.fc2`.

use tch::{nn, nn::ModuleT, Tensor};

use super::{ModelConfig, ModelError, Tower};

/// Triplet Siamese frame-order model.
#[derive(Debug)]
pub struct FrameOrderNet {
    vision: Tower,
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl FrameOrderNet {
    /// Frames per example.
    pub const FRAMES: i64 = 3;

    /// Builds the model under `p`. The vision tower reads single frames (`input.frames` is
    /// ignored: the tuple is the input).
    pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Result<Self, ModelError> {
        cfg.validate().map_err(ModelError::Config)?;
        let emb = cfg.head.embedding;
        let vision = Tower::new(&p.sub("vision"), &cfg.vision, 3, emb);
        let hp = p.sub("order_head");
        let fc1 =
            nn::linear(hp.sub("fc1"), Self::FRAMES * emb, cfg.head.hidden, Default::default());
        let fc2 = nn::linear(hp.sub("fc2"), cfg.head.hidden, 2, Default::default());
        Ok(FrameOrderNet { vision, fc1, fc2 })
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
        let e = self.vision.forward_t(&frames.reshape([b * Self::FRAMES, 3, h, w]), train);
        let e = e.reshape([b, -1]);
        Ok(e.apply(&self.fc1).relu().apply(&self.fc2))
    }

    /// Per-frame embeddings `[N, E]` of single frames `[N, 3, H, W]` in eval mode.
    pub fn embed_frames(&self, frames: &Tensor) -> Tensor {
        self.vision.forward_t(frames, false)
    }
}
