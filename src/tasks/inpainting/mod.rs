//! Inpainting (Context Encoders, Pathak et al. 2016): part of a frame is hidden and the model
//! paints it back from the context. As the paper and its reference code (`train.lua`): the hole
//! is a central square of half the side by default (`mask = central`; random `blocks` and
//! random `regions` as options, see [`mask`]), the input holds the mean pixel in the hole (here
//! the input normalisation's mean, so the hole reads 0 after normalisation, whatever the
//! original pixels were), and the loss is an L2 reconstruction of the hole and of a 7 px band of
//! context around it weighted ×10 (`overlap`, `overlap_weight`), plus optionally the adversarial
//! term (λ_rec = 0.999, λ_adv = 0.001; `adversarial`, off by default: it costs a second network
//! per step on a CPU and the reconstruction alone is what the features are trained by in the
//! paper's feature-learning experiments).
//!
//! One frame per example, its time drawn as rotation's sampler does; the mask is drawn from the
//! assembler's own random stream, so an example is the same for any number of workers.
//!
//! Files: this one (options, sampler, assembler), `mask.rs` (holes and loss weights), `toy.rs`
//! (smooth colour fields), `preset.toml`, and with the `torch` feature `model.rs` (the shared
//! vision trunk as the encoder, a channel-wise fully connected bottleneck, an up-convolution
//! decoder; the hole metrics and the contact sheet), `adversary.rs` (the discriminator, with its
//! own variables and optimiser) and `metric.rs` (`l2_reduction`).
//!
//! Fields: `masked` `[3, S, S]` (the input: the frame with the hole at the mean pixel), `hole`
//! `[1, S, S]` (1 where the input holds no original pixel), `weight` `[1, S, S]` (the loss
//! weights: 1 in the hole, `overlap_weight` in the band, 0 elsewhere) and `target` `[3, S, S]`
//! (the original frame, normalised).

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
mod adversary;
pub mod mask;
#[cfg(feature = "torch")]
mod metric;
#[cfg(feature = "torch")]
mod model;
mod toy;

pub use mask::MaskKind;
#[cfg(feature = "torch")]
pub use metric::L2Reduction;

/// The `inpainting` task.
pub static INPAINTING: TaskDescriptor = TaskDescriptor {
    name: "inpainting",
    about: "Context Encoders: paint back a hidden part of the frame from its context (vision only)",
    default_preset: "inpainting",
    own_preset: Some(include_str!("preset.toml")),
    options: &[
        OptionDoc {
            key: "mask",
            help: "central (one square in the middle, the paper's main setting and the reference \
                   code's default), blocks (random squares) or regions (random smooth shapes)",
        },
        OptionDoc {
            key: "hole",
            help: "the central hole's share of the side (0.5: a quarter of the frame); blocks and \
                   regions cover hole² of the frame",
        },
        OptionDoc {
            key: "overlap",
            help: "px of context around the hole that are predicted too (7, the paper's, at 128 \
                   px frames)",
        },
        OptionDoc {
            key: "overlap_weight",
            help: "loss weight of that band against the hole's 1 (10)",
        },
        OptionDoc {
            key: "adversarial",
            help: "add the adversarial loss (a discriminator with its own optimiser, stepped \
                   inside each training step); off by default (a CPU's budget)",
        },
        OptionDoc {
            key: "lambda_rec",
            help: "weight of the reconstruction loss with the adversarial term on (0.999)",
        },
        OptionDoc { key: "lambda_adv", help: "weight of the adversarial loss (0.001)" },
        OptionDoc {
            key: "adv_lr",
            help: "the discriminator's Adam learning rate (0.0002, β₁ 0.5, as the reference)",
        },
    ],
    defaults: || serde_json::to_value(InpaintingOptions::default()).unwrap_or_default(),
    build: |t| Ok(Box::new(InpaintingTask::new(parse_options("inpainting", t)?)?)),
};

/// The options of the `inpainting` task (the `[task]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InpaintingOptions {
    /// Which holes.
    pub mask: MaskKind,
    /// The central hole's share of the side; blocks and regions cover its square.
    pub hole: f64,
    /// Width in px of the predicted band of context around the hole.
    pub overlap: usize,
    /// Loss weight of the band.
    pub overlap_weight: f64,
    /// Whether the adversarial term is on.
    pub adversarial: bool,
    /// λ_rec (with the adversarial term).
    pub lambda_rec: f64,
    /// λ_adv.
    pub lambda_adv: f64,
    /// The discriminator's learning rate.
    pub adv_lr: f64,
}

impl Default for InpaintingOptions {
    fn default() -> Self {
        InpaintingOptions {
            mask: MaskKind::Central,
            hole: 0.5,
            overlap: 7,
            overlap_weight: 10.0,
            adversarial: false,
            lambda_rec: 0.999,
            lambda_adv: 0.001,
            adv_lr: 0.0002,
        }
    }
}

/// The built `inpainting` task.
#[derive(Debug, Clone)]
pub struct InpaintingTask {
    options: InpaintingOptions,
}

impl InpaintingTask {
    /// Validates the options.
    pub fn new(options: InpaintingOptions) -> Result<Self, TaskError> {
        let err = |reason: String| TaskError::Options { task: INPAINTING.name.into(), reason };
        let o = &options;
        if !(o.hole > 0.0 && o.hole < 1.0) {
            return Err(err(format!("hole {} must lie in (0, 1)", o.hole)));
        }
        if o.overlap > 64 {
            return Err(err(format!("overlap {} px must be at most 64", o.overlap)));
        }
        for (key, v) in [
            ("overlap_weight", o.overlap_weight),
            ("lambda_rec", o.lambda_rec),
            ("lambda_adv", o.lambda_adv),
        ] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(err(format!("{key} {v} must be finite and at least 0")));
            }
        }
        if !(o.adv_lr.is_finite() && o.adv_lr > 0.0) {
            return Err(err(format!("adv_lr {} must be positive", o.adv_lr)));
        }
        if o.adversarial && o.lambda_rec + o.lambda_adv <= 0.0 {
            return Err(err("lambda_rec and lambda_adv are both 0".into()));
        }
        Ok(InpaintingTask { options })
    }

    /// The resolved options.
    pub fn settings(&self) -> &InpaintingOptions {
        &self.options
    }
}

impl Task for InpaintingTask {
    fn name(&self) -> &'static str {
        INPAINTING.name
    }

    fn options(&self) -> serde_json::Value {
        serde_json::to_value(&self.options).unwrap_or_default()
    }

    fn data(&self, _role: Role) -> Arc<dyn TaskData> {
        Arc::new(InpaintingData { options: self.options.clone() })
    }

    #[cfg(feature = "torch")]
    fn model(
        &self,
        root: &tch::nn::Path,
        model: &crate::models::ModelConfig,
    ) -> Result<Box<dyn crate::training::TaskModel>, crate::training::TrainingError> {
        Ok(Box::new(model::InpaintingNet::new(root, model, &self.options)?))
    }

    #[cfg(feature = "torch")]
    fn metrics(&self) -> crate::training::MetricSet {
        model::metrics()
    }
}

/// The inpainting sampler and assembler.
#[derive(Debug, Clone)]
pub struct InpaintingData {
    options: InpaintingOptions,
}

impl InpaintingData {
    /// The data side of these options (validated by [`InpaintingTask::new`]).
    pub fn new(options: InpaintingOptions) -> Self {
        InpaintingData { options }
    }

    /// The fields of one normalised `[3, s, s]` frame with a mask drawn from `rng`.
    pub fn frame_fields(&self, s: usize, frame: Vec<f32>, rng: &mut ChaCha8Rng) -> Vec<Field> {
        let o = &self.options;
        let hole = mask::draw(o.mask, s, o.hole, rng);
        let weight = mask::weights(&hole, s, o.overlap, o.overlap_weight as f32);
        let plane = s * s;
        let mut masked = frame.clone();
        for c in 0..3 {
            for (v, &h) in masked[c * plane..(c + 1) * plane].iter_mut().zip(&hole) {
                if h == 1 {
                    // The mean pixel: the normalisation's mean reads 0.
                    *v = 0.0;
                }
            }
        }
        vec![
            Field::f32("masked", &[3, s, s], masked),
            Field::f32("hole", &[1, s, s], hole.iter().map(|&h| f32::from(h)).collect()),
            Field::f32("weight", &[1, s, s], weight),
            Field::f32("target", &[3, s, s], frame),
        ]
    }
}

impl TaskData for InpaintingData {
    fn name(&self) -> &str {
        INPAINTING.name
    }

    fn fields(&self, input: &InputSpec) -> Vec<FieldSpec> {
        let s = input.frame_size as usize;
        vec![
            FieldSpec::f32("masked", &[3, s, s]),
            FieldSpec::f32("hole", &[1, s, s]),
            FieldSpec::f32("weight", &[1, s, s]),
            FieldSpec::f32("target", &[3, s, s]),
        ]
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
        spec.kind = self.options.mask.name().into();
        spec
    }

    fn plan_at(&self, ctx: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec> {
        let e = &ctx.index[file];
        let mut spec = SampleSpec::new(0, file, vec![e.frame_time(e.frame_at(t)?)]);
        spec.kind = self.options.mask.name().into();
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
        let view = cx.frame(frame, &spec.augment);
        Ok(self.frame_fields(s, view, &mut cx.rng))
    }

    fn toy_example(&self, input: &InputSpec, index: u64, rng: &mut ChaCha8Rng) -> Example {
        let s = input.frame_size as usize;
        let frame = toy::smooth_field(s, rng);
        Example {
            meta: crate::pipeline::SampleMeta {
                seq: index,
                file: format!("toy://{index}"),
                video_times: vec![0.0],
                label: -1,
                kind: self.options.mask.name().into(),
                ..Default::default()
            },
            fields: self.frame_fields(s, frame, rng),
        }
    }

    fn describe(&self) -> String {
        let o = &self.options;
        let what = match o.mask {
            MaskKind::Central => format!("a central square hole of {} the side", o.hole),
            kind => format!(
                "random {} covering {:.0} % of the frame",
                kind.name(),
                100.0 * o.hole * o.hole
            ),
        };
        format!(
            "{what}, filled with the mean pixel; L2 on the hole and a {} px band ×{}{}; hole L2 \
             against the context's mean colour",
            o.overlap,
            o.overlap_weight,
            if o.adversarial { ", adversarial term on" } else { "" }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{sampler::item_rng, Values};
    use rand::SeedableRng;

    fn f32s(fields: &[Field], name: &str) -> Vec<f32> {
        match &fields.iter().find(|f| f.name == name).unwrap().values {
            Values::F32(v) => v.clone(),
            Values::I64(_) => panic!("{name} is not f32"),
        }
    }

    /// A decoded frame of random pixels.
    fn frame(side: usize, seed: u64) -> RgbFrame {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let data = (0..side * side * 3).map(|_| rng.gen::<u8>()).collect();
        RgbFrame { width: side as u32, height: side as u32, pts: 0.0, data }
    }

    /// Labels agree with pixels, for each mask kind: the target is the original frame (so under
    /// the mask it holds the original pixels), the input equals the original outside the hole
    /// and holds none of its pixels inside it (two different frames give the same values there:
    /// the mean pixel), and the weights are 1 in the hole, ×10 in the band, 0 elsewhere.
    #[test]
    fn the_target_is_the_original_and_the_input_hides_the_hole() {
        let input = InputSpec { frame_size: 32, decode_size: Some(36), ..Default::default() };
        let mut spectrogram = None;
        for kind in [MaskKind::Central, MaskKind::Blocks, MaskKind::Regions] {
            let d = InpaintingData::new(InpaintingOptions {
                mask: kind,
                overlap: 3,
                ..Default::default()
            });
            for seq in 0..4u64 {
                let mut spec = SampleSpec::new(seq, 0, vec![0.0]);
                spec.augment.crop_x = 0.25;
                let assemble = |f: &RgbFrame, spectrogram: &mut Option<_>| {
                    let mut cx = AssembleContext::new(&input, spectrogram, item_rng(1, seq, 2));
                    d.assemble(&spec, std::slice::from_ref(f), &[], &mut cx).unwrap()
                };
                let (fa, fb) = (frame(36, seq), frame(36, 100 + seq));
                let (a, b) = (assemble(&fa, &mut spectrogram), assemble(&fb, &mut spectrogram));
                let cx = AssembleContext::new(&input, &mut spectrogram, item_rng(0, 0, 0));
                let original = cx.frame(&fa, &spec.augment);
                assert_eq!(f32s(&a, "target"), original, "{kind:?}: the target is the frame");
                let (masked, hole, w) = (f32s(&a, "masked"), f32s(&a, "hole"), f32s(&a, "weight"));
                assert_eq!(hole, f32s(&b, "hole"), "the mask comes from the example's stream");
                let holes = hole.iter().filter(|&&h| h == 1.0).count();
                assert!(holes > 100, "{kind:?}: {holes} hole pixels");
                let masked_b = f32s(&b, "masked");
                for c in 0..3 {
                    for (i, &h) in hole.iter().enumerate() {
                        let j = c * 1024 + i;
                        if h == 1.0 {
                            assert_eq!(masked[j], 0.0, "{kind:?}: the mean pixel in the hole");
                            assert_eq!(
                                masked[j], masked_b[j],
                                "{kind:?}: frame pixels in the hole"
                            );
                            assert_eq!(w[i], 1.0);
                        } else {
                            assert_eq!(masked[j], original[j], "{kind:?}: context differs");
                            assert!(w[i] == 10.0 || w[i] == 0.0);
                        }
                    }
                }
                // The band: the weight is 10 exactly at the non-hole pixels within 3 px.
                for i in 0..1024 {
                    let (y, x) = ((i / 32) as i64, (i % 32) as i64);
                    let near = (0..1024).any(|j| {
                        hole[j] == 1.0
                            && (j as i64 / 32 - y).abs() <= 3
                            && (j as i64 % 32 - x).abs() <= 3
                    });
                    if hole[i] == 0.0 {
                        assert_eq!(w[i] == 10.0, near, "{kind:?}: ({y}, {x})");
                    }
                }
            }
        }
    }

    #[test]
    fn options_are_validated_by_key() {
        let bad = |o: InpaintingOptions| InpaintingTask::new(o).err().unwrap().to_string();
        assert!(bad(InpaintingOptions { hole: 1.0, ..Default::default() }).contains("hole 1"));
        assert!(bad(InpaintingOptions { overlap: 65, ..Default::default() }).contains("overlap"));
        let e = bad(InpaintingOptions { overlap_weight: -1.0, ..Default::default() });
        assert!(e.contains("overlap_weight"), "{e}");
        assert!(bad(InpaintingOptions { adv_lr: 0.0, ..Default::default() }).contains("adv_lr"));
        let mut t = toml::Table::new();
        crate::tasks::apply_set(&mut t, "mask=stripes").unwrap();
        let e = (INPAINTING.build)(&t).err().unwrap().to_string();
        assert!(e.contains("stripes"), "{e}");
    }
}
