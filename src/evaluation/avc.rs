//! Audio-visual correspondence metrics: accuracy at p = 0.5, ROC AUC (Mann–Whitney, ties count
//! one half), balanced accuracy, counts per example kind, and the negative policy the numbers
//! were measured under (an AVC accuracy without its negative policy means little: see
//! `docs/anchors.md` on frame-grid-aligned negatives).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Counts for one kind of example ("positive", "easy", "hard", ...).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KindCount {
    /// Examples of this kind.
    pub total: u64,
    /// Examples classified correctly.
    pub correct: u64,
}

/// The result of an AVC (or any binary pretext) evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AvcReport {
    /// Fraction classified correctly at p(class 1) ≥ 0.5.
    pub accuracy: f64,
    /// Mean of the per-class recalls (what to read when classes are unbalanced).
    pub balanced_accuracy: f64,
    /// Area under the ROC curve of p(class 1); `None` when one class is absent.
    pub roc_auc: Option<f64>,
    /// Examples with label 1.
    pub positives: u64,
    /// Examples with label 0.
    pub negatives: u64,
    /// Per kind of example.
    pub by_kind: BTreeMap<String, KindCount>,
    /// How negatives were drawn.
    pub negative_policy: String,
}

/// ROC AUC of `scores` for binary `labels` (1 = positive); `None` without both classes.
pub fn roc_auc(scores: &[f64], labels: &[i64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len().min(labels.len())).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties, then the Mann–Whitney U statistic.
    let mut ranks = vec![0.0f64; idx.len()];
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let r = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            ranks[k] = r;
        }
        i = j + 1;
    }
    let n_pos = idx.iter().filter(|&&k| labels[k] == 1).count() as f64;
    let n_neg = idx.len() as f64 - n_pos;
    if n_pos == 0.0 || n_neg == 0.0 {
        return None;
    }
    let rank_sum: f64 = idx.iter().filter(|&&k| labels[k] == 1).map(|&k| ranks[k]).sum();
    Some((rank_sum - n_pos * (n_pos + 1.0) / 2.0) / (n_pos * n_neg))
}

/// Builds the report from p(class 1) scores, labels and example kinds.
pub fn avc_report(scores: &[f64], labels: &[i64], kinds: &[String], policy: &str) -> AvcReport {
    let n = scores.len().min(labels.len());
    let mut by_kind: BTreeMap<String, KindCount> = BTreeMap::new();
    let (mut tp, mut tn, mut pos, mut neg) = (0u64, 0u64, 0u64, 0u64);
    for i in 0..n {
        let pred = i64::from(scores[i] >= 0.5);
        let ok = pred == labels[i];
        if labels[i] == 1 {
            pos += 1;
            tp += u64::from(ok);
        } else {
            neg += 1;
            tn += u64::from(ok);
        }
        let kind = kinds.get(i).cloned().unwrap_or_else(|| {
            if labels[i] == 1 {
                "positive".into()
            } else {
                "negative".into()
            }
        });
        let e = by_kind.entry(kind).or_default();
        e.total += 1;
        e.correct += u64::from(ok);
    }
    let recall = |c: u64, t: u64| if t == 0 { None } else { Some(c as f64 / t as f64) };
    let recalls: Vec<f64> = [recall(tp, pos), recall(tn, neg)].into_iter().flatten().collect();
    AvcReport {
        accuracy: if n == 0 { 0.0 } else { (tp + tn) as f64 / n as f64 },
        balanced_accuracy: if recalls.is_empty() {
            0.0
        } else {
            recalls.iter().sum::<f64>() / recalls.len() as f64
        },
        roc_auc: roc_auc(&scores[..n], &labels[..n]),
        positives: pos,
        negatives: neg,
        by_kind,
        negative_policy: policy.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_pair_counting() {
        let scores = [0.1, 0.4, 0.35, 0.8, 0.4];
        let labels = [0, 0, 1, 1, 1];
        // Pairs (pos, neg): (0.35,0.1)=1 (0.35,0.4)=0 (0.8,*)=2 (0.4,0.1)=1 (0.4,0.4)=0.5 → 4.5/6.
        assert!((roc_auc(&scores, &labels).unwrap() - 4.5 / 6.0).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.1, 0.2], &[1, 1]), None);
    }

    #[test]
    fn report_counts_and_balances() {
        let scores = [0.9, 0.2, 0.6, 0.7];
        let labels = [1, 0, 0, 0];
        let kinds: Vec<String> = ["positive", "easy", "hard", "hard"].map(String::from).into();
        let r = avc_report(&scores, &labels, &kinds, "easy+hard");
        assert_eq!((r.positives, r.negatives), (1, 3));
        assert!((r.accuracy - 0.5).abs() < 1e-12);
        assert!((r.balanced_accuracy - (1.0 + 1.0 / 3.0) / 2.0).abs() < 1e-12);
        assert_eq!(r.by_kind["hard"], KindCount { total: 2, correct: 0 });
        assert_eq!(r.negative_policy, "easy+hard");
    }
}
