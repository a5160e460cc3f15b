//! The class prior and its rebalancing weights (Zhang et al., §3.2). The empirical distribution
//! `p` of the training pixels' nearest bins is smoothed with a Gaussian kernel over the bin
//! centres (σ = 5 published; here each bin's mass is spread over every bin by
//! `exp(-d² / 2σ²)` normalised, so the total stays 1), mixed with the uniform distribution, and
//! inverted: `w ∝ ((1 − λ)·p̃ + λ/Q)⁻¹`, scaled so that `E_p̃[w] = Σ p̃_q w_q = 1` (λ = ½ published).
//! A pixel's loss is weighted by the weight of its nearest bin, so rare (saturated) colours count
//! as much as the common desaturated ones.

use super::bins::{centre, BINS};

/// A smoothed prior and the weights derived from it.
#[derive(Debug, Clone, PartialEq)]
pub struct Prior {
    /// The smoothed distribution `p̃` over the bins (sums to 1).
    pub probs: Vec<f64>,
    /// The rebalancing weight of each bin (`E_p̃[w] = 1`).
    pub weights: Vec<f64>,
}

impl Prior {
    /// The prior of `counts` (pixels per bin), smoothed with `sigma` (0: not smoothed), and its
    /// weights for `lambda` in `(0, 1]`; `None` when nothing was counted.
    pub fn estimate(counts: &[i64], sigma: f64, lambda: f64) -> Option<Prior> {
        let total: f64 = counts.iter().map(|&c| c.max(0) as f64).sum();
        if total <= 0.0 || counts.len() != BINS {
            return None;
        }
        let p: Vec<f64> = counts.iter().map(|&c| c.max(0) as f64 / total).collect();
        let probs = if sigma > 0.0 { smooth(&p, sigma) } else { p };
        let mut weights: Vec<f64> =
            probs.iter().map(|&q| 1.0 / ((1.0 - lambda) * q + lambda / BINS as f64)).collect();
        let expected: f64 = probs.iter().zip(&weights).map(|(p, w)| p * w).sum();
        weights.iter_mut().for_each(|w| *w /= expected);
        Some(Prior { probs, weights })
    }
}

/// `p` smoothed over the bin centres with a Gaussian of `sigma`: each bin's mass is shared
/// among all bins in proportion to `exp(-d² / 2σ²)`, so the result sums to what `p` sums to.
pub fn smooth(p: &[f64], sigma: f64) -> Vec<f64> {
    let mut out = vec![0.0; BINS];
    let mut row = vec![0.0; BINS];
    for (r, &mass) in p.iter().enumerate().take(BINS) {
        if mass == 0.0 {
            continue;
        }
        let c = centre(r);
        for (q, k) in row.iter_mut().enumerate() {
            let d = centre(q);
            *k = (-((c[0] - d[0]).powi(2) + (c[1] - d[1]).powi(2)) / (2.0 * sigma * sigma)).exp();
        }
        let total: f64 = row.iter().sum();
        for (o, k) in out.iter_mut().zip(&row) {
            *o += mass * k / total;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::bins::nearest;
    use super::*;

    fn skewed_counts() -> Vec<i64> {
        // Most pixels grey, some orange, a few blue.
        let mut counts = vec![0i64; BINS];
        counts[nearest([0.0, 0.0])] = 9000;
        counts[nearest([10.0, 0.0])] = 500;
        counts[nearest([30.0, 60.0])] = 400;
        counts[nearest([0.0, -50.0])] = 10;
        counts
    }

    #[test]
    fn weights_have_expectation_one_under_the_smoothed_prior_and_favour_rare_bins() {
        for (sigma, lambda) in [(5.0, 0.5), (0.0, 0.5), (5.0, 1.0), (5.0, 0.1)] {
            let pr = Prior::estimate(&skewed_counts(), sigma, lambda).unwrap();
            let total: f64 = pr.probs.iter().sum();
            assert!((total - 1.0).abs() < 1e-12, "σ {sigma}: p̃ sums to {total}");
            let e: f64 = pr.probs.iter().zip(&pr.weights).map(|(p, w)| p * w).sum();
            assert!((e - 1.0).abs() < 1e-12, "σ {sigma} λ {lambda}: E[w] = {e}");
            let grey = pr.weights[nearest([0.0, 0.0])];
            let blue = pr.weights[nearest([0.0, -50.0])];
            if lambda < 1.0 {
                assert!(blue > 2.0 * grey, "σ {sigma} λ {lambda}: {blue} vs {grey}");
            } else {
                // λ = 1: plain cross-entropy, every weight 1.
                assert!(pr.weights.iter().all(|w| (w - 1.0).abs() < 1e-12));
            }
        }
        assert!(Prior::estimate(&vec![0; BINS], 5.0, 0.5).is_none());
    }

    #[test]
    fn smoothing_keeps_the_mass_and_spreads_it_to_the_neighbours() {
        let mut p = vec![0.0; BINS];
        let q = nearest([0.0, 0.0]);
        p[q] = 1.0;
        let s = smooth(&p, 5.0);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        let n = nearest([10.0, 0.0]);
        // A neighbour at distance 10 keeps e^-2 of the centre's share.
        assert!((s[n] / s[q] - (-2.0f64).exp()).abs() < 1e-12);
        assert!(s[nearest([50.0, 50.0])] < 1e-10);
    }
}
