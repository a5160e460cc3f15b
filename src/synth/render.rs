//! Pictures of a clip: a textured, slowly changing background seen through a panning camera,
//! with the plan's objects drawn on top, and each object's tight pixel box.
//!
//! The background is two precomputed textures (smooth plane waves plus grain, in muted colours
//! so objects stand out) a little larger than the frame; each frame crops them at the camera
//! offset and cross-fades between them slowly, which costs two lookups per pixel. Objects are
//! rasterised without anti-aliasing by testing pixel centres against the class shape; the box
//! reported for an object is the bounding box of exactly the pixels it drew, so it is tight by
//! construction and includes the pulse scaling and shake.
//!
//! With a horizon (`SynthConfig::horizon`) the textures are tinted toward a sky colour above a
//! soft horizon line and a ground colour below it (its height drawn per clip, after every other
//! draw, so worlds without it are unchanged), and objects are lit from above.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::classes::{hsv_to_rgb, CLASSES};
use super::plan::ClipPlan;

/// The clip's background textures.
#[derive(Debug, Clone)]
pub struct Background {
    width: usize,
    height: usize,
    margin: usize,
    stride: usize,
    tex: [Vec<[u8; 3]>; 2],
    period: f32,
    phase: f32,
}

impl Background {
    /// Builds the background of `plan` (depends only on its seed, size and pan).
    pub fn new(plan: &ClipPlan) -> Background {
        let mut rng = ChaCha8Rng::seed_from_u64(plan.background_seed);
        let (w, h) = (plan.width as usize, plan.height as usize);
        let margin = plan.pan_amp[0].max(plan.pan_amp[1]).ceil() as usize + 2;
        let (tw, th) = (w + 2 * margin, h + 2 * margin);
        let make = |rng: &mut ChaCha8Rng| {
            let hue = rng.gen_range(0.0..360.0f32);
            let base = hsv_to_rgb(hue, rng.gen_range(0.2..0.4), rng.gen_range(0.3..0.5));
            let hue2 = hue + rng.gen_range(60.0..180.0f32);
            let alt = hsv_to_rgb(hue2, rng.gen_range(0.2..0.4), rng.gen_range(0.3..0.5));
            let waves: Vec<(f32, f32, f32)> = (0..3)
                .map(|_| {
                    let ang = rng.gen_range(0.0..std::f32::consts::TAU);
                    let cycles = rng.gen_range(0.7..3.0f32) / w as f32;
                    let k = std::f32::consts::TAU * cycles;
                    (k * ang.cos(), k * ang.sin(), rng.gen_range(0.0..std::f32::consts::TAU))
                })
                .collect();
            // A finer pattern (5–10 cycles per frame width) modulating brightness by ±14, so
            // the background has structure at the objects' scale, not just colour drift.
            let fine_ang = rng.gen_range(0.0..std::f32::consts::TAU);
            let fine_k = std::f32::consts::TAU * rng.gen_range(5.0..10.0f32) / w as f32;
            let (fkx, fky) = (fine_k * fine_ang.cos(), fine_k * fine_ang.sin());
            let mut tex = Vec::with_capacity(tw * th);
            for y in 0..th {
                for x in 0..tw {
                    let (xf, yf) = (x as f32, y as f32);
                    let s: f32 =
                        waves.iter().map(|(kx, ky, p)| (kx * xf + ky * yf + p).sin()).sum::<f32>();
                    let mix = (0.5 + s / 6.0).clamp(0.0, 1.0);
                    let fine = 14.0 * (fkx * xf + fky * yf).sin() * (0.7 * fky * xf).cos();
                    let grain = rng.gen_range(-10.0..10.0f32) + fine;
                    let px = [0, 1, 2].map(|c| {
                        (base[c] * (1.0 - mix) + alt[c] * mix + grain).clamp(0.0, 255.0) as u8
                    });
                    tex.push(px);
                }
            }
            tex
        };
        let mut a = make(&mut rng);
        let mut b = make(&mut rng);
        if plan.horizon {
            // Drawn after the textures, so worlds without a horizon keep their bytes.
            let level = rng.gen_range(0.35..0.65f32) * h as f32 + margin as f32;
            let soft = 0.06 * h as f32;
            let (sky, ground) = ([175.0f32, 200.0, 225.0], [95.0f32, 75.0, 50.0]);
            for tex in [&mut a, &mut b] {
                for (y, row) in tex.chunks_exact_mut(tw).enumerate() {
                    let s = 1.0 / (1.0 + ((y as f32 - level) / soft).exp());
                    let tint = [0, 1, 2].map(|c| s * sky[c] + (1.0 - s) * ground[c]);
                    for px in row {
                        for c in 0..3 {
                            px[c] = (0.45 * f32::from(px[c]) + 0.55 * tint[c]) as u8;
                        }
                    }
                }
            }
        }
        Background {
            width: w,
            height: h,
            margin,
            stride: tw,
            tex: [a, b],
            period: rng.gen_range(6.0..12.0f32),
            phase: rng.gen_range(0.0..std::f32::consts::TAU),
        }
    }

    /// Draws the background seen at time `t` with camera offset `cam` into `out` (RGB24).
    pub fn draw(&self, t: f32, cam: [f32; 2], out: &mut [u8]) {
        let wgt = 0.5 + 0.5 * (std::f32::consts::TAU * t / self.period + self.phase).sin();
        let wb = (wgt * 256.0) as u32;
        let wa = 256 - wb;
        let ox = (self.margin as f32 + cam[0]).round().max(0.0) as usize;
        let oy = (self.margin as f32 + cam[1]).round().max(0.0) as usize;
        let ox = ox.min(2 * self.margin);
        let oy = oy.min(2 * self.margin);
        for y in 0..self.height {
            let row = (y + oy) * self.stride + ox;
            let a = &self.tex[0][row..row + self.width];
            let b = &self.tex[1][row..row + self.width];
            let dst = &mut out[y * self.width * 3..(y + 1) * self.width * 3];
            for ((d, pa), pb) in dst.chunks_exact_mut(3).zip(a).zip(b) {
                for c in 0..3 {
                    d[c] = ((u32::from(pa[c]) * wa + u32::from(pb[c]) * wb) >> 8) as u8;
                }
            }
        }
    }
}

/// Draws frame `i` of `plan` into `out` (RGB24, width × height × 3) and returns each object's
/// box `[x0, y0, x1, y1]` (x1/y1 exclusive; all zero if the object drew no pixel). With
/// `objects = false` only the background is drawn (the boxes are still computed).
pub fn render_frame(
    plan: &ClipPlan,
    background: &Background,
    i: usize,
    out: &mut [u8],
    objects: bool,
) -> Vec<[f32; 4]> {
    let t = i as f64 / f64::from(plan.fps);
    let (w, h) = (plan.width as i64, plan.height as i64);
    background.draw(t as f32, plan.camera(t as f32), out);
    let mut boxes = Vec::with_capacity(plan.objects.len());
    for (k, o) in plan.objects.iter().enumerate() {
        let spec = &CLASSES[o.class];
        let ([cx, cy], r) = plan.placement(k, t);
        let (env, _) = plan.pulse(k, t);
        let colour = hsv_to_rgb(o.hue, spec.saturation, 0.95);
        let bright = 1.0 + 0.2 * env;
        let x0 = ((cx - r).floor() as i64).clamp(0, w);
        let x1 = ((cx + r).ceil() as i64 + 1).clamp(0, w);
        let y0 = ((cy - r).floor() as i64).clamp(0, h);
        let y1 = ((cy + r).ceil() as i64 + 1).clamp(0, h);
        let (mut bx0, mut by0, mut bx1, mut by1) = (i64::MAX, i64::MAX, i64::MIN, i64::MIN);
        let inv = 1.0 / r;
        for y in y0..y1 {
            let v = (y as f32 + 0.5 - cy) * inv;
            for x in x0..x1 {
                let u = (x as f32 + 0.5 - cx) * inv;
                if !spec.shape.contains(u, v) {
                    continue;
                }
                bx0 = bx0.min(x);
                bx1 = bx1.max(x + 1);
                by0 = by0.min(y);
                by1 = by1.max(y + 1);
                if objects {
                    // Lit from above: the top of the object (v = -1) brighter than its bottom.
                    let light = if plan.horizon { 1.0 - 0.25 * v } else { 1.0 };
                    let shade = spec.texture.shade(u, v) * bright * light;
                    let p = ((y * w + x) * 3) as usize;
                    for c in 0..3 {
                        out[p + c] = (colour[c] * shade).clamp(0.0, 255.0) as u8;
                    }
                }
            }
        }
        if bx0 == i64::MAX {
            boxes.push([0.0; 4]);
        } else {
            boxes.push([bx0 as f32, by0 as f32, bx1 as f32, by1 as f32]);
        }
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::synth::SynthConfig;

    /// Mean brightness of rows `rows` of an RGB24 frame `w` wide.
    fn rows_mean(frame: &[u8], w: usize, rows: std::ops::Range<usize>) -> f64 {
        let px = &frame[rows.start * w * 3..rows.end * w * 3];
        px.iter().map(|v| f64::from(*v)).sum::<f64>() / px.len() as f64
    }

    #[test]
    fn a_horizon_gives_the_scene_an_up_and_leaves_other_worlds_alone() {
        let (w, h) = (64usize, 64usize);
        let base = SynthConfig { width: 64, height: 64, max_objects: 1, ..SynthConfig::default() };
        let up = SynthConfig { horizon: true, ..base.clone() };
        let mut brighter_top = 0;
        for i in 0..8 {
            let (plain, tilted) = (ClipPlan::draw(&base, i), ClipPlan::draw(&up, i));
            // The same random choices either way: only the picture changes.
            assert_eq!(plain.objects, tilted.objects);
            let (mut a, mut b) = (vec![0u8; w * h * 3], vec![0u8; w * h * 3]);
            render_frame(&plain, &Background::new(&plain), 5, &mut a, false);
            render_frame(&tilted, &Background::new(&tilted), 5, &mut b, false);
            assert_ne!(a, b);
            if rows_mean(&b, w, 0..12) > rows_mean(&b, w, h - 12..h) + 40.0 {
                brighter_top += 1;
            }
        }
        assert_eq!(brighter_top, 8, "the sky is above the ground in every clip");
    }

    #[test]
    fn boxes_are_tight_around_changed_pixels() {
        let c = SynthConfig { width: 96, height: 64, max_objects: 1, ..SynthConfig::default() };
        let plan = ClipPlan::draw(&c, 1);
        let bg = Background::new(&plan);
        let n = 96 * 64 * 3;
        let (mut with, mut without) = (vec![0u8; n], vec![0u8; n]);
        for i in [0, 7, 33] {
            let b1 = render_frame(&plan, &bg, i, &mut with, true);
            let b2 = render_frame(&plan, &bg, i, &mut without, false);
            assert_eq!(b1, b2);
            let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
            for p in 0..96 * 64 {
                if with[p * 3..p * 3 + 3] != without[p * 3..p * 3 + 3] {
                    let (x, y) = (p % 96, p / 96);
                    x0 = x0.min(x);
                    y0 = y0.min(y);
                    x1 = x1.max(x + 1);
                    y1 = y1.max(y + 1);
                }
            }
            let b = b1[0];
            // Every changed pixel lies inside the box; the box is at most one pixel looser
            // (an object pixel may coincide with the background colour).
            assert!(
                x0 as f32 >= b[0] && y0 as f32 >= b[1] && x1 as f32 <= b[2] && y1 as f32 <= b[3]
            );
            assert!(x0 as f32 - b[0] <= 1.0 && b[2] - x1 as f32 <= 1.0, "{b:?} vs {x0},{x1}");
        }
    }
}
