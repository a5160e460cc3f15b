//! Audio-visual correspondence (L3-Net / AVTS style): does this audio window belong with this
//! frame?
//!
//! - **positive** (label 1): a frame and the audio window centred on it, same file;
//! - **easy negative** (label 0): the audio window of another file;
//! - **hard negative** (label 0): the same file's audio shifted by at least `min_shift` seconds
//!   (temporal synchronisation, AVTS), with an optional curriculum raising their share.
//!
//! Every audio window, positive or negative, is centred on a frame of the video frame grid
//! (`video_start + i / fps`), so compression and resampling artefacts cannot tell negatives
//! from positives (see `docs/anchors.md`: off-grid negatives inflate AVC accuracy).

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use super::{AudioRead, PlanContext, SampleSpec, Task};
use crate::pipeline::IndexEntry;

/// Which negatives to draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NegativeKinds {
    /// Audio from another file.
    pub easy: bool,
    /// Audio from the same file, shifted.
    pub hard: bool,
}

impl Default for NegativeKinds {
    fn default() -> Self {
        NegativeKinds { easy: true, hard: false }
    }
}

/// The AVC sampling policy.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AvcConfig {
    /// Share of positives, in [0, 1].
    pub positive_ratio: f64,
    /// Negative kinds to draw.
    pub negatives: NegativeKinds,
    /// Minimum |shift| of a hard negative's audio centre from the frame, in seconds.
    pub min_shift: f64,
    /// Share of hard negatives among negatives when both kinds are on (no curriculum).
    pub hard_share: f64,
    /// Curriculum: the hard share rises linearly from `hard_share` to `to` over the first
    /// `over` samples (by sequence number).
    pub curriculum: Option<Curriculum>,
    /// Frames per example. 1: the frame the audio window is centred on. K > 1: K frames on the
    /// video grid spread evenly across the audio window and centred on that frame (odd K
    /// includes it), so a model can compare *when* things change in the picture with *when* the
    /// sound has onsets: the evidence hard (shifted) negatives need.
    pub frames: usize,
}

/// A linear ramp of the hard-negative share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Curriculum {
    /// Final hard share.
    pub to: f64,
    /// Samples over which the share rises.
    pub over: u64,
}

impl Default for AvcConfig {
    fn default() -> Self {
        AvcConfig {
            positive_ratio: 0.5,
            negatives: NegativeKinds::default(),
            min_shift: 1.0,
            hard_share: 0.5,
            curriculum: None,
            frames: 1,
        }
    }
}

impl AvcConfig {
    /// Checks the policy.
    pub fn validate(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.positive_ratio) {
            return Err(format!("positive_ratio {} must lie in [0, 1]", self.positive_ratio));
        }
        if !self.negatives.easy && !self.negatives.hard {
            return Err("at least one negative kind (easy, hard) is needed".into());
        }
        if !(self.min_shift.is_finite() && self.min_shift > 0.0) {
            return Err(format!("min_shift {} must be positive", self.min_shift));
        }
        if !(0.0..=1.0).contains(&self.hard_share) {
            return Err(format!("hard_share {} must lie in [0, 1]", self.hard_share));
        }
        if !(1..=16).contains(&self.frames) {
            return Err(format!("frames {} must lie in 1..=16", self.frames));
        }
        if let Some(c) = self.curriculum {
            if !(0.0..=1.0).contains(&c.to) || c.over == 0 {
                return Err("curriculum needs a target share in [0, 1] and over >= 1".into());
            }
        }
        Ok(())
    }

    /// Share of hard negatives among negatives for sample `seq`.
    pub fn hard_share_at(&self, seq: u64) -> f64 {
        match (self.negatives.easy, self.negatives.hard) {
            (true, false) => 0.0,
            (false, true) => 1.0,
            _ => match self.curriculum {
                None => self.hard_share,
                Some(c) => {
                    let f = (seq as f64 / c.over as f64).min(1.0);
                    self.hard_share + (c.to - self.hard_share) * f
                }
            },
        }
    }
}

/// The AVC task.
pub struct AvcTask {
    config: AvcConfig,
}

impl AvcTask {
    /// A task with this policy.
    pub fn new(config: AvcConfig) -> Self {
        AvcTask { config }
    }
}

/// Frames `i` (inclusive range) whose centred audio window of `a` seconds lies inside both the
/// audio and the video streams.
pub fn centre_range(e: &IndexEntry, a: f64) -> Option<(u64, u64)> {
    let (as_, ae) = e.audio?;
    let lo = e.video_start.max(as_) + a / 2.0;
    let hi = e.video_end.min(ae) - a / 2.0;
    let i_lo = ((lo - e.video_start) * e.fps - 1e-9).ceil().max(0.0) as u64;
    let n = e.frame_count();
    if n == 0 {
        return None;
    }
    let i_hi = (((hi - e.video_start) * e.fps + 1e-9).floor().max(-1.0) as i64).min(n as i64 - 1);
    if i_hi < i_lo as i64 {
        None
    } else {
        Some((i_lo, i_hi as u64))
    }
}

impl Task for AvcTask {
    fn name(&self) -> &'static str {
        "avc"
    }

    fn needs_audio(&self) -> bool {
        true
    }

    fn frames_per_example(&self) -> usize {
        self.config.frames
    }

    fn usable(&self, entry: &IndexEntry, audio_seconds: f64) -> bool {
        centre_range(entry, audio_seconds).is_some()
    }

    fn plan(
        &self,
        ctx: &PlanContext<'_>,
        file: usize,
        seq: u64,
        rng: &mut ChaCha8Rng,
    ) -> SampleSpec {
        let a = ctx.audio_seconds;
        let e = &ctx.index[file];
        // `usable` guarantees a range; an empty one degrades to frame 0 rather than panicking.
        let (lo, hi) = centre_range(e, a).unwrap_or((0, 0));
        let i = rng.gen_range(lo..=hi);
        let t = e.frame_time(i);
        let mut spec = SampleSpec {
            seq,
            file,
            video_times: window_frames(e, i, self.config.frames, a)
                .into_iter()
                .map(|j| e.frame_time(j))
                .collect(),
            audio: Some(AudioRead { file, start: t - a / 2.0 }),
            label: 1,
            kind: "positive".into(),
            slots: Vec::new(),
            augment: Default::default(),
            rng_seed: 0,
        };
        if rng.gen_bool(self.config.positive_ratio) {
            return spec;
        }
        let want_hard = rng.gen_bool(self.config.hard_share_at(seq).clamp(0.0, 1.0));
        let hard = hard_negative(e, lo, hi, i, self.config.min_shift, rng).map(|t| (file, t));
        let easy = easy_negative(ctx, file, a, rng);
        let choice = if want_hard { hard.map(|c| (c, "hard")) } else { None }
            .or_else(|| easy.map(|c| (c, "easy")))
            .or_else(|| hard.map(|c| (c, "hard")));
        if let Some(((f, centre), kind)) = choice {
            spec.audio = Some(AudioRead { file: f, start: centre - a / 2.0 });
            spec.label = 0;
            spec.kind = kind.into();
        }
        spec
    }
}

/// `k` frame indices on the grid, evenly spread over an audio window of `a` seconds centred on
/// frame `i` (spacing `a × fps / k` frames, at least 1), clamped to the file; `[i]` for `k = 1`.
pub fn window_frames(e: &IndexEntry, i: u64, k: usize, a: f64) -> Vec<u64> {
    let last = e.frame_count().saturating_sub(1) as f64;
    let step = (a * e.fps / k as f64).round().max(1.0);
    let mid = (k as f64 - 1.0) / 2.0;
    (0..k)
        .map(|j| {
            let off = ((j as f64 - mid) * step).round();
            (i as f64 + off).clamp(0.0, last) as u64
        })
        .collect()
}

/// A frame-grid audio centre of the same file at least `min_shift` s from frame `i`.
fn hard_negative(
    e: &IndexEntry,
    lo: u64,
    hi: u64,
    i: u64,
    min_shift: f64,
    rng: &mut ChaCha8Rng,
) -> Option<f64> {
    let k = (min_shift * e.fps - 1e-9).ceil() as u64;
    let left = if i >= lo + k { i - k - lo + 1 } else { 0 };
    let right = if i + k <= hi { hi - (i + k) + 1 } else { 0 };
    if left + right == 0 {
        return None;
    }
    let r = rng.gen_range(0..left + right);
    let j = if r < left { lo + r } else { i + k + (r - left) };
    Some(e.frame_time(j))
}

/// A frame-grid audio centre of another usable file.
fn easy_negative(
    ctx: &PlanContext<'_>,
    file: usize,
    a: f64,
    rng: &mut ChaCha8Rng,
) -> Option<(usize, f64)> {
    let n = ctx.index.len();
    if n < 2 {
        return None;
    }
    let mut other = rng.gen_range(0..n - 1);
    if other >= file {
        other += 1;
    }
    let e = &ctx.index[other];
    let (lo, hi) = centre_range(e, a)?;
    Some((other, e.frame_time(rng.gen_range(lo..=hi))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn entry(name: &str, seconds: f64) -> IndexEntry {
        IndexEntry {
            path: name.into(),
            size: 1,
            mtime_ns: 1,
            video_start: 0.0,
            video_end: seconds,
            fps: 10.0,
            audio: Some((0.0, seconds)),
        }
    }

    #[test]
    fn several_frames_span_the_audio_window_around_the_centre() {
        // 10 fps, 1 s windows: 5 frames 2 apart around frame 20.
        let e = entry("a", 4.0);
        assert_eq!(window_frames(&e, 20, 5, 1.0), vec![16, 18, 20, 22, 24]);
        assert_eq!(window_frames(&e, 20, 1, 1.0), vec![20]);
        // Clamped to the file's frames, never out of range.
        assert_eq!(window_frames(&e, 1, 3, 1.0), vec![0, 1, 4]);
        let task = AvcTask::new(AvcConfig { frames: 5, ..Default::default() });
        let index = vec![e.clone(), entry("b", 4.0)];
        let ctx = PlanContext { index: &index, audio_seconds: 1.0 };
        for seq in 0..50 {
            let mut rng = ChaCha8Rng::seed_from_u64(seq);
            let s = task.plan(&ctx, 0, seq, &mut rng);
            assert_eq!(s.video_times.len(), 5);
            assert!(s.video_times.windows(2).all(|w| w[1] > w[0]));
            if s.label == 1 {
                let a = s.audio.as_ref().map(|r| r.start + 0.5).unwrap_or(f64::NAN);
                assert!((s.video_times[2] - a).abs() < 1e-9, "centre frame = audio centre");
            }
        }
        assert!(AvcConfig { frames: 0, ..Default::default() }.validate().is_err());
    }

    #[test]
    fn centre_range_keeps_window_inside() {
        let e = entry("a", 4.0);
        let (lo, hi) = centre_range(&e, 1.0).unwrap();
        assert_eq!((lo, hi), (5, 35));
        assert!(centre_range(&entry("b", 0.5), 1.0).is_none());
    }

    #[test]
    fn negatives_follow_policy_and_grid() {
        let index = vec![entry("a", 6.0), entry("b", 6.0), entry("c", 6.0)];
        let ctx = PlanContext { index: &index, audio_seconds: 1.0 };
        let cfg = AvcConfig {
            positive_ratio: 0.25,
            negatives: NegativeKinds { easy: true, hard: true },
            min_shift: 2.0,
            ..Default::default()
        };
        let task = AvcTask::new(cfg);
        let (mut pos, mut easy, mut hard) = (0, 0, 0);
        for seq in 0..2000u64 {
            let mut rng = ChaCha8Rng::seed_from_u64(seq);
            let file = (seq % 3) as usize;
            let s = task.plan(&ctx, file, seq, &mut rng);
            let t = s.video_times[0];
            let a = s.audio.unwrap();
            let centre = a.start + 0.5;
            // On the frame grid (fps 10).
            assert!(((centre * 10.0) - (centre * 10.0).round()).abs() < 1e-6);
            assert!(((t * 10.0) - (t * 10.0).round()).abs() < 1e-6);
            assert!(a.start >= 0.0 && a.start + 1.0 <= 6.0 + 1e-9);
            match s.kind.as_str() {
                "positive" => {
                    pos += 1;
                    assert_eq!((s.label, a.file), (1, file));
                    assert!((centre - t).abs() < 1e-9);
                }
                "hard" => {
                    hard += 1;
                    assert_eq!((s.label, a.file), (0, file));
                    assert!((centre - t).abs() >= 2.0 - 1e-9, "shift {}", centre - t);
                }
                "easy" => {
                    easy += 1;
                    assert_eq!(s.label, 0);
                    assert_ne!(a.file, file);
                }
                k => panic!("unexpected kind {k}"),
            }
        }
        assert!((400..600).contains(&pos), "positives {pos}");
        assert!(easy > 500 && hard > 500, "easy {easy} hard {hard}");
    }

    #[test]
    fn curriculum_raises_hard_share() {
        let cfg = AvcConfig {
            negatives: NegativeKinds { easy: true, hard: true },
            hard_share: 0.1,
            curriculum: Some(Curriculum { to: 0.9, over: 100 }),
            ..Default::default()
        };
        assert!((cfg.hard_share_at(0) - 0.1).abs() < 1e-12);
        assert!((cfg.hard_share_at(50) - 0.5).abs() < 1e-12);
        assert!((cfg.hard_share_at(1000) - 0.9).abs() < 1e-12);
    }
}
