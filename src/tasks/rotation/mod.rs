//! RotNet (Gidaris et al. 2018): which way is up? A frame is rotated by 0, 90, 180 or 270
//! degrees and the model classifies the rotation. As in the RotNet code, every example holds all
//! four rotated copies of its frame (`copies = 4`), so each batch is balanced over the four
//! classes and the model must tell apart rotations of the very same picture; `copies = 1` draws
//! one rotation per example instead.
//!
//! Files: this one (options, sampler and assembler), `toy.rs`, and with the `torch` feature
//! `model.rs` (a 4-way head on the shared vision trunk).
//!
//! Fields: `frames` `[4, 3, S, S]` and `label` `[4]` (= `[0, 1, 2, 3]`), or with `copies = 1`
//! `frames` `[3, S, S]` and `label` `[]` (the rotation drawn).

use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{parse_options, OptionDoc, Role, Task, TaskDescriptor, TaskError};
use crate::media::RgbFrame;
use crate::pipeline::{
    AssembleContext, Example, Field, FieldSpec, IndexEntry, InputSpec, PipelineError, PlanContext,
    SampleSpec, TaskData,
};

#[cfg(feature = "torch")]
mod model;
mod toy;

/// The `rotation` task.
pub static ROTATION: TaskDescriptor = TaskDescriptor {
    name: "rotation",
    about: "RotNet: which of 0/90/180/270 degrees was this frame rotated by? (vision only)",
    default_preset: "rotation",
    own_preset: Some(include_str!("preset.toml")),
    options: &[OptionDoc {
        key: "copies",
        help: "4: every example holds all four rotations of its frame (RotNet); 1: one rotation \
               drawn per example",
    }],
    defaults: || serde_json::to_value(RotationOptions::default()).unwrap_or_default(),
    build: |t| Ok(Box::new(RotationTask::new(parse_options("rotation", t)?)?)),
};

/// The options of the `rotation` task (the `[task]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RotationOptions {
    /// Rotated copies per example: 4 or 1.
    pub copies: usize,
}

impl Default for RotationOptions {
    fn default() -> Self {
        RotationOptions { copies: 4 }
    }
}

/// The built `rotation` task.
#[derive(Debug, Clone)]
pub struct RotationTask {
    options: RotationOptions,
}

impl RotationTask {
    /// Validates the options.
    pub fn new(options: RotationOptions) -> Result<Self, TaskError> {
        if !matches!(options.copies, 1 | 4) {
            return Err(TaskError::Options {
                task: ROTATION.name.into(),
                reason: format!("copies {} must be 4 or 1", options.copies),
            });
        }
        Ok(RotationTask { options })
    }
}

impl Task for RotationTask {
    fn name(&self) -> &'static str {
        ROTATION.name
    }

    fn options(&self) -> serde_json::Value {
        serde_json::to_value(&self.options).unwrap_or_default()
    }

    fn data(&self, _role: Role) -> Arc<dyn TaskData> {
        Arc::new(RotationData { copies: self.options.copies })
    }

    #[cfg(feature = "torch")]
    fn model(
        &self,
        root: &tch::nn::Path,
        model: &crate::models::ModelConfig,
    ) -> Result<Box<dyn crate::training::TaskModel>, crate::training::TrainingError> {
        Ok(Box::new(model::RotationNet::new(root, model)?))
    }

    #[cfg(feature = "torch")]
    fn metrics(&self) -> crate::training::MetricSet {
        model::metrics()
    }
}

/// The rotation sampler and assembler.
#[derive(Debug, Clone)]
pub struct RotationData {
    copies: usize,
}

/// Rotates a `[3, s, s]` CHW image by `k` quarter turns counter-clockwise (as `np.rot90`):
/// output pixel `(y, x)` is input pixel `(x, s-1-y)` for one turn.
pub fn rotate(src: &[f32], s: usize, k: usize) -> Vec<f32> {
    let plane = s * s;
    let mut out = vec![0.0f32; src.len()];
    for c in 0..src.len() / plane {
        let (i, o) = (&src[c * plane..(c + 1) * plane], &mut out[c * plane..(c + 1) * plane]);
        for y in 0..s {
            for x in 0..s {
                let (sy, sx) = match k % 4 {
                    0 => (y, x),
                    1 => (x, s - 1 - y),
                    2 => (s - 1 - y, s - 1 - x),
                    _ => (s - 1 - x, y),
                };
                o[y * s + x] = i[sy * s + sx];
            }
        }
    }
    out
}

impl RotationData {
    fn frame_fields(&self, s: usize, frame: &[f32], k: usize) -> Vec<Field> {
        if self.copies == 4 {
            let mut all = Vec::with_capacity(4 * frame.len());
            for r in 0..4 {
                all.extend(rotate(frame, s, r));
            }
            vec![
                Field::f32("frames", &[4, 3, s, s], all),
                Field::i64("label", &[4], vec![0, 1, 2, 3]),
            ]
        } else {
            vec![
                Field::f32("frames", &[3, s, s], rotate(frame, s, k)),
                Field::label("label", k as i64),
            ]
        }
    }
}

impl TaskData for RotationData {
    fn name(&self) -> &str {
        ROTATION.name
    }

    fn fields(&self, input: &InputSpec) -> Vec<FieldSpec> {
        let s = input.frame_size as usize;
        if self.copies == 4 {
            vec![FieldSpec::f32("frames", &[4, 3, s, s]), FieldSpec::i64("label", &[4])]
        } else {
            vec![FieldSpec::f32("frames", &[3, s, s]), FieldSpec::i64("label", &[])]
        }
    }

    fn needs_audio(&self) -> bool {
        false
    }

    fn usable(&self, entry: &IndexEntry, _input: &InputSpec) -> bool {
        entry.frame_count() > 0
    }

    fn plan(
        &self,
        ctx: &PlanContext<'_>,
        file: usize,
        seq: u64,
        rng: &mut ChaCha8Rng,
    ) -> SampleSpec {
        let e = &ctx.index[file];
        let i = rng.gen_range(0..e.frame_count().max(1));
        let mut spec = SampleSpec::new(seq, file, vec![e.frame_time(i)]);
        if self.copies == 4 {
            spec.kind = "all-rotations".into();
        } else {
            let k = rng.gen_range(0..4usize);
            spec.slots = vec![k];
            spec.label = k as i64;
            spec.kind = format!("rot{}", 90 * k);
        }
        spec
    }

    fn plan_at(&self, ctx: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec> {
        let e = &ctx.index[file];
        let mut spec = SampleSpec::new(0, file, vec![e.frame_time(e.frame_at(t)?)]);
        spec.slots = vec![0];
        spec.label = if self.copies == 4 { -1 } else { 0 };
        spec.kind = "upright".into();
        Some(spec)
    }

    fn assemble(
        &self,
        spec: &SampleSpec,
        frames: &[RgbFrame],
        _audio: &[f32],
        cx: &mut AssembleContext<'_>,
    ) -> Result<Vec<Field>, PipelineError> {
        let frame = frames.first().ok_or_else(|| PipelineError::Assemble {
            seq: spec.seq,
            reason: "no frame decoded".into(),
        })?;
        let s = cx.input().frame_size as usize;
        let k = spec.slots.first().copied().unwrap_or(0);
        Ok(self.frame_fields(s, &cx.frame(frame, &spec.augment), k))
    }

    fn toy_example(&self, input: &InputSpec, index: u64, rng: &mut ChaCha8Rng) -> Example {
        let s = input.frame_size as usize;
        let frame = toy::upright_frame(s, rng);
        let k = rng.gen_range(0..4usize);
        let fields = self.frame_fields(s, &frame, k);
        let (label, kind) = if self.copies == 4 {
            (-1, "all-rotations".into())
        } else {
            (k as i64, format!("rot{}", 90 * k))
        };
        Example {
            meta: crate::pipeline::SampleMeta {
                seq: index,
                file: format!("toy://{index}"),
                video_times: vec![0.0],
                label,
                kind,
                ..Default::default()
            },
            fields,
        }
    }

    fn describe(&self) -> String {
        if self.copies == 4 {
            "all four rotations (0/90/180/270) of each frame; 4-way accuracy".into()
        } else {
            "one rotation per frame, uniform over 0/90/180/270; 4-way accuracy".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quarter_turns_match_np_rot90_and_compose() {
        // 2×2 single... three channels of [[1, 2], [3, 4]].
        let img: Vec<f32> = [1.0, 2.0, 3.0, 4.0].repeat(3);
        // np.rot90([[1, 2], [3, 4]]) = [[2, 4], [1, 3]].
        assert_eq!(&rotate(&img, 2, 1)[..4], &[2.0, 4.0, 1.0, 3.0]);
        assert_eq!(&rotate(&img, 2, 2)[..4], &[4.0, 3.0, 2.0, 1.0]);
        assert_eq!(&rotate(&img, 2, 3)[..4], &[3.0, 1.0, 4.0, 2.0]);
        let s = 5;
        let x: Vec<f32> = (0..3 * s * s).map(|v| v as f32).collect();
        assert_eq!(rotate(&rotate(&x, s, 1), s, 3), x);
        assert_eq!(rotate(&rotate(&x, s, 2), s, 2), x);
        assert_eq!(rotate(&x, s, 4), x);
    }

    #[test]
    fn labels_are_the_rotation_applied_to_the_pixels() {
        let input = InputSpec { frame_size: 16, ..Default::default() };
        for copies in [4, 1] {
            let d = RotationData { copies };
            for index in 0..8 {
                let mut rng = crate::pipeline::sampler::item_rng(3, index, 9);
                let e = d.toy_example(&input, index, &mut rng);
                let frames = e.field("frames").unwrap();
                let labels = match &e.field("label").unwrap().values {
                    crate::pipeline::Values::I64(v) => v.clone(),
                    _ => panic!("labels are i64"),
                };
                let px = match &frames.values {
                    crate::pipeline::Values::F32(v) => v.clone(),
                    _ => panic!("frames are f32"),
                };
                let plane = 3 * 16 * 16;
                let images: Vec<&[f32]> = px.chunks(plane).collect();
                assert_eq!(images.len(), labels.len());
                // Undo each copy's labelled rotation: all give the same upright picture.
                let upright: Vec<Vec<f32>> = images
                    .iter()
                    .zip(&labels)
                    .map(|(c, &k)| rotate(c, 16, (4 - k as usize) % 4))
                    .collect();
                assert!(upright.windows(2).all(|w| w[0] == w[1]));
                // And that picture is the toy's upright frame: its bright bar is at the top.
                let top: f32 = upright[0][..16 * 4].iter().sum();
                let bottom: f32 = upright[0][16 * 12..16 * 16].iter().sum();
                assert!(top > bottom, "copies {copies}: the upright frame is not upright");
            }
        }
    }
}
