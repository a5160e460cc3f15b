//! Shuffle & Learn (Misra et al. 2016): is this frame tuple in temporal order?
//!
//! A window of five frames a..e (`gap` frames apart) is cut from a high-motion stretch of the
//! file: the decode worker computes a frame-difference motion score in one sequential pass and
//! the window is drawn among those whose motion is at least the `motion_quantile` of the file.
//! Positives (label 1) are (b, c, d) or its reverse (d, c, b); negatives (label 0) are
//! (b, a, d) or (b, e, d) (or their reverses). Default: 25% positives, as in the paper.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{PlanContext, SampleSpec, Task};
use crate::pipeline::{IndexEntry, MotionProfile};

/// The frame-order sampling policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameOrderConfig {
    /// Share of positives, in [0, 1].
    pub positive_ratio: f64,
    /// Frames between consecutive members of the window a..e.
    pub gap: usize,
    /// Windows whose motion is below this quantile of the file's windows are not used.
    pub motion_quantile: f64,
}

impl Default for FrameOrderConfig {
    fn default() -> Self {
        FrameOrderConfig { positive_ratio: 0.25, gap: 3, motion_quantile: 0.5 }
    }
}

impl FrameOrderConfig {
    /// Checks the policy.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.positive_ratio) {
            return Err(format!("positive_ratio {} must lie in [0, 1]", self.positive_ratio));
        }
        if self.gap == 0 || self.gap > 1000 {
            return Err(format!("gap {} must lie in [1, 1000]", self.gap));
        }
        if !(0.0..1.0).contains(&self.motion_quantile) {
            return Err(format!("motion_quantile {} must lie in [0, 1)", self.motion_quantile));
        }
        Ok(())
    }
}

/// The frame-order task.
pub struct FrameOrderTask {
    config: FrameOrderConfig,
}

impl FrameOrderTask {
    /// A task with this policy.
    pub fn new(config: FrameOrderConfig) -> Self {
        FrameOrderTask { config }
    }
}

impl Task for FrameOrderTask {
    fn name(&self) -> &'static str {
        "frame-order"
    }

    fn needs_audio(&self) -> bool {
        false
    }

    fn frames_per_example(&self) -> usize {
        3
    }

    fn usable(&self, entry: &IndexEntry, _audio_seconds: f64) -> bool {
        entry.frame_count() > (4 * self.config.gap) as u64
    }

    fn plan(
        &self,
        _ctx: &PlanContext<'_>,
        file: usize,
        seq: u64,
        rng: &mut ChaCha8Rng,
    ) -> SampleSpec {
        let positive = rng.gen_bool(self.config.positive_ratio);
        let reverse = rng.gen_bool(0.5);
        let (mut slots, label, kind) = if positive {
            (vec![1, 2, 3], 1, if reverse { "reversed" } else { "ordered" })
        } else if rng.gen_bool(0.5) {
            (vec![1, 0, 3], 0, "shuffled_a")
        } else {
            (vec![1, 4, 3], 0, "shuffled_e")
        };
        if reverse {
            slots.reverse();
        }
        SampleSpec {
            seq,
            file,
            video_times: Vec::new(),
            audio: None,
            label,
            kind: kind.into(),
            slots,
            augment: Default::default(),
            rng_seed: 0,
        }
    }

    fn needs_motion(&self) -> bool {
        true
    }

    fn choose_frames(
        &self,
        spec: &mut SampleSpec,
        motion: &MotionProfile,
        rng: &mut ChaCha8Rng,
    ) -> bool {
        let span = 4 * self.config.gap;
        let w = motion.window_scores(span);
        if w.is_empty() {
            return false;
        }
        let mut sorted = w.clone();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let thr = sorted[((sorted.len() - 1) as f64 * self.config.motion_quantile) as usize];
        let cand: Vec<usize> = (0..w.len()).filter(|&s| w[s] >= thr).collect();
        let s = cand[rng.gen_range(0..cand.len())];
        spec.video_times =
            spec.slots.iter().map(|&k| motion.pts[s + k * self.config.gap]).collect();
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tuples_come_from_high_motion_and_follow_labels() {
        let task = FrameOrderTask::new(FrameOrderConfig::default());
        // 60 frames; motion only between frames 30 and 45.
        let mut m = MotionProfile::new();
        for i in 0..60 {
            let v = if (30..45).contains(&i) { (i * 17 % 256) as u8 } else { 0 };
            m.push_rgb(i as f64 / 10.0, &[v; 12]);
        }
        let index: Vec<IndexEntry> = Vec::new();
        let ctx = PlanContext { index: &index, audio_seconds: 1.0 };
        let mut pos = 0;
        for seq in 0..400 {
            let mut rng = ChaCha8Rng::seed_from_u64(seq);
            let mut s = task.plan(&ctx, 0, seq, &mut rng);
            assert!(task.choose_frames(&mut s, &m, &mut rng));
            let t = &s.video_times;
            assert_eq!(t.len(), 3);
            let ordered = (t[0] < t[1] && t[1] < t[2]) || (t[0] > t[1] && t[1] > t[2]);
            assert_eq!(ordered, s.label == 1, "{:?} {}", t, s.kind);
            assert!((t[0] - t[2]).abs() > 0.5 - 1e-9, "b and d are 2 gaps apart");
            let lo = t.iter().cloned().fold(f64::MAX, f64::min);
            assert!((1.75..=4.8).contains(&lo), "window starts near motion: {lo}");
            pos += s.label;
        }
        assert!((60..140).contains(&pos), "positives {pos}");
    }
}
