//! Toy upright frames for the rotation task: a noisy field with a bright bar along the top and a
//! dark block in the lower left, so exactly one of the four rotations is upright.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A `[3, s, s]` upright toy frame.
pub fn upright_frame(s: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let bar = (s / 6).max(1);
    let mut out = Vec::with_capacity(3 * s * s);
    for c in 0..3 {
        for y in 0..s {
            for x in 0..s {
                let v = if y < bar {
                    1.5
                } else if y > s / 2 && x < s / 3 {
                    -1.5 + 0.3 * c as f32
                } else {
                    0.0
                };
                out.push(v + 0.4 * rng.gen_range(-1.0f32..1.0));
            }
        }
    }
    out
}
