//! Jigsaw puzzles (Noroozi & Favaro 2016): a frame's crop is cut into a 3×3 grid, one tile per
//! cell at a random offset (so tiles have gaps), the tiles are shuffled by one permutation of a
//! fixed set, and the model names the permutation. As published: a 225 px crop, 75 px cells,
//! 64 px tiles, each tile normalised on its own (mean and standard deviation over its values, as
//! the reference loader does), 30 % of examples greyscale and every tile's colour channels
//! shifted by up to ±2 px (chromatic aberration would otherwise tell where a tile lies), and the
//! permutation set chosen by the greedy maximum-Hamming algorithm ([`permutations`]; 1000 by
//! default, as the reference code).
//!
//! The example's frame and permutation are drawn by the sampler; the tile offsets, greyscale and
//! channel shifts from the assembler's own random stream, so an example is the same for any
//! number of workers. The crop is cut from the decoded square (`input.decode_size`) at the
//! example's crop offset (random in training, centred in evaluation); `input.frame_size` only sets
//! that square's default side (frame_size + 1/8).
//!
//! Files: this one (options, sampler and assembler; toy examples are cut from
//! `tile_grid::toy_frame`), `permutations.rs`, `preset.toml`, and with the `torch` feature
//! `model.rs` (tiles through the shared vision trunk, a per-tile layer, the nine concatenated, an
//! MLP over the permutations; accuracy and top-5 accuracy).
//!
//! Fields: `frames` `[9, 3, T, T]` (position `t` holds the tile of cell `perm[t]`) and `label`
//! `[]` (the permutation's index in the set).

use std::sync::Arc;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::tile_grid::{self, TileCut, TileGrid};
use super::{parse_options, OptionDoc, Role, Task, TaskDescriptor, TaskError};
use crate::media::RgbFrame;
use crate::models::ModelConfig;
use crate::pipeline::{
    AssembleContext, AugmentParams, Example, Field, FieldSpec, IndexEntry, InputSpec,
    PipelineError, PlanContext, SampleSpec, TaskData,
};

#[cfg(feature = "torch")]
mod model;
pub mod permutations;

pub use permutations::{Permutation, PermutationSet};

/// Tiles per puzzle.
pub const TILES: usize = 9;

/// The `jigsaw` task.
pub static JIGSAW: TaskDescriptor = TaskDescriptor {
    name: "jigsaw",
    about: "Noroozi & Favaro: which permutation shuffled these 9 tiles of a frame? (vision only)",
    default_preset: "jigsaw",
    own_preset: Some(include_str!("preset.toml")),
    options: &[
        OptionDoc {
            key: "permutations",
            help: "classes: the size of the greedy maximum-Hamming permutation set (100, 1000 or \
                   2000 published; 1000 is the reference code's default)",
        },
        OptionDoc {
            key: "permutation_seed",
            help: "seed of the set's first permutation (the algorithm's only random choice); sets \
                   are cached by (size, seed) under ~/.cache/pretext/jigsaw ($PRETEXT_CACHE_DIR)",
        },
        OptionDoc { key: "crop", help: "side of the square cut from the decoded frame (225)" },
        OptionDoc { key: "cell", help: "side of a grid cell; crop = 3 × cell (75)" },
        OptionDoc {
            key: "tile",
            help: "side of the tile cut at a random offset in each cell, ≤ cell (64: gaps of \
                   0-22 px between neighbours)",
        },
        OptionDoc { key: "grey_p", help: "share of examples made greyscale (0.3)" },
        OptionDoc {
            key: "channel_jitter",
            help: "largest shift in pixels of each colour channel of a tile, on both axes (2)",
        },
    ],
    defaults: || serde_json::to_value(JigsawOptions::default()).unwrap_or_default(),
    build: |t| Ok(Box::new(JigsawTask::new(parse_options("jigsaw", t)?)?)),
};

/// The options of the `jigsaw` task (the `[task]` table).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JigsawOptions {
    /// Size of the permutation set (classes).
    pub permutations: usize,
    /// Seed of the set's first permutation.
    pub permutation_seed: u64,
    /// Side of the crop.
    pub crop: usize,
    /// Side of a cell.
    pub cell: usize,
    /// Side of a tile.
    pub tile: usize,
    /// Share of greyscale examples.
    pub grey_p: f64,
    /// Largest per-channel shift in pixels.
    pub channel_jitter: usize,
}

impl Default for JigsawOptions {
    fn default() -> Self {
        JigsawOptions {
            permutations: 1000,
            permutation_seed: 0,
            crop: 225,
            cell: 75,
            tile: 64,
            grey_p: 0.3,
            channel_jitter: 2,
        }
    }
}

impl JigsawOptions {
    fn grid(&self) -> TileGrid {
        TileGrid { crop: self.crop, cell: self.cell, tile: self.tile, jitter: None }
    }
}

/// The built `jigsaw` task: options validated, permutation set loaded.
#[derive(Debug, Clone)]
pub struct JigsawTask {
    options: JigsawOptions,
    data: Arc<JigsawData>,
}

impl JigsawTask {
    /// Validates the options and loads (or generates) the permutation set.
    pub fn new(options: JigsawOptions) -> Result<Self, TaskError> {
        let err = |reason: String| TaskError::Options { task: JIGSAW.name.into(), reason };
        options.grid().check("tile").map_err(err)?;
        if !(0.0..=1.0).contains(&options.grey_p) {
            return Err(err(format!("grey_p {} must lie in [0, 1]", options.grey_p)));
        }
        if options.channel_jitter > options.tile / 4 {
            return Err(err(format!(
                "channel_jitter {} must be at most a quarter of the tile ({})",
                options.channel_jitter,
                options.tile / 4
            )));
        }
        let set =
            PermutationSet::get(options.permutations, options.permutation_seed).map_err(err)?;
        let data = Arc::new(JigsawData {
            grid: options.grid(),
            set,
            grey_p: options.grey_p,
            channel_jitter: options.channel_jitter,
        });
        Ok(JigsawTask { options, data })
    }

    /// The permutation set (the classes).
    pub fn permutations(&self) -> &PermutationSet {
        &self.data.set
    }
}

impl Task for JigsawTask {
    fn name(&self) -> &'static str {
        JIGSAW.name
    }

    fn options(&self) -> serde_json::Value {
        serde_json::to_value(&self.options).unwrap_or_default()
    }

    fn data(&self, _role: Role) -> Arc<dyn TaskData> {
        self.data.clone()
    }

    /// The crop must fit in the decoded square, and a tile through the vision tower.
    fn adapt_model(&self, model: &mut ModelConfig) -> Result<(), TaskError> {
        tile_grid::check_fits(
            JIGSAW.name,
            "crop",
            self.options.crop,
            "tile",
            self.options.tile,
            model,
        )
    }

    #[cfg(feature = "torch")]
    fn model(
        &self,
        root: &tch::nn::Path,
        model: &ModelConfig,
    ) -> Result<Box<dyn crate::training::TaskModel>, crate::training::TrainingError> {
        Ok(Box::new(model::new(root, model, self.data.set.len() as i64)?))
    }

    #[cfg(feature = "torch")]
    fn metrics(&self) -> crate::training::MetricSet {
        model::metrics()
    }
}

/// The jigsaw sampler and assembler.
#[derive(Debug)]
pub struct JigsawData {
    grid: TileGrid,
    set: Arc<PermutationSet>,
    grey_p: f64,
    channel_jitter: usize,
}

/// How one puzzle was cut: greyscale or not, and each cell's tile (in cell order).
#[derive(Debug, Clone, PartialEq)]
pub struct PuzzleCut {
    /// Whether the crop was made greyscale.
    pub grey: bool,
    /// The tile of each cell, cells in row-major order.
    pub tiles: [TileCut; TILES],
}

impl JigsawData {
    /// Draws how a puzzle is cut from the example's own random stream.
    pub fn draw_cut(&self, rng: &mut ChaCha8Rng) -> PuzzleCut {
        let grey = rng.gen_bool(self.grey_p);
        let tiles = std::array::from_fn(|cell| TileCut {
            cell,
            offset: self.grid.draw_offset(rng),
            shift: TileGrid::draw_shift(self.channel_jitter, rng),
        });
        PuzzleCut { grey, tiles }
    }

    /// The puzzle of permutation `k` from a crop (`[3, crop, crop]` in [0, 1]): the tiles in
    /// cell order, each normalised on its own, then arranged so that position `t` holds the tile
    /// of cell `perm[t]`. `[9, 3, T, T]`.
    pub fn puzzle(&self, mut crop: Vec<f32>, cut: &PuzzleCut, k: usize) -> Vec<f32> {
        if cut.grey {
            tile_grid::greyscale(&mut crop);
        }
        let per = 3 * self.grid.tile * self.grid.tile;
        let mut tiles = vec![0.0f32; TILES * per];
        for (c, out) in cut.tiles.iter().zip(tiles.chunks_exact_mut(per)) {
            self.grid.cut_into(&crop, c, out);
            tile_grid::normalise_alone(out);
        }
        let perm = self.permutation(k);
        let mut frames = Vec::with_capacity(TILES * per);
        for &cell in &perm {
            let cell = usize::from(cell);
            frames.extend_from_slice(&tiles[cell * per..(cell + 1) * per]);
        }
        frames
    }

    /// Permutation `k` of the set (the first for an index out of range).
    pub fn permutation(&self, k: usize) -> Permutation {
        let rows = self.set.rows();
        rows.get(k).or(rows.first()).copied().unwrap_or([0, 1, 2, 3, 4, 5, 6, 7, 8])
    }

    /// The tile geometry.
    pub fn grid(&self) -> TileGrid {
        self.grid
    }

    fn example_fields(&self, crop: Vec<f32>, cut: &PuzzleCut, k: usize) -> Vec<Field> {
        let t = self.grid.tile;
        vec![
            Field::f32("frames", &[TILES, 3, t, t], self.puzzle(crop, cut, k)),
            Field::label("label", k as i64),
        ]
    }
}

impl TaskData for JigsawData {
    fn name(&self) -> &str {
        JIGSAW.name
    }

    fn fields(&self, _input: &InputSpec) -> Vec<FieldSpec> {
        let t = self.grid.tile;
        vec![FieldSpec::f32("frames", &[TILES, 3, t, t]), FieldSpec::i64("label", &[])]
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
        let k = rng.gen_range(0..self.set.len().max(1));
        let mut spec = SampleSpec::new(seq, file, vec![e.frame_time(i)]);
        spec.slots = vec![k];
        spec.label = k as i64;
        spec.kind = "puzzle".into();
        spec
    }

    fn plan_at(&self, ctx: &PlanContext<'_>, file: usize, t: f64) -> Option<SampleSpec> {
        let e = &ctx.index[file];
        let mut spec = SampleSpec::new(0, file, vec![e.frame_time(e.frame_at(t)?)]);
        spec.slots = vec![0];
        spec.label = 0;
        spec.kind = "puzzle".into();
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
        if k >= self.set.len() {
            return Err(PipelineError::Assemble {
                seq: spec.seq,
                reason: format!("permutation {k} of a set of {}", self.set.len()),
            });
        }
        let crop = tile_grid::crop01(frame, &spec.augment, self.grid.crop);
        let cut = self.draw_cut(&mut cx.rng);
        Ok(self.example_fields(crop, &cut, k))
    }

    fn toy_example(&self, _input: &InputSpec, index: u64, rng: &mut ChaCha8Rng) -> Example {
        let frame = tile_grid::toy_frame(self.grid.crop, rng);
        let k = rng.gen_range(0..self.set.len().max(1));
        let crop = tile_grid::crop01(&frame, &AugmentParams::default(), self.grid.crop);
        let cut = self.draw_cut(rng);
        Example {
            meta: crate::pipeline::SampleMeta {
                seq: index,
                file: format!("toy://{index}"),
                video_times: vec![0.0],
                label: k as i64,
                kind: "puzzle".into(),
                ..Default::default()
            },
            fields: self.example_fields(crop, &cut, k),
        }
    }

    fn describe(&self) -> String {
        format!(
            "{} greedy max-Hamming permutations (seed {}) of 9 tiles of {} px from {} px cells of \
             a {} px crop; {:.0} % greyscale, channels shifted up to {} px; accuracy",
            self.set.len(),
            self.set.seed(),
            self.grid.tile,
            self.grid.cell,
            self.grid.crop,
            100.0 * self.grey_p,
            self.channel_jitter
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pipeline::Values;
    use rand::SeedableRng;

    fn data(crop: usize, cell: usize, tile: usize, grey_p: f64, jitter: usize) -> JigsawData {
        JigsawData {
            grid: TileGrid { crop, cell, tile, jitter: None },
            set: Arc::new(PermutationSet::generate(100, 0)),
            grey_p,
            channel_jitter: jitter,
        }
    }

    fn f32s(f: &Field) -> Vec<f32> {
        match &f.values {
            Values::F32(v) => v.clone(),
            Values::I64(_) => panic!("{} is not f32", f.name),
        }
    }

    /// A decoded frame of random pixels (no two windows alike, even after normalisation).
    fn frame(side: usize) -> RgbFrame {
        let mut rng = ChaCha8Rng::seed_from_u64(11);
        let data = (0..side * side * 3).map(|_| rng.gen::<u8>()).collect();
        RgbFrame { width: side as u32, height: side as u32, pts: 0.0, data }
    }

    /// Labels agree with pixels: with tiles as large as cells (no gap), the tiles put back by
    /// the labelled permutation (position t holds cell perm[t]) reproduce the crop's cells, each
    /// normalised on its own; and with gaps, each tile is a piece of its cell.
    #[test]
    fn tiles_put_back_by_the_permutation_reproduce_the_crop() {
        let input = InputSpec { frame_size: 24, decode_size: Some(30), ..Default::default() };
        let mut spectrogram = None;
        for (tile, grey_p) in [(8, 0.0), (8, 1.0), (6, 0.0)] {
            let d = data(24, 8, tile, grey_p, 0);
            for seq in 0..6u64 {
                let mut spec = SampleSpec::new(seq, 0, vec![0.0]);
                let k = (seq as usize * 37) % 100;
                spec.slots = vec![k];
                spec.augment.crop_x = 0.3;
                let rng = crate::pipeline::sampler::item_rng(1, seq, 2);
                let mut cx = AssembleContext::new(&input, &mut spectrogram, rng);
                let f = d.assemble(&spec, &[frame(30)], &[], &mut cx).unwrap();
                let label = match &f[1].values {
                    Values::I64(v) => v[0],
                    Values::F32(_) => panic!("label is i64"),
                };
                assert_eq!(label, k as i64);
                let frames = f32s(&f[0]);
                let per = 3 * tile * tile;
                assert_eq!(frames.len(), 9 * per);
                // The crop the assembler cut, independently: x offset round(0.3 × 6) = 2, y 3.
                let mut crop = tile_grid::crop01(&frame(30), &spec.augment, 24);
                if grey_p == 1.0 {
                    tile_grid::greyscale(&mut crop);
                }
                let perm = d.permutation(k);
                let mut put_back = vec![Vec::new(); 9];
                for (t, &cell) in perm.iter().enumerate() {
                    put_back[usize::from(cell)] = frames[t * per..(t + 1) * per].to_vec();
                }
                for (cell, got) in put_back.iter().enumerate() {
                    let (r, c) = (cell / 3, cell % 3);
                    // Every placement of the tile in its cell; the one the assembler drew must
                    // match exactly.
                    let found = (0..=8 - tile).any(|oy| {
                        (0..=8 - tile).any(|ox| {
                            let mut want = vec![0.0f32; per];
                            let cut = TileCut { cell, offset: (oy, ox), shift: [(0, 0); 3] };
                            d.grid.cut_into(&crop, &cut, &mut want);
                            tile_grid::normalise_alone(&mut want);
                            want.iter().zip(got).all(|(a, b)| (a - b).abs() < 1e-5)
                        })
                    });
                    assert!(found, "tile {tile}: cell ({r}, {c}) of example {seq} is not put back");
                }
            }
        }
    }

    #[test]
    fn cuts_come_from_the_stream_and_shifts_stay_in_bounds() {
        let d = data(96, 32, 27, 0.3, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        let mut greys = 0;
        for _ in 0..1000 {
            let cut = d.draw_cut(&mut rng);
            greys += usize::from(cut.grey);
            for t in &cut.tiles {
                assert!(t.offset.0 <= 5 && t.offset.1 <= 5);
                assert!(t.shift.iter().all(|s| s.0.abs() <= 2 && s.1.abs() <= 2));
            }
        }
        assert!((250..350).contains(&greys), "{greys} greyscale of 1000");
        let mut a = ChaCha8Rng::seed_from_u64(9);
        let mut b = ChaCha8Rng::seed_from_u64(9);
        assert_eq!(d.draw_cut(&mut a), d.draw_cut(&mut b));
    }

    #[test]
    fn options_are_validated_by_key() {
        let bad = |o: JigsawOptions| JigsawTask::new(o).err().map(|e| e.to_string()).unwrap();
        let base = JigsawOptions { permutations: 100, ..Default::default() };
        assert!(bad(JigsawOptions { crop: 224, ..base.clone() }).contains("crop 224"));
        assert!(bad(JigsawOptions { tile: 76, ..base.clone() }).contains("tile 76"));
        assert!(bad(JigsawOptions { grey_p: 1.5, ..base.clone() }).contains("grey_p"));
        assert!(
            bad(JigsawOptions { channel_jitter: 30, ..base.clone() }).contains("channel_jitter")
        );
        assert!(bad(JigsawOptions { permutations: 1, ..base.clone() }).contains("permutations"));
        let task = JigsawTask::new(base).unwrap();
        let mut model = ModelConfig::default();
        model.input.frame_size = 96;
        let e = task.adapt_model(&mut model).unwrap_err().to_string();
        assert!(e.contains("crop 225") && e.contains("input.decode_size 108"), "{e}");
        model.input.decode_size = Some(256);
        task.adapt_model(&mut model).unwrap();
    }
}
