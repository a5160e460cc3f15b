//! The holes of the inpainting task and the loss weights around them. A mask is a `side × side`
//! map, 1 where the input holds no original pixel (the hole). Three kinds, as Context Encoders
//! (Pathak et al. 2016, §3.3):
//!
//! - `central`: one square in the middle, `hole × side` on a side (½: a quarter of the frame,
//!   the paper's main setting);
//! - `blocks`: smaller, possibly overlapping squares (sides `side/8`..`side/4`) at random places,
//!   added while the covered share stays at most `hole²` (¼), until it reaches 90 % of that;
//! - `regions`: random shapes. The paper cuts them from other images' segmentations; its
//!   reference code (`train_random.lua`) thresholds bicubically upscaled uniform noise at 25 %.
//!   Here: uniform noise on a 9 × 9 grid (8 cells across, about the reference's blob size),
//!   smoothstep-interpolated to the frame, the hole where it is lowest; the threshold is the
//!   `hole²` quantile of the field, so every mask covers exactly that share (the reference
//!   instead redraws until 20-30 %).
//!
//! The loss weights ([`weights`]): 1 in the hole, `overlap_weight` (×10) in the band of
//! `overlap` px (7) around it, 0 elsewhere: the model predicts the hole and a band of visible
//! context, whose ×10 weight makes the prediction agree with its surroundings. The band is the
//! hole dilated by a square of side `2 × overlap + 1` (Chebyshev distance ≤ `overlap`), minus
//! the hole. (The reference's central setting instead keeps the 64 px predicted square fixed
//! and shrinks the mean-filled hole by the overlap; here the hole is the stated size and the
//! band grows outwards, which reads the same for every mask kind.)
//!
//! All random choices come from the generator handed in (the assembler's own stream).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Which holes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskKind {
    /// One square in the middle.
    Central,
    /// Random, possibly overlapping squares.
    Blocks,
    /// Random smooth shapes.
    Regions,
}

impl MaskKind {
    /// The option's spelling.
    pub fn name(self) -> &'static str {
        match self {
            MaskKind::Central => "central",
            MaskKind::Blocks => "blocks",
            MaskKind::Regions => "regions",
        }
    }
}

/// Side of the central hole for a frame of `side` px: `hole × side`, rounded, at least 1 and
/// leaving at least one visible pixel on each side.
pub fn central_side(side: usize, hole: f64) -> usize {
    ((hole * side as f64).round() as usize).clamp(1, side.saturating_sub(2).max(1))
}

/// A `side × side` mask of `kind` (1 = hole), row-major. `hole` is the central square's share
/// of the side; blocks and regions cover `hole²` of the frame.
pub fn draw(kind: MaskKind, side: usize, hole: f64, rng: &mut ChaCha8Rng) -> Vec<u8> {
    match kind {
        MaskKind::Central => central(side, hole),
        MaskKind::Blocks => blocks(side, hole * hole, rng),
        MaskKind::Regions => regions(side, hole * hole, rng),
    }
}

fn central(side: usize, hole: f64) -> Vec<u8> {
    let h = central_side(side, hole);
    let start = (side - h) / 2;
    let mut m = vec![0u8; side * side];
    for y in start..start + h {
        m[y * side + start..y * side + start + h].fill(1);
    }
    m
}

fn blocks(side: usize, area: f64, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let mut m = vec![0u8; side * side];
    let target = (area * (side * side) as f64).round() as usize;
    let (lo, hi) = ((side / 8).max(1), (side / 4).max(1));
    let mut covered = 0usize;
    for attempt in 0..200 {
        let b = rng.gen_range(lo..=hi).min(side);
        let (y0, x0) = (rng.gen_range(0..=side - b), rng.gen_range(0..=side - b));
        let new = (y0..y0 + b)
            .map(|y| m[y * side + x0..y * side + x0 + b].iter().filter(|v| **v == 0).count())
            .sum::<usize>();
        if attempt > 0 && covered + new > target {
            continue;
        }
        for y in y0..y0 + b {
            m[y * side + x0..y * side + x0 + b].fill(1);
        }
        covered += new;
        if 10 * covered >= 9 * target {
            break;
        }
    }
    m
}

/// Cells of the regions' noise grid across the frame.
const REGION_CELLS: usize = 8;

fn regions(side: usize, area: f64, rng: &mut ChaCha8Rng) -> Vec<u8> {
    let g = REGION_CELLS + 1;
    let grid: Vec<f32> = (0..g * g).map(|_| rng.gen::<f32>()).collect();
    let smooth = |t: f32| t * t * (3.0 - 2.0 * t);
    let scale = REGION_CELLS as f32 / side.max(2) as f32;
    let mut field = Vec::with_capacity(side * side);
    for y in 0..side {
        let fy = (y as f32 + 0.5) * scale;
        let (iy, ty) = ((fy as usize).min(g - 2), smooth(fy.fract()));
        for x in 0..side {
            let fx = (x as f32 + 0.5) * scale;
            let (ix, tx) = ((fx as usize).min(g - 2), smooth(fx.fract()));
            let at = |r: usize, c: usize| grid[r * g + c];
            let top = at(iy, ix) * (1.0 - tx) + at(iy, ix + 1) * tx;
            let bottom = at(iy + 1, ix) * (1.0 - tx) + at(iy + 1, ix + 1) * tx;
            field.push(top * (1.0 - ty) + bottom * ty);
        }
    }
    // The `area` share of pixels with the lowest field values (ties broken by position).
    let k = ((area * (side * side) as f64).round() as usize).clamp(1, side * side - 1);
    let mut order: Vec<usize> = (0..side * side).collect();
    order.sort_by(|&a, &b| field[a].total_cmp(&field[b]).then(a.cmp(&b)));
    let mut m = vec![0u8; side * side];
    for &i in &order[..k] {
        m[i] = 1;
    }
    m
}

/// The loss weights of a mask: 1 in the hole, `overlap_weight` in the band of `overlap` px
/// around it (Chebyshev distance, inside the frame), 0 elsewhere.
pub fn weights(mask: &[u8], side: usize, overlap: usize, overlap_weight: f32) -> Vec<f32> {
    let near = dilate(mask, side, overlap);
    mask.iter()
        .zip(&near)
        .map(|(&h, &n)| {
            if h == 1 {
                1.0
            } else if n == 1 {
                overlap_weight
            } else {
                0.0
            }
        })
        .collect()
}

/// `mask` dilated by a square of radius `r` (separable running maximum).
fn dilate(mask: &[u8], side: usize, r: usize) -> Vec<u8> {
    if r == 0 {
        return mask.to_vec();
    }
    let mut rows = vec![0u8; mask.len()];
    for y in 0..side {
        for x in 0..side {
            let (a, b) = (x.saturating_sub(r), (x + r).min(side - 1));
            rows[y * side + x] = *mask[y * side + a..=y * side + b].iter().max().unwrap_or(&0);
        }
    }
    let mut out = vec![0u8; mask.len()];
    for y in 0..side {
        let (a, b) = (y.saturating_sub(r), (y + r).min(side - 1));
        for x in 0..side {
            out[y * side + x] = (a..=b).map(|yy| rows[yy * side + x]).max().unwrap_or(0);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn share(m: &[u8]) -> f64 {
        m.iter().map(|&v| f64::from(v)).sum::<f64>() / m.len() as f64
    }

    #[test]
    fn the_central_hole_is_the_middle_square_of_half_the_side() {
        let m = draw(MaskKind::Central, 64, 0.5, &mut ChaCha8Rng::seed_from_u64(0));
        for y in 0..64 {
            for x in 0..64 {
                let inside = (16..48).contains(&y) && (16..48).contains(&x);
                assert_eq!(m[y * 64 + x] == 1, inside, "({y}, {x})");
            }
        }
        assert_eq!(central_side(128, 0.5), 64);
        assert_eq!(central_side(16, 0.99), 14, "one visible pixel is left on each side");
    }

    #[test]
    fn blocks_and_regions_cover_about_a_quarter_and_differ_between_draws() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for kind in [MaskKind::Blocks, MaskKind::Regions] {
            let mut seen = Vec::new();
            for _ in 0..20 {
                let m = draw(kind, 64, 0.5, &mut rng);
                let s = share(&m);
                assert!((0.22..=0.25).contains(&s), "{kind:?} covers {s}");
                assert!(!seen.contains(&m), "{kind:?}: a mask repeated");
                seen.push(m);
            }
        }
        // Regions are blobs, not salt and pepper: most hole pixels have a hole neighbour on
        // each side.
        let m = draw(MaskKind::Regions, 64, 0.5, &mut rng);
        let inner = (1..63)
            .flat_map(|y| (1..63).map(move |x| (y, x)))
            .filter(|&(y, x)| m[y * 64 + x] == 1)
            .filter(|&(y, x)| m[y * 64 + x - 1] + m[y * 64 + x + 1] + m[(y - 1) * 64 + x] == 3)
            .count();
        assert!(inner as f64 > 0.5 * 0.25 * 3844.0, "{inner} interior hole pixels");
    }

    #[test]
    fn masks_are_a_function_of_the_seed() {
        for kind in [MaskKind::Central, MaskKind::Blocks, MaskKind::Regions] {
            let a = draw(kind, 48, 0.5, &mut ChaCha8Rng::seed_from_u64(9));
            let b = draw(kind, 48, 0.5, &mut ChaCha8Rng::seed_from_u64(9));
            let c = draw(kind, 48, 0.5, &mut ChaCha8Rng::seed_from_u64(10));
            assert_eq!(a, b, "{kind:?}");
            assert_eq!(a == c, kind == MaskKind::Central, "{kind:?}");
        }
    }

    #[test]
    fn the_band_is_overlap_pixels_around_the_hole_at_ten_times_the_weight() {
        let m = draw(MaskKind::Central, 64, 0.5, &mut ChaCha8Rng::seed_from_u64(0));
        let w = weights(&m, 64, 7, 10.0);
        for y in 0..64 {
            for x in 0..64 {
                // Chebyshev distance from the hole [16, 48)².
                let d = |v: usize| if v < 16 { 16 - v } else { (v + 1).saturating_sub(48) };
                let dist = d(y).max(d(x));
                let want = match dist {
                    0 => 1.0,
                    1..=7 => 10.0,
                    _ => 0.0,
                };
                assert_eq!(w[y * 64 + x], want, "({y}, {x}) at distance {dist}");
            }
        }
        // No band: the weights are the hole.
        let w0 = weights(&m, 64, 0, 10.0);
        assert!(w0.iter().zip(&m).all(|(w, h)| *w == f32::from(*h)));
    }
}
