//! Toy frames for the colourisation task, with a colour that the grey picture tells: on a grey
//! noisy background (no colour), a bright smooth square is always orange and a darker striped
//! square is always blue, each at a random place. `[3, s, s]` sRGB in `[0, 1]`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// The orange of the bright square (sRGB).
pub const ORANGE: [f32; 3] = [1.0, 0.6, 0.2];
/// The blue of the striped square (sRGB).
pub const BLUE: [f32; 3] = [0.2, 0.35, 0.9];

/// A `[3, s, s]` toy frame in `[0, 1]`.
pub fn toy_frame(s: usize, rng: &mut ChaCha8Rng) -> Vec<f32> {
    let plane = s * s;
    let mut out = vec![0.0f32; 3 * plane];
    for i in 0..plane {
        let v = rng.gen_range(0.25f32..0.55);
        for c in 0..3 {
            out[c * plane + i] = v;
        }
    }
    let side = (s * 3 / 8).max(2);
    let mut square = |colour: [f32; 3], striped: bool, rng: &mut ChaCha8Rng| {
        let (x0, y0) = (rng.gen_range(0..=s - side), rng.gen_range(0..=s - side));
        for y in y0..y0 + side {
            for x in x0..x0 + side {
                let shade = if striped && (y / 2) % 2 == 1 { 0.6 } else { 1.0 };
                for c in 0..3 {
                    out[c * plane + y * s + x] = colour[c] * shade;
                }
            }
        }
    };
    square(ORANGE, false, rng);
    square(BLUE, true, rng);
    out
}
