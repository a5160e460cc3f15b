//! How an upsampled score map becomes the binary prediction `B` that cIoU reads, in the three
//! ways the published test scripts do it.
//!
//! - [`Binarization::MedianInclusive`] (EZ-VSL `test.py`, SLAVC `test.py --relative_prediction`,
//!   pretext before issue #27): `P = normalize_img(map)` (min-max, left unchanged when constant),
//!   `thr = np.sort(P.flatten())[int(H·W·0.5)]`, `B = P >= thr` (`Evaluator.cal_CIOU`:
//!   `infer_map[infer >= thres] = 1`). Ties at the median are all foreground, so a map that is
//!   constant on more than half the grid marks that whole plateau, and a constant map is all
//!   foreground.
//! - [`Binarization::MedianExclusive`] (LVS `test.py`): `P = 1 − normalize_img(−map)`,
//!   `thr = np.sort(P.flatten())[int(H·W/2)]`, then `pred[pred > threshold] = 1`,
//!   `pred[pred < 1] = 0` and `cal_CIOU(pred, gt, 0.5)`. So `B = P > thr`, except that pixels
//!   already at `P ≥ 1` (the maximum) survive the second line even when they tie with `thr`; a
//!   constant map (`normalize_img` leaves `−map` as is, `P = 1 + map`) is all foreground when
//!   `map ≥ 0`, all background when `map < 0`. The `1 − normalize(−map)` detour is kept: in
//!   `f32` it can round differently from `normalize(map)`.
//! - [`Binarization::Absolute`] (SLAVC `test.py` without `--relative_prediction`, its argparse
//!   default): no normalisation, `B = map >= pred_thr` with `pred_thr = 0.5`
//!   (`EvaluatorFull.update`: `infer[pred >= pred_thr] = 1`). SLAVC's `scores` are
//!   `(S/τ + 1/τ)/(2/τ) = (cos + 1)/2`, which is exactly what pretext's cosine map holds.
//!
//! NaN values sort last (as in numpy) and are never foreground.

use super::{binarize_at_median, min_max_normalize as normalize_img};

/// SLAVC `test.py`'s `--pred_thr` default, the absolute threshold of [`Binarization::Absolute`].
pub const ABSOLUTE_THRESHOLD: f32 = 0.5;

/// How the upsampled map is turned into foreground/background.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Binarization {
    /// Min-max normalise, foreground where `P >= sort(P)[N/2]` (EZ-VSL, SLAVC relative).
    #[default]
    MedianInclusive,
    /// LVS: `P = 1 − normalize(−map)`, foreground where `P > sort(P)[N/2]` or `P >= 1`.
    MedianExclusive,
    /// No normalisation, foreground where `map >= 0.5` (SLAVC's default `pred_thr`).
    Absolute,
}

impl Binarization {
    /// The binary prediction of `map`.
    pub fn apply(self, map: &[f32]) -> Vec<bool> {
        match self {
            Binarization::MedianInclusive => binarize_at_median(&normalize_img(map)),
            Binarization::MedianExclusive => {
                let negated: Vec<f32> = map.iter().map(|&v| -v).collect();
                let p: Vec<f32> = normalize_img(&negated).iter().map(|&v| 1.0 - v).collect();
                match median(&p) {
                    Some(thr) => p.iter().map(|&v| v > thr || v >= 1.0).collect(),
                    None => Vec::new(),
                }
            }
            Binarization::Absolute => map.iter().map(|&v| v >= ABSOLUTE_THRESHOLD).collect(),
        }
    }

    /// The normalisation step, as the script writes it.
    pub fn normalization(self) -> &'static str {
        match self {
            Binarization::MedianInclusive => "min-max (normalize_img)",
            Binarization::MedianExclusive => "1 - normalize_img(-map)",
            Binarization::Absolute => "none",
        }
    }

    /// The threshold, as the script writes it.
    pub fn threshold(self) -> &'static str {
        match self {
            Binarization::MedianInclusive | Binarization::MedianExclusive => "median: sort(P)[N/2]",
            Binarization::Absolute => "0.5 (pred_thr)",
        }
    }

    /// The comparison that makes a pixel foreground.
    pub fn comparison(self) -> &'static str {
        match self {
            Binarization::MedianInclusive | Binarization::Absolute => ">=",
            Binarization::MedianExclusive => "> (pixels at the maximum kept)",
        }
    }
}

/// `np.sort(P.flatten())[N/2]` with NaN sorted last; `None` for an empty map.
fn median(map: &[f32]) -> Option<f32> {
    if map.is_empty() {
        return None;
    }
    let mut sorted: Vec<f32> =
        map.iter().map(|&v| if v.is_nan() { f32::INFINITY } else { v }).collect();
    sorted.sort_by(f32::total_cmp);
    Some(sorted[map.len() / 2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(b: &[bool]) -> usize {
        b.iter().filter(|&&x| x).count()
    }

    #[test]
    fn ties_at_the_median_split_the_rules() {
        // Sorted: [0×6, 1×4, 2×6]; N/2 = 8 → thr = the value 1 (0.5 after normalising).
        let mut map = vec![0f32; 6];
        map.extend([1.0; 4]);
        map.extend([2.0; 6]);
        // `>=`: the 4 tied pixels join the 6 above → 10; `>`: only the 6 above.
        assert_eq!(count(&Binarization::MedianInclusive.apply(&map)), 10);
        assert_eq!(count(&Binarization::MedianExclusive.apply(&map)), 6);
    }

    #[test]
    fn lvs_keeps_the_maximum_when_it_is_the_median() {
        // More than half the map at its maximum: thr = 1, nothing is > 1, but LVS's second line
        // (`pred[pred < 1] = 0`) leaves the pixels at 1 alone, so they stay foreground.
        let mut map = vec![0.2f32; 6];
        map.extend([0.9; 10]);
        assert_eq!(count(&Binarization::MedianExclusive.apply(&map)), 10);
        assert_eq!(count(&Binarization::MedianInclusive.apply(&map)), 10);
    }

    #[test]
    fn constant_maps() {
        // EZ-VSL: unchanged and all tied → all foreground. LVS: P = 1 + map, so all foreground
        // for map ≥ 0 and none for a negative constant. Absolute: by the value.
        for rule in [Binarization::MedianInclusive, Binarization::MedianExclusive] {
            assert_eq!(count(&rule.apply(&[0.0; 16])), 16, "{rule:?}");
        }
        assert_eq!(count(&Binarization::MedianInclusive.apply(&[-0.3; 16])), 16);
        assert_eq!(count(&Binarization::MedianExclusive.apply(&[-0.3; 16])), 0);
        assert_eq!(count(&Binarization::Absolute.apply(&[0.4; 16])), 0);
        assert_eq!(count(&Binarization::Absolute.apply(&[0.5; 16])), 16);
    }

    #[test]
    fn absolute_threshold_ignores_the_median() {
        // (cos + 1)/2 values: only cos ≥ 0 counts, however few or many pixels that is.
        let map = [0.1, 0.49, 0.5, 0.51, 0.2, 0.3, 0.4, 0.45];
        assert_eq!(
            Binarization::Absolute.apply(&map),
            [false, false, true, true, false, false, false, false]
        );
        assert_eq!(count(&Binarization::MedianInclusive.apply(&map)), 4);
    }

    #[test]
    fn nan_is_never_foreground_and_empty_is_empty() {
        let map = [f32::NAN, 0.0, 1.0, 2.0];
        for rule in
            [Binarization::MedianInclusive, Binarization::MedianExclusive, Binarization::Absolute]
        {
            assert!(!rule.apply(&map)[0], "{rule:?}");
            assert!(rule.apply(&[]).is_empty());
        }
    }
}
