//! The quantised ab space of Zhang et al. (2016): the 313 centres of the 10 × 10 ab cells that
//! the reference code keeps as "in gamut", and the soft encoding of an ab value over its nearest
//! centres (a Gaussian of its distance to each, normalised). The table is the reference's
//! `resources/pts_in_hull.npy` (github.com/richzhang/colorization), in its order (a, then b,
//! ascending), copied value by value; the tests check its properties against this crate's own
//! Lab conversion. The training path encodes on the model side in tch (`model.rs`); the
//! functions here are the plain reference it is tested against.

/// Number of bins.
pub const BINS: usize = 313;

/// Spacing of the grid the centres lie on.
pub const GRID: f64 = 10.0;

/// The `(a, b)` centres of the 313 bins: richzhang/colorization `resources/pts_in_hull.npy`
/// (int64, shape (313, 2)), in the file's order.
#[rustfmt::skip]
pub static CENTRES: [[i16; 2]; BINS] = [
    [-90, 50], [-90, 60], [-90, 70], [-90, 80], [-90, 90], [-80, 20], [-80, 30], [-80, 40],
    [-80, 50], [-80, 60], [-80, 70], [-80, 80], [-80, 90], [-70, 0], [-70, 10], [-70, 20],
    [-70, 30], [-70, 40], [-70, 50], [-70, 60], [-70, 70], [-70, 80], [-70, 90], [-60, -20],
    [-60, -10], [-60, 0], [-60, 10], [-60, 20], [-60, 30], [-60, 40], [-60, 50], [-60, 60],
    [-60, 70], [-60, 80], [-60, 90], [-50, -30], [-50, -20], [-50, -10], [-50, 0], [-50, 10],
    [-50, 20], [-50, 30], [-50, 40], [-50, 50], [-50, 60], [-50, 70], [-50, 80], [-50, 90],
    [-50, 100], [-40, -40], [-40, -30], [-40, -20], [-40, -10], [-40, 0], [-40, 10], [-40, 20],
    [-40, 30], [-40, 40], [-40, 50], [-40, 60], [-40, 70], [-40, 80], [-40, 90], [-40, 100],
    [-30, -50], [-30, -40], [-30, -30], [-30, -20], [-30, -10], [-30, 0], [-30, 10], [-30, 20],
    [-30, 30], [-30, 40], [-30, 50], [-30, 60], [-30, 70], [-30, 80], [-30, 90], [-30, 100],
    [-20, -50], [-20, -40], [-20, -30], [-20, -20], [-20, -10], [-20, 0], [-20, 10], [-20, 20],
    [-20, 30], [-20, 40], [-20, 50], [-20, 60], [-20, 70], [-20, 80], [-20, 90], [-20, 100],
    [-10, -60], [-10, -50], [-10, -40], [-10, -30], [-10, -20], [-10, -10], [-10, 0], [-10, 10],
    [-10, 20], [-10, 30], [-10, 40], [-10, 50], [-10, 60], [-10, 70], [-10, 80], [-10, 90],
    [-10, 100], [0, -70], [0, -60], [0, -50], [0, -40], [0, -30], [0, -20], [0, -10],
    [0, 0], [0, 10], [0, 20], [0, 30], [0, 40], [0, 50], [0, 60], [0, 70],
    [0, 80], [0, 90], [0, 100], [10, -80], [10, -70], [10, -60], [10, -50], [10, -40],
    [10, -30], [10, -20], [10, -10], [10, 0], [10, 10], [10, 20], [10, 30], [10, 40],
    [10, 50], [10, 60], [10, 70], [10, 80], [10, 90], [20, -80], [20, -70], [20, -60],
    [20, -50], [20, -40], [20, -30], [20, -20], [20, -10], [20, 0], [20, 10], [20, 20],
    [20, 30], [20, 40], [20, 50], [20, 60], [20, 70], [20, 80], [20, 90], [30, -90],
    [30, -80], [30, -70], [30, -60], [30, -50], [30, -40], [30, -30], [30, -20], [30, -10],
    [30, 0], [30, 10], [30, 20], [30, 30], [30, 40], [30, 50], [30, 60], [30, 70],
    [30, 80], [30, 90], [40, -100], [40, -90], [40, -80], [40, -70], [40, -60], [40, -50],
    [40, -40], [40, -30], [40, -20], [40, -10], [40, 0], [40, 10], [40, 20], [40, 30],
    [40, 40], [40, 50], [40, 60], [40, 70], [40, 80], [40, 90], [50, -100], [50, -90],
    [50, -80], [50, -70], [50, -60], [50, -50], [50, -40], [50, -30], [50, -20], [50, -10],
    [50, 0], [50, 10], [50, 20], [50, 30], [50, 40], [50, 50], [50, 60], [50, 70],
    [50, 80], [60, -110], [60, -100], [60, -90], [60, -80], [60, -70], [60, -60], [60, -50],
    [60, -40], [60, -30], [60, -20], [60, -10], [60, 0], [60, 10], [60, 20], [60, 30],
    [60, 40], [60, 50], [60, 60], [60, 70], [60, 80], [70, -110], [70, -100], [70, -90],
    [70, -80], [70, -70], [70, -60], [70, -50], [70, -40], [70, -30], [70, -20], [70, -10],
    [70, 0], [70, 10], [70, 20], [70, 30], [70, 40], [70, 50], [70, 60], [70, 70],
    [70, 80], [80, -110], [80, -100], [80, -90], [80, -80], [80, -70], [80, -60], [80, -50],
    [80, -40], [80, -30], [80, -20], [80, -10], [80, 0], [80, 10], [80, 20], [80, 30],
    [80, 40], [80, 50], [80, 60], [80, 70], [90, -110], [90, -100], [90, -90], [90, -80],
    [90, -70], [90, -60], [90, -50], [90, -40], [90, -30], [90, -20], [90, -10], [90, 0],
    [90, 10], [90, 20], [90, 30], [90, 40], [90, 50], [90, 60], [90, 70], [100, -90],
    [100, -80], [100, -70], [100, -60], [100, -50], [100, -40], [100, -30], [100, -20], [100, -10],
    [100, 0],
];

/// The centre of bin `q` as `[a, b]`.
pub fn centre(q: usize) -> [f64; 2] {
    let c = CENTRES[q % BINS];
    [f64::from(c[0]), f64::from(c[1])]
}

/// Squared ab distance from `ab` to the centre of bin `q`.
pub fn distance2(ab: [f64; 2], q: usize) -> f64 {
    let c = centre(q);
    (ab[0] - c[0]).powi(2) + (ab[1] - c[1]).powi(2)
}

/// The bin whose centre is nearest to `ab` (ties to the lower index).
pub fn nearest(ab: [f64; 2]) -> usize {
    let mut best = 0;
    for q in 1..BINS {
        if distance2(ab, q) < distance2(ab, best) {
            best = q;
        }
    }
    best
}

/// The soft encoding of `ab`: its `k` nearest bins (nearest first), each weighted by
/// `exp(-d² / 2σ²)` of its distance `d`, the weights normalised to sum to 1 (Zhang et al., §3.1;
/// k = 5, σ = 5 published).
pub fn soft_encode(ab: [f64; 2], k: usize, sigma: f64) -> Vec<(usize, f64)> {
    let mut order: Vec<usize> = (0..BINS).collect();
    order.sort_by(|&p, &q| distance2(ab, p).total_cmp(&distance2(ab, q)).then(p.cmp(&q)));
    order.truncate(k.clamp(1, BINS));
    let w: Vec<f64> =
        order.iter().map(|&q| (-distance2(ab, q) / (2.0 * sigma * sigma)).exp()).collect();
    let total: f64 = w.iter().sum();
    order.into_iter().zip(w).map(|(q, w)| (q, w / total)).collect()
}

#[cfg(test)]
mod tests {
    use super::super::lab::in_gamut;
    use super::*;

    /// Whether the 10 × 10 cell around `[a, b]` holds an sRGB colour at some lightness.
    fn cell_holds_a_colour(a: f64, b: f64, half: f64) -> bool {
        let offsets: Vec<f64> = (-10..=10).map(|i| f64::from(i) * half / 10.0).collect();
        (0..=200).any(|l| {
            offsets
                .iter()
                .any(|da| offsets.iter().any(|db| in_gamut([l as f64 * 0.5, a + da, b + db])))
        })
    }

    #[test]
    fn the_table_is_313_distinct_centres_on_the_grid_of_10_covering_the_srgb_gamut() {
        let mut seen = std::collections::BTreeSet::new();
        for c in &CENTRES {
            assert!(c[0] % 10 == 0 && c[1] % 10 == 0, "{c:?} is off the grid");
            assert!(c.iter().all(|v| (-110..=110).contains(v)), "{c:?}");
            assert!(seen.insert(*c), "{c:?} twice");
        }
        assert_eq!(seen.len(), BINS);
        // The reference's order: a, then b, ascending.
        assert!(CENTRES.windows(2).all(|w| w[0] < w[1]));
        // Every cell of the grid that holds an sRGB colour (at any L) has its bin ...
        for a in (-120..=120).step_by(10) {
            for b in (-120..=120).step_by(10) {
                if cell_holds_a_colour(f64::from(a), f64::from(b), 5.0) {
                    assert!(seen.contains(&[a as i16, b as i16]), "cell ({a}, {b}) has no bin");
                }
            }
        }
        // ... and every bin lies within 16 of an sRGB colour: the reference keeps the cells in the
        // hull of the gamut's ab footprint, a little wider than the gamut itself.
        for c in &CENTRES {
            let [a, b] = [f64::from(c[0]), f64::from(c[1])];
            let near = (0..=100).any(|l| {
                (-16..=16).any(|da: i32| {
                    (-16..=16).any(|db: i32| {
                        da * da + db * db <= 256
                            && in_gamut([f64::from(l), a + f64::from(da), b + f64::from(db)])
                    })
                })
            });
            assert!(near, "bin {c:?} is far from every sRGB colour");
        }
    }

    #[test]
    fn soft_encoding_sums_to_one_on_the_five_nearest_bins_nearest_heaviest() {
        for ab in [[0.0, 0.0], [3.0, -4.0], [-57.5, 41.0], [80.0, 67.0], [5.0, 5.0]] {
            let enc = soft_encode(ab, 5, 5.0);
            assert_eq!(enc.len(), 5);
            let total: f64 = enc.iter().map(|e| e.1).sum();
            assert!((total - 1.0).abs() < 1e-12, "{ab:?}: {total}");
            // The five are the five nearest centres (by brute force), heaviest first.
            let far = enc.iter().map(|e| distance2(ab, e.0)).fold(0.0, f64::max);
            let closer = (0..BINS).filter(|&q| distance2(ab, q) < far).count();
            assert!(closer <= 4, "{ab:?}: a nearer bin was left out");
            assert!(enc.windows(2).all(|w| w[0].1 >= w[1].1));
            assert_eq!(enc[0].0, nearest(ab));
        }
        // On a centre, with σ = 5: neighbours at 10 weigh e^-2 of it.
        let q = nearest([0.0, 0.0]);
        assert_eq!(centre(q), [0.0, 0.0]);
        let enc = soft_encode([0.0, 0.0], 5, 5.0);
        assert!((enc[1].1 / enc[0].1 - (-2.0f64).exp()).abs() < 1e-12);
    }
}
