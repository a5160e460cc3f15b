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

use crate::media::RgbFrame;
use crate::pipeline::{
    AssembleContext, Example, Field, FieldSpec, IndexEntry, InputSpec, MotionProfile,
    PipelineError, PlanContext, SampleSpec, TaskData,
};

/// The frame-order sampling policy of one stream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FrameOrderPolicy {
    /// Share of positives, in [0, 1].
    pub positive_ratio: f64,
    /// Frames between consecutive members of the window a..e.
    pub gap: usize,
    /// Windows whose motion is below this quantile of the file's windows are not used.
    pub motion_quantile: f64,
}

impl Default for FrameOrderPolicy {
    fn default() -> Self {
        FrameOrderPolicy { positive_ratio: 0.25, gap: 3, motion_quantile: 0.5 }
    }
}

impl FrameOrderPolicy {
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

/// The frame-order sampler and assembler. Fields: `frames` (`[3, 3, S, S]`, the tuple in the
/// order the model sees it) and `label` (`[]`: 1 ordered or reversed, 0 shuffled).
#[derive(Debug, Clone)]
pub struct FrameOrderData {
    config: FrameOrderPolicy,
}

impl FrameOrderData {
    /// A sampler with this policy.
    pub fn new(config: FrameOrderPolicy) -> Self {
        FrameOrderData { config }
    }
}

impl TaskData for FrameOrderData {
    fn name(&self) -> &str {
        "frame-order"
    }

    fn fields(&self, input: &InputSpec) -> Vec<FieldSpec> {
        let s = input.frame_size as usize;
        vec![FieldSpec::f32("frames", &[3, 3, s, s]), FieldSpec::i64("label", &[])]
    }

    fn needs_audio(&self) -> bool {
        false
    }

    fn usable(&self, entry: &IndexEntry, _input: &InputSpec) -> bool {
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
        let mut spec = SampleSpec::new(seq, file, Vec::new());
        spec.label = label;
        spec.kind = kind.into();
        spec.slots = slots;
        spec
    }

    fn plan_at(&self, ctx: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec> {
        // The ordered tuple (b, c, d) centred on the frame at `t`.
        let e = &ctx.index[file];
        let g = self.config.gap as i64;
        let i = ((t - e.video_start) * e.fps).round() as i64;
        if i - g < 0 || i + g >= e.frame_count() as i64 {
            return None;
        }
        let times = [i - g, i, i + g].iter().map(|&j| e.frame_time(j as u64)).collect();
        let mut spec = SampleSpec::new(0, file, times);
        spec.label = 1;
        spec.kind = "ordered".into();
        spec.slots = vec![1, 2, 3];
        Some(spec)
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

    fn assemble(
        &self,
        spec: &SampleSpec,
        frames: &[RgbFrame],
        _audio: &[f32],
        cx: &mut AssembleContext<'_>,
    ) -> Result<Vec<Field>, PipelineError> {
        let s = cx.input().frame_size as usize;
        Ok(vec![
            Field::f32("frames", &[3, 3, s, s], cx.frames(frames, &spec.augment)),
            Field::label("label", spec.label),
        ])
    }

    fn toy_example(&self, input: &InputSpec, index: u64, rng: &mut ChaCha8Rng) -> Example {
        super::toy::example(input, &self.config, index, rng)
    }

    fn describe(&self) -> String {
        format!(
            "frame order: (b,c,d)/(d,c,b) vs (b,a,d)/(b,e,d), {} frames apart, {:.0}% positives",
            self.config.gap,
            100.0 * self.config.positive_ratio
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tuples_come_from_high_motion_and_follow_labels() {
        let task = FrameOrderData::new(FrameOrderPolicy::default());
        // 60 frames; motion only between frames 30 and 45.
        let mut m = MotionProfile::new();
        for i in 0..60 {
            let v = if (30..45).contains(&i) { (i * 17 % 256) as u8 } else { 0 };
            m.push_rgb(i as f64 / 10.0, &[v; 12]);
        }
        let index: Vec<IndexEntry> = Vec::new();
        let input = InputSpec::default();
        let ctx = PlanContext { index: &index, input: &input };
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
