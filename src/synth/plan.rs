//! [`ClipPlan`]: every random choice of one clip, drawn up front from the ChaCha stream
//! `(seed, clip index)`, so rendering and synthesis are pure functions of the plan and the output
//! cannot depend on which thread made it or in what order.
//!
//! The plan also owns the clip's kinematics: where each object is at time `t` (bouncing inside
//! the frame, offset by the camera pan) and how much it is pulsing (an exponential envelope
//! restarted by each of its onsets). Pictures (`render.rs`), sound (`sound.rs`) and the
//! annotations all read the same plan, which is what makes the ground truth exact.

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::classes::{ClassSpec, CLASSES};
use super::config::SynthConfig;

/// How much a sounding object grows at an onset (scale = 1 + GAIN × envelope).
pub const PULSE_GAIN: f32 = 0.35;
/// Decay time constant (seconds) of the pulse envelope.
pub const PULSE_TAU: f32 = 0.12;
/// Shake amplitude at an onset, as a fraction of the radius.
pub const SHAKE: f32 = 0.12;

/// One object of a clip.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectPlan {
    /// Class index into [`CLASSES`].
    pub class: usize,
    /// Whether it makes sound.
    pub sounding: bool,
    /// Hue after jitter (degrees).
    pub hue: f32,
    /// Resting radius in pixels.
    pub radius: f32,
    /// Position at t = 0 in pixels (before pan).
    pub start: [f32; 2],
    /// Velocity in pixels per second.
    pub velocity: [f32; 2],
    /// Onset times in seconds (empty when silent).
    pub onsets: Vec<f64>,
    /// Pitch in Hz after per-instance variation.
    pub pitch_hz: f32,
    /// Tempo factor applied to the class interval.
    pub tempo: f32,
    /// Loudness gain in [0.4, 1].
    pub loudness: f32,
    /// Seed of this object's sound events.
    pub sound_seed: u64,
}

/// A sound whose source is not on screen.
#[derive(Debug, Clone, PartialEq)]
pub struct OffscreenPlan {
    /// Class index.
    pub class: usize,
    /// Onset times in seconds.
    pub onsets: Vec<f64>,
    /// Pitch in Hz.
    pub pitch_hz: f32,
    /// Loudness gain.
    pub loudness: f32,
    /// Seed of its sound events.
    pub sound_seed: u64,
}

/// Every random choice of one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipPlan {
    /// Clip index.
    pub index: usize,
    /// Frame width.
    pub width: u32,
    /// Frame height.
    pub height: u32,
    /// Frames per second.
    pub fps: u32,
    /// Number of frames.
    pub frames: usize,
    /// Audio sample rate.
    pub sample_rate: u32,
    /// Number of audio samples.
    pub samples: usize,
    /// Objects, in drawing order (later ones are drawn on top).
    pub objects: Vec<ObjectPlan>,
    /// Off-screen sound, if any.
    pub offscreen: Option<OffscreenPlan>,
    /// True when the silence hard case was drawn (no on-screen object sounds).
    pub silent: bool,
    /// True when the duplicate-class hard case was drawn.
    pub duplicate: bool,
    /// Noise SNR in dB, when noise is added.
    pub noise_snr_db: Option<f64>,
    /// Camera pan amplitude (x, y) in pixels.
    pub pan_amp: [f32; 2],
    /// Camera pan period (x, y) in seconds.
    pub pan_period: [f32; 2],
    /// Camera pan phase (x, y) in radians.
    pub pan_phase: [f32; 2],
    /// Seed of the background texture.
    pub background_seed: u64,
    /// Seed of the background noise.
    pub noise_seed: u64,
    /// Worst-case extent of an object relative to its radius (pulse and shake included).
    pub extent: f32,
    /// The world's object scale, at least 1 here: objects keep the margins of their unscaled
    /// radius, so big objects move as freely as default ones and may be cut by the border.
    pub margin_divisor: f32,
    /// The scene has an up direction (see `SynthConfig::horizon`).
    pub horizon: bool,
}

/// How far (x, y) an object's centre keeps from the frame edges: the worst-case extent of its
/// radius divided by `divisor` (the object scale, when above 1) plus the camera sway. At scale 1
/// an object never leaves the frame; a scaled-up one moves over the same range as its unscaled
/// self, so big objects are not all piled in the middle, and at most the outer part of its disc
/// (at scale 2.5, under 40% of the radius at rest) is cut by the border. Capped below half the
/// side.
fn margins(radius: f32, divisor: f32, extent: f32, pan_amp: [f32; 2], w: f32, h: f32) -> [f32; 2] {
    let m = radius / divisor * extent + pan_amp[0].max(pan_amp[1]) + 1.0;
    [m.min(w / 2.0 - 0.5), m.min(h / 2.0 - 0.5)]
}

fn onsets(rng: &mut ChaCha8Rng, spec: &ClassSpec, tempo: f32, duration: f64) -> Vec<f64> {
    let mut t = rng.gen_range(0.1..0.6f64);
    let mut out = Vec::new();
    while t < duration - 0.05 {
        out.push((t * 1e4).round() / 1e4);
        let step = f64::from(spec.interval_s * tempo) * rng.gen_range(0.85..1.15);
        t += step.max(0.25);
    }
    out
}

impl ClipPlan {
    /// Draws the plan of clip `index` of the world `config` describes.
    pub fn draw(config: &SynthConfig, index: usize) -> ClipPlan {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        rng.set_stream(index as u64);
        let (w, h) = (config.width as f32, config.height as f32);
        let duration = config.frames() as f64 / f64::from(config.fps);
        let silent = rng.gen_bool(config.silence_prob);
        let duplicate = config.max_objects >= 2 && rng.gen_bool(config.duplicate_prob);
        let mut n = rng.gen_range(config.min_objects..=config.max_objects);
        if duplicate {
            n = n.max(2);
        }
        let n_distinct = if duplicate { n - 1 } else { n };
        let mut classes: Vec<usize> = (0..CLASSES.len()).collect();
        classes.shuffle(&mut rng);
        let mut chosen: Vec<usize> = classes[..n_distinct.min(CLASSES.len())].to_vec();
        let n_sounding =
            if silent { 0 } else { rng.gen_range(1..=config.max_sounding.min(n_distinct)) };
        if duplicate {
            // The twin of object 0 (which sounds unless the clip is silent) stays silent.
            chosen.push(chosen[0]);
        }
        let pan_amp = [
            config.pan_px as f32 * rng.gen_range(0.5..=1.0f32),
            config.pan_px as f32 * rng.gen_range(0.0..=0.5f32),
        ];
        let pan_period = [rng.gen_range(3.0..6.0f32), rng.gen_range(3.0..6.0f32)];
        let pan_phase =
            [rng.gen_range(0.0..std::f32::consts::TAU), rng.gen_range(0.0..std::f32::consts::TAU)];
        let extent = 1.0 + PULSE_GAIN + SHAKE + 0.05;
        let margin_divisor = (config.object_scale as f32).max(1.0);
        let min_side = w.min(h);
        let mut objects = Vec::with_capacity(n);
        for (k, &class) in chosen.iter().enumerate() {
            let spec = &CLASSES[class];
            let sounding = k < n_sounding;
            let radius = rng.gen_range(0.08..0.13f32) * min_side * config.object_scale as f32;
            let [mx, my] = margins(radius, margin_divisor, extent, pan_amp, w, h);
            let start = [rng.gen_range(mx..w - mx), rng.gen_range(my..h - my)];
            let speed = rng.gen_range(0.08..0.3f32) * min_side;
            let dir = rng.gen_range(0.0..std::f32::consts::TAU);
            let tempo = rng.gen_range(0.8..1.25f32);
            let pitch_hz = spec.pitch_hz * 2f32.powf(rng.gen_range(-3.0..3.0f32) / 12.0);
            let hue = spec.hue + rng.gen_range(-10.0..10.0f32);
            let loudness = rng.gen_range(0.4..1.0f32);
            let sound_seed = rng.gen();
            let ons = onsets(&mut rng, spec, tempo, duration);
            objects.push(ObjectPlan {
                class,
                sounding,
                hue,
                radius,
                start,
                velocity: [speed * dir.cos(), speed * dir.sin()],
                onsets: if sounding { ons } else { Vec::new() },
                pitch_hz,
                tempo,
                loudness,
                sound_seed,
            });
        }
        let offscreen = if rng.gen_bool(config.offscreen_prob) {
            let visible: Vec<usize> = objects.iter().map(|o| o.class).collect();
            let hidden: Vec<usize> = (0..CLASSES.len()).filter(|c| !visible.contains(c)).collect();
            hidden.choose(&mut rng).copied().map(|class| {
                let spec = &CLASSES[class];
                let tempo = rng.gen_range(0.8..1.25f32);
                OffscreenPlan {
                    class,
                    pitch_hz: spec.pitch_hz * 2f32.powf(rng.gen_range(-3.0..3.0f32) / 12.0),
                    loudness: rng.gen_range(0.4..1.0f32),
                    sound_seed: rng.gen(),
                    onsets: onsets(&mut rng, spec, tempo, duration),
                }
            })
        } else {
            None
        };
        ClipPlan {
            index,
            width: config.width,
            height: config.height,
            fps: config.fps,
            frames: config.frames(),
            sample_rate: config.sample_rate,
            samples: config.samples(),
            objects,
            offscreen,
            silent,
            duplicate,
            noise_snr_db: config.noise_snr_db,
            pan_amp,
            pan_period,
            pan_phase,
            background_seed: rng.gen(),
            noise_seed: rng.gen(),
            extent,
            margin_divisor,
            horizon: config.horizon,
        }
    }

    /// Camera offset at time `t` (pixels; subtract from world positions).
    pub fn camera(&self, t: f32) -> [f32; 2] {
        let tau = std::f32::consts::TAU;
        [
            self.pan_amp[0] * (tau * t / self.pan_period[0] + self.pan_phase[0]).sin(),
            self.pan_amp[1] * (tau * t / self.pan_period[1] + self.pan_phase[1]).sin(),
        ]
    }

    /// Pulse envelope of object `k` at time `t`: 1 right at an onset, decaying with
    /// [`PULSE_TAU`]; also the time since the last onset (for the shake phase).
    pub fn pulse(&self, k: usize, t: f64) -> (f32, f32) {
        let o = &self.objects[k];
        match o.onsets.iter().rev().find(|&&on| on <= t) {
            Some(&on) => {
                let dt = (t - on) as f32;
                ((-dt / PULSE_TAU).exp(), dt)
            }
            None => (0.0, 0.0),
        }
    }

    /// Screen centre and drawn radius of object `k` at time `t`.
    pub fn placement(&self, k: usize, t: f64) -> ([f32; 2], f32) {
        let o = &self.objects[k];
        let tf = t as f32;
        let (w, h) = (self.width as f32, self.height as f32);
        let [mx, my] = margins(o.radius, self.margin_divisor, self.extent, self.pan_amp, w, h);
        let bounce = |p0: f32, v: f32, size: f32, margin: f32| {
            let (lo, hi) = (margin, size - margin);
            let span = (hi - lo).max(1e-3);
            let x = (p0 - lo + v * tf).rem_euclid(2.0 * span);
            lo + if x <= span { x } else { 2.0 * span - x }
        };
        let cam = self.camera(tf);
        let (env, dt) = self.pulse(k, t);
        let shake = SHAKE * o.radius * env;
        let phase = std::f32::consts::TAU * 11.0 * dt;
        let cx = bounce(o.start[0], o.velocity[0], w, mx) - cam[0] + shake * phase.sin();
        let cy = bounce(o.start[1], o.velocity[1], h, my) - cam[1] + shake * phase.cos();
        ([cx, cy], o.radius * (1.0 + PULSE_GAIN * env))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_depend_only_on_seed_and_index() {
        let c = SynthConfig::default();
        assert_eq!(ClipPlan::draw(&c, 3), ClipPlan::draw(&c, 3));
        assert_ne!(ClipPlan::draw(&c, 3), ClipPlan::draw(&c, 4));
    }

    #[test]
    fn hard_cases_follow_their_probabilities() {
        let c = SynthConfig {
            silence_prob: 0.0,
            duplicate_prob: 1.0,
            offscreen_prob: 1.0,
            ..SynthConfig::default()
        };
        for i in 0..20 {
            let p = ClipPlan::draw(&c, i);
            assert!(p.objects.iter().any(|o| o.sounding));
            assert!(p.duplicate && p.objects.len() >= 2);
            let first = &p.objects[0];
            let twins: Vec<_> = p.objects.iter().filter(|o| o.class == first.class).collect();
            assert_eq!(twins.len(), 2);
            assert_eq!(twins.iter().filter(|o| o.sounding).count(), 1);
            let off = p.offscreen.as_ref().expect("offscreen sound");
            assert!(p.objects.iter().all(|o| o.class != off.class));
        }
        let silent = SynthConfig { silence_prob: 1.0, ..SynthConfig::default() };
        let p = ClipPlan::draw(&silent, 0);
        assert!(p.silent && p.objects.iter().all(|o| !o.sounding && o.onsets.is_empty()));
    }

    #[test]
    fn objects_stay_inside_the_frame() {
        let c = SynthConfig { pan_px: 20.0, ..SynthConfig::default() };
        for i in 0..10 {
            let p = ClipPlan::draw(&c, i);
            for k in 0..p.objects.len() {
                for f in 0..p.frames {
                    let ([x, y], r) = p.placement(k, f as f64 / 25.0);
                    assert!(x - r * 1.1 >= 0.0 && x + r * 1.1 <= 160.0, "x {x} r {r}");
                    assert!(y - r * 1.1 >= 0.0 && y + r * 1.1 <= 160.0, "y {y} r {r}");
                }
            }
        }
    }

    #[test]
    fn object_scale_multiplies_radii_and_big_objects_move_over_the_frame() {
        let base = SynthConfig { min_objects: 2, max_objects: 3, ..SynthConfig::default() };
        let big = SynthConfig { object_scale: 2.5, ..base.clone() };
        let (mut inside, mut centres) = ((0usize, 0usize), Vec::new());
        for i in 0..10 {
            let (p, q) = (ClipPlan::draw(&base, i), ClipPlan::draw(&big, i));
            assert_eq!(p.objects.len(), q.objects.len());
            for (a, b) in p.objects.iter().zip(&q.objects) {
                assert!((b.radius - 2.5 * a.radius).abs() < 1e-3, "{} vs {}", b.radius, a.radius);
                assert!((0.2 * 160.0..0.325 * 160.0).contains(&b.radius), "{}", b.radius);
            }
            for k in 0..q.objects.len() {
                for f in 0..q.frames {
                    let ([x, y], r) = q.placement(k, f as f64 / 25.0);
                    // The centre stays well inside: most of the object is in frame.
                    let edge = x.min(160.0 - x).min(y).min(160.0 - y);
                    assert!(edge >= 0.3 * r, "centre ({x}, {y}) radius {r}");
                    let fits = x - r >= 0.0 && x + r <= 160.0 && y - r >= 0.0 && y + r <= 160.0;
                    inside = (inside.0 + usize::from(fits), inside.1 + 1);
                    centres.push([x, y]);
                }
            }
        }
        // Big objects are not piled in the middle: some touch the border, and their centres
        // spread as widely as default objects' do.
        assert!(inside.0 < inside.1, "{inside:?}: no object ever touches the border");
        let spread = centres.iter().map(|c| (c[0] - 80.0).abs().max((c[1] - 80.0).abs()));
        assert!(spread.fold(0.0f32, f32::max) > 40.0);
        assert!(SynthConfig { object_scale: 0.0, ..base.clone() }.validate().is_err());
        assert!(SynthConfig { object_scale: 5.0, ..base }.validate().is_err());
    }
}
