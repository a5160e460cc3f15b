//! Ground-truth maps on the evaluation grid, built from boxes the way the published code does
//! (EZ-VSL/SLAVC `bbox2gtmap`):
//!
//! - every box paints 1 into `[y0, y1) × [x0, x1)` (numpy slicing, so `x1`/`y1` are exclusive);
//! - [`Consensus::Flickr`]: the boxes (one per annotator, 3 in Flickr-SoundNet) are summed, halved
//!   and clipped to 1, so a pixel marked by one annotator weighs 0.5 and by two or more weighs 1;
//! - [`Consensus::Union`]: VGG-SS and the synthetic world take the binary union.
//!
//! Coordinates are clamped into the grid (numpy would wrap negative indices; the published boxes
//! never have any, but synthetic objects may leave the frame partly).

/// A box in pixels of the evaluation grid; `x1`/`y1` are exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PixelBox {
    /// Left edge (inclusive).
    pub x0: i64,
    /// Top edge (inclusive).
    pub y0: i64,
    /// Right edge (exclusive).
    pub x1: i64,
    /// Bottom edge (exclusive).
    pub y1: i64,
}

impl PixelBox {
    /// Scales `[x0, y0, x1, y1]` by `(sx, sy)` and truncates toward zero like Python's `int()`
    /// and numpy's `astype(int)`.
    pub fn scaled(b: [f64; 4], sx: f64, sy: f64) -> Self {
        PixelBox {
            x0: (b[0] * sx).trunc() as i64,
            y0: (b[1] * sy).trunc() as i64,
            x1: (b[2] * sx).trunc() as i64,
            y1: (b[3] * sy).trunc() as i64,
        }
    }

    /// Area in pixels after clamping into a `size × size` grid.
    pub fn clamped_area(&self, size: usize) -> usize {
        let c = |v: i64| v.clamp(0, size as i64);
        ((c(self.x1) - c(self.x0)).max(0) * (c(self.y1) - c(self.y0)).max(0)) as usize
    }
}

/// How several boxes of one sample combine into a ground-truth map.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Consensus {
    /// Sum, divide by 2, clip to 1 (Flickr-SoundNet's three annotators).
    Flickr,
    /// Binary union (VGG-SS, synthetic world).
    Union,
}

/// One evaluation sample's ground truth: its boxes on the evaluation grid.
///
/// An empty `boxes` means no visible sounding object (silent or off-screen audio), the negative
/// samples of SLAVC's extended protocol.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocalizationTarget {
    /// Sample name: the image/clip stem, or `clip@time` for synthetic frames.
    pub name: String,
    /// Boxes in pixels of the `size × size` evaluation grid.
    pub boxes: Vec<PixelBox>,
    /// How the boxes combine.
    pub consensus: Consensus,
    /// Time of the frame in its clip (seconds), for video sources.
    pub time: Option<f64>,
}

/// The ground-truth map (`size × size`, row-major) of a target.
pub fn gt_map(target: &LocalizationTarget, size: usize) -> Vec<f32> {
    let mut map = vec![0f32; size * size];
    let c = |v: i64| v.clamp(0, size as i64) as usize;
    for b in &target.boxes {
        for y in c(b.y0)..c(b.y1) {
            for v in &mut map[y * size + c(b.x0)..y * size + c(b.x1).max(c(b.x0))] {
                *v += 1.0;
            }
        }
    }
    for v in &mut map {
        *v = match target.consensus {
            Consensus::Flickr => (*v / 2.0).min(1.0),
            Consensus::Union => {
                if *v > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
        };
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(boxes: Vec<PixelBox>, consensus: Consensus) -> LocalizationTarget {
        LocalizationTarget { name: "t".into(), boxes, consensus, time: None }
    }

    #[test]
    fn flickr_consensus_weights_half_and_one() {
        // Three annotators on a 4×4 grid: two agree on column 0..2 of row 0, one adds (3,3).
        let a = PixelBox { x0: 0, y0: 0, x1: 2, y1: 1 };
        let b = PixelBox { x0: 3, y0: 3, x1: 4, y1: 4 };
        let map = gt_map(&target(vec![a, a, b], Consensus::Flickr), 4);
        let mut want = vec![0f32; 16];
        want[0] = 1.0;
        want[1] = 1.0;
        want[15] = 0.5;
        assert_eq!(map, want);
        // All three agreeing clips to 1, not 1.5.
        let map = gt_map(&target(vec![a, a, a], Consensus::Flickr), 4);
        assert_eq!(map[0], 1.0);
    }

    #[test]
    fn union_is_binary_and_clamped() {
        let a = PixelBox { x0: -3, y0: -3, x1: 2, y1: 2 };
        let b = PixelBox { x0: 1, y0: 1, x1: 9, y1: 3 };
        let map = gt_map(&target(vec![a, b], Consensus::Union), 4);
        #[rustfmt::skip]
        let want = vec![
            1.0, 1.0, 0.0, 0.0,
            1.0, 1.0, 1.0, 1.0,
            0.0, 1.0, 1.0, 1.0,
            0.0, 0.0, 0.0, 0.0,
        ];
        assert_eq!(map, want);
    }

    #[test]
    fn scaling_truncates_like_python_int() {
        // Flickr: int(224 * 255 / 256) = 223; int(224 * 10 / 256) = 8.
        let b = PixelBox::scaled([10.0, 0.0, 255.0, 256.0], 224.0 / 256.0, 224.0 / 256.0);
        assert_eq!(b, PixelBox { x0: 8, y0: 0, x1: 223, y1: 224 });
        assert_eq!(b.clamped_area(224), 215 * 224);
    }

    #[test]
    fn inverted_box_paints_nothing() {
        let a = PixelBox { x0: 3, y0: 0, x1: 1, y1: 2 };
        assert!(gt_map(&target(vec![a], Consensus::Union), 4).iter().all(|&v| v == 0.0));
    }
}
