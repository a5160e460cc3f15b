//! Toy frame-order tuples: a bright square moves across five frames a..e of a dark field; the
//! tuple is (b, c, d) or (d, c, b) for positives, (b, a, d) or (b, e, d) (or their reverses) for
//! negatives, with the policy's share of positives. The only cue is where the square is.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::FrameOrderPolicy;
use crate::pipeline::{Example, Field, InputSpec, SampleMeta};

/// Toy tuple `index` drawn from `rng`.
pub fn example(
    input: &InputSpec,
    policy: &FrameOrderPolicy,
    index: u64,
    rng: &mut ChaCha8Rng,
) -> Example {
    let s = input.frame_size as usize;
    let y0 = rng.gen_range(0..s / 2);
    let x0 = rng.gen_range(0..s / 4);
    let step = (s / 8).max(1);
    let positive = rng.gen_bool(policy.positive_ratio.clamp(0.0, 1.0));
    let (mut order, label, kind): (Vec<usize>, i64, &str) = if positive {
        (vec![1, 2, 3], 1, "ordered")
    } else if rng.gen_bool(0.5) {
        (vec![1, 0, 3], 0, "shuffled_a")
    } else {
        (vec![1, 4, 3], 0, "shuffled_e")
    };
    if rng.gen_bool(0.5) {
        order.reverse();
    }
    let mut frames = Vec::with_capacity(3 * 3 * s * s);
    for &t in &order {
        let x = x0 + t * step;
        for c in 0..3 {
            for yy in 0..s {
                for xx in 0..s {
                    let inside = yy >= y0 && yy < y0 + s / 4 && xx >= x && xx < x + s / 4;
                    let v = if inside { 1.5 - 0.5 * c as f32 } else { -0.5 };
                    frames.push(v + 0.25 * rng.gen_range(-1.0f32..1.0));
                }
            }
        }
    }
    Example {
        meta: SampleMeta {
            seq: index,
            file: format!("toy://{index}"),
            video_times: order.iter().map(|&t| t as f64).collect(),
            label,
            kind: kind.into(),
            ..Default::default()
        },
        fields: vec![Field::f32("frames", &[3, 3, s, s], frames), Field::label("label", label)],
    }
}
