//! Toy frames for the inpainting task: smooth colour fields, each channel a random plane (a
//! level and a slope along each axis) plus a little noise, in normalised units (slopes up to 3 per frame side: the toy frames span most of the
//! pixel range). What lies in the
//! hole follows from the context around it (continue the planes), while the mean colour of the
//! context misses the slopes: a model that learns beats the mean-colour fill by far.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A `[3, s, s]` toy frame (normalised values, about −2..2).
pub fn smooth_field(s: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let mut out = Vec::with_capacity(3 * s * s);
    let span = (s.max(2) - 1) as f32;
    for _ in 0..3 {
        let level = rng.gen_range(-0.5f32..0.5);
        let (gx, gy) = (rng.gen_range(-3.0f32..3.0), rng.gen_range(-3.0f32..3.0));
        for y in 0..s {
            for x in 0..s {
                let (u, v) = (x as f32 / span - 0.5, y as f32 / span - 0.5);
                out.push(level + gx * u + gy * v + 0.03 * rng.gen_range(-1.0f32..1.0));
            }
        }
    }
    out
}
