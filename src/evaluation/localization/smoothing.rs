//! Gaussian smoothing of a coarse score map before it is upsampled.
//!
//! A per-location map scores each cell by how well *that cell's* features agree with the sound;
//! the cells on an object's texture agree most, its rim and the corners of its box less. The
//! box metrics (cIoU at the median threshold, where half the image is foreground) reward a map
//! whose top half covers the whole box, i.e. a blob around the object rather than its
//! texture. Smoothing the coarse map with a Gaussian spreads each cell's evidence over its
//! neighbours: the peak stays where the sound is, the region above the median grows into a
//! blob around it.
//!
//! σ is a fraction of the map's side (per axis: σ_y = σ·height, σ_x = σ·width cells), so one
//! value serves maps of any resolution. The filter is separable, truncated at 4σ, with edges
//! replicated (scipy.ndimage's `gaussian_filter(mode="nearest")`, which the unit tests mirror);
//! σ = 0 leaves the map untouched. It is a post-processing choice like the upsampling mode:
//! choose it on a validation split (`pretext eval localize --split val --smooth S`), report the
//! test split with the chosen value, and apply it to every row of a comparison alike. It moves
//! the map, not the confidence: the evaluator and `pretext localize` take the confidence
//! (whether a visible object sounds) from the unsmoothed map.

use super::{LocalizationError, ScoreMap};

/// Gaussian smoothing of coarse maps; σ as a fraction of the map's side (0 = off).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct MapSmoothing {
    sigma: f64,
}

impl MapSmoothing {
    /// No smoothing.
    pub const OFF: MapSmoothing = MapSmoothing { sigma: 0.0 };

    /// σ as a fraction of the map's side: 0 (off) up to 1.
    pub fn new(sigma: f64) -> Result<Self, LocalizationError> {
        if !(sigma.is_finite() && (0.0..=1.0).contains(&sigma)) {
            return Err(LocalizationError::Invalid(format!(
                "map smoothing σ must be a fraction of the map side in [0, 1], got {sigma}"
            )));
        }
        Ok(MapSmoothing { sigma })
    }

    /// σ as a fraction of the map's side.
    pub fn sigma(&self) -> f64 {
        self.sigma
    }

    /// Whether this smoothing changes anything.
    pub fn is_off(&self) -> bool {
        self.sigma == 0.0
    }

    /// A smoothed copy of `map`.
    pub fn smoothed(&self, map: &ScoreMap) -> ScoreMap {
        let mut values = map.values.clone();
        self.apply(&mut values, map.height, map.width);
        ScoreMap { height: map.height, width: map.width, values }
    }

    /// Smooths a row-major `height × width` map in place.
    ///
    /// # Panics
    /// If `map.len() != height * width`.
    pub fn apply(&self, map: &mut [f32], height: usize, width: usize) {
        assert_eq!(
            map.len(),
            height * width,
            "map of {} values is not {height}x{width}",
            map.len()
        );
        if self.is_off() || map.is_empty() {
            return;
        }
        let ky = kernel(self.sigma * height as f64);
        let kx = kernel(self.sigma * width as f64);
        let mut line = Vec::with_capacity(height.max(width));
        for r in 0..height {
            line.clear();
            line.extend_from_slice(&map[r * width..(r + 1) * width]);
            for c in 0..width {
                map[r * width + c] = convolve_at(&line, c, &kx);
            }
        }
        for c in 0..width {
            line.clear();
            line.extend((0..height).map(|r| map[r * width + c]));
            for r in 0..height {
                map[r * width + c] = convolve_at(&line, r, &ky);
            }
        }
    }
}

impl TryFrom<f64> for MapSmoothing {
    type Error = LocalizationError;

    fn try_from(sigma: f64) -> Result<Self, Self::Error> {
        MapSmoothing::new(sigma)
    }
}

impl From<MapSmoothing> for f64 {
    fn from(s: MapSmoothing) -> f64 {
        s.sigma
    }
}

/// Normalised Gaussian taps for σ in cells, truncated at 4σ (scipy's default): `2·radius + 1`
/// values, centre in the middle.
fn kernel(sigma: f64) -> Vec<f64> {
    let radius = (4.0 * sigma + 0.5) as usize;
    let taps: Vec<f64> = (0..=2 * radius)
        .map(|i| {
            let d = i as f64 - radius as f64;
            (-0.5 * d * d / (sigma * sigma)).exp()
        })
        .collect();
    let sum: f64 = taps.iter().sum();
    taps.into_iter().map(|t| t / sum).collect()
}

/// `Σ_k taps[k] · line[clamp(i + k − radius)]`: the edge values repeat beyond the ends.
fn convolve_at(line: &[f32], i: usize, taps: &[f64]) -> f32 {
    let radius = (taps.len() / 2) as isize;
    let last = line.len() as isize - 1;
    let mut acc = 0.0f64;
    for (k, t) in taps.iter().enumerate() {
        let j = (i as isize + k as isize - radius).clamp(0, last);
        acc += t * f64::from(line[j as usize]);
    }
    acc as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn off_and_constant_maps_are_unchanged() {
        let mut m: Vec<f32> = (0..12).map(|i| i as f32 * 0.1).collect();
        let before = m.clone();
        MapSmoothing::OFF.apply(&mut m, 3, 4);
        assert_eq!(m, before);
        let mut flat = vec![0.3f32; 36];
        MapSmoothing::new(0.3).unwrap().apply(&mut flat, 6, 6);
        assert!(flat.iter().all(|v| (v - 0.3).abs() < 1e-6), "{flat:?}");
    }

    #[test]
    fn an_impulse_becomes_the_separable_gaussian() {
        // One hot cell in the middle of a 9×9 map, σ = 1 cell (1/9 of the side), far from the
        // edges (radius 4): the result is the outer product of the normalised 1-D taps.
        let (h, w) = (9, 9);
        let mut m = vec![0f32; h * w];
        m[4 * w + 4] = 1.0;
        MapSmoothing::new(1.0 / 9.0).unwrap().apply(&mut m, h, w);
        let g: Vec<f64> = (-4..=4).map(|d: i32| (-0.5 * f64::from(d * d)).exp()).collect();
        let s: f64 = g.iter().sum();
        for r in 0..h {
            for c in 0..w {
                let want = g[r] / s * g[c] / s;
                assert!((f64::from(m[r * w + c]) - want).abs() < 1e-6, "{r},{c}");
            }
        }
        assert!((m.iter().map(|v| f64::from(*v)).sum::<f64>() - 1.0).abs() < 1e-5);
    }

    #[test]
    fn edges_replicate_like_scipy_nearest() {
        // scipy.ndimage.gaussian_filter1d([1, 0, 0, 0], 1, mode="nearest")[0]: taps over
        // offsets -4..4, where offsets < 0 read the edge value 1.
        let mut m = vec![1.0f32, 0.0, 0.0, 0.0];
        MapSmoothing::new(0.25).unwrap().apply(&mut m, 1, 4);
        let g: Vec<f64> = (-4..=4).map(|d: i32| (-0.5 * f64::from(d * d)).exp()).collect();
        let s: f64 = g.iter().sum();
        // Row pass with σ = 0.25·4 = 1 cell; the column pass on a 1-row map is the identity
        // (σ = 0.25 cells, every tap reads the same cell).
        let want0 = g[..=4].iter().sum::<f64>() / s;
        assert!((f64::from(m[0]) - want0).abs() < 1e-6, "{} vs {want0}", m[0]);
        assert!(m[0] > m[1] && m[1] > m[2] && m[2] > m[3]);
    }

    #[test]
    fn the_peak_stays_and_the_map_spreads() {
        let (h, w) = (12, 12);
        let mut m = vec![0.1f32; h * w];
        m[3 * w + 8] = 0.9;
        m[3 * w + 9] = 0.8;
        MapSmoothing::new(0.2).unwrap().apply(&mut m, h, w);
        let peak = (0..h * w).max_by(|a, b| m[*a].total_cmp(&m[*b])).unwrap();
        assert!(peak == 3 * w + 8 || peak == 3 * w + 9, "peak at {peak}");
        assert!(m[3 * w + 5] > 0.1 + 1e-3, "neighbours gain mass");
    }

    #[test]
    fn smoothed_copies_and_serde_round_trips() {
        let map = ScoreMap { height: 2, width: 3, values: vec![0.0, 1.0, 0.0, 0.0, 0.0, 0.0] };
        let s = MapSmoothing::new(0.3).unwrap();
        let out = s.smoothed(&map);
        assert_eq!((out.height, out.width), (2, 3));
        assert!(out.values[0] > 0.0 && out.values[4] > 0.0 && out.values[1] < 1.0);
        assert_eq!(map.values[1], 1.0, "the input is left alone");
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, "0.3");
        assert_eq!(serde_json::from_str::<MapSmoothing>(&json).unwrap(), s);
        assert!(serde_json::from_str::<MapSmoothing>("-1").is_err());
    }

    #[test]
    fn rejects_bad_sigmas() {
        for s in [-0.1, 1.5, f64::NAN, f64::INFINITY] {
            assert!(MapSmoothing::new(s).is_err(), "{s}");
        }
        assert!(MapSmoothing::new(0.0).unwrap().is_off());
    }
}
