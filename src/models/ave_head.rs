//! AVE-Net head (Arandjelović & Zisserman 2018): both embeddings are L2-normalised, their
//! Euclidean distance (one number per pair) goes through a tiny FC(1 → 2). Because the decision
//! only sees the distance, the embeddings themselves become comparable across modalities
//! (retrieval). VarStore path: `fc`.

use tch::{nn, Kind, Tensor};

/// Distance-based head.
#[derive(Debug)]
pub struct AveHead {
    fc: nn::Linear,
}

/// L2-normalises rows of `[B, E]`.
pub fn l2_normalize(x: &Tensor) -> Tensor {
    let norm = x.norm_scalaropt_dim(2.0, [1i64].as_slice(), true).clamp_min(1e-8);
    x / norm
}

impl AveHead {
    /// Builds the head.
    pub fn new(p: &nn::Path) -> Self {
        AveHead { fc: nn::linear(p.sub("fc"), 1, 2, Default::default()) }
    }

    /// `[B, E]` × `[B, E]` → `[B, 2]` logits.
    pub fn forward(&self, v: &Tensor, a: &Tensor) -> Tensor {
        let d = (l2_normalize(v) - l2_normalize(a))
            .square()
            .sum_dim_intlist([1i64].as_slice(), true, Kind::Float)
            .clamp_min(1e-12)
            .sqrt();
        d.apply(&self.fc)
    }
}
