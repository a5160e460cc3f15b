//! Aggregates per-sample scores into the reported numbers.
//!
//! Over samples **with** a visible source (`n_boxes > 0`), as EZ-VSL `Evaluator` and SLAVC's
//! `visible` subset do:
//! - headline "cIoU" = fraction with cIoU ≥ 0.5 (`finalize_AP50`);
//! - mean cIoU (`finalize_cIoU`);
//! - AUC: success rate `s(t) = #(cIoU ≥ t)/n` at `t = 0.05·i`, `i = 0..=20` (computed in `f64`
//!   exactly as `0.05*i`), integrated with the trapezoidal rule (`sklearn.metrics.auc`);
//! - pointing-game accuracy.
//!
//! Over **all** samples: SLAVC's AP, max-F1 and precision ([`super::extended`]).

use super::extended::{extended_metrics, ExtendedMetrics};
use super::SampleScore;

/// The numbers one evaluation reports.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LocalizationSummary {
    /// All samples.
    pub samples: usize,
    /// Samples with a visible source.
    pub visible: usize,
    /// Share of visible samples with cIoU ≥ 0.5 (the literature's headline "cIoU").
    pub ciou_at_50: f64,
    /// Mean cIoU over visible samples.
    pub mean_ciou: f64,
    /// Area under the success-rate curve over visible samples.
    pub auc: f64,
    /// Pointing-game accuracy over visible samples.
    pub pointing_accuracy: f64,
    /// SLAVC extended metrics over all samples (visible and silent/off-screen).
    pub extended: ExtendedMetrics,
}

/// The success-rate thresholds `0.05·i`, `i = 0..=20`.
pub fn auc_thresholds() -> [f64; 21] {
    std::array::from_fn(|i| 0.05 * i as f64)
}

/// AUC of the cIoU success rate (trapezoid over 21 thresholds); NaN for no sample.
pub fn success_auc(cious: &[f64]) -> f64 {
    if cious.is_empty() {
        return f64::NAN;
    }
    let n = cious.len() as f64;
    let thr = auc_thresholds();
    let rate: Vec<f64> =
        thr.iter().map(|&t| cious.iter().filter(|&&c| c >= t).count() as f64 / n).collect();
    (1..thr.len()).map(|i| (thr[i] - thr[i - 1]) * (rate[i] + rate[i - 1]) / 2.0).sum()
}

/// Summarises scored samples. Means over an empty set are NaN (serialised as `null`).
pub fn summarize(samples: &[SampleScore]) -> LocalizationSummary {
    let visible: Vec<&SampleScore> = samples.iter().filter(|s| s.n_boxes > 0).collect();
    let cious: Vec<f64> = visible.iter().map(|s| s.ciou).collect();
    let mean = |xs: &mut dyn Iterator<Item = f64>| {
        let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
        if n == 0 {
            f64::NAN
        } else {
            sum / n as f64
        }
    };
    LocalizationSummary {
        samples: samples.len(),
        visible: visible.len(),
        ciou_at_50: mean(&mut cious.iter().map(|&c| if c >= 0.5 { 1.0 } else { 0.0 })),
        mean_ciou: mean(&mut cious.iter().copied()),
        auc: success_auc(&cious),
        pointing_accuracy: mean(&mut visible.iter().filter_map(|s| s.pointing_hit).map(|h| {
            if h {
                1.0
            } else {
                0.0
            }
        })),
        extended: extended_metrics(samples),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ciou: f64, confidence: f64, n_boxes: usize, hit: Option<bool>) -> SampleScore {
        SampleScore { name: String::new(), ciou, confidence, n_boxes, pointing_hit: hit }
    }

    #[test]
    fn auc_of_all_perfect_is_one_and_all_zero_is_tiny() {
        assert!((success_auc(&[1.0, 1.0]) - 1.0).abs() < 1e-12);
        // cIoU = 0 passes only t = 0: trapezoid of one step = 0.05 · (1 + 0)/2.
        assert!((success_auc(&[0.0]) - 0.025).abs() < 1e-12);
    }

    #[test]
    fn auc_hand_computed() {
        // cIoU {0.3, 0.6}. In f64, 0.05·6 = 0.30000000000000004 > 0.3 and 0.05·12 > 0.6, so
        // (as in numpy) s = 1 for i ≤ 5, 0.5 for 6 ≤ i ≤ 11, 0 from i = 12 on. Trapezoid:
        // 0.25 (i 0..5) + 0.0375 (5→6) + 0.125 (6..11) + 0.0125 (11→12) = 0.425 (numpy agrees).
        let auc = success_auc(&[0.3, 0.6]);
        let want = 0.25 + 0.0375 + 0.125 + 0.0125;
        assert!((auc - want).abs() < 1e-9, "{auc} vs {want}");
    }

    #[test]
    fn summary_uses_visible_samples_only() {
        let samples = [
            s(0.8, 0.9, 1, Some(true)),
            s(0.4, 0.8, 2, Some(false)),
            s(0.6, 0.7, 1, Some(true)),
            s(0.0, 0.2, 0, None),
        ];
        let sum = summarize(&samples);
        assert_eq!((sum.samples, sum.visible), (4, 3));
        assert!((sum.ciou_at_50 - 2.0 / 3.0).abs() < 1e-12);
        assert!((sum.mean_ciou - 0.6).abs() < 1e-12);
        assert!((sum.pointing_accuracy - 2.0 / 3.0).abs() < 1e-12);
        assert!(sum.auc > 0.0 && sum.auc < 1.0);
    }

    #[test]
    fn no_visible_samples_give_nan() {
        let sum = summarize(&[s(0.0, 0.1, 0, None)]);
        assert!(sum.ciou_at_50.is_nan() && sum.auc.is_nan() && sum.pointing_accuracy.is_nan());
    }
}
