//! A cheap motion score: the mean absolute difference between consecutive frames, computed on
//! small grey thumbnails during one sequential decode pass. Frame-order tasks use it to cut
//! tuples from high-motion stretches (Shuffle & Learn), where temporal order is visible.

/// Per-frame motion of one file, in presentation order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MotionProfile {
    /// Presentation time of each frame (seconds).
    pub pts: Vec<f64>,
    /// Mean |difference| from the previous frame, in [0, 255]; 0 for the first frame.
    pub score: Vec<f32>,
    prev: Vec<u8>,
}

impl MotionProfile {
    /// An empty profile.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a frame given as packed RGB24 (any size, fixed for the whole file).
    pub fn push_rgb(&mut self, pts: f64, rgb: &[u8]) {
        let grey: Vec<u8> = rgb
            .chunks_exact(3)
            .map(|p| ((p[0] as u32 * 77 + p[1] as u32 * 150 + p[2] as u32 * 29) >> 8) as u8)
            .collect();
        let s = if self.prev.len() == grey.len() && !grey.is_empty() {
            let sum: u64 = grey
                .iter()
                .zip(&self.prev)
                .map(|(a, b)| (*a as i32 - *b as i32).unsigned_abs() as u64)
                .sum();
            sum as f32 / grey.len() as f32
        } else {
            0.0
        };
        self.pts.push(pts);
        self.score.push(s);
        self.prev = grey;
    }

    /// Number of frames.
    pub fn len(&self) -> usize {
        self.pts.len()
    }

    /// Whether no frame was seen.
    pub fn is_empty(&self) -> bool {
        self.pts.is_empty()
    }

    /// Motion of every window `[s, s + span]` (sum of the scores of frames `s+1 ..= s+span`),
    /// for `s` in `0 .. len - span`.
    pub fn window_scores(&self, span: usize) -> Vec<f64> {
        let n = self.score.len();
        if n <= span {
            return Vec::new();
        }
        let mut prefix = Vec::with_capacity(n + 1);
        prefix.push(0.0f64);
        for s in &self.score {
            let last = prefix.last().copied().unwrap_or(0.0);
            prefix.push(last + *s as f64);
        }
        (0..n - span).map(|s| prefix[s + span + 1] - prefix[s + 1]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_differences_and_windows() {
        let mut m = MotionProfile::new();
        let frames = [[0u8; 6], [0u8; 6], [30u8; 6], [30u8; 6], [90u8; 6]];
        for (i, f) in frames.iter().enumerate() {
            m.push_rgb(i as f64 * 0.1, f);
        }
        assert_eq!(m.score, vec![0.0, 0.0, 30.0, 0.0, 60.0]);
        assert_eq!(m.window_scores(2), vec![30.0, 30.0, 60.0]);
        assert!(m.window_scores(5).is_empty());
    }
}
