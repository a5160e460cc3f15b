//! The localisation task's contrastive objective (EZ-VSL, Mo & Morgado 2022): teaches a
//! per-location audio-visual similarity map to light up where the sound comes from, without
//! any box, from batches of matching (frame, audio) pairs only.
//!
//! The vision map `V: [B, D, h, w]` (no global pooling) and the audio embedding `A: [B, D]` are
//! L2-normalised over `D`; the batch similarity is `S[i, j] = max_loc ⟨V̂_i(loc), Â_j⟩ / τ`
//! ([`contrastive_logits`]) and the loss is the symmetric cross-entropy with the diagonal as
//! targets ([`symmetric_cross_entropy`]): every frame must pick its own sound among the batch's
//! and every sound its own frame. The localisation map is the per-location cosine, shown as
//! `(cos + 1)/2`.
//!
//! The other localisation objectives, AVOL-Net's multiple-instance correspondence (`mil`) and
//! its in-batch form, are the AVC objectives with the per-location head (`models::AvolHead`);
//! they need no code here. The temperature's default is [`crate::models::DEFAULT_TEMPERATURE`].
//!
//! All functions use `f_` ops so a shape mistake is an error, never a panic.

use tch::{Kind, Reduction, Tensor};

/// Similarity of every frame with every audio: `[B, D, h, w] × [C, D] → [B, C, h, w]`.
pub fn pairwise_similarity(vision: &Tensor, audio: &Tensor) -> Result<Tensor, tch::TchError> {
    Tensor::f_einsum("bdhw,cd->bchw", &[vision, audio], None::<i64>)
}

/// `x / ‖x‖₂` along `dim` (with a floor on the norm, so zeros stay finite).
pub fn l2_normalize(x: &Tensor, dim: i64) -> Result<Tensor, tch::TchError> {
    let norm = x.f_norm_scalaropt_dim(2.0, [dim], true)?.f_clamp_min(1e-12)?;
    x.f_div(&norm)
}

/// EZ-VSL's batch logits `S[i, j] = max_loc ⟨V̂_i(loc), Â_j⟩ / τ`, `[B, B]`: rows are frames,
/// columns audio windows.
pub fn contrastive_logits(
    vision: &Tensor,
    audio: &Tensor,
    temperature: f64,
) -> Result<Tensor, tch::TchError> {
    if !(temperature > 0.0 && temperature.is_finite()) {
        return Err(tch::TchError::Kind(format!(
            "temperature must be positive, got {temperature}"
        )));
    }
    let v = l2_normalize(vision, 1)?;
    let a = l2_normalize(audio, 1)?;
    pairwise_similarity(&v, &a)?.f_amax([2, 3], false)?.f_div_scalar(temperature)
}

/// Mean of the cross-entropies of `S` (frame → audio) and `Sᵀ` (audio → frame) against the
/// diagonal.
pub fn symmetric_cross_entropy(logits: &Tensor) -> Result<Tensor, tch::TchError> {
    let s = logits.f_to_kind(Kind::Float)?;
    let size = s.size();
    let b = match size.as_slice() {
        [r, c] if r == c && *r >= 1 => *r,
        _ => return Err(tch::TchError::Shape(format!("expected [B, B] logits, got {size:?}"))),
    };
    let targets = Tensor::f_arange(b, (Kind::Int64, s.device()))?;
    let ce = |x: &Tensor| {
        x.f_log_softmax(1, Kind::Float)?.f_nll_loss::<Tensor>(&targets, None, Reduction::Mean, -100)
    };
    ce(&s)?.f_add(&ce(&s.f_transpose(0, 1)?)?)?.f_mul_scalar(0.5)
}

/// In-batch retrieval hits per example, `[B]` in {0, 0.5, 1}: the mean of "frame i's best audio
/// is its own" and "audio i's best frame is its own". Chance is about 1/B.
pub fn retrieval_hits(logits: &Tensor) -> Result<Tensor, tch::TchError> {
    let b = logits.size().first().copied().unwrap_or(0);
    let targets = Tensor::f_arange(b, (Kind::Int64, logits.device()))?;
    let rows = logits.f_argmax(1, false)?.f_eq_tensor(&targets)?.f_to_kind(Kind::Float)?;
    let cols = logits.f_argmax(0, false)?.f_eq_tensor(&targets)?.f_to_kind(Kind::Float)?;
    rows.f_add(&cols)?.f_mul_scalar(0.5)
}

/// EZ-VSL's loss of a batch of matching pairs.
pub fn contrastive_loss(
    vision: &Tensor,
    audio: &Tensor,
    temperature: f64,
) -> Result<Tensor, tch::TchError> {
    symmetric_cross_entropy(&contrastive_logits(vision, audio, temperature)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{nn, Device};

    /// Vision maps whose location `k` of frame `k` carries audio `k`'s direction (one-hot).
    fn aligned(b: i64) -> (Tensor, Tensor) {
        let d = 4;
        let audio = Tensor::eye(d, (Kind::Float, Device::Cpu)).narrow(0, 0, b);
        let vision = Tensor::zeros([b, d, 2, 2], (Kind::Float, Device::Cpu)) - 1.0;
        for k in 0..b {
            // Frame k: location (k/2, k%2) equals audio k; elsewhere a constant off-direction.
            vision.get(k).select(2, k % 2).select(1, k / 2).copy_(&audio.get(k));
        }
        (vision, audio)
    }

    #[test]
    fn contrastive_loss_is_low_when_aligned_and_high_when_shuffled() {
        let (v, a) = aligned(4);
        let good = f64::try_from(contrastive_loss(&v, &a, 0.1).unwrap()).unwrap();
        let bad = f64::try_from(contrastive_loss(&v, &a.roll([1], [0]), 0.1).unwrap()).unwrap();
        assert!(good < 0.1, "{good}");
        assert!(bad > good + 1.0, "{bad} vs {good}");
        let hits = retrieval_hits(&contrastive_logits(&v, &a, 0.1).unwrap()).unwrap();
        assert_eq!(Vec::<f32>::try_from(&hits).unwrap(), vec![1.0; 4]);
        let shuffled = contrastive_logits(&v, &a.roll([1], [0]), 0.1).unwrap();
        let miss = Vec::<f32>::try_from(&retrieval_hits(&shuffled).unwrap()).unwrap();
        assert_eq!(miss, vec![0.0; 4]);
    }

    #[test]
    fn optimisation_lowers_the_contrastive_loss() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let vision = root.var("v", &[4, 8, 3, 3], nn::Init::Randn { mean: 0.0, stdev: 0.1 });
        let audio = root.var("a", &[4, 8], nn::Init::Randn { mean: 0.0, stdev: 0.1 });
        let mut opt = nn::OptimizerConfig::build(nn::Adam::default(), &vs, 0.05).unwrap();
        let loss = || contrastive_loss(&vision, &audio, 0.1).unwrap();
        let first = f64::try_from(loss()).unwrap();
        for _ in 0..30 {
            opt.backward_step(&loss());
        }
        let last = f64::try_from(loss()).unwrap();
        assert!(last < first * 0.5, "{first} → {last}");
    }

    #[test]
    fn bad_shapes_and_temperatures_are_errors() {
        let v = Tensor::zeros([2, 4, 2, 2], (Kind::Float, Device::Cpu));
        let a3 = Tensor::zeros([2, 3], (Kind::Float, Device::Cpu));
        assert!(contrastive_logits(&v, &a3, 0.1).is_err());
        let a = Tensor::zeros([2, 4], (Kind::Float, Device::Cpu));
        assert!(contrastive_logits(&v, &a, 0.0).is_err());
        assert!(
            symmetric_cross_entropy(&Tensor::zeros([2, 3], (Kind::Float, Device::Cpu))).is_err()
        );
    }
}
