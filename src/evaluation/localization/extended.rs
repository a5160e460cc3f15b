//! SLAVC's extended protocol (stoneMo/SLAVC `utils.py::EvaluatorFull`) for test sets that mix
//! visible sources with silent or off-screen audio. Every sample has a confidence; then, for a
//! confidence threshold `thr`:
//!
//! - no visible source and `conf ≥ thr` → false positive (nothing counted when `conf < thr`);
//! - visible source, `conf ≥ thr`, `cIoU ≥ 0.5` → true positive;
//! - visible source, `conf ≥ thr`, `cIoU < 0.5` → false positive;
//! - visible source, `conf < thr` → false negative;
//! - precision = TP/(TP+FP) and recall = TP/(TP+FN), each 1 when its denominator is 0.
//!
//! AP sweeps `thr` over the sorted confidences without the largest, from high to low, every
//! `max(1, n/200)`-th, takes the precision envelope `p̂ᵢ = max_{j≥i} pⱼ` and sums
//! `p̂ᵢ·(rᵢ₊₁ − rᵢ)`, exactly as the reference does (including its use of `p̂ᵢ`, not `p̂ᵢ₊₁`).
//! Max-F1 is the best F1 over the thresholds `sorted(conf)[::max(1, n/10)]`; "precision" is taken
//! at `thr = −1000` (every sample detected); F1 at the default threshold 0.5 is reported too.

use super::SampleScore;

/// The cIoU above which a detection is in the right place.
pub const CIOU_THRESHOLD: f64 = 0.5;
/// SLAVC's `default_conf_thr`.
pub const DEFAULT_CONFIDENCE_THRESHOLD: f64 = 0.5;

/// Metrics of the extended protocol over all samples.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ExtendedMetrics {
    /// Samples without a visible source (silent or off-screen audio).
    pub negatives: usize,
    /// Average precision over confidence thresholds.
    pub ap: f64,
    /// Best F1 over the reference's ~10 confidence thresholds.
    pub max_f1: f64,
    /// F1 at confidence threshold 0.5.
    pub f1_at_default: f64,
    /// Precision when every sample counts as a detection.
    pub precision: f64,
    /// Mean confidence on samples with a visible source.
    pub mean_confidence_visible: f64,
    /// Mean confidence on samples without one.
    pub mean_confidence_negative: f64,
}

/// `(precision, recall)` at confidence threshold `thr` (`calc_precision_recall`).
pub fn precision_recall(samples: &[SampleScore], thr: f64) -> (f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for s in samples {
        let detected = s.confidence >= thr;
        if s.n_boxes == 0 {
            fp += usize::from(detected);
        } else if !detected {
            fn_ += 1;
        } else if s.ciou >= CIOU_THRESHOLD {
            tp += 1;
        } else {
            fp += 1;
        }
    }
    let ratio = |a: usize, b: usize| if a + b == 0 { 1.0 } else { a as f64 / (a + b) as f64 };
    (ratio(tp, fp), ratio(tp, fn_))
}

fn sorted_confidences(samples: &[SampleScore]) -> Vec<f64> {
    let mut c: Vec<f64> = samples.iter().map(|s| s.confidence).collect();
    c.sort_by(f64::total_cmp);
    c
}

/// Average precision with the precision envelope (`calc_ap`); 0 with fewer than 2 samples.
pub fn average_precision(samples: &[SampleScore]) -> f64 {
    let sorted = sorted_confidences(samples);
    if sorted.len() < 2 {
        return 0.0;
    }
    let skip = (sorted.len() / 200).max(1);
    let (precision, recall): (Vec<f64>, Vec<f64>) = sorted[..sorted.len() - 1]
        .iter()
        .rev()
        .step_by(skip)
        .map(|&thr| precision_recall(samples, thr))
        .unzip();
    let mut envelope = precision.clone();
    for i in (0..envelope.len().saturating_sub(1)).rev() {
        envelope[i] = envelope[i].max(envelope[i + 1]);
    }
    (0..envelope.len().saturating_sub(1)).map(|i| envelope[i] * (recall[i + 1] - recall[i])).sum()
}

fn f1((p, r): (f64, f64)) -> f64 {
    if p + r > 0.0 {
        2.0 * p * r / (p + r)
    } else {
        0.0
    }
}

/// Best F1 over `sorted(conf)[::max(1, n/10)]`; NaN for no sample.
pub fn max_f1(samples: &[SampleScore]) -> f64 {
    let sorted = sorted_confidences(samples);
    let step = (sorted.len() / 10).max(1);
    sorted
        .iter()
        .step_by(step)
        .map(|&thr| f1(precision_recall(samples, thr)))
        .fold(f64::NAN, f64::max)
}

/// All extended metrics.
pub fn extended_metrics(samples: &[SampleScore]) -> ExtendedMetrics {
    let mean_conf = |visible: bool| {
        let v: Vec<f64> =
            samples.iter().filter(|s| (s.n_boxes > 0) == visible).map(|s| s.confidence).collect();
        if v.is_empty() {
            f64::NAN
        } else {
            v.iter().sum::<f64>() / v.len() as f64
        }
    };
    ExtendedMetrics {
        negatives: samples.iter().filter(|s| s.n_boxes == 0).count(),
        ap: average_precision(samples),
        max_f1: max_f1(samples),
        f1_at_default: f1(precision_recall(samples, DEFAULT_CONFIDENCE_THRESHOLD)),
        precision: precision_recall(samples, -1000.0).0,
        mean_confidence_visible: mean_conf(true),
        mean_confidence_negative: mean_conf(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(ciou: f64, confidence: f64, n_boxes: usize) -> SampleScore {
        SampleScore { name: String::new(), ciou, confidence, n_boxes, pointing_hit: None }
    }

    #[test]
    fn counting_follows_the_reference() {
        let samples =
            [s(0.9, 0.9, 1), s(0.2, 0.8, 1), s(0.0, 0.7, 0), s(0.9, 0.1, 1), s(0.0, 0.05, 0)];
        // thr 0.5: TP = 1, FP = 2 (wrong place, negative detected), FN = 1.
        let (p, r) = precision_recall(&samples, 0.5);
        assert!((p - 1.0 / 3.0).abs() < 1e-12 && (r - 0.5).abs() < 1e-12);
        // Nothing detected: precision 1 by convention, recall 0.
        assert_eq!(precision_recall(&samples, 2.0), (1.0, 0.0));
    }

    #[test]
    fn ap_hand_computed() {
        // Confidences sorted: [0.1, 0.4, 0.6, 0.9]; thresholds = [0.6, 0.4, 0.1] (max dropped).
        // Samples: A (0.9, visible, right), B (0.6, negative), C (0.4, visible, right),
        //          D (0.1, visible, wrong place).
        let samples = [s(0.8, 0.9, 1), s(0.0, 0.6, 0), s(0.7, 0.4, 1), s(0.1, 0.1, 1)];
        // thr 0.6: TP A, FP B, FN C D → p 1/2, r 1/3.
        // thr 0.4: TP A C, FP B, FN D → p 2/3, r 2/3.
        // thr 0.1: TP A C, FP B D      → p 1/2, r 1.
        // envelope: [2/3, 2/3, 1/2]; AP = 2/3·(2/3 − 1/3) + 2/3·(1 − 2/3) = 4/9.
        assert!((average_precision(&samples) - 4.0 / 9.0).abs() < 1e-12);
        // max-F1 over all 4 thresholds (n/10 = 0 → step 1): thr 0.4 gives p = r = 2/3.
        assert!((max_f1(&samples) - 2.0 / 3.0).abs() < 1e-12);
        let m = extended_metrics(&samples);
        assert_eq!(m.negatives, 1);
        assert!((m.precision - 0.5).abs() < 1e-12);
        assert!((m.mean_confidence_negative - 0.6).abs() < 1e-12);
    }

    #[test]
    fn reference_ap_starts_below_the_top_confidence() {
        let samples = [s(0.9, 0.9, 1), s(0.9, 0.8, 1), s(0.0, 0.2, 0), s(0.0, 0.1, 0)];
        // Thresholds [0.8, 0.2, 0.1]: p [1, 2/3, 1/2], r [1, 1, 1]. Recall is already 1 at the
        // first threshold, so the reference's sum has no increment: AP = 0 on a perfectly
        // separated tiny set. With many samples the missing first step is only 1/n_visible.
        assert_eq!(average_precision(&samples), 0.0);
        // A single sample has no threshold below the maximum.
        assert_eq!(average_precision(&samples[..1]), 0.0);
        assert!((max_f1(&samples) - 1.0).abs() < 1e-12);
    }
}
