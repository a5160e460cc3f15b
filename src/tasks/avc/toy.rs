//! Toy AVC examples with a learnable structure, for fast tests and trainer benchmarks: each
//! example has a visual class (a colour/stripe pattern) and an audio class (a band of energy at
//! a class-specific frequency); positives share the class, negatives (drawn with the policy's
//! positive ratio) take another class's band.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::AvcPolicy;
use crate::pipeline::{Example, Field, InputSpec, SampleMeta};

/// Number of classes in the toy world.
pub const CLASSES: usize = 8;
/// Noise amplitude.
const NOISE: f32 = 0.5;

/// Toy example `index` drawn from `rng`.
pub fn example(input: &InputSpec, policy: &AvcPolicy, index: u64, rng: &mut ChaCha8Rng) -> Example {
    let s = input.frame_size as usize;
    let (bins, steps) = input.spec_shape();
    let k = CLASSES;
    let cv = rng.gen_range(0..k);
    let positive = rng.gen_bool(policy.positive_ratio.clamp(0.0, 1.0));
    let ca = if positive { cv } else { (cv + rng.gen_range(1..k)) % k };
    let mut frame = Vec::with_capacity(3 * s * s);
    for c in 0..3 {
        let level = if (cv >> c) & 1 == 1 { 1.0 } else { -1.0 };
        for y in 0..s {
            for x in 0..s {
                let stripe = if ((x + y * (cv % 3)) / 8) % 2 == 0 { 0.5 } else { -0.5 };
                frame.push(level + stripe * (cv / 4) as f32 + NOISE * rng.gen_range(-1.0f32..1.0));
            }
        }
    }
    let band = (ca * bins) / k + bins / (2 * k);
    let mut spec = Vec::with_capacity(bins * steps);
    for f in 0..bins {
        let on = f.abs_diff(band) <= 2;
        for _ in 0..steps {
            spec.push(if on { 2.0 } else { 0.0 } + NOISE * rng.gen_range(-1.0f32..1.0));
        }
    }
    let kf = input.frames as usize;
    let frames = if kf == 1 {
        Field::f32("frames", &[3, s, s], frame)
    } else {
        Field::f32("frames", &[kf, 3, s, s], frame.repeat(kf))
    };
    let label = i64::from(positive);
    Example {
        meta: SampleMeta {
            seq: index,
            file: format!("toy://{index}"),
            video_times: vec![0.0; kf],
            label,
            kind: if positive { "positive" } else { "easy" }.into(),
            ..Default::default()
        },
        fields: vec![
            frames,
            Field::f32("spec", &[1, bins, steps], spec),
            Field::label("label", label),
        ],
    }
}
