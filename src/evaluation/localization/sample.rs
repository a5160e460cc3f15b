//! Per-sample scoring: min-max normalisation, median binarisation, cIoU, confidence and the
//! pointing-game hit of one upsampled prediction against one ground-truth map.
//!
//! Semantics follow EZ-VSL/SLAVC/LVS `utils.py` to the letter:
//! - `normalize_img`: `(P − min)/(max − min)`, left unchanged when `max == min`;
//! - the binary prediction `B` is the protocol's [`Binarization`] (EZ-VSL: `thr = sort(P)[N/2]`
//!   and `B = P >= thr`, so ties at the median all count as foreground and a constant map is all
//!   foreground; LVS: `>`; SLAVC without `--relative_prediction`: `map >= 0.5`);
//! - `cIoU = Σ(B·G) / (ΣG + Σ B·[G=0])`, summed in `f64` (`Evaluator.cal_CIOU`);
//! - the pointing game reads the unnormalised map under a [`PointingRule`].

use super::pointing::{pointing_hit, PointingRule};
use super::{Binarization, LocalizationError};

/// How one sample is scored: the protocol's binarisation and the pointing rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScoringRules {
    /// How the upsampled map becomes `B`.
    pub binarization: Binarization,
    /// When the arg-max hits the ground truth.
    pub pointing: PointingRule,
}

/// What one sample contributes to the summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SampleScore {
    /// Sample name.
    pub name: String,
    /// Consensus IoU of the median-binarised prediction.
    pub ciou: f64,
    /// Confidence that a visible source exists (mean of the top quarter of the score map).
    pub confidence: f64,
    /// Number of ground-truth boxes (0: silent or off-screen sound).
    pub n_boxes: usize,
    /// Pointing-game hit; `None` when there is no ground truth to point at.
    pub pointing_hit: Option<bool>,
}

/// Min-max normalisation (`normalize_img`): unchanged when the map is constant.
pub fn min_max_normalize(map: &[f32]) -> Vec<f32> {
    let (mut lo, mut hi) = (f32::INFINITY, f32::NEG_INFINITY);
    for &v in map {
        if v.is_finite() {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
        return map.to_vec();
    }
    map.iter().map(|&v| (v - lo) / (hi - lo)).collect()
}

/// Binarises at the median: `thr = sort(P)[N/2]`, foreground where `P >= thr`.
/// NaN values sort last and never count as foreground.
pub fn binarize_at_median(map: &[f32]) -> Vec<bool> {
    if map.is_empty() {
        return Vec::new();
    }
    let mut sorted: Vec<f32> =
        map.iter().map(|&v| if v.is_nan() { f32::INFINITY } else { v }).collect();
    sorted.sort_by(f32::total_cmp);
    let thr = sorted[map.len() / 2];
    map.iter().map(|&v| v >= thr).collect()
}

/// `cIoU = Σ(B·G) / (ΣG + Σ B·[G=0])`; 0 when the denominator is 0.
pub fn ciou(binary: &[bool], gt: &[f32]) -> f64 {
    let (mut inter, mut gt_sum, mut extra) = (0f64, 0f64, 0f64);
    for (&b, &g) in binary.iter().zip(gt) {
        gt_sum += g as f64;
        if b {
            inter += g as f64;
            if g == 0.0 {
                extra += 1.0;
            }
        }
    }
    let denom = gt_sum + extra;
    if denom > 0.0 {
        inter / denom
    } else {
        0.0
    }
}

/// SLAVC's confidence: the mean of the top quarter (`N/4` largest values) of a score map whose
/// values are on an absolute scale (e.g. probabilities), not min-max normalised.
pub fn top_quartile_mean(map: &[f32]) -> f64 {
    let mut sorted: Vec<f32> = map.iter().copied().filter(|v| !v.is_nan()).collect();
    sorted.sort_by(f32::total_cmp);
    let k = (sorted.len() / 4).max(1).min(sorted.len());
    if k == 0 {
        return 0.0;
    }
    sorted[sorted.len() - k..].iter().map(|&v| v as f64).sum::<f64>() / k as f64
}

/// Scores one sample: `pred` is the score map already upsampled to the `size × size` grid,
/// `gt` the ground-truth map on that grid, `confidence` the sample's confidence.
pub fn score_sample(
    name: &str,
    pred: &[f32],
    gt: &[f32],
    size: usize,
    n_boxes: usize,
    confidence: f64,
    rules: &ScoringRules,
) -> Result<SampleScore, LocalizationError> {
    for (what, len) in [("prediction map", pred.len()), ("ground-truth map", gt.len())] {
        if len != size * size {
            return Err(LocalizationError::Shape { what, expected: size * size, got: len });
        }
    }
    let binary = rules.binarization.apply(pred);
    Ok(SampleScore {
        name: name.to_string(),
        ciou: ciou(&binary, gt),
        confidence,
        n_boxes,
        pointing_hit: pointing_hit(pred, gt, size, rules.pointing),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// EZ-VSL's rules (`>=` at the median) and TorchRay's 15-px pointing game.
    fn score_sample(
        name: &str,
        pred: &[f32],
        gt: &[f32],
        size: usize,
        n_boxes: usize,
        confidence: f64,
    ) -> Result<SampleScore, LocalizationError> {
        super::score_sample(name, pred, gt, size, n_boxes, confidence, &ScoringRules::default())
    }

    /// GT: the left half of a 4×4 grid (8 pixels).
    fn left_half() -> Vec<f32> {
        (0..16).map(|i| if i % 4 < 2 { 1.0 } else { 0.0 }).collect()
    }

    #[test]
    fn perfect_map_scores_one() {
        let gt = left_half();
        let pred: Vec<f32> = gt.iter().map(|g| g * 5.0 + 1.0).collect();
        let s = score_sample("p", &pred, &gt, 4, 1, 0.9).unwrap();
        assert_eq!(s.ciou, 1.0);
        assert_eq!(s.pointing_hit, Some(true));
    }

    #[test]
    fn opposite_map_scores_zero() {
        let gt = left_half();
        let pred: Vec<f32> = gt.iter().map(|g| 1.0 - g).collect();
        let s = score_sample("o", &pred, &gt, 4, 1, 0.9).unwrap();
        assert_eq!(s.ciou, 0.0);
    }

    #[test]
    fn empty_gt_scores_zero_and_has_no_pointing() {
        let gt = vec![0f32; 16];
        let pred: Vec<f32> = (0..16).map(|i| i as f32).collect();
        let s = score_sample("e", &pred, &gt, 4, 0, 0.1).unwrap();
        // Σ(B·G) = 0 over ΣG = 0 plus 8 foreground pixels outside G.
        assert_eq!(s.ciou, 0.0);
        assert_eq!(s.pointing_hit, None);
    }

    #[test]
    fn empty_prediction_is_all_foreground() {
        // A constant (e.g. all-zero) map stays unnormalised and every pixel ties at the median,
        // so B = 1 everywhere: cIoU = ΣG / (ΣG + #(G=0)) = 8 / (8 + 8).
        let gt = left_half();
        let s = score_sample("z", &[0.0; 16], &gt, 4, 1, 0.0).unwrap();
        assert_eq!(s.ciou, 0.5);
    }

    #[test]
    fn ties_at_the_median_are_foreground() {
        // Sorted: [0×6, 1×4, 2×6]; N/2 = 8 → thr = 1, so 10 pixels are foreground, not 8.
        let mut pred = vec![0f32; 6];
        pred.extend([1.0; 4]);
        pred.extend([2.0; 6]);
        let b = binarize_at_median(&pred);
        assert_eq!(b.iter().filter(|&&x| x).count(), 10);
        // With GT = the 6 pixels valued 2: cIoU = 6 / (6 + 4).
        let gt: Vec<f32> = pred.iter().map(|&v| if v == 2.0 { 1.0 } else { 0.0 }).collect();
        assert!((ciou(&b, &gt) - 0.6).abs() < 1e-12);
    }

    #[test]
    fn soft_flickr_gt_is_weighted() {
        // GT weights: 1 on pixels 0..4, 0.5 on 4..8, 0 elsewhere; prediction picks 0..2 and 4..10.
        let gt: Vec<f32> = (0..16)
            .map(|i| {
                if i < 4 {
                    1.0
                } else if i < 8 {
                    0.5
                } else {
                    0.0
                }
            })
            .collect();
        let b: Vec<bool> = (0..16).map(|i| i < 2 || (4..10).contains(&i)).collect();
        // Σ(B·G) = 2·1 + 4·0.5 = 4; ΣG = 4 + 2 = 6; Σ B·[G=0] = 2 (pixels 8, 9) → 4/8.
        assert!((ciou(&b, &gt) - 0.5).abs() < 1e-12);
    }

    #[test]
    fn box_at_the_border() {
        use super::super::{gt_map, Consensus, LocalizationTarget, PixelBox};
        // GT: the two right-most columns of an 8×8 grid, given past the edge (x1 = 10).
        let target = LocalizationTarget {
            name: "b".into(),
            boxes: vec![PixelBox { x0: 6, y0: 0, x1: 10, y1: 8 }],
            consensus: Consensus::Union,
            time: None,
        };
        let gt = gt_map(&target, 8);
        assert_eq!(gt.iter().sum::<f32>(), 16.0);
        // Prediction grows to the right: the top half is columns 4..8 (32 pixels), so
        // cIoU = 16 / (16 + 16); the first arg-max is (0, 7), inside the box.
        let pred: Vec<f32> = (0..64).map(|i| (i % 8) as f32).collect();
        let s = score_sample("b", &pred, &gt, 8, 1, 1.0).unwrap();
        assert_eq!(s.ciou, 0.5);
        assert_eq!(s.pointing_hit, Some(true));
    }

    #[test]
    fn three_flickr_annotators() {
        use super::super::{gt_map, Consensus, LocalizationTarget, PixelBox};
        // Three annotators on the 256×256 image, evaluated on an 8×8 grid: two mark the left
        // half, one the top half. G = 1 on the left half (32 px), 0.5 on the top-right quadrant
        // (16 px): ΣG = 40. Predicting the left half: Σ(B·G) = 32, no foreground outside G →
        // cIoU = 32/40.
        let s = 8.0 / 256.0;
        let boxes = [[0.0, 0.0, 128.0, 256.0], [0.0, 0.0, 128.0, 256.0], [0.0, 0.0, 256.0, 128.0]]
            .map(|b| PixelBox::scaled(b, s, s))
            .to_vec();
        let target = LocalizationTarget {
            name: "f".into(),
            boxes,
            consensus: Consensus::Flickr,
            time: None,
        };
        let gt = gt_map(&target, 8);
        assert_eq!(gt.iter().sum::<f32>(), 40.0);
        let pred: Vec<f32> = (0..64).map(|i| if i % 8 < 4 { 1.0 } else { 0.0 }).collect();
        let score = score_sample("f", &pred, &gt, 8, 3, 1.0).unwrap();
        assert!((score.ciou - 0.8).abs() < 1e-12);
    }

    #[test]
    fn normalisation_and_confidence() {
        assert_eq!(min_max_normalize(&[2.0, 4.0, 3.0]), vec![0.0, 1.0, 0.5]);
        assert_eq!(min_max_normalize(&[3.0, 3.0]), vec![3.0, 3.0]);
        // Top quarter of 8 values = the 2 largest.
        assert!((top_quartile_mean(&[0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.9, 0.7]) - 0.8).abs() < 1e-6);
    }

    #[test]
    fn shape_mismatch_is_an_error() {
        assert!(score_sample("x", &[0.0; 15], &[0.0; 16], 4, 1, 0.0).is_err());
    }
}
