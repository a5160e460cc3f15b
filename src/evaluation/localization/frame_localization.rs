//! What `pretext localize` says about one frame: where the peak of the heatmap is, a box around
//! the region the map points at, and how confident the model is that the sound comes from
//! something visible.
//!
//! - Peak: the arg-max of the upsampled map, in frame pixels.
//! - Box: the bounding box of the 4-connected region that contains the peak among pixels whose
//!   min-max normalised score is at least `box_threshold` (0.5 by default), half-open
//!   `[x0, y0, x1, y1]` in frame pixels. The median threshold of the metrics would always cover
//!   half the frame; a relative 0.5 level gives a box that hugs the hot spot.
//! - Confidence: SLAVC's mean of the top quarter of the map on its absolute [0, 1] scale.

use super::pointing::argmax;
use super::{min_max_normalize, top_quartile_mean};

/// The default relative level of the box.
pub const BOX_THRESHOLD: f32 = 0.5;

/// One frame's localisation, as written to `OUT/<clip>.json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FrameLocalization {
    /// Frame time in seconds.
    pub time: f64,
    /// Peak `[x, y]` in frame pixels.
    pub peak: [u32; 2],
    /// Box `[x0, y0, x1, y1]` (x1/y1 exclusive) in frame pixels.
    #[serde(rename = "box")]
    pub bbox: [u32; 4],
    /// Confidence in [0, 1] that a visible object makes the sound.
    pub confidence: f64,
}

/// Localises one frame from its `width × height` map (scores in [0, 1]); `None` for an empty or
/// mis-sized map.
pub fn localize_frame(
    map: &[f32],
    width: u32,
    height: u32,
    time: f64,
    box_threshold: f32,
) -> Option<FrameLocalization> {
    let (w, h) = (width as usize, height as usize);
    if map.len() != w * h || map.is_empty() {
        return None;
    }
    let peak = argmax(map)?;
    let norm = min_max_normalize(map);
    let on = |i: usize| norm[i] >= box_threshold || i == peak;
    let mut seen = vec![false; w * h];
    let mut stack = vec![peak];
    seen[peak] = true;
    let (mut x0, mut y0, mut x1, mut y1) = (w, h, 0, 0);
    while let Some(i) = stack.pop() {
        let (y, x) = (i / w, i % w);
        x0 = x0.min(x);
        y0 = y0.min(y);
        x1 = x1.max(x + 1);
        y1 = y1.max(y + 1);
        let mut push = |j: usize| {
            if !seen[j] && on(j) {
                seen[j] = true;
                stack.push(j);
            }
        };
        if x > 0 {
            push(i - 1);
        }
        if x + 1 < w {
            push(i + 1);
        }
        if y > 0 {
            push(i - w);
        }
        if y + 1 < h {
            push(i + w);
        }
    }
    Some(FrameLocalization {
        time,
        peak: [(peak % w) as u32, (peak / w) as u32],
        bbox: [x0 as u32, y0 as u32, x1 as u32, y1 as u32],
        confidence: top_quartile_mean(map),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn box_hugs_the_connected_hot_spot() {
        // 6×4 map: a hot 2×2 block at x 1..3, y 1..3 (peak at (2, 2)), a separate warm pixel at
        // (5, 0) above the level but not connected.
        let (w, h) = (6usize, 4usize);
        let mut m = vec![0.1f32; w * h];
        for (x, y, v) in [(1, 1, 0.8), (2, 1, 0.8), (1, 2, 0.7), (2, 2, 0.9), (5, 0, 0.8)] {
            m[y * w + x] = v;
        }
        let f = localize_frame(&m, w as u32, h as u32, 1.5, BOX_THRESHOLD).unwrap();
        assert_eq!(f.peak, [2, 2]);
        assert_eq!(f.bbox, [1, 1, 3, 3]);
        // Top quarter (6 of 24): 0.9, 0.8, 0.8, 0.8, 0.7, 0.1.
        assert!((f.confidence - 4.1 / 6.0).abs() < 1e-6);
        assert_eq!(f.time, 1.5);
    }

    #[test]
    fn mis_sized_map_is_none() {
        assert!(localize_frame(&[0.0; 5], 2, 3, 0.0, 0.5).is_none());
    }
}
