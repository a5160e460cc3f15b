//! L3-Net fusion head: concatenate the vision and audio embeddings, FC → ReLU → FC → 2 logits
//! (index 1 = "they correspond"). VarStore paths: `fc1`, `fc2`.

use tch::{nn, Tensor};

/// Concatenation fusion.
#[derive(Debug)]
pub struct L3Head {
    fc1: nn::Linear,
    fc2: nn::Linear,
}

impl L3Head {
    /// Builds the head for `emb`-dimensional embeddings and a `hidden`-wide layer.
    pub fn new(p: &nn::Path, emb: i64, hidden: i64) -> Self {
        L3Head {
            fc1: nn::linear(p.sub("fc1"), 2 * emb, hidden, Default::default()),
            fc2: nn::linear(p.sub("fc2"), hidden, 2, Default::default()),
        }
    }

    /// `[B, E]` × `[B, E]` → `[B, 2]` logits.
    pub fn forward(&self, v: &Tensor, a: &Tensor) -> Tensor {
        Tensor::cat(&[v, a], 1).apply(&self.fc1).relu().apply(&self.fc2)
    }
}
