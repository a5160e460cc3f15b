//! What the probes look at: one moment of a file as the trunk's towers take it, whatever task
//! trained them. A jigsaw or rotation trunk is probed on whole frames (as Noroozi & Favaro and
//! Gidaris et al. transfer theirs), an audio-visual trunk on its stack of `K` frames spread over
//! the audio window (as the AVC sampler stacks them) and on that window's spectrogram.
//!
//! [`ProbeView`] is a [`TaskData`], so [`crate::pipeline::InputReader`] decodes and assembles it
//! with the pipeline's own workers' code and no augmentation (the centred crop of the run's
//! `InputSpec`): the probes see exactly what validation saw. Fields: `frames [3K, S, S]` and,
//! with audio, `spec [1, F, T]`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::media::RgbFrame;
use crate::pipeline::{
    AssembleContext, AudioRead, Example, Field, FieldSpec, IndexEntry, InputSpec, PipelineError,
    PlanContext, SampleMeta, SampleSpec, TaskData,
};

/// The probes' view of a moment: `frames` frames stacked on channels, and the audio window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeView {
    /// Frames stacked on the vision tower's channels (its input channels / 3).
    pub frames: usize,
    /// Whether the audio window's spectrogram is read (the trunk has an audio tower).
    pub audio: bool,
}

impl ProbeView {
    fn window(&self, e: &IndexEntry, t: f64, a: f64) -> Option<(u64, f64)> {
        let i = e.frame_at(t)?;
        let centre = e.frame_time(i);
        if self.audio {
            let (s, end) = e.audio?;
            if centre - a / 2.0 < s - 1e-9 || centre + a / 2.0 > end + 1e-9 {
                return None;
            }
        }
        Some((i, centre))
    }
}

impl TaskData for ProbeView {
    fn name(&self) -> &str {
        "probe-view"
    }

    fn fields(&self, input: &InputSpec) -> Vec<FieldSpec> {
        let s = input.frame_size as usize;
        let mut f = vec![FieldSpec::f32("frames", &[3 * self.frames, s, s])];
        if self.audio {
            let (fr, t) = input.spec_shape();
            f.push(FieldSpec::f32("spec", &[1, fr, t]));
        }
        f
    }

    fn needs_audio(&self) -> bool {
        self.audio
    }

    fn usable(&self, entry: &IndexEntry, input: &InputSpec) -> bool {
        let mid = (entry.video_start + entry.video_end) / 2.0;
        self.window(entry, mid, input.clip_seconds).is_some()
    }

    fn plan(
        &self,
        ctx: &PlanContext<'_>,
        file: usize,
        seq: u64,
        rng: &mut ChaCha8Rng,
    ) -> SampleSpec {
        let e = &ctx.index[file];
        let t = e.video_start + rng.gen::<f64>() * (e.video_end - e.video_start);
        let mid = (e.video_start + e.video_end) / 2.0;
        let mut spec = self
            .plan_at(ctx, file, t)
            .or_else(|| self.plan_at(ctx, file, mid))
            .unwrap_or_else(|| SampleSpec::new(seq, file, vec![e.video_start]));
        spec.seq = seq;
        spec
    }

    fn plan_at(&self, ctx: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec> {
        let e = &ctx.index[file];
        let a = ctx.input.clip_seconds;
        let (i, centre) = self.window(e, t, a)?;
        let times = e.window_frames(i, self.frames, a).into_iter().map(|j| e.frame_time(j));
        let mut spec = SampleSpec::new(0, file, times.collect());
        if self.audio {
            spec.audio = Some(AudioRead { file, start: centre - a / 2.0 });
        }
        spec.kind = "probe".into();
        Some(spec)
    }

    fn assemble(
        &self,
        spec: &SampleSpec,
        frames: &[RgbFrame],
        audio: &[f32],
        cx: &mut AssembleContext<'_>,
    ) -> Result<Vec<Field>, PipelineError> {
        let s = cx.input().frame_size as usize;
        if frames.len() != self.frames {
            return Err(PipelineError::Config(format!(
                "probe view: {} frames decoded where {} were planned",
                frames.len(),
                self.frames
            )));
        }
        let mut out =
            vec![Field::f32("frames", &[3 * self.frames, s, s], cx.frames(frames, &spec.augment))];
        if self.audio {
            let (f, t) = cx.input().spec_shape();
            out.push(Field::f32("spec", &[1, f, t], cx.spectrogram(audio)?));
        }
        Ok(out)
    }

    fn toy_example(&self, input: &InputSpec, index: u64, rng: &mut ChaCha8Rng) -> Example {
        let fields = self
            .fields(input)
            .into_iter()
            .map(|f| {
                let n = f.numel();
                Field::f32(&f.name, &f.shape, (0..n).map(|_| rng.gen::<f32>()).collect())
            })
            .collect();
        Example {
            meta: SampleMeta { seq: index, file: format!("toy://{index}"), ..Default::default() },
            fields,
        }
    }

    fn describe(&self) -> String {
        format!(
            "the moment's {} frame(s){}, centred crop, no augmentation",
            self.frames,
            if self.audio { " and audio window" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> IndexEntry {
        IndexEntry {
            path: "a.mp4".into(),
            size: 1,
            mtime_ns: 1,
            video_start: 0.0,
            video_end: 3.0,
            fps: 25.0,
            audio: Some((0.0, 3.0)),
        }
    }

    #[test]
    fn a_moment_is_its_frame_stack_and_the_audio_window_around_it() {
        let index = vec![entry()];
        let input = InputSpec { clip_seconds: 1.0, ..Default::default() };
        let ctx = PlanContext { index: &index, input: &input };
        let v = ProbeView { frames: 5, audio: true };
        let s = v.plan_at(&ctx, 0, 1.5).unwrap();
        assert_eq!(s.video_times.len(), 5);
        assert!(
            (s.video_times[2] - 1.52).abs() < 1e-9
                || (s.video_times[2] - 1.48).abs() < 1e-9
                || (s.video_times[2] - 1.5).abs() < 1e-9
        );
        let a = s.audio.unwrap();
        assert!((a.start + 0.5 - s.video_times[2]).abs() < 1e-9);
        assert!(v.plan_at(&ctx, 0, 0.2).is_none(), "the audio window would start before 0");
        let silent = ProbeView { frames: 1, audio: false };
        assert_eq!(silent.plan_at(&ctx, 0, 0.2).unwrap().video_times, vec![0.2]);
        assert_eq!(v.fields(&input)[0].shape, vec![15, 96, 96]);
    }
}
