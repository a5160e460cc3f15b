//! Relative patch position (Doersch, Gupta & Efros 2015): two patches of a frame's crop, the
//! centre one of a 3×3 grid and one of its 8 neighbours; the model says where the second lies
//! relative to the first (8-way: top-left, top, top-right, left, right, bottom-left, bottom,
//! bottom-right, in that order). Each patch is cut at a random offset in its cell, so the two
//! are separated by a random gap and cannot be matched by continuing an edge; `jitter` bounds the
//! offset around the centred position (Doersch: 96 px patches, gaps of 48 px, jitter 7 px, which
//! is `cell = 144, patch = 96, jitter = 7`). Against chromatic aberration, the crop is made
//! greyscale with probability `grey_p` (`colour = "grey"`), or each patch keeps one random colour
//! channel and the other two become faint noise (`colour = "drop"`, Doersch's colour dropping).
//! Defaults are mmselfsup's pre-processing: a 255 px crop (of a frame decoded at 292, which is
//! `input.decode_size`), 85 px cells, 64 px patches anywhere in them, greyscale with p = 0.66.
//!
//! The frame and the position are drawn by the sampler; patch offsets, greyscale and channel
//! drops from the assembler's own random stream (the same example for any number of workers).
//! Patches are normalised by the input spec's mean and standard deviation.
//!
//! Files: this one (options, sampler and assembler; toy examples are cut from
//! `tile_grid::toy_frame`), `preset.toml`, and with the `torch` feature `model.rs` (the shared
//! tile Siamese over the two patches; accuracy, balanced accuracy, accuracy per position).
//!
//! Fields: `frames` `[2, 3, P, P]` (the centre patch, then the neighbour) and `label` `[]`.

use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::tile_grid::{self, TileCut, TileGrid};
use super::{parse_options, OptionDoc, Role, Task, TaskDescriptor, TaskError};
use crate::media::RgbFrame;
use crate::models::ModelConfig;
use crate::pipeline::{
    AssembleContext, AugmentParams, Example, Field, FieldSpec, IndexEntry, InputSpec, Normalize,
    PipelineError, PlanContext, SampleSpec, TaskData,
};

#[cfg(feature = "torch")]
mod model;

/// The centre cell of the 3×3 grid.
pub const CENTRE: usize = 4;

/// The 8 positions (labels) as grid cells, row-major around the centre.
pub const NEIGHBOURS: [usize; 8] = [0, 1, 2, 3, 5, 6, 7, 8];

/// The positions' names (the examples' kinds).
pub const POSITIONS: [&str; 8] =
    ["top-left", "top", "top-right", "left", "right", "bottom-left", "bottom", "bottom-right"];

/// The `relative-position` task.
pub static RELATIVE_POSITION: TaskDescriptor = TaskDescriptor {
    name: "relative-position",
    about: "Doersch et al.: where does the second patch lie around the first (8 neighbours in a \
            3x3 grid)? (vision only)",
    default_preset: "relative-position",
    own_preset: Some(include_str!("preset.toml")),
    options: &[
        OptionDoc {
            key: "crop",
            help: "side of the square cut from the decoded frame (255, mmselfsup's, of a frame \
                   decoded at 292)",
        },
        OptionDoc { key: "cell", help: "side of a grid cell; crop = 3 × cell (85)" },
        OptionDoc {
            key: "patch",
            help: "side of the patch cut from a cell at a random offset, ≤ cell (64: gaps of \
                   0-42 px between the two)",
        },
        OptionDoc {
            key: "jitter",
            help: "largest distance of a patch from the centre of its cell's room; unset: \
                   anywhere (Doersch: cell 144, patch 96, jitter 7)",
        },
        OptionDoc {
            key: "colour",
            help: "against chromatic aberration: \"grey\" (the crop greyscale with probability \
                   grey_p, mmselfsup), \"drop\" (each patch keeps one random channel, the others \
                   become faint noise, Doersch) or \"none\"",
        },
        OptionDoc { key: "grey_p", help: "probability of greyscale with colour = \"grey\" (0.66)" },
    ],
    defaults: || serde_json::to_value(RelativePositionOptions::default()).unwrap_or_default(),
    build: |t| Ok(Box::new(RelativePositionTask::new(parse_options("relative-position", t)?)?)),
};

/// The defence against chromatic aberration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    /// Greyscale with probability `grey_p` (mmselfsup's `RandomGrayscale`).
    Grey,
    /// Each patch keeps one random channel; the other two become noise (Doersch).
    Drop,
    /// None.
    None,
}

/// The options of the `relative-position` task (the `[task]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RelativePositionOptions {
    /// Side of the crop.
    pub crop: usize,
    /// Side of a cell.
    pub cell: usize,
    /// Side of a patch.
    pub patch: usize,
    /// Largest distance of a patch's offset from centred; `None`: anywhere in the cell.
    pub jitter: Option<usize>,
    /// The defence against chromatic aberration.
    pub colour: Colour,
    /// Probability of greyscale (with `colour = "grey"`).
    pub grey_p: f64,
}

impl Default for RelativePositionOptions {
    fn default() -> Self {
        RelativePositionOptions {
            crop: 255,
            cell: 85,
            patch: 64,
            jitter: None,
            colour: Colour::Grey,
            grey_p: 0.66,
        }
    }
}

/// The built `relative-position` task.
#[derive(Debug, Clone)]
pub struct RelativePositionTask {
    options: RelativePositionOptions,
}

impl RelativePositionTask {
    /// Validates the options.
    pub fn new(options: RelativePositionOptions) -> Result<Self, TaskError> {
        let err =
            |reason: String| TaskError::Options { task: RELATIVE_POSITION.name.into(), reason };
        grid(&options).check("patch").map_err(err)?;
        if !(0.0..=1.0).contains(&options.grey_p) {
            return Err(err(format!("grey_p {} must lie in [0, 1]", options.grey_p)));
        }
        Ok(RelativePositionTask { options })
    }
}

fn grid(o: &RelativePositionOptions) -> TileGrid {
    TileGrid { crop: o.crop, cell: o.cell, tile: o.patch, jitter: o.jitter }
}

impl Task for RelativePositionTask {
    fn name(&self) -> &'static str {
        RELATIVE_POSITION.name
    }

    fn options(&self) -> serde_json::Value {
        serde_json::to_value(&self.options).unwrap_or_default()
    }

    fn data(&self, _role: Role) -> Arc<dyn TaskData> {
        Arc::new(RelativePositionData { options: self.options.clone() })
    }

    /// The crop must fit in the decoded square, and a patch through the vision tower.
    fn adapt_model(&self, model: &mut ModelConfig) -> Result<(), TaskError> {
        let o = &self.options;
        tile_grid::check_fits(self.name(), "crop", o.crop, "patch", o.patch, model)
    }

    #[cfg(feature = "torch")]
    fn model(
        &self,
        root: &tch::nn::Path,
        model: &ModelConfig,
    ) -> Result<Box<dyn crate::training::TaskModel>, crate::training::TrainingError> {
        Ok(Box::new(model::new(root, model)?))
    }

    #[cfg(feature = "torch")]
    fn metrics(&self) -> crate::training::MetricSet {
        model::metrics()
    }
}

/// The relative-position sampler and assembler.
#[derive(Debug, Clone)]
pub struct RelativePositionData {
    options: RelativePositionOptions,
}

/// How one pair was cut: greyscale or not, each patch's cut and (with colour dropping) the
/// channel it keeps.
#[derive(Debug, Clone, PartialEq)]
pub struct PairCut {
    /// Whether the crop was made greyscale.
    pub grey: bool,
    /// The centre patch's cut, then the neighbour's.
    pub patches: [TileCut; 2],
    /// With colour dropping, the channel each patch keeps.
    pub keep: Option<[usize; 2]>,
}

impl RelativePositionData {
    /// Draws how the pair of position `label` is cut from the example's own random stream.
    pub fn draw_cut(&self, label: usize, rng: &mut ChaCha8Rng) -> PairCut {
        let g = grid(&self.options);
        let grey = self.options.colour == Colour::Grey && rng.gen_bool(self.options.grey_p);
        let neighbour = NEIGHBOURS[label.min(7)];
        let patches = [CENTRE, neighbour].map(|cell| TileCut {
            cell,
            offset: g.draw_offset(rng),
            shift: [(0, 0); 3],
        });
        let keep = (self.options.colour == Colour::Drop)
            .then(|| [rng.gen_range(0..3usize), rng.gen_range(0..3usize)]);
        PairCut { grey, patches, keep }
    }

    /// The two patches of a crop (`[3, crop, crop]` in [0, 1]), normalised by `norm`:
    /// `[2, 3, P, P]`. Dropped channels get noise of 1/100 the kept channel's standard
    /// deviation, drawn from `rng`.
    pub fn pair(
        &self,
        mut crop: Vec<f32>,
        cut: &PairCut,
        norm: &Normalize,
        rng: &mut ChaCha8Rng,
    ) -> Vec<f32> {
        if cut.grey {
            tile_grid::greyscale(&mut crop);
        }
        let g = grid(&self.options);
        let p = g.tile;
        let plane = p * p;
        let mut out = vec![0.0f32; 2 * 3 * plane];
        for (i, (c, patch)) in cut.patches.iter().zip(out.chunks_exact_mut(3 * plane)).enumerate() {
            g.cut_into(&crop, c, patch);
            for (ch, values) in patch.chunks_exact_mut(plane).enumerate() {
                for v in values.iter_mut() {
                    *v = (*v - norm.mean[ch]) / norm.std[ch];
                }
            }
            if let Some(keep) = cut.keep {
                drop_channels(patch, plane, keep[i], rng);
            }
        }
        out
    }

    fn example_fields(&self, pair: Vec<f32>, label: usize) -> Vec<Field> {
        let p = self.options.patch;
        vec![Field::f32("frames", &[2, 3, p, p], pair), Field::label("label", label as i64)]
    }
}

/// Keeps channel `keep` of a `[3, plane]` patch and replaces the others by Gaussian noise of
/// 1/100 its standard deviation (Box-Muller on `rng`).
fn drop_channels(patch: &mut [f32], plane: usize, keep: usize, rng: &mut ChaCha8Rng) {
    let kept = &patch[keep * plane..(keep + 1) * plane];
    let n = kept.len().max(1) as f32;
    let mean = kept.iter().sum::<f32>() / n;
    let std = (kept.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / n).sqrt();
    for ch in (0..3).filter(|&c| c != keep) {
        for v in &mut patch[ch * plane..(ch + 1) * plane] {
            let (u1, u2): (f32, f32) = (rng.gen_range(f32::EPSILON..1.0), rng.gen());
            let z = (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
            *v = z * std / 100.0;
        }
    }
}

impl TaskData for RelativePositionData {
    fn name(&self) -> &str {
        RELATIVE_POSITION.name
    }

    fn fields(&self, _input: &InputSpec) -> Vec<FieldSpec> {
        let p = self.options.patch;
        vec![FieldSpec::f32("frames", &[2, 3, p, p]), FieldSpec::i64("label", &[])]
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
        let k = rng.gen_range(0..8usize);
        let mut spec = SampleSpec::new(seq, file, vec![e.frame_time(i)]);
        spec.slots = vec![k];
        spec.label = k as i64;
        spec.kind = POSITIONS[k].into();
        spec
    }

    fn plan_at(&self, ctx: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec> {
        let e = &ctx.index[file];
        let mut spec = SampleSpec::new(0, file, vec![e.frame_time(e.frame_at(t)?)]);
        spec.slots = vec![0];
        spec.label = 0;
        spec.kind = POSITIONS[0].into();
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
        let k = spec.slots.first().copied().unwrap_or(0);
        if k >= 8 {
            return Err(PipelineError::Assemble {
                seq: spec.seq,
                reason: format!("position {k} of 8"),
            });
        }
        let crop = tile_grid::crop01(frame, &spec.augment, self.options.crop);
        let cut = self.draw_cut(k, &mut cx.rng);
        let norm = cx.input().normalize();
        let pair = self.pair(crop, &cut, &norm, &mut cx.rng);
        Ok(self.example_fields(pair, k))
    }

    fn toy_example(&self, input: &InputSpec, index: u64, rng: &mut ChaCha8Rng) -> Example {
        let frame = tile_grid::toy_frame(self.options.crop, rng);
        let k = rng.gen_range(0..8usize);
        let crop = tile_grid::crop01(&frame, &AugmentParams::default(), self.options.crop);
        let cut = self.draw_cut(k, rng);
        let pair = self.pair(crop, &cut, &input.normalize(), rng);
        Example {
            meta: crate::pipeline::SampleMeta {
                seq: index,
                file: format!("toy://{index}"),
                video_times: vec![0.0],
                label: k as i64,
                kind: POSITIONS[k].into(),
                ..Default::default()
            },
            fields: self.example_fields(pair, k),
        }
    }

    fn describe(&self) -> String {
        let o = &self.options;
        let colour = match o.colour {
            Colour::Grey => format!("{:.0} % greyscale", 100.0 * o.grey_p),
            Colour::Drop => "colour dropping".into(),
            Colour::None => "colour kept".into(),
        };
        let jitter =
            o.jitter.map_or("anywhere in".into(), |j| format!("within {j} px of centred in"));
        format!(
            "the centre {} px patch and one of its 8 neighbours, {jitter} {} px cells of a {} px \
             crop, position uniform; {colour}; 8-way accuracy",
            o.patch, o.cell, o.crop
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Values;

    /// A decoded frame whose red channel is the column and green the row.
    fn coordinates(side: usize) -> RgbFrame {
        let mut data = Vec::with_capacity(side * side * 3);
        for y in 0..side {
            for x in 0..side {
                data.extend_from_slice(&[x as u8, y as u8, 128]);
            }
        }
        RgbFrame { width: side as u32, height: side as u32, pts: 0.0, data }
    }

    /// Labels agree with pixels: reading each patch's top-left pixel back as frame coordinates,
    /// the second patch lies in the labelled direction from the first, a whole patch (plus the
    /// gap) away, whatever the crop offset, jitter and flip.
    #[test]
    fn the_label_is_where_the_second_patch_lies() {
        let mut spectrogram = None;
        let norm = crate::pipeline::Normalize { mean: [0.0; 3], std: [1.0 / 255.0; 3] };
        let input = InputSpec {
            frame_size: 60,
            decode_size: Some(72),
            mean: norm.mean,
            std: norm.std,
            ..Default::default()
        };
        for jitter in [None, Some(1)] {
            let o = RelativePositionOptions {
                crop: 60,
                cell: 20,
                patch: 12,
                jitter,
                colour: Colour::None,
                grey_p: 0.0,
            };
            let d = RelativePositionData { options: o };
            let mut seen = [0usize; 8];
            for seq in 0..64u64 {
                let mut plan_rng = crate::pipeline::sampler::item_rng(2, seq, 1);
                let k = plan_rng.gen_range(0..8usize);
                let mut spec = SampleSpec::new(seq, 0, vec![0.0]);
                spec.slots = vec![k];
                spec.augment.crop_x = plan_rng.gen();
                spec.augment.crop_y = plan_rng.gen();
                let flip = seq % 2 == 1;
                spec.augment.flip = flip;
                let rng = crate::pipeline::sampler::item_rng(2, seq, 2);
                let mut cx = AssembleContext::new(&input, &mut spectrogram, rng);
                let f = d.assemble(&spec, &[coordinates(72)], &[], &mut cx).unwrap();
                let px = match &f[0].values {
                    Values::F32(v) => v.clone(),
                    Values::I64(_) => panic!("frames are f32"),
                };
                assert_eq!(f[1].values, Values::I64(vec![k as i64]));
                let plane = 12 * 12;
                // Frame coordinates of each patch's top-left pixel (as the model sees it).
                let at = |p: usize| (px[p * 3 * plane].round(), px[p * 3 * plane + plane].round());
                let ((x0, y0), (x1, y1)) = (at(0), at(1));
                // A flipped crop runs right to left: the model's right is the frame's left.
                let dx = if flip { x0 - x1 } else { x1 - x0 };
                let dy = y1 - y0;
                // Cells are 20 px apart; offsets in a cell differ by at most its room (8 px).
                let (col, row) = ((dx / 20.0).round(), (dy / 20.0).round());
                let cell = (3.0 * (row + 1.0) + col + 1.0) as usize;
                assert_eq!(NEIGHBOURS[k], cell, "label {k} but offset ({dx}, {dy})");
                for (d, n) in [(dx, col), (dy, row)] {
                    let off = (d - 20.0 * n).abs();
                    assert!(off <= 8.0, "({dx}, {dy})");
                    // Never overlapping: a whole patch apart along an axis where they differ.
                    assert!(n == 0.0 || d.abs() >= 12.0, "({dx}, {dy})");
                    if let Some(j) = jitter {
                        assert!(off <= 2.0 * j as f32, "jitter {j}: ({dx}, {dy})");
                    }
                }
                seen[k] += 1;
            }
            assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
        }
    }

    #[test]
    fn colour_defences() {
        let input = InputSpec::default();
        let mut rng = crate::pipeline::sampler::item_rng(5, 0, 0);
        let frame = tile_grid::toy_frame(30, &mut rng);
        let crop = tile_grid::crop01(&frame, &AugmentParams::default(), 30);
        let base = RelativePositionOptions { crop: 30, cell: 10, patch: 8, ..Default::default() };
        // Greyscale always: the three channels agree after undoing the normalisation.
        let grey = RelativePositionData {
            options: RelativePositionOptions { grey_p: 1.0, ..base.clone() },
        };
        let cut = grey.draw_cut(3, &mut rng);
        assert!(cut.grey && cut.keep.is_none());
        let px = grey.pair(crop.clone(), &cut, &input.normalize(), &mut rng);
        let n = input.normalize();
        for i in 0..64 {
            let v: Vec<f32> = (0..3).map(|c| px[c * 64 + i] * n.std[c] + n.mean[c]).collect();
            assert!((v[0] - v[1]).abs() < 1e-5 && (v[1] - v[2]).abs() < 1e-5);
        }
        // Dropping: one channel per patch keeps its values, the others are faint.
        let drop = RelativePositionData {
            options: RelativePositionOptions { colour: Colour::Drop, ..base.clone() },
        };
        let cut = drop.draw_cut(3, &mut rng);
        let keep = cut.keep.unwrap();
        assert!(!cut.grey);
        let px = drop.pair(crop.clone(), &cut, &input.normalize(), &mut rng);
        for (p, &k) in keep.iter().enumerate() {
            let spread = |c: usize| {
                let v = &px[(p * 3 + c) * 64..(p * 3 + c + 1) * 64];
                let m = v.iter().sum::<f32>() / 64.0;
                (v.iter().map(|x| (x - m).powi(2)).sum::<f32>() / 64.0).sqrt()
            };
            for c in (0..3).filter(|&c| c != k) {
                assert!(spread(c) < spread(k) / 20.0, "patch {p} channel {c}");
            }
        }
        // Options are checked by key.
        let e = RelativePositionTask::new(RelativePositionOptions { patch: 11, ..base.clone() })
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("patch 11"), "{e}");
        let e = RelativePositionTask::new(RelativePositionOptions { cell: 11, ..base })
            .err()
            .unwrap()
            .to_string();
        assert!(e.contains("crop 30 must be 3 × cell"), "{e}");
    }
}
