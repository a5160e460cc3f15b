//! The fixed set of object classes: each pairs a distinctive look (shape, texture, hue) with a
//! distinctive sound (synthesis method, pitch, tempo).
//!
//! Classes are chosen so that neither modality alone is trivially redundant: two classes may
//! share a colour family but never both shape and sound family; pitches sit in different
//! registers so spectrograms differ even under noise. Per-instance variation (pitch, tempo,
//! loudness, size, hue jitter) is drawn in `plan.rs`.

/// An outline, tested in the object's local coordinates (radius 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A disc.
    Circle,
    /// An axis-aligned square.
    Square,
    /// An upward-pointing triangle.
    Triangle,
    /// A square rotated by 45°.
    Diamond,
    /// An annulus.
    Ring,
    /// A five-pointed star.
    Star,
    /// A plus sign.
    Cross,
    /// A flat-topped hexagon.
    Hexagon,
    /// A wide ellipse.
    Ellipse,
}

impl Shape {
    /// Whether local point `(u, v)` (radius 1 units, v downwards) is inside the shape.
    pub fn contains(self, u: f32, v: f32) -> bool {
        let (au, av) = (u.abs(), v.abs());
        match self {
            Shape::Circle => u * u + v * v <= 1.0,
            Shape::Square => au <= 0.82 && av <= 0.82,
            Shape::Triangle => v <= 0.8 && v >= -1.0 && au <= (v + 1.0) * 0.55,
            Shape::Diamond => au + av <= 1.0,
            Shape::Ring => {
                let r2 = u * u + v * v;
                (0.3..=1.0).contains(&r2)
            }
            Shape::Star => {
                let r = (u * u + v * v).sqrt();
                let th = v.atan2(u) + std::f32::consts::FRAC_PI_2;
                r <= 0.62 + 0.38 * (5.0 * th).cos()
            }
            Shape::Cross => (au <= 0.32 && av <= 0.95) || (av <= 0.32 && au <= 0.95),
            Shape::Hexagon => av <= 0.866 && 1.732 * au + av <= 1.732,
            Shape::Ellipse => u * u + (v / 0.6) * (v / 0.6) <= 1.0,
        }
    }
}

/// A surface pattern, in local coordinates so it travels with the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Texture {
    /// One flat colour.
    Solid,
    /// Vertical stripes.
    Stripes,
    /// A checkerboard.
    Checker,
    /// Light dots on the body colour.
    Dots,
    /// Bright centre fading to the rim.
    Radial,
    /// Diagonal stripes.
    Diagonal,
}

impl Texture {
    /// Brightness factor in [0.55, 1.15] at local point `(u, v)`.
    pub fn shade(self, u: f32, v: f32) -> f32 {
        match self {
            Texture::Solid => 1.0,
            Texture::Stripes => {
                if ((u + 2.0) * 3.0) as i32 % 2 == 0 {
                    1.0
                } else {
                    0.6
                }
            }
            Texture::Checker => {
                let a = ((u + 2.0) * 2.5) as i32 + ((v + 2.0) * 2.5) as i32;
                if a % 2 == 0 {
                    1.0
                } else {
                    0.58
                }
            }
            Texture::Dots => {
                let fu = ((u + 2.0) * 3.0).fract() - 0.5;
                let fv = ((v + 2.0) * 3.0).fract() - 0.5;
                if fu * fu + fv * fv < 0.09 {
                    1.15
                } else {
                    0.8
                }
            }
            Texture::Radial => 1.1 - 0.5 * (u * u + v * v).min(1.0),
            Texture::Diagonal => {
                if ((u + v + 4.0) * 2.5) as i32 % 2 == 0 {
                    1.0
                } else {
                    0.62
                }
            }
        }
    }
}

/// How a class makes sound; see `sound.rs` for each recipe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SoundKind {
    /// A plucked string (Karplus–Strong).
    Pluck,
    /// A drum: a noise burst over a decaying low sine.
    Drum,
    /// A bell: FM synthesis with a decaying index.
    Bell,
    /// A vowel-like buzz: a pulse train through three formant resonators.
    Vowel,
    /// A rising exponential sine sweep.
    Chirp,
    /// A major triad of band-limited saw waves.
    Chord,
    /// A whistle: a sine with vibrato.
    Whistle,
    /// A rattle: a rapid train of high-passed noise clicks.
    Rattle,
    /// A horn: odd harmonics of a low note.
    Horn,
}

/// One class: its look and its sound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClassSpec {
    /// Stable name written to the annotations.
    pub name: &'static str,
    /// Outline.
    pub shape: Shape,
    /// Surface pattern.
    pub texture: Texture,
    /// Hue in degrees.
    pub hue: f32,
    /// Saturation in [0, 1].
    pub saturation: f32,
    /// Sound recipe.
    pub sound: SoundKind,
    /// Base pitch in Hz (per-instance ±3 semitones).
    pub pitch_hz: f32,
    /// Mean time between onsets in seconds (per-instance ×0.8–1.25).
    pub interval_s: f32,
}

/// The classes of the world, indexed by their annotation `class` number.
pub const CLASSES: [ClassSpec; 9] = [
    ClassSpec {
        name: "pluck",
        shape: Shape::Circle,
        texture: Texture::Radial,
        hue: 28.0,
        saturation: 0.9,
        sound: SoundKind::Pluck,
        pitch_hz: 220.0,
        interval_s: 0.6,
    },
    ClassSpec {
        name: "drum",
        shape: Shape::Square,
        texture: Texture::Checker,
        hue: 0.0,
        saturation: 0.85,
        sound: SoundKind::Drum,
        pitch_hz: 90.0,
        interval_s: 0.4,
    },
    ClassSpec {
        name: "bell",
        shape: Shape::Hexagon,
        texture: Texture::Stripes,
        hue: 52.0,
        saturation: 0.95,
        sound: SoundKind::Bell,
        pitch_hz: 660.0,
        interval_s: 1.0,
    },
    ClassSpec {
        name: "vowel",
        shape: Shape::Triangle,
        texture: Texture::Dots,
        hue: 320.0,
        saturation: 0.8,
        sound: SoundKind::Vowel,
        pitch_hz: 130.0,
        interval_s: 0.75,
    },
    ClassSpec {
        name: "chirp",
        shape: Shape::Diamond,
        texture: Texture::Solid,
        hue: 185.0,
        saturation: 0.9,
        sound: SoundKind::Chirp,
        pitch_hz: 600.0,
        interval_s: 0.5,
    },
    ClassSpec {
        name: "chord",
        shape: Shape::Star,
        texture: Texture::Radial,
        hue: 275.0,
        saturation: 0.8,
        sound: SoundKind::Chord,
        pitch_hz: 262.0,
        interval_s: 0.9,
    },
    ClassSpec {
        name: "whistle",
        shape: Shape::Ring,
        texture: Texture::Solid,
        hue: 210.0,
        saturation: 0.55,
        sound: SoundKind::Whistle,
        pitch_hz: 1400.0,
        interval_s: 0.65,
    },
    ClassSpec {
        name: "rattle",
        shape: Shape::Cross,
        texture: Texture::Checker,
        hue: 110.0,
        saturation: 0.85,
        sound: SoundKind::Rattle,
        pitch_hz: 3000.0,
        interval_s: 0.8,
    },
    ClassSpec {
        name: "horn",
        shape: Shape::Ellipse,
        texture: Texture::Diagonal,
        hue: 235.0,
        saturation: 0.9,
        sound: SoundKind::Horn,
        pitch_hz: 110.0,
        interval_s: 0.7,
    },
];

/// HSV (hue in degrees, s and v in [0, 1]) to linear 0–255 RGB floats.
pub fn hsv_to_rgb(hue: f32, s: f32, v: f32) -> [f32; 3] {
    let h = hue.rem_euclid(360.0) / 60.0;
    let c = v * s;
    let x = c * (1.0 - ((h % 2.0) - 1.0).abs());
    let (r, g, b) = match h as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = v - c;
    [(r + m) * 255.0, (g + m) * 255.0, (b + m) * 255.0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_looks_are_distinct() {
        for (i, a) in CLASSES.iter().enumerate() {
            for b in &CLASSES[i + 1..] {
                assert!(
                    a.shape != b.shape || a.texture != b.texture,
                    "{} and {} look alike",
                    a.name,
                    b.name
                );
                assert_ne!(a.sound, b.sound, "{} and {} sound alike", a.name, b.name);
            }
        }
    }

    #[test]
    fn every_shape_covers_a_fair_part_of_its_square() {
        for c in CLASSES {
            let n = 200;
            let inside = (0..n * n)
                .filter(|k| {
                    let u = (k % n) as f32 / n as f32 * 2.0 - 1.0;
                    let v = (k / n) as f32 / n as f32 * 2.0 - 1.0;
                    c.shape.contains(u, v)
                })
                .count();
            let frac = inside as f32 / (n * n) as f32;
            assert!((0.25..=0.9).contains(&frac), "{}: {frac}", c.name);
        }
    }

    #[test]
    fn hsv_primaries() {
        assert_eq!(hsv_to_rgb(0.0, 1.0, 1.0), [255.0, 0.0, 0.0]);
        assert_eq!(hsv_to_rgb(120.0, 1.0, 1.0), [0.0, 255.0, 0.0]);
    }
}
