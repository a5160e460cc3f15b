//! The localisation task: objectives that teach a per-location audio-visual similarity map to
//! light up where the sound comes from, without any box.
//!
//! Both take a vision feature map `V: [B, D, h, w]` (no global pooling) and an audio embedding
//! `A: [B, D]` from the two towers, and differ in how the map is supervised:
//!
//! - [`LocalizeObjective::Mil`], AVOL-Net (Arandjelović & Zisserman 2018): the dot product at
//!   every location, a learnt scalar 1×1 convolution ([`MilCalibration`]), max over locations,
//!   and a binary cross-entropy on "does this sound belong to this frame" (multiple-instance
//!   learning: the clip is positive if one location is). Negatives are the batch's audio rolled
//!   by one, so every frame is seen once with its own sound and once with another clip's.
//!   Scores are `sigmoid(logit)`.
//! - [`LocalizeObjective::Contrastive`], EZ-VSL (Mo & Morgado 2022): `V` and `A` are
//!   L2-normalised over `D`, the batch similarity is `S[i, j] = max_loc ⟨V_i(loc), A_j⟩ / τ`, and
//!   the loss is the symmetric cross-entropy with the diagonal as targets. Scores are the cosine
//!   mapped to [0, 1], `(cos + 1)/2`.
//!
//! All functions use `f_` ops so a shape mistake is an error, never a panic.

use tch::{nn, Kind, Reduction, Tensor};

/// Which localisation objective trains the map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LocalizeObjective {
    /// AVOL-Net multiple-instance binary correspondence.
    #[default]
    Mil,
    /// EZ-VSL max-over-locations symmetric InfoNCE.
    Contrastive,
}

/// Settings of the localisation objective.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocalizeConfig {
    /// The objective.
    pub objective: LocalizeObjective,
    /// Temperature τ of the contrastive objective (EZ-VSL uses 0.03).
    pub temperature: f64,
}

impl Default for LocalizeConfig {
    fn default() -> Self {
        LocalizeConfig { objective: LocalizeObjective::Mil, temperature: 0.03 }
    }
}

impl LocalizeConfig {
    /// Checks the values; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.temperature > 0.0 && self.temperature.is_finite()) {
            return Err(format!("temperature must be positive, got {}", self.temperature));
        }
        Ok(())
    }
}

/// AVOL-Net's scalar 1×1 convolution after the dot product: `logit = w·sim + b`.
#[derive(Debug)]
pub struct MilCalibration {
    weight: Tensor,
    bias: Tensor,
}

impl MilCalibration {
    /// Creates the two scalars under `p` (`weight` starts at 1, `bias` at 0).
    pub fn new(p: &nn::Path) -> Self {
        MilCalibration {
            weight: p.var("weight", &[1], nn::Init::Const(1.0)),
            bias: p.var("bias", &[1], nn::Init::Const(0.0)),
        }
    }

    /// Logits of a similarity map.
    pub fn logits(&self, sim: &Tensor) -> Result<Tensor, tch::TchError> {
        sim.f_mul(&self.weight)?.f_add(&self.bias)
    }
}

/// Per-location similarity of each frame with its own audio: `[B, D, h, w] × [B, D] → [B, h, w]`.
pub fn similarity_map(vision: &Tensor, audio: &Tensor) -> Result<Tensor, tch::TchError> {
    Tensor::f_einsum("bdhw,bd->bhw", &[vision, audio], None::<i64>)
}

/// Similarity of every frame with every audio: `[B, D, h, w] × [C, D] → [B, C, h, w]`.
pub fn pairwise_similarity(vision: &Tensor, audio: &Tensor) -> Result<Tensor, tch::TchError> {
    Tensor::f_einsum("bdhw,cd->bchw", &[vision, audio], None::<i64>)
}

fn l2_normalize(x: &Tensor, dim: i64) -> Result<Tensor, tch::TchError> {
    let norm = x.f_norm_scalaropt_dim(2.0, [dim], true)?.f_clamp_min(1e-12)?;
    x.f_div(&norm)
}

/// The MIL loss of logit maps `[B, h, w]` against binary labels `[B]` (1 = the audio belongs
/// to the frame): BCE-with-logits of the max over locations.
pub fn mil_loss(logit_map: &Tensor, labels: &Tensor) -> Result<Tensor, tch::TchError> {
    let pooled = logit_map.f_flatten(1, -1)?.f_amax([1], false)?;
    pooled.f_binary_cross_entropy_with_logits::<Tensor>(
        &labels.f_to_kind(Kind::Float)?,
        None,
        None,
        Reduction::Mean,
    )
}

/// MIL loss on a batch of matching pairs: each frame with its own audio (label 1) and with the
/// audio of the next example (label 0). Needs `B ≥ 2`.
pub fn mil_loss_in_batch(
    vision: &Tensor,
    audio: &Tensor,
    calibration: &MilCalibration,
) -> Result<Tensor, tch::TchError> {
    let b = audio.size().first().copied().unwrap_or(0);
    if b < 2 {
        return Err(tch::TchError::Shape(format!("MIL needs a batch of at least 2, got {b}")));
    }
    let negatives = audio.f_roll([1], [0])?;
    let pos = calibration.logits(&similarity_map(vision, audio)?)?;
    let neg = calibration.logits(&similarity_map(vision, &negatives)?)?;
    let logits = Tensor::f_cat(&[pos, neg], 0)?;
    let labels = Tensor::f_cat(
        &[
            Tensor::ones([b], (Kind::Float, audio.device())),
            Tensor::zeros([b], (Kind::Float, audio.device())),
        ],
        0,
    )?;
    mil_loss(&logits, &labels)
}

/// EZ-VSL's loss: `S[i, j] = max_loc ⟨V̂_i, Â_j⟩ / τ`, mean of the cross-entropies of `S` and `Sᵀ`
/// against the diagonal.
pub fn contrastive_loss(
    vision: &Tensor,
    audio: &Tensor,
    temperature: f64,
) -> Result<Tensor, tch::TchError> {
    let v = l2_normalize(vision, 1)?;
    let a = l2_normalize(audio, 1)?;
    let sim = pairwise_similarity(&v, &a)?.f_amax([2, 3], false)?.f_div_scalar(temperature)?;
    let b = sim.size().first().copied().unwrap_or(0);
    let targets = Tensor::f_arange(b, (Kind::Int64, sim.device()))?;
    let l1 = sim.f_log_softmax(1, Kind::Float)?.f_nll_loss::<Tensor>(
        &targets,
        None,
        Reduction::Mean,
        -100,
    )?;
    let l2 = sim.f_transpose(0, 1)?.f_log_softmax(1, Kind::Float)?.f_nll_loss::<Tensor>(
        &targets,
        None,
        Reduction::Mean,
        -100,
    )?;
    l1.f_add(&l2)?.f_mul_scalar(0.5)
}

/// The training loss of a batch of matching pairs under `config`.
pub fn localization_loss(
    config: &LocalizeConfig,
    vision: &Tensor,
    audio: &Tensor,
    calibration: &MilCalibration,
) -> Result<Tensor, tch::TchError> {
    match config.objective {
        LocalizeObjective::Mil => mil_loss_in_batch(vision, audio, calibration),
        LocalizeObjective::Contrastive => contrastive_loss(vision, audio, config.temperature),
    }
}

/// Score maps `[B, h, w]` in [0, 1] for frames and their audio: `sigmoid(logit)` for MIL,
/// `(cos + 1)/2` for the contrastive objective.
pub fn score_map(
    objective: LocalizeObjective,
    vision: &Tensor,
    audio: &Tensor,
    calibration: &MilCalibration,
) -> Result<Tensor, tch::TchError> {
    match objective {
        LocalizeObjective::Mil => calibration.logits(&similarity_map(vision, audio)?)?.f_sigmoid(),
        LocalizeObjective::Contrastive => {
            let cos = similarity_map(&l2_normalize(vision, 1)?, &l2_normalize(audio, 1)?)?;
            cos.f_add_scalar(1.0)?.f_mul_scalar(0.5)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

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
        // Chance level for random unrelated embeddings is about ln(B).
    }

    #[test]
    fn score_map_peaks_at_the_matching_location() {
        let (v, a) = aligned(3);
        let vs = nn::VarStore::new(Device::Cpu);
        let cal = MilCalibration::new(&vs.root());
        for objective in [LocalizeObjective::Mil, LocalizeObjective::Contrastive] {
            let s = score_map(objective, &v, &a, &cal).unwrap();
            assert_eq!(s.size(), vec![3, 2, 2]);
            for k in 0..3i64 {
                let flat = s.get(k).flatten(0, -1);
                assert_eq!(i64::try_from(flat.argmax(0, false)).unwrap(), k, "{objective:?}");
                let max = f64::try_from(flat.max()).unwrap();
                let min = f64::try_from(flat.min()).unwrap();
                assert!((0.0..=1.0).contains(&min) && max <= 1.0);
            }
        }
    }

    #[test]
    fn mil_training_steps_reduce_the_loss() {
        tch::manual_seed(0);
        let vs = nn::VarStore::new(Device::Cpu);
        let root = vs.root();
        let vision = root.var("v", &[4, 8, 3, 3], nn::Init::Randn { mean: 0.0, stdev: 0.1 });
        let audio = root.var("a", &[4, 8], nn::Init::Randn { mean: 0.0, stdev: 0.1 });
        let cal = MilCalibration::new(&root.sub("cal"));
        let mut opt = nn::OptimizerConfig::build(nn::Adam::default(), &vs, 0.05).unwrap();
        let config = LocalizeConfig::default();
        let first =
            f64::try_from(localization_loss(&config, &vision, &audio, &cal).unwrap()).unwrap();
        for _ in 0..50 {
            let loss = localization_loss(&config, &vision, &audio, &cal).unwrap();
            opt.backward_step(&loss);
        }
        let last =
            f64::try_from(localization_loss(&config, &vision, &audio, &cal).unwrap()).unwrap();
        assert!(last < first * 0.5, "{first} → {last}");
    }

    #[test]
    fn bad_shapes_and_config_are_errors() {
        let vs = nn::VarStore::new(Device::Cpu);
        let cal = MilCalibration::new(&vs.root());
        let v = Tensor::zeros([1, 4, 2, 2], (Kind::Float, Device::Cpu));
        let a = Tensor::zeros([1, 4], (Kind::Float, Device::Cpu));
        assert!(mil_loss_in_batch(&v, &a, &cal).is_err());
        let a3 = Tensor::zeros([1, 3], (Kind::Float, Device::Cpu));
        assert!(similarity_map(&v, &a3).is_err());
        assert!(LocalizeConfig { temperature: 0.0, ..Default::default() }.validate().is_err());
    }
}
