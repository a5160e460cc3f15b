//! AVOL-Net-style per-location head: the vision feature map is kept (the tower's embedding
//! projection applied at each location, no normalisation), each location's dot product with the
//! audio embedding (scaled by 1/√E) goes through a learned scalar calibration (the 1×1 conv of
//! the paper), and the clip decision is the max over locations (multiple-instance learning).
//! The calibrated map before the max is the localisation map. VarStore paths: `calib_w`,
//! `calib_b`.

use tch::{nn, Kind, Tensor};

/// Per-location similarity head.
#[derive(Debug)]
pub struct AvolHead {
    calib_w: Tensor,
    calib_b: Tensor,
}

impl AvolHead {
    /// Builds the head.
    pub fn new(p: &nn::Path) -> Self {
        AvolHead {
            calib_w: p.var("calib_w", &[1], nn::Init::Const(1.0)),
            calib_b: p.var("calib_b", &[1], nn::Init::Const(0.0)),
        }
    }

    /// Per-location logits `[B, h, w]` from a vision embedding map `[B, E, h, w]` and the audio
    /// embedding `[B, E]`.
    pub fn logit_map(&self, vmap: &Tensor, a: &Tensor) -> Tensor {
        let e = vmap.size().get(1).copied().unwrap_or(1).max(1);
        let a = a.unsqueeze(-1).unsqueeze(-1);
        let sim =
            (vmap * a).sum_dim_intlist([1i64].as_slice(), false, Kind::Float) / (e as f64).sqrt();
        sim * &self.calib_w + &self.calib_b
    }

    /// Clip-level `[B, 2]` logits: `[0, max_location z]`, so softmax gives `σ(z)` for class 1.
    pub fn forward(&self, vmap: &Tensor, a: &Tensor) -> Tensor {
        let z = self.logit_map(vmap, a).amax([1, 2], false).unsqueeze(1);
        Tensor::cat(&[z.zeros_like(), z], 1)
    }
}
