//! The pointing game (Zhang et al. 2016, as implemented by facebookresearch/TorchRay
//! `benchmark/pointing_game.py`), defined here explicitly because no AV repository has it:
//!
//! - the point is the arg-max of the upsampled score map (the first one in row-major order,
//!   like `np.argmax`);
//! - it is a hit when some ground-truth pixel (`G > 0`) lies strictly within `TOLERANCE_PX`
//!   pixels of it (Euclidean, `dy² + dx² < 15²`), i.e. the point falls in the GT mask dilated by
//!   a 15-px disc;
//! - samples without ground truth (silent or off-screen sound) are not scored;
//! - accuracy = hits / (hits + misses).

/// TorchRay's default tolerance, in pixels of the 224×224 evaluation grid.
pub const TOLERANCE_PX: f64 = 15.0;

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

/// Whether the arg-max of `pred` is within `tolerance` pixels of the GT mask; `None` when the
/// GT is empty or the map has no finite value.
pub fn pointing_hit(pred: &[f32], gt: &[f32], size: usize, tolerance: f64) -> Option<bool> {
    if !gt.iter().any(|&g| g > 0.0) {
        return None;
    }
    let i = argmax(pred)?;
    let (py, px) = ((i / size) as i64, (i % size) as i64);
    let r = tolerance.ceil() as i64;
    for y in (py - r).max(0)..=(py + r).min(size as i64 - 1) {
        for x in (px - r).max(0)..=(px + r).min(size as i64 - 1) {
            let d2 = ((y - py) * (y - py) + (x - px) * (x - px)) as f64;
            if d2 < tolerance * tolerance && gt[y as usize * size + x as usize] > 0.0 {
                return Some(true);
            }
        }
    }
    Some(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_inside_near_and_miss_far() {
        let size = 64;
        // GT: a single pixel at (row 10, col 10).
        let mut gt = vec![0f32; size * size];
        gt[10 * size + 10] = 1.0;
        let at = |y: usize, x: usize| {
            let mut m = vec![0f32; size * size];
            m[y * size + x] = 1.0;
            m
        };
        assert_eq!(pointing_hit(&at(10, 10), &gt, size, 15.0), Some(true));
        // 14 px away: hit; exactly 15 px away: miss (strict <); (9, 12) → 81 + 144 = 225: miss.
        assert_eq!(pointing_hit(&at(10, 24), &gt, size, 15.0), Some(true));
        assert_eq!(pointing_hit(&at(10, 25), &gt, size, 15.0), Some(false));
        assert_eq!(pointing_hit(&at(19, 22), &gt, size, 15.0), Some(false));
        assert_eq!(pointing_hit(&at(60, 60), &gt, size, 15.0), Some(false));
    }

    #[test]
    fn empty_gt_is_not_scored_and_first_max_wins() {
        assert_eq!(pointing_hit(&[1.0; 4], &[0.0; 4], 2, 15.0), None);
        assert_eq!(argmax(&[0.0, 3.0, f32::NAN, 3.0]), Some(1));
        assert_eq!(argmax(&[]), None);
    }
}
