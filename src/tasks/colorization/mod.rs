//! Colourisation (Zhang, Isola & Efros 2016, "Colorful Image Colorization"): from the lightness
//! of a frame, predict its colour. A frame is converted to CIE Lab (D65, [`lab`]); the model sees
//! the L channel and predicts, at every location of its output grid, a distribution over the 313
//! in-gamut ab bins ([`bins`]). Training targets are soft-encoded (the 5 nearest bins, a Gaussian
//! of σ = 5), the multinomial cross-entropy is rebalanced by the training stream's own colour
//! prior (λ = ½, [`prior`]), and predictions are decoded by the annealed mean (T = 0.38).
//!
//! Departures from the paper, for a shared trunk on a CPU: the L channel is fed as a grey picture
//! of three equal channels (L/100 in each, normalised by the input's mean and standard deviation
//! like every other task's frames) instead of one channel, so the vision trunk has the shape of
//! every other vision task and its weights transfer both ways; and the prior is estimated from the
//! first `prior_batches` training batches (counted by the model, stored in every checkpoint)
//! instead of the whole training set beforehand. The output grid is 1/`output_stride` of the
//! input (4, as the paper's 56 of 224): the ab target of an output cell is the ab of the pixel at
//! the cell's centre (the paper subsamples the ab image with a stride-4 1×1 convolution).
//!
//! No colour jitter: brightness, contrast and saturation factors would change the very colours
//! to be predicted, so the assembler sets them to 1 (crop and flip stay).
//!
//! Files: this one (options, sampler, assembler), `lab.rs`, `bins.rs`, `prior.rs`, `toy.rs`,
//! `preset.toml`, and with the `torch` feature `model.rs` (the head, loss, decoding, AuC metrics
//! and the contact sheet).
//!
//! Fields: `gray` `[3, S, S]` (the normalised L, three times) and `ab` `[2, S/r, S/r]` (raw a
//! and b at the output grid, r = `output_stride`).

use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::{parse_options, OptionDoc, Role, Task, TaskDescriptor, TaskError};
use crate::media::RgbFrame;
use crate::models::ModelConfig;
use crate::pipeline::{
    augment_into, AssembleContext, Example, Field, FieldSpec, IndexEntry, InputSpec, Normalize,
    PipelineError, PlanContext, SampleSpec, TaskData,
};

pub mod bins;
pub mod lab;
#[cfg(feature = "torch")]
mod model;
pub mod prior;
mod toy;

/// The `colorization` task.
pub static COLORIZATION: TaskDescriptor = TaskDescriptor {
    name: "colorization",
    about: "Zhang et al.: the colour (313 ab bins) of each place of a frame from its lightness \
            (vision only)",
    default_preset: "colorization",
    own_preset: Some(include_str!("preset.toml")),
    options: &[
        OptionDoc {
            key: "output_stride",
            help: "the output grid is 1/output_stride of the frame; it must divide \
                   input.frame_size (4: 56 of 224, as published)",
        },
        OptionDoc {
            key: "neighbours",
            help: "soft encoding: nearest bins a target is spread over (5)",
        },
        OptionDoc { key: "sigma", help: "soft encoding: σ of the Gaussian over ab distance (5)" },
        OptionDoc {
            key: "lambda",
            help: "class rebalancing: weight of the uniform distribution mixed into the prior, \
                   in (0, 1]; 1 = no rebalancing (0.5)",
        },
        OptionDoc {
            key: "prior_sigma",
            help: "σ of the Gaussian that smooths the empirical prior over the bins; 0 = none (5)",
        },
        OptionDoc {
            key: "prior_batches",
            help: "training batches the bin prior (and the mean colour) is counted from, once, at \
                   the start of a run; unweighted loss until then; 0 = no rebalancing",
        },
        OptionDoc {
            key: "temperature",
            help: "annealed-mean decoding: T in (0, 1]; 1 = the mean, → 0 = the mode (0.38)",
        },
    ],
    defaults: || serde_json::to_value(ColorizationOptions::default()).unwrap_or_default(),
    build: |t| Ok(Box::new(ColorizationTask::new(parse_options("colorization", t)?)?)),
};

/// The options of the `colorization` task (the `[task]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColorizationOptions {
    /// Input pixels per output cell along a side.
    pub output_stride: usize,
    /// Bins a soft-encoded target is spread over.
    pub neighbours: usize,
    /// σ of the soft encoding.
    pub sigma: f64,
    /// Weight of the uniform distribution in the rebalancing.
    pub lambda: f64,
    /// σ of the prior's smoothing (0: none).
    pub prior_sigma: f64,
    /// Training batches the prior is counted from.
    pub prior_batches: usize,
    /// Temperature of the annealed mean.
    pub temperature: f64,
}

impl Default for ColorizationOptions {
    fn default() -> Self {
        ColorizationOptions {
            output_stride: 4,
            neighbours: 5,
            sigma: 5.0,
            lambda: 0.5,
            prior_sigma: 5.0,
            prior_batches: 20,
            temperature: 0.38,
        }
    }
}

/// The built `colorization` task.
#[derive(Debug, Clone)]
pub struct ColorizationTask {
    options: ColorizationOptions,
}

impl ColorizationTask {
    /// Validates the options.
    pub fn new(options: ColorizationOptions) -> Result<Self, TaskError> {
        let err = |reason: String| TaskError::Options { task: COLORIZATION.name.into(), reason };
        let o = &options;
        if !(1..=32).contains(&o.output_stride) {
            return Err(err(format!("output_stride {} must lie in 1..=32", o.output_stride)));
        }
        if !(1..=bins::BINS).contains(&o.neighbours) {
            return Err(err(format!("neighbours {} must lie in 1..=313", o.neighbours)));
        }
        if !(o.sigma > 0.0 && o.sigma.is_finite()) {
            return Err(err(format!("sigma {} must be positive", o.sigma)));
        }
        if !(o.lambda > 0.0 && o.lambda <= 1.0) {
            return Err(err(format!("lambda {} must lie in (0, 1]", o.lambda)));
        }
        if !(o.prior_sigma >= 0.0 && o.prior_sigma.is_finite()) {
            return Err(err(format!("prior_sigma {} must be 0 or positive", o.prior_sigma)));
        }
        if !(o.temperature > 0.0 && o.temperature <= 1.0) {
            return Err(err(format!("temperature {} must lie in (0, 1]", o.temperature)));
        }
        Ok(ColorizationTask { options })
    }

    /// The options.
    pub fn options(&self) -> &ColorizationOptions {
        &self.options
    }
}

impl Task for ColorizationTask {
    fn name(&self) -> &'static str {
        COLORIZATION.name
    }

    fn options(&self) -> serde_json::Value {
        serde_json::to_value(&self.options).unwrap_or_default()
    }

    fn data(&self, _role: Role) -> Arc<dyn TaskData> {
        Arc::new(ColorizationData { stride: self.options.output_stride })
    }

    /// The output grid must tile the frame.
    fn adapt_model(&self, model: &mut ModelConfig) -> Result<(), TaskError> {
        let s = model.input.frame_size as usize;
        if s % self.options.output_stride != 0 {
            return Err(TaskError::Options {
                task: COLORIZATION.name.into(),
                reason: format!(
                    "output_stride {} does not divide input.frame_size {s}",
                    self.options.output_stride
                ),
            });
        }
        Ok(())
    }

    #[cfg(feature = "torch")]
    fn model(
        &self,
        root: &tch::nn::Path,
        model: &ModelConfig,
    ) -> Result<Box<dyn crate::training::TaskModel>, crate::training::TrainingError> {
        Ok(Box::new(model::ColorizationNet::new(root, model, &self.options)?))
    }

    #[cfg(feature = "torch")]
    fn metrics(&self) -> crate::training::MetricSet {
        model::metrics()
    }
}

/// The colourisation sampler and assembler.
#[derive(Debug, Clone)]
pub struct ColorizationData {
    stride: usize,
}

impl ColorizationData {
    /// The fields of a `[3, s, s]` sRGB picture in `[0, 1]`: the normalised L three times, and
    /// a and b at the centre pixel of every `stride × stride` cell.
    pub fn fields_of(&self, rgb: &[f32], s: usize, norm: &Normalize) -> Vec<Field> {
        let plane = s * s;
        let so = s / self.stride;
        let mut gray = vec![0.0f32; 3 * plane];
        let mut ab = vec![0.0f32; 2 * so * so];
        let half = self.stride / 2;
        for y in 0..s {
            for x in 0..s {
                let i = y * s + x;
                let lab = lab::srgb_to_lab([0, 1, 2].map(|c| f64::from(rgb[c * plane + i])));
                let v = (lab[0] / 100.0) as f32;
                for c in 0..3 {
                    gray[c * plane + i] = (v - norm.mean[c]) / norm.std[c];
                }
                if y % self.stride == half && x % self.stride == half {
                    let o = (y / self.stride) * so + x / self.stride;
                    ab[o] = lab[1] as f32;
                    ab[so * so + o] = lab[2] as f32;
                }
            }
        }
        vec![Field::f32("gray", &[3, s, s], gray), Field::f32("ab", &[2, so, so], ab)]
    }
}

impl TaskData for ColorizationData {
    fn name(&self) -> &str {
        COLORIZATION.name
    }

    fn fields(&self, input: &InputSpec) -> Vec<FieldSpec> {
        let s = input.frame_size as usize;
        let so = s / self.stride;
        vec![FieldSpec::f32("gray", &[3, s, s]), FieldSpec::f32("ab", &[2, so, so])]
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
        spec.kind = "frame".into();
        spec
    }

    fn plan_at(&self, ctx: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec> {
        let e = &ctx.index[file];
        let mut spec = SampleSpec::new(0, file, vec![e.frame_time(e.frame_at(t)?)]);
        spec.kind = "frame".into();
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
        // Crop and flip as drawn; no colour jitter (it would change the targets).
        let mut augment = spec.augment;
        (augment.brightness, augment.contrast, augment.saturation) = (1.0, 1.0, 1.0);
        let mut rgb = vec![0.0f32; 3 * s * s];
        let unit = Normalize { mean: [0.0; 3], std: [1.0; 3] };
        augment_into(frame, &augment, s, &unit, &mut rgb);
        Ok(self.fields_of(&rgb, s, &cx.input().normalize()))
    }

    fn toy_example(&self, input: &InputSpec, index: u64, rng: &mut ChaCha8Rng) -> Example {
        let s = input.frame_size as usize;
        let rgb = toy::toy_frame(s, rng);
        Example {
            meta: crate::pipeline::SampleMeta {
                seq: index,
                file: format!("toy://{index}"),
                video_times: vec![0.0],
                label: -1,
                kind: "frame".into(),
                ..Default::default()
            },
            fields: self.fields_of(&rgb, s, &input.normalize()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "one frame per example, no colour jitter; L in, ab at 1/{} resolution out; AuC of \
             per-pixel ab accuracy (thresholds 0-150) of the annealed mean, next to the training \
             prior's mean colour and grey",
            self.stride
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::{AugmentParams, Values};

    fn f32s(e: &[Field], name: &str) -> Vec<f32> {
        match &e.iter().find(|f| f.name == name).unwrap().values {
            Values::F32(v) => v.clone(),
            _ => panic!("{name} is not f32"),
        }
    }

    /// The fields are the frame's Lab: the grey input gives back L, and each ab target is the
    /// Lab of its cell's centre pixel; colour jitter drawn by the pipeline changes nothing.
    #[test]
    fn fields_are_the_lab_of_the_pixels_and_colour_jitter_is_ignored() {
        let s = 8;
        // A frame of 8×8 distinct colours.
        let mut data = Vec::new();
        for y in 0..s {
            for x in 0..s {
                data.extend_from_slice(&[(30 * x) as u8, (30 * y) as u8, (200 - 20 * x) as u8]);
            }
        }
        let frame = RgbFrame { width: s as u32, height: s as u32, pts: 0.0, data };
        let input =
            InputSpec { frame_size: s as u32, decode_size: Some(s as u32), ..Default::default() };
        let d = ColorizationData { stride: 4 };
        let mut jittered = SampleSpec::new(0, 0, vec![0.0]);
        jittered.augment =
            AugmentParams { brightness: 1.3, contrast: 0.7, saturation: 0.5, ..Default::default() };
        let mut plain = SampleSpec::new(0, 0, vec![0.0]);
        plain.augment = AugmentParams::default();
        let mut spectrogram = None;
        let mut cx = AssembleContext::new(
            &input,
            &mut spectrogram,
            crate::pipeline::sampler::item_rng(1, 0, 0),
        );
        let a = d.assemble(&jittered, std::slice::from_ref(&frame), &[], &mut cx).unwrap();
        let b = d.assemble(&plain, std::slice::from_ref(&frame), &[], &mut cx).unwrap();
        assert_eq!(a, b, "colour jitter reached the colourisation fields");
        let (gray, ab) = (f32s(&a, "gray"), f32s(&a, "ab"));
        assert_eq!((gray.len(), ab.len()), (3 * 64, 2 * 4));
        let norm = input.normalize();
        for (y, x) in [(0, 0), (2, 2), (6, 2), (7, 7)] {
            let px = &frame.data[(y * s + x) * 3..(y * s + x) * 3 + 3];
            let lab = lab::srgb_to_lab([0, 1, 2].map(|c| f64::from(px[c]) / 255.0));
            for c in 0..3 {
                let l = (f64::from(gray[c * 64 + y * s + x]) * f64::from(norm.std[c])
                    + f64::from(norm.mean[c]))
                    * 100.0;
                assert!((l - lab[0]).abs() < 1e-3, "({y}, {x}) channel {c}: L {l} vs {}", lab[0]);
            }
            if y % 4 == 2 && x % 4 == 2 {
                let o = (y / 4) * 2 + x / 4;
                assert!((f64::from(ab[o]) - lab[1]).abs() < 1e-3);
                assert!((f64::from(ab[4 + o]) - lab[2]).abs() < 1e-3);
            }
        }
    }

    #[test]
    fn options_are_checked_and_the_grid_must_tile_the_frame() {
        let bad = |k: &str, v: toml::Value| {
            let mut t = toml::Table::new();
            t.insert(k.into(), v);
            (COLORIZATION.build)(&t).err().map(|e| e.to_string()).unwrap_or_default()
        };
        assert!(bad("lambda", 0.0.into()).contains("lambda"));
        assert!(bad("temperature", 0.0.into()).contains("temperature"));
        assert!(bad("neighbours", 314.into()).contains("neighbours"));
        let task = ColorizationTask::new(ColorizationOptions::default()).unwrap();
        let mut m = ModelConfig::preset("quick").unwrap();
        m.input.frame_size = 66;
        assert!(task.adapt_model(&mut m).unwrap_err().to_string().contains("output_stride"));
    }
}
