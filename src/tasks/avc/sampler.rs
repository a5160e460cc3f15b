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
use serde::{Deserialize, Serialize};

use crate::media::RgbFrame;
use crate::pipeline::{
    AssembleContext, AudioRead, Example, Field, FieldSpec, IndexEntry, InputSpec, PipelineError,
    PlanContext, SampleSpec, TaskData,
};

/// Which negatives to draw; written `easy`, `hard` or `easy,hard`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct NegativeKinds {
    /// Audio from another file.
    pub easy: bool,
    /// Audio from the same file, shifted.
    pub hard: bool,
}

impl std::str::FromStr for NegativeKinds {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut k = NegativeKinds { easy: false, hard: false };
        for part in s.split(',').map(str::trim) {
            match part {
                "easy" => k.easy = true,
                "hard" => k.hard = true,
                _ => return Err(format!("negatives '{s}': expected easy, hard or easy,hard")),
            }
        }
        Ok(k)
    }
}

impl TryFrom<String> for NegativeKinds {
    type Error = String;

    fn try_from(s: String) -> Result<Self, String> {
        s.parse()
    }
}

impl From<NegativeKinds> for String {
    fn from(k: NegativeKinds) -> String {
        kinds_name(k).replace('+', ",")
    }
}

impl Default for NegativeKinds {
    fn default() -> Self {
        NegativeKinds { easy: true, hard: false }
    }
}

/// The AVC sampling policy of one stream (the task's options resolve into one per role).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AvcPolicy {
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
    /// One example per file visit (batches whose examples must come from distinct files).
    pub one_per_file: bool,
}

/// A linear ramp of the hard-negative share.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Curriculum {
    /// Final hard share.
    pub to: f64,
    /// Samples over which the share rises.
    pub over: u64,
}

impl Default for AvcPolicy {
    fn default() -> Self {
        AvcPolicy {
            positive_ratio: 0.5,
            negatives: NegativeKinds::default(),
            min_shift: 1.0,
            hard_share: 0.5,
            curriculum: None,
            one_per_file: false,
        }
    }
}

impl AvcPolicy {
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

/// The AVC sampler and assembler: frame(s) and an audio window per example, label 1 when they
/// belong together. Fields: `frames` (`[3, S, S]`, or `[K, 3, S, S]` with `input.frames = K`),
/// `spec` (`[1, F, T]`) and `label` (`[]`).
#[derive(Debug, Clone)]
pub struct AvcData {
    name: &'static str,
    policy: AvcPolicy,
}

impl AvcData {
    /// A sampler with this policy, reported under the task name `name`.
    pub fn new(name: &'static str, policy: AvcPolicy) -> Self {
        AvcData { name, policy }
    }

    /// Its policy.
    pub fn policy(&self) -> &AvcPolicy {
        &self.policy
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

fn kinds_name(k: NegativeKinds) -> &'static str {
    match (k.easy, k.hard) {
        (true, true) => "easy+hard",
        (false, true) => "hard",
        _ => "easy",
    }
}

impl TaskData for AvcData {
    fn name(&self) -> &str {
        self.name
    }

    fn fields(&self, input: &InputSpec) -> Vec<FieldSpec> {
        let s = input.frame_size as usize;
        let (f, t) = input.spec_shape();
        let frames = match input.frames {
            1 => FieldSpec::f32("frames", &[3, s, s]),
            k => FieldSpec::f32("frames", &[k as usize, 3, s, s]),
        };
        vec![frames, FieldSpec::f32("spec", &[1, f, t]), FieldSpec::i64("label", &[])]
    }

    fn needs_audio(&self) -> bool {
        true
    }

    fn usable(&self, entry: &IndexEntry, input: &InputSpec) -> bool {
        centre_range(entry, input.clip_seconds).is_some()
    }

    fn clips_per_file(&self, configured: usize) -> usize {
        if self.policy.one_per_file {
            1
        } else {
            configured
        }
    }

    fn plan(
        &self,
        ctx: &PlanContext<'_>,
        file: usize,
        seq: u64,
        rng: &mut ChaCha8Rng,
    ) -> SampleSpec {
        let a = ctx.input.clip_seconds;
        let k = ctx.input.frames as usize;
        let e = &ctx.index[file];
        // `usable` guarantees a range; an empty one degrades to frame 0 rather than panicking.
        let (lo, hi) = centre_range(e, a).unwrap_or((0, 0));
        let i = rng.gen_range(lo..=hi);
        let mut spec = positive(e, file, i, k, a);
        spec.seq = seq;
        let policy = &self.policy;
        if rng.gen_bool(policy.positive_ratio) {
            return spec;
        }
        let want_hard = rng.gen_bool(policy.hard_share_at(seq).clamp(0.0, 1.0));
        let hard = hard_negative(e, lo, hi, i, policy.min_shift, rng).map(|t| (file, t));
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

    /// The example at `t`; for a file without an audio stream, its frames alone (no `spec`
    /// field: what `embed` writes the visual side of).
    fn plan_at(&self, ctx: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec> {
        let e = &ctx.index[file];
        let a = ctx.input.clip_seconds;
        if e.audio.is_none() {
            let mut spec = positive(e, file, e.frame_at(t)?, ctx.input.frames as usize, a);
            spec.audio = None;
            spec.kind = "no-audio".into();
            return Some(spec);
        }
        let (lo, hi) = centre_range(e, a)?;
        let i = ((t - e.video_start) * e.fps).round();
        if !(i >= lo as f64 && i <= hi as f64) {
            return None;
        }
        Some(positive(e, file, i as u64, ctx.input.frames as usize, a))
    }

    fn assemble(
        &self,
        spec: &SampleSpec,
        frames: &[RgbFrame],
        audio: &[f32],
        cx: &mut AssembleContext<'_>,
    ) -> Result<Vec<Field>, PipelineError> {
        let s = cx.input().frame_size as usize;
        let k = frames.len();
        let pixels = cx.frames(frames, &spec.augment);
        let frames = if k == 1 {
            Field::f32("frames", &[3, s, s], pixels)
        } else {
            Field::f32("frames", &[k, 3, s, s], pixels)
        };
        if spec.audio.is_none() {
            // A moment of a file without sound (inference only): the frames alone.
            return Ok(vec![frames, Field::label("label", spec.label)]);
        }
        let spec_values = cx.spectrogram(audio)?;
        let (f, t) = cx.input().spec_shape();
        if spec_values.len() != f * t {
            return Err(PipelineError::Assemble {
                seq: spec.seq,
                reason: format!(
                    "{} audio samples give a spectrogram of {} values, expected {f}×{t}",
                    audio.len(),
                    spec_values.len()
                ),
            });
        }
        Ok(vec![
            frames,
            Field::f32("spec", &[1, f, t], spec_values),
            Field::label("label", spec.label),
        ])
    }

    fn toy_example(&self, input: &InputSpec, index: u64, rng: &mut ChaCha8Rng) -> Example {
        super::toy::example(input, &self.policy, index, rng)
    }

    fn describe(&self) -> String {
        let p = &self.policy;
        if p.positive_ratio >= 1.0 {
            return if p.one_per_file {
                "in-batch: each frame against the batch's audio windows (one per file)".into()
            } else {
                "matching pairs; the batch's other audio windows are the negatives".into()
            };
        }
        format!(
            "{} negatives on the video frame grid ({}), {:.0}% positives",
            kinds_name(p.negatives),
            if p.negatives.hard {
                format!("hard = same file's audio shifted by >= {} s", p.min_shift)
            } else {
                "easy = audio of another file".to_string()
            },
            100.0 * p.positive_ratio
        )
    }
}

/// The positive example of frame `i`: `k` frames around it, the audio window centred on it.
fn positive(e: &IndexEntry, file: usize, i: u64, k: usize, a: f64) -> SampleSpec {
    let t = e.frame_time(i);
    let mut spec = SampleSpec::new(
        0,
        file,
        window_frames(e, i, k, a).into_iter().map(|j| e.frame_time(j)).collect(),
    );
    spec.audio = Some(AudioRead { file, start: t - a / 2.0 });
    spec.label = 1;
    spec.kind = "positive".into();
    spec
}

/// `k` frame indices on the grid, evenly spread over an audio window of `a` seconds centred on
/// frame `i` ([`IndexEntry::window_frames`]).
pub fn window_frames(e: &IndexEntry, i: u64, k: usize, a: f64) -> Vec<u64> {
    e.window_frames(i, k, a)
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
        let task = AvcData::new("avc", AvcPolicy::default());
        let index = vec![e.clone(), entry("b", 4.0)];
        let input = InputSpec { frames: 5, clip_seconds: 1.0, ..Default::default() };
        let ctx = PlanContext { index: &index, input: &input };
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
        let input = InputSpec { clip_seconds: 1.0, ..Default::default() };
        let ctx = PlanContext { index: &index, input: &input };
        let cfg = AvcPolicy {
            positive_ratio: 0.25,
            negatives: NegativeKinds { easy: true, hard: true },
            min_shift: 2.0,
            ..Default::default()
        };
        let task = AvcData::new("avc", cfg);
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
        let cfg = AvcPolicy {
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
