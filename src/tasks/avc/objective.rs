//! The losses of the in-batch AVC objectives, as a 2-way head's logits become a loss, the
//! per-example hits the progress bar shows, and the scores validation reads.
//!
//! - [`Objective::Classification`]: `[B, 2]` logits, cross-entropy against the batch labels.
//! - [`Objective::InBatchContrastive`]: EZ-VSL's `[B, B]` frame × audio logits, symmetric
//!   cross-entropy against the diagonal; the hit is in-batch retrieval.
//! - [`Objective::AllPairs`]: `[B·B, 2]` logits of every frame with every audio window of a
//!   batch of pairs from distinct files (the in-batch AVC objective), classes weighted equally,
//!   same-file pairs far enough apart optionally counted as hard negatives.

use tch::{Kind, Tensor};

use super::contrastive;
use crate::training::{cross_entropy, Origins, TrainingError};

/// How the loop turns a model's logits into a loss, an accuracy and validation scores.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Objective {
    /// `[B, 2]` logits, cross-entropy against the batch labels.
    Classification,
    /// `[B, B]` logits of every frame with every audio window of the batch (all matching pairs),
    /// symmetric cross-entropy against the diagonal; accuracy is in-batch retrieval.
    InBatchContrastive,
    /// `[B·B, 2]` logits of every frame with every audio window of the batch (row `i·B + j`),
    /// the batch coming from distinct files: the diagonal pairs carry the batch labels
    /// (matching pairs, or hard negatives: the same file's audio shifted), every other pair is
    /// an easy negative. Positives weigh half the loss; negatives the other half, of which hard
    /// ones carry `hard_share` when the batch has both. About `B − 1` easy negatives per frame
    /// for the tower compute of `B` examples.
    AllPairs {
        /// Share of the negatives' half of the loss on hard negatives (the diagonal's, and the
        /// same-file ones of `same_file`).
        hard_share: f64,
        /// When set, two windows of one file are a hard negative pair where the audio window's
        /// centre lies at least `min_shift` from the frame (the definition of a hard negative):
        /// a batch of matching pairs then carries hard negatives without spending examples on
        /// them. Unset: same-file pairs weigh nothing.
        same_file: Option<SameFileNegatives>,
    },
}

/// Same-file pairs of an all-pairs batch that count as hard negatives (see
/// [`Objective::AllPairs`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SameFileNegatives {
    /// Minimum distance in seconds of the audio window's centre from the frame.
    pub min_shift: f64,
    /// Length of the audio windows in seconds (the centre is the start plus half of it).
    pub window: f64,
}

impl Objective {
    /// The mean loss of a batch (`origins`: where its examples come from, its groups and times).
    pub fn loss(
        self,
        logits: &Tensor,
        labels: &Tensor,
        origins: &Origins,
    ) -> Result<Tensor, TrainingError> {
        match self {
            Objective::Classification => cross_entropy(logits, labels),
            Objective::InBatchContrastive => Ok(contrastive::symmetric_cross_entropy(logits)?),
            Objective::AllPairs { hard_share, same_file } => {
                let AllPairs { targets, weights, .. } =
                    all_pairs_targets(logits, labels, origins, hard_share, same_file)?;
                let nll = logits
                    .f_to_kind(Kind::Float)?
                    .f_log_softmax(-1, Kind::Float)?
                    .f_nll_loss(&targets, None::<Tensor>, tch::Reduction::None, -100)?;
                Ok(nll.f_mul(&weights)?.f_sum(Kind::Float)?)
            }
        }
    }

    /// Per-example hits `[B]` (f32): argmax = label, or in-batch retrieval hits (frame → audio
    /// and audio → frame, averaged).
    pub fn hits(
        self,
        logits: &Tensor,
        labels: &Tensor,
        origins: &Origins,
    ) -> Result<Tensor, TrainingError> {
        Ok(match self {
            Objective::Classification => {
                logits.f_argmax(-1, false)?.f_eq_tensor(labels)?.f_to_kind(Kind::Float)?
            }
            Objective::InBatchContrastive => contrastive::retrieval_hits(logits)?,
            Objective::AllPairs { hard_share, same_file } => {
                // Per frame: half its own pair's hit, half the mean hit over the other audio
                // windows that are negatives (a balanced accuracy, as the loss weights the
                // classes). They count whatever their loss weight (`--hard-share 1` weighs the
                // pairs of two files 0 but they still are negatives to get right).
                let AllPairs { b, targets, off_negatives: other, .. } =
                    all_pairs_targets(logits, labels, origins, hard_share, same_file)?;
                let h = logits
                    .f_argmax(-1, false)?
                    .f_eq_tensor(&targets)?
                    .f_to_kind(Kind::Float)?
                    .f_view([b, b])?;
                let own = h.f_diagonal(0, 0, 1)?;
                let n = other.f_sum_dim_intlist([1i64].as_slice(), false, Kind::Float)?;
                let others = h
                    .f_mul(&other)?
                    .f_sum_dim_intlist([1i64].as_slice(), false, Kind::Float)?
                    .f_div(&n.f_clamp_min(1.0)?)?;
                // Frames without another file in the batch score their own pair only.
                let has = n.f_gt(0.0)?.f_to_kind(Kind::Float)?;
                let half = has.f_mul_scalar(0.5)?;
                own.f_mul(&half.f_neg()?.f_add_scalar(1.0)?)?.f_add(&others.f_mul(&half)?)?
            }
        })
    }
}

/// What all-pairs logits `[B·B, 2]` are scored against.
struct AllPairs {
    /// The batch size `B`.
    b: i64,
    /// `[B·B]` int64: the batch labels on the diagonal, 0 elsewhere.
    targets: Tensor,
    /// `[B·B]` f32 loss weights summing to 1: positives weigh 1/2 together, negatives 1/2, of
    /// which the hard ones (the diagonal's, and same-file pairs far enough apart when
    /// `same_file` is set) carry `hard_share` and the easy ones (two files) the rest when both
    /// are present. Other off-diagonal pairs of one group (two windows of one file) weigh 0:
    /// they are neither a match nor a clean negative.
    weights: Tensor,
    /// `[B, B]` f32: 1 for the off-diagonal negatives (pairs of two files, and same-file hard
    /// negatives), else 0.
    off_negatives: Tensor,
}

fn all_pairs_targets(
    logits: &Tensor,
    labels: &Tensor,
    origins: &Origins,
    hard_share: f64,
    same_file: Option<SameFileNegatives>,
) -> Result<AllPairs, TrainingError> {
    let groups = origins.groups.as_slice();
    let n = match logits.size().as_slice() {
        [n, 2] => *n,
        s => return Err(TrainingError::Batch(format!("expected [B*B, 2] logits, got {s:?}"))),
    };
    let b = (n as f64).sqrt().round() as i64;
    if b < 1
        || b * b != n
        || labels.size() != [b]
        || !(groups.is_empty() || groups.len() == b as usize)
    {
        return Err(TrainingError::Batch(format!(
            "{n} all-pairs logits with labels {:?} and {} groups: not a square batch of pairs",
            labels.size(),
            groups.len()
        )));
    }
    let bu = b as usize;
    if same_file.is_some() && origins.times.len() != bu {
        return Err(TrainingError::Batch(format!(
            "same-file hard negatives need the times of all {b} examples, got {}",
            origins.times.len()
        )));
    }
    let labels = Vec::<i64>::try_from(labels.f_to(tch::Device::Cpu)?)?;
    let apart = |i: usize, j: usize| groups.is_empty() || groups[i] != groups[j];
    // Frame i against audio window j of the same file: a hard negative when the window's
    // centre is at least `min_shift` from the frame (NaN times never qualify).
    let shifted = |i: usize, j: usize| match same_file {
        Some(s) => {
            let (frame, _) = origins.times[i];
            let (_, start) = origins.times[j];
            (start + s.window / 2.0 - frame).abs() >= s.min_shift - 1e-6
        }
        None => false,
    };
    let pos = labels.iter().filter(|&&l| l == 1).count() as f64;
    let pairs = || (0..bu).flat_map(|i| (0..bu).map(move |j| (i, j))).filter(|&(i, j)| i != j);
    let easy = pairs().filter(|&(i, j)| apart(i, j)).count() as f64;
    let same_hard = pairs().filter(|&(i, j)| !apart(i, j) && shifted(i, j)).count() as f64;
    let hard = b as f64 - pos + same_hard;
    let (w_hard, w_easy) = match (hard > 0.0, easy > 0.0) {
        (true, true) => (0.5 * hard_share, 0.5 * (1.0 - hard_share)),
        (true, false) => (0.5, 0.0),
        (false, _) => (0.0, 0.5),
    };
    let w_pos = if pos > 0.0 { 0.5 } else { 0.0 };
    let total = w_pos + w_hard + w_easy;
    let mut targets = vec![0i64; bu * bu];
    let mut weights = vec![0f32; bu * bu];
    let mut off_negatives = vec![0f32; bu * bu];
    for (i, &label) in labels.iter().enumerate() {
        for j in 0..bu {
            let k = i * bu + j;
            let w = if i == j {
                targets[k] = label;
                if label == 1 {
                    w_pos / pos
                } else {
                    w_hard / hard
                }
            } else if apart(i, j) {
                off_negatives[k] = 1.0;
                w_easy / easy
            } else if shifted(i, j) {
                off_negatives[k] = 1.0;
                w_hard / hard
            } else {
                0.0
            };
            weights[k] = (w / total) as f32;
        }
    }
    let dev = logits.device();
    Ok(AllPairs {
        b,
        targets: Tensor::from_slice(&targets).f_to(dev)?,
        weights: Tensor::from_slice(&weights).f_to(dev)?,
        off_negatives: Tensor::from_slice(&off_negatives).f_to(dev)?.f_view([b, b])?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::training::Origins;
    use tch::Device;

    /// All-pairs logits for `B` frames: `own` on the diagonal pairs, `other` elsewhere (logit of
    /// class 1; class 0 at 0).
    fn all_pairs(b: i64, own: f64, other: f64) -> Tensor {
        let eye = Tensor::eye(b, (Kind::Float, Device::Cpu)).flatten(0, -1);
        let z: Tensor = &eye * own + (1.0 - &eye) * other;
        Tensor::stack(&[z.zeros_like(), z], 1)
    }

    #[test]
    fn all_pairs_loss_and_hits_weigh_both_classes_equally() {
        let b = 4;
        let labels = Tensor::ones([b], (Kind::Int64, Device::Cpu));
        let obj = Objective::AllPairs { hard_share: 0.5, same_file: None };
        let loss =
            |t: &Tensor| obj.loss(t, &labels, &Origins::default()).unwrap().double_value(&[]);
        let hits = |t: &Tensor| {
            Vec::<f32>::try_from(obj.hits(t, &labels, &Origins::default()).unwrap()).unwrap()
        };
        // Undecided: ln 2 whatever the class weights.
        assert!((loss(&all_pairs(b, 0.0, 0.0)) - std::f64::consts::LN_2).abs() < 1e-6);
        // Right on every pair: low loss, every frame scores 1.
        let right = all_pairs(b, 5.0, -5.0);
        assert!(loss(&right) < 0.01);
        assert_eq!(hits(&right), vec![1.0; 4]);
        // "Always correspond" gets the B own pairs right and the B² − B others wrong: a balanced
        // accuracy of 0.5 (not B/B² = 0.25), and a loss of (5 + ε)/2 (each class half).
        let always = all_pairs(b, 5.0, 5.0);
        assert_eq!(hits(&always), vec![0.5; 4]);
        let half = 0.5 * (5.0 + (1.0f64 + (-5.0f64).exp()).ln()) + 0.5 * (-5.0f64).exp().ln_1p();
        assert!((loss(&always) - half).abs() < 1e-4, "{} vs {half}", loss(&always));
        // Everything wrong.
        assert_eq!(hits(&all_pairs(b, -5.0, 5.0)), vec![0.0; 4]);
        // A hard negative on the diagonal (frame 1 with its own clip's shifted audio): a model
        // that calls every own-clip pair a match gets that frame's own pair wrong, and its loss
        // now carries the hard quarter of the weight.
        let with_hard = Tensor::from_slice(&[1i64, 0, 1, 1]);
        let blind = all_pairs(b, 5.0, -5.0);
        let h = Vec::<f32>::try_from(obj.hits(&blind, &with_hard, &Origins::default()).unwrap())
            .unwrap();
        assert_eq!(h, vec![1.0, 0.5, 1.0, 1.0]);
        let l_blind = obj.loss(&blind, &with_hard, &Origins::default()).unwrap().double_value(&[]);
        // 1/4 of the weight on one pair at logit +5 against label 0: ≈ (5 + ε)/4.
        assert!((l_blind - 0.25 * (5.0 + (-5.0f64).exp().ln_1p())).abs() < 0.01, "{l_blind}");
        // --hard-share moves the negatives' half between the kinds: with 0 the hard pair carries
        // nothing (the blind model's loss vanishes), with 1 the easy pairs carry nothing.
        let share = |h: f64, t: &Tensor| {
            Objective::AllPairs { hard_share: h, same_file: None }
                .loss(t, &with_hard, &Origins::default())
                .unwrap()
                .double_value(&[])
        };
        assert!(share(0.0, &blind) < 0.01);
        assert!((share(1.0, &blind) - 2.0 * l_blind).abs() < 0.02);
        assert!(share(1.0, &all_pairs(b, 5.0, 5.0)) > 1.0);
        assert!(share(0.0, &all_pairs(b, -5.0, 5.0)) > 1.0);
        // The hits are a metric, not the loss: every --hard-share scores the same pairs (with 1
        // the easy pairs weigh nothing in the loss but still count as negatives to get right).
        for h in [0.0, 1.0] {
            let o = Objective::AllPairs { hard_share: h, same_file: None };
            let got =
                Vec::<f32>::try_from(o.hits(&blind, &with_hard, &Origins::default()).unwrap())
                    .unwrap();
            assert_eq!(got, vec![1.0, 0.5, 1.0, 1.0], "hard share {h}");
            let got =
                Vec::<f32>::try_from(o.hits(&always, &with_hard, &Origins::default()).unwrap())
                    .unwrap();
            assert_eq!(got, vec![0.5, 0.0, 0.5, 0.5], "hard share {h}");
        }
        let z = Tensor::from_slice(&[
            5.0f32, 0.0, 0.0, 0.0, 0.0, -5.0, 0.0, 0.0, 0.0, 0.0, 5.0, 0.0, 0.0, 0.0, 0.0, 5.0,
        ]);
        let off: Tensor = 1.0 - Tensor::eye(b, (Kind::Float, Device::Cpu)).flatten(0, -1);
        let z: Tensor = &z - off * 5.0;
        let sighted = Tensor::stack(&[z.zeros_like(), z], 1);
        let h = Vec::<f32>::try_from(obj.hits(&sighted, &with_hard, &Origins::default()).unwrap())
            .unwrap();
        assert_eq!(h, vec![1.0; 4]);
        assert!(
            obj.loss(&sighted, &with_hard, &Origins::default()).unwrap().double_value(&[]) < 0.01
        );
        // Two windows of one file (frames 0 and 1) are neither a match nor a negative: that pair
        // carries no weight and no hit, whatever the model says about it.
        let groups = Origins::groups(vec![7, 7, 8, 9]);
        let mut z = vec![-5.0f32; 16];
        for i in 0..4 {
            z[i * 4 + i] = 5.0;
        }
        let (z01, z10) = (z.clone(), {
            let mut w = z.clone();
            w[1] = 5.0;
            w[4] = 5.0;
            w
        });
        let pair = |z: Vec<f32>| {
            let z = Tensor::from_slice(&z);
            Tensor::stack(&[z.zeros_like(), z], 1)
        };
        let (a, bb) = (pair(z01), pair(z10));
        let (la, lb) = (
            obj.loss(&a, &labels, &groups).unwrap().double_value(&[]),
            obj.loss(&bb, &labels, &groups).unwrap().double_value(&[]),
        );
        assert!((la - lb).abs() < 1e-9, "{la} vs {lb}");
        let ha = Vec::<f32>::try_from(obj.hits(&bb, &labels, &groups).unwrap()).unwrap();
        assert_eq!(ha, vec![1.0; 4]);
        // Without the groups the same logits count as two wrong easy negatives.
        let hb =
            Vec::<f32>::try_from(obj.hits(&bb, &labels, &Origins::default()).unwrap()).unwrap();
        assert!(hb[0] < 1.0 && hb[1] < 1.0, "{hb:?}");
        // Not a square batch of pairs: an error, not a panic.
        assert!(obj
            .loss(&Tensor::zeros([6, 2], (Kind::Float, Device::Cpu)), &labels, &Origins::default())
            .is_err());
        assert!(obj
            .hits(&Tensor::zeros([4, 3], (Kind::Float, Device::Cpu)), &labels, &Origins::default())
            .is_err());
    }

    /// Frames 0, 1, 2 from one file (frame times 1.0, 2.5, 1.4 s, each with its own 1 s audio
    /// window centred on it), frame 3 from another.
    fn same_file_batch() -> (Tensor, Origins) {
        let times = vec![(1.0, 0.5), (2.5, 2.0), (1.4, 0.9), (1.0, 0.5)];
        (Tensor::ones([4], (Kind::Int64, Device::Cpu)), Origins { groups: vec![7, 7, 7, 8], times })
    }

    /// Logits +5 ("match") at the listed pairs and on the diagonal, -5 elsewhere.
    fn matching(b: usize, pairs: &[(usize, usize)]) -> Tensor {
        let mut z = vec![-5.0f32; b * b];
        for i in 0..b {
            z[i * b + i] = 5.0;
        }
        for &(i, j) in pairs {
            z[i * b + j] = 5.0;
        }
        let z = Tensor::from_slice(&z);
        Tensor::stack(&[z.zeros_like(), z], 1)
    }

    #[test]
    fn same_file_pairs_far_apart_are_hard_negatives() {
        let (labels, origins) = same_file_batch();
        let sf = SameFileNegatives { min_shift: 1.0, window: 1.0 };
        let on = Objective::AllPairs { hard_share: 0.5, same_file: Some(sf) };
        let off = Objective::AllPairs { hard_share: 0.5, same_file: None };
        let loss =
            |o: Objective, t: &Tensor| o.loss(t, &labels, &origins).unwrap().double_value(&[]);
        let hits = |o: Objective, t: &Tensor| {
            Vec::<f32>::try_from(o.hits(t, &labels, &origins).unwrap()).unwrap()
        };
        // 0↔1 (1.5 s apart) and 1↔2 (1.1 s) are hard negatives; 0↔2 (0.4 s) is too close to be
        // one and weighs nothing either way.
        let right = matching(4, &[(0, 2), (2, 0)]);
        assert!(loss(on, &right) < 0.01, "{}", loss(on, &right));
        assert_eq!(hits(on, &right), vec![1.0; 4]);
        assert!((loss(on, &right) - loss(on, &matching(4, &[]))).abs() < 1e-6);
        // Calling 0 → 1 a match costs a quarter (the hard share of the negatives' half) shared by
        // the four hard pairs: (5 + ε)/16, plus ε on every other pair.
        let eps = (-5.0f64).exp().ln_1p();
        let one_wrong = matching(4, &[(0, 1)]);
        let want = (5.0 + eps) / 16.0 + (1.0 - 1.0 / 16.0) * eps;
        assert!((loss(on, &one_wrong) - want).abs() < 1e-4, "{} vs {want}", loss(on, &one_wrong));
        // Frame 0's negatives are audio 1 (same file, shifted) and audio 3 (another file).
        assert_eq!(hits(on, &one_wrong), vec![0.75, 1.0, 1.0, 1.0]);
        // Without same-file negatives a model blind to time loses nothing on those pairs.
        let blind = matching(4, &[(0, 1), (1, 0), (0, 2), (2, 0), (1, 2), (2, 1)]);
        assert!(loss(off, &blind) < 0.01);
        assert_eq!(hits(off, &blind), vec![1.0; 4]);
        assert!(loss(on, &blind) > 1.0, "{}", loss(on, &blind));
        // Frame 1 has two hard negatives (audio 0 and 2) wrong and one easy right.
        let h = hits(on, &blind);
        let want = [0.75, 0.5 + 0.5 / 3.0, 0.75, 1.0];
        assert!(h.iter().zip(want).all(|(a, b)| (f64::from(*a) - b).abs() < 1e-6), "{h:?}");
        // Without times the pairs cannot be told apart: an error, not a guess.
        let no_times = Origins::groups(origins.groups.clone());
        assert!(on.loss(&right, &labels, &no_times).is_err());
    }
}
