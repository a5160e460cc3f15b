//! `l2_reduction`: how much of a baseline's error in the hole the model removes, `1 − Σ e / Σ b`
//! over every held-out example (`e` the model's mean squared error in an example's hole, `b` the
//! baseline's), a ratio of sums over the whole split, not a mean of per-example ratios (one
//! easy example with a tiny baseline error would swing those). Larger is better; 0 is the
//! baseline's error, 1 a perfect fill.

use crate::training::{Metric, Scored};

/// `1 − Σ values[model] / Σ values[baseline]` over the split.
#[derive(Debug)]
pub struct L2Reduction {
    name: &'static str,
    model: &'static str,
    baseline: &'static str,
    sum_model: f64,
    sum_baseline: f64,
}

impl L2Reduction {
    /// The reduction of `values[model]` against `values[baseline]`, reported as `name`.
    pub fn new(name: &'static str, model: &'static str, baseline: &'static str) -> Self {
        L2Reduction { name, model, baseline, sum_model: 0.0, sum_baseline: 0.0 }
    }
}

impl Metric for L2Reduction {
    fn name(&self) -> &str {
        self.name
    }
    fn update(&mut self, s: &Scored) {
        if let (Some(m), Some(b)) = (s.values.get(self.model), s.values.get(self.baseline)) {
            self.sum_model += m.iter().sum::<f64>();
            self.sum_baseline += b.iter().sum::<f64>();
        }
    }
    fn value(&self) -> Option<f64> {
        (self.sum_baseline > 0.0).then(|| 1.0 - self.sum_model / self.sum_baseline)
    }
    fn reset(&mut self) {
        (self.sum_model, self.sum_baseline) = (0.0, 0.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scored(model: &[f64], baseline: &[f64]) -> Scored {
        let mut s = Scored { examples: model.len(), ..Default::default() };
        s.values.insert("e".into(), model.to_vec());
        s.values.insert("b".into(), baseline.to_vec());
        s
    }

    #[test]
    fn the_reduction_is_a_ratio_of_sums_over_batches() {
        let mut m = L2Reduction::new("l2_reduction", "e", "b");
        assert_eq!(m.value(), None);
        // Batch 1: errors 0.1, 0.3 against 0.2, 0.2; batch 2: 0.0 against 0.01 (a perfect
        // example with a tiny baseline error).
        m.update(&scored(&[0.1, 0.3], &[0.2, 0.2]));
        m.update(&scored(&[0.0], &[0.01]));
        // 1 − 0.4 / 0.41; a mean of per-example ratios would give 1 − (0.5 + 1.5 + 0) / 3 = 0.333.
        let v = m.value().unwrap();
        assert!((v - (1.0 - 0.4 / 0.41)).abs() < 1e-12, "{v}");
        m.reset();
        assert_eq!(m.value(), None);
        m.update(&scored(&[0.5], &[0.25]));
        assert_eq!(m.value(), Some(-1.0), "twice the baseline's error reads −1");
    }
}
