//! The pointing game (Zhang et al. 2016, as implemented by facebookresearch/TorchRay
//! `torchray/benchmark/pointing_game.py`), defined here explicitly because no AV repository has
//! it (EZ-VSL, SLAVC and LVS report none):
//!
//! - the point is the arg-max of the upsampled score map (the first one in row-major order,
//!   like `np.argmax`);
//! - [`PointingRule::TORCHRAY`] (the default): a hit when some ground-truth pixel (`G > 0`) lies
//!   strictly within 15 pixels of it, TorchRay's `accept = (v + u) < self.tolerance**2` with
//!   `PointingGame(tolerance=15)`: the point falls in the GT mask dilated by a 15-px disc;
//! - a tolerance of `t` px in general (`--pointing-tolerance t`), and `0` for the strict rule: a
//!   hit only when the arg-max pixel itself is inside the ground truth. (TorchRay's formula with
//!   tolerance 0 would never hit, `d² < 0`; its tolerance 1 is this strict rule.)
//! - samples without ground truth (silent or off-screen sound) are not scored;
//! - accuracy = hits / (hits + misses).
//!
//! Pixels are those of the evaluation grid (224×224), so 15 px is 6.7 % of the side.

/// TorchRay's default tolerance, in pixels of the 224×224 evaluation grid.
pub const TOLERANCE_PX: u32 = 15;

/// When the arg-max counts as pointing at the ground truth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PointingRule {
    /// A hit when a GT pixel is closer than this (Euclidean, strictly); 0 = the arg-max pixel
    /// itself must be in the GT.
    pub tolerance_px: u32,
}

impl PointingRule {
    /// TorchRay's rule: within 15 px.
    pub const TORCHRAY: PointingRule = PointingRule { tolerance_px: TOLERANCE_PX };
    /// The strict rule: the arg-max pixel inside the ground truth.
    pub const STRICT: PointingRule = PointingRule { tolerance_px: 0 };

    /// Whether this is the strict inside-the-box rule.
    pub fn is_strict(self) -> bool {
        self.tolerance_px == 0
    }

    /// "strict" or "tolerance", as reports name the rule.
    pub fn name(self) -> &'static str {
        if self.is_strict() {
            "strict"
        } else {
            "tolerance"
        }
    }
}

impl Default for PointingRule {
    fn default() -> Self {
        PointingRule::TORCHRAY
    }
}

/// Index of the first maximum (NaN never wins); `None` for an empty map.
pub fn argmax(map: &[f32]) -> Option<usize> {
    let mut best: Option<(usize, f32)> = None;
    for (i, &v) in map.iter().enumerate() {
        if v.is_nan() {
            continue;
        }
        if best.is_none_or(|(_, b)| v > b) {
            best = Some((i, v));
        }
    }
    best.map(|(i, _)| i)
}

/// Whether the arg-max of `pred` points at the GT mask under `rule`; `None` when the GT is
/// empty or the map has no value that is not NaN.
pub fn pointing_hit(pred: &[f32], gt: &[f32], size: usize, rule: PointingRule) -> Option<bool> {
    if !gt.iter().any(|&g| g > 0.0) {
        return None;
    }
    let i = argmax(pred)?;
    if rule.is_strict() {
        return Some(gt.get(i).is_some_and(|&g| g > 0.0));
    }
    let (py, px) = ((i / size) as i64, (i % size) as i64);
    let r = i64::from(rule.tolerance_px);
    let r2 = r * r;
    for y in (py - r).max(0)..=(py + r).min(size as i64 - 1) {
        for x in (px - r).max(0)..=(px + r).min(size as i64 - 1) {
            let d2 = (y - py) * (y - py) + (x - px) * (x - px);
            if d2 < r2 && gt[y as usize * size + x as usize] > 0.0 {
                return Some(true);
            }
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(size: usize, y: usize, x: usize) -> Vec<f32> {
        let mut m = vec![0f32; size * size];
        m[y * size + x] = 1.0;
        m
    }

    #[test]
    fn hit_inside_near_and_miss_far() {
        let size = 64;
        // GT: a single pixel at (row 10, col 10).
        let mut gt = vec![0f32; size * size];
        gt[10 * size + 10] = 1.0;
        let tr = PointingRule::TORCHRAY;
        assert_eq!(pointing_hit(&at(size, 10, 10), &gt, size, tr), Some(true));
        // 14 px away: hit; exactly 15 px away: miss (strict <); (9, 12) → 81 + 144 = 225: miss.
        assert_eq!(pointing_hit(&at(size, 10, 24), &gt, size, tr), Some(true));
        assert_eq!(pointing_hit(&at(size, 10, 25), &gt, size, tr), Some(false));
        assert_eq!(pointing_hit(&at(size, 19, 22), &gt, size, tr), Some(false));
        assert_eq!(pointing_hit(&at(size, 60, 60), &gt, size, tr), Some(false));
    }

    #[test]
    fn strict_rule_misses_a_peak_just_outside_the_box() {
        // GT: the box [40, 80) × [40, 80) of a 224 grid. A peak at (60, 83), 4 px right of the
        // box's last column: TorchRay's 15-px disc reaches the box (hit), the strict rule does
        // not (miss). Inside the box both hit; 15 px right of the last column (x = 94) both miss.
        let size = 224;
        let gt: Vec<f32> = (0..size * size)
            .map(|i| {
                if (40..80).contains(&(i / size)) && (40..80).contains(&(i % size)) {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        let outside = at(size, 60, 83);
        assert_eq!(pointing_hit(&outside, &gt, size, PointingRule::TORCHRAY), Some(true));
        assert_eq!(pointing_hit(&outside, &gt, size, PointingRule::STRICT), Some(false));
        let inside = at(size, 60, 79);
        assert_eq!(pointing_hit(&inside, &gt, size, PointingRule::TORCHRAY), Some(true));
        assert_eq!(pointing_hit(&inside, &gt, size, PointingRule::STRICT), Some(true));
        let far = at(size, 60, 94);
        assert_eq!(pointing_hit(&far, &gt, size, PointingRule::TORCHRAY), Some(false));
        // A 16-px tolerance reaches (60, 94) → (60, 79): 15 px < 16.
        assert_eq!(pointing_hit(&far, &gt, size, PointingRule { tolerance_px: 16 }), Some(true));
        assert_eq!(PointingRule::default(), PointingRule::TORCHRAY);
        assert_eq!(
            (PointingRule::STRICT.name(), PointingRule::TORCHRAY.name()),
            ("strict", "tolerance")
        );
    }

    #[test]
    fn empty_gt_is_not_scored_and_first_max_wins() {
        assert_eq!(pointing_hit(&[1.0; 4], &[0.0; 4], 2, PointingRule::TORCHRAY), None);
        assert_eq!(pointing_hit(&[1.0; 4], &[0.0; 4], 2, PointingRule::STRICT), None);
        assert_eq!(argmax(&[0.0, 3.0, f32::NAN, 3.0]), Some(1));
        assert_eq!(argmax(&[]), None);
    }
}
