//! AVOL-Net-style per-location head: the vision feature map is kept (the tower's embedding
//! projection applied at each location, no normalisation), each location's dot product with the
//! audio embedding (scaled by 1/√E) goes through a learned scalar calibration (the 1×1 conv of
//! the paper), and the clip decision is the max over locations (multiple-instance learning).
//! The calibrated map before the max is the head's own localisation map. With `normalize`
//! (`head.normalize = true`) the per-location similarity is the cosine instead of the scaled
//! dot product, so training shapes the same direction-only map the localisation tools score
//! (`MapScore::Cosine`); the calibration then starts at a scale of 10 (a temperature of 0.1),
//! because a unit scale on values in [-1, 1] would keep every logit near 0. `head.pool = "lse"`
//! replaces the max by the log-mean-exp of the calibrated logits, which passes gradient to every
//! location in proportion to its softmax weight instead of to the arg-max alone (the max trains
//! one cell per pair, which leaves the rest of a large object unshaped). VarStore paths:
//! `calib_w`, `calib_b`.

use tch::{nn, Kind, Tensor};

use super::MapPool;

/// Per-location similarity head.
#[derive(Debug)]
pub struct AvolHead {
    calib_w: Tensor,
    calib_b: Tensor,
    normalize: bool,
    pool: MapPool,
}

/// Initial calibration scale of the cosine (normalised) variant.
const COSINE_SCALE: f64 = 10.0;

impl AvolHead {
    /// Builds the head; `normalize` compares directions (cosine) instead of dot products, `pool`
    /// turns the map into the clip logit.
    pub fn new(p: &nn::Path, normalize: bool, pool: MapPool) -> Self {
        let scale = if normalize { COSINE_SCALE } else { 1.0 };
        AvolHead {
            calib_w: p.var("calib_w", &[1], nn::Init::Const(scale)),
            calib_b: p.var("calib_b", &[1], nn::Init::Const(0.0)),
            normalize,
            pool,
        }
    }

    /// The clip logit from calibrated per-location logits, pooled over `dims`.
    fn pool(&self, z: &Tensor, dims: &[i64]) -> Tensor {
        match self.pool {
            MapPool::Max => z.amax(dims, false),
            MapPool::Lse => {
                let n: i64 = dims.iter().map(|&d| z.size()[d as usize]).product();
                z.logsumexp(dims, false) - (n.max(1) as f64).ln()
            }
        }
    }

    /// Per-location logits `[B, h, w]` from a vision embedding map `[B, E, h, w]` and the audio
    /// embedding `[B, E]`.
    pub fn logit_map(&self, vmap: &Tensor, a: &Tensor) -> Tensor {
        let sim = if self.normalize {
            let a = super::l2_normalize(a).unsqueeze(-1).unsqueeze(-1);
            (super::l2_normalize(vmap) * a).sum_dim_intlist([1i64].as_slice(), false, Kind::Float)
        } else {
            let e = vmap.size().get(1).copied().unwrap_or(1).max(1);
            let a = a.unsqueeze(-1).unsqueeze(-1);
            (vmap * a).sum_dim_intlist([1i64].as_slice(), false, Kind::Float) / (e as f64).sqrt()
        };
        sim * &self.calib_w + &self.calib_b
    }

    /// Clip-level logits of every frame with every audio window, `[B·B, 2]`, row `i·B + j`
    /// pairing frame `i` with audio `j`: the values [`Self::forward`] gives on the expanded rows,
    /// computed as one matrix product (`[B, h·w, E] × [E, B]`) instead of materialising B²
    /// copies of the map (the in-batch objective's cost was the head, not the towers).
    pub fn all_pairs(&self, vmap: &Tensor, a: &Tensor) -> Tensor {
        let (v, a) = if self.normalize {
            (super::l2_normalize(vmap), super::l2_normalize(a))
        } else {
            let e = vmap.size().get(1).copied().unwrap_or(1).max(1);
            (vmap.shallow_clone(), a / (e as f64).sqrt())
        };
        // [B, E, h, w] → [B, h·w, E]; × [E, B] → [B, h·w, B]; max over locations → [B, B].
        let sim = v.flatten(2, -1).transpose(1, 2).matmul(&a.transpose(0, 1));
        let z = self.pool(&(sim * &self.calib_w + &self.calib_b), &[1]).reshape([-1, 1]);
        Tensor::cat(&[z.zeros_like(), z], 1)
    }

    /// Clip-level `[B, 2]` logits: `[0, max_location z]`, so softmax gives `σ(z)` for class 1.
    pub fn forward(&self, vmap: &Tensor, a: &Tensor) -> Tensor {
        let z = self.pool(&self.logit_map(vmap, a), &[1, 2]).unsqueeze(1);
        Tensor::cat(&[z.zeros_like(), z], 1)
    }
}
