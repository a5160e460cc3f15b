//! The patch geometry the jigsaw and relative-position tasks share: a square crop of side
//! `crop` split into a 3×3 grid of `cell`-pixel cells, and from each cell a `tile`-pixel square
//! at a random offset, so neighbouring tiles are separated by a random gap (Noroozi & Favaro's
//! 225 → 75 → 64; mmselfsup's relative location 255 → 85 → 64) and the network cannot match
//! them by continuing edges across a shared border. `jitter` bounds the offset around the centred
//! position (Doersch et al.: gap 48, jitter 7); unset, the whole room of the cell is used.
//!
//! Everything works on CHW f32 images in [0, 1] (the crop as [`crop01`] cuts it from a decoded
//! frame), plus the two shortcut defences the papers use: greyscale and a per-channel shift of up
//! to a few pixels (chromatic aberration makes a colour channel's offset a cue to where in the
//! lens, hence the image, a patch lies).

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::TaskError;
use crate::media::RgbFrame;
use crate::models::{Arch, ModelConfig};
use crate::pipeline::{augment_into, AugmentParams, Normalize};

/// Cells per side of the grid.
pub const SIDE: usize = 3;

/// A crop, its 3×3 cells and the tiles cut from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileGrid {
    /// Side of the crop.
    pub crop: usize,
    /// Side of a cell (`crop = 3 · cell`).
    pub cell: usize,
    /// Side of a tile (at most `cell`).
    pub tile: usize,
    /// Largest distance of a tile's offset from the centred position; `None`: anywhere in the
    /// cell.
    pub jitter: Option<usize>,
}

/// Where one tile is cut: its cell (0..9, row-major) and the offset of its top-left corner in
/// the cell, plus each colour channel's shift `(dy, dx)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TileCut {
    /// The cell, row-major (`row · 3 + column`).
    pub cell: usize,
    /// Offset of the tile in its cell, `(y, x)`.
    pub offset: (usize, usize),
    /// Per-channel shift `(dy, dx)` in pixels.
    pub shift: [(i32, i32); 3],
}

impl TileGrid {
    /// Checks the geometry; the message names the keys (`tile_key` is the task's name for a
    /// tile: `tile`, `patch`).
    pub fn check(&self, tile_key: &str) -> Result<(), String> {
        if self.cell == 0 || self.crop != SIDE * self.cell {
            return Err(format!(
                "crop {} must be 3 × cell ({} × 3 = {})",
                self.crop,
                self.cell,
                SIDE * self.cell
            ));
        }
        if !(2..=self.cell).contains(&self.tile) {
            return Err(format!("{tile_key} {} must lie in 2..=cell ({})", self.tile, self.cell));
        }
        Ok(())
    }

    /// The room a tile has in its cell.
    pub fn room(&self) -> usize {
        self.cell.saturating_sub(self.tile)
    }

    /// Draws a tile's offset in its cell: uniform over the room, or within `jitter` of centred.
    pub fn draw_offset(&self, rng: &mut ChaCha8Rng) -> (usize, usize) {
        let room = self.room();
        let (lo, hi) = match self.jitter {
            None => (0, room),
            Some(j) => ((room / 2).saturating_sub(j), (room / 2 + j).min(room)),
        };
        (rng.gen_range(lo..=hi), rng.gen_range(lo..=hi))
    }

    /// Draws each colour channel's shift, uniform in `[-max, max]` on both axes.
    pub fn draw_shift(max: usize, rng: &mut ChaCha8Rng) -> [(i32, i32); 3] {
        let m = max as i32;
        std::array::from_fn(|_| (rng.gen_range(-m..=m), rng.gen_range(-m..=m)))
    }

    /// Top-left corner of `cut`'s tile in the crop, `(y, x)`.
    pub fn origin(&self, cut: &TileCut) -> (usize, usize) {
        let (row, col) = (cut.cell / SIDE, cut.cell % SIDE);
        (row * self.cell + cut.offset.0, col * self.cell + cut.offset.1)
    }

    /// Cuts `cut`'s tile out of `crop` (`[3, crop, crop]`) into `out` (`[3, tile, tile]`). A
    /// shifted channel reads its pixels `(dy, dx)` away, clamped to the crop.
    pub fn cut_into(&self, crop: &[f32], cut: &TileCut, out: &mut [f32]) {
        let (c, t) = (self.crop, self.tile);
        let (y0, x0) = self.origin(cut);
        let last = c as i64 - 1;
        for (ch, &(dy, dx)) in cut.shift.iter().enumerate() {
            let src = &crop[ch * c * c..(ch + 1) * c * c];
            let dst = &mut out[ch * t * t..(ch + 1) * t * t];
            for y in 0..t {
                let sy = (y0 as i64 + y as i64 + i64::from(dy)).clamp(0, last) as usize;
                for x in 0..t {
                    let sx = (x0 as i64 + x as i64 + i64::from(dx)).clamp(0, last) as usize;
                    dst[y * t + x] = src[sy * c + sx];
                }
            }
        }
    }
}

/// Checks that a task's crop (option `crop_key`, side `crop`) fits in the decoded square, and
/// that its tiles (option `tile_key`, side `tile`) survive the VGG tower's poolings; the message
/// names the keys.
pub fn check_fits(
    task: &str,
    crop_key: &str,
    crop: usize,
    tile_key: &str,
    tile: usize,
    model: &ModelConfig,
) -> Result<(), TaskError> {
    let err = |reason: String| TaskError::Options { task: task.into(), reason };
    let side = model.input.decode_side() as usize;
    if crop > side {
        return Err(err(format!(
            "{crop_key} {crop} does not fit in the decoded square input.decode_size {side} (set \
             input.decode_size, or input.frame_size, to at least {crop})"
        )));
    }
    let pools = model.vision.channels.len().saturating_sub(1);
    if model.vision.arch == Arch::Vgg && tile >> pools == 0 {
        return Err(err(format!(
            "{tile_key} {tile} is too small for the {}-block VGG tower (at least {} px: each \
             block but the first halves it)",
            pools + 1,
            1usize << pools
        )));
    }
    Ok(())
}

/// The `side`-pixel crop of a decoded frame at the example's offset (flipped and colour-jittered
/// as `augment` says), RGB in [0, 1], CHW.
pub fn crop01(frame: &RgbFrame, augment: &AugmentParams, side: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; 3 * side * side];
    let identity = Normalize { mean: [0.0; 3], std: [1.0; 3] };
    augment_into(frame, augment, side, &identity, &mut out);
    out
}

/// Replaces every pixel of a CHW RGB image by its luma (ITU-R 601 weights) in all three
/// channels.
pub fn greyscale(img: &mut [f32]) {
    let plane = img.len() / 3;
    for i in 0..plane {
        let g = 0.299 * img[i] + 0.587 * img[plane + i] + 0.114 * img[2 * plane + i];
        img[i] = g;
        img[plane + i] = g;
        img[2 * plane + i] = g;
    }
}

/// Normalises an image by its own mean and standard deviation over all its values (the
/// reference jigsaw loader's per-tile normalisation); a flat image becomes zeros.
pub fn normalise_alone(img: &mut [f32]) {
    let n = img.len().max(1) as f64;
    let mean = img.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let var = img.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    let std = if var > 1e-12 { var.sqrt() } else { 1.0 };
    for v in img.iter_mut() {
        *v = ((f64::from(*v) - mean) / std) as f32;
    }
}

/// A toy crop with a structure that tells every cell apart after greyscale and per-tile
/// normalisation: brightness grows with the distance from the centre (so each cell's gradient
/// points away from it), with a tint and noise. `side` pixels square, as a decoded frame.
pub fn toy_frame(side: usize, rng: &mut ChaCha8Rng) -> RgbFrame {
    let mut data = Vec::with_capacity(side * side * 3);
    let centre = (side as f32 - 1.0) / 2.0;
    let scale = 255.0 / (centre * std::f32::consts::SQRT_2).max(1.0);
    let tint: [f32; 3] = std::array::from_fn(|_| rng.gen_range(0.6f32..1.0));
    for y in 0..side {
        for x in 0..side {
            let d = ((y as f32 - centre).powi(2) + (x as f32 - centre).powi(2)).sqrt() * scale;
            for t in tint {
                let v = d * t + rng.gen_range(-12.0f32..12.0);
                data.push(v.clamp(0.0, 255.0) as u8);
            }
        }
    }
    RgbFrame { width: side as u32, height: side as u32, pts: 0.0, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn tiles_sit_in_their_cells_and_channels_shift() {
        let g = TileGrid { crop: 12, cell: 4, tile: 3, jitter: None };
        g.check("tile").unwrap();
        // Channel c of pixel (y, x) holds 1000·c + 12·y + x.
        let crop: Vec<f32> =
            (0..3).flat_map(|c| (0..144).map(move |i| (1000 * c + i) as f32)).collect();
        let cut = TileCut { cell: 5, offset: (1, 0), shift: [(0, 0), (1, -1), (-2, 0)] };
        let mut out = vec![0.0; 27];
        g.cut_into(&crop, &cut, &mut out);
        // Cell 5 is row 1, column 2: origin (4 + 1, 8 + 0) = (5, 8).
        assert_eq!(g.origin(&cut), (5, 8));
        assert_eq!(out[0], (5 * 12 + 8) as f32);
        assert_eq!(out[3 + 2], (6 * 12 + 10) as f32, "pixel (1, 2)");
        assert_eq!(out[9], (1000 + 6 * 12 + 7) as f32, "green reads (+1, -1) away");
        assert_eq!(out[18], (2000 + 3 * 12 + 8) as f32, "blue reads (-2, 0) away");
        // Offsets stay in the room; jitter keeps them near the centre.
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let wide = TileGrid { crop: 30, cell: 10, tile: 4, jitter: None };
        let narrow = TileGrid { jitter: Some(1), ..wide };
        let (mut lo, mut hi) = (usize::MAX, 0);
        for _ in 0..200 {
            let (y, x) = wide.draw_offset(&mut rng);
            (lo, hi) = (lo.min(y.min(x)), hi.max(y.max(x)));
            let (y, x) = narrow.draw_offset(&mut rng);
            assert!((2..=4).contains(&y) && (2..=4).contains(&x));
        }
        assert_eq!((lo, hi), (0, 6));
        assert!(TileGrid { crop: 13, ..g }.check("tile").unwrap_err().contains("3 × cell"));
        assert!(TileGrid { tile: 5, ..g }.check("patch").unwrap_err().contains("patch 5"));
    }

    #[test]
    fn greyscale_and_normalisation() {
        let mut img = vec![1.0, 0.0, 0.0, 1.0, 0.0, 0.0];
        greyscale(&mut img);
        assert!((img[0] - 0.299).abs() < 1e-6 && (img[1] - 0.587).abs() < 1e-6);
        assert_eq!(img[0], img[2]);
        normalise_alone(&mut img);
        let mean: f32 = img.iter().sum::<f32>() / 6.0;
        let var: f32 = img.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / 6.0;
        assert!(mean.abs() < 1e-6 && (var - 1.0).abs() < 1e-5);
        let mut flat = vec![0.5; 6];
        normalise_alone(&mut flat);
        assert!(flat.iter().all(|v| *v == 0.0));
    }
}
