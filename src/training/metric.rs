//! Named metrics, one set per task. A task model's `evaluate` turns a batch into plain numbers
//! ([`Scored`]: per-row class probabilities, targets and kinds, per-example hits); each
//! [`Metric`] accumulates what it needs from them (burn's adaptor pattern, without the tensor
//! types) and reports a value. A [`MetricSet`] holds a task's metrics with the primary one first:
//! it ranks checkpoints, names the `val` column of `metrics.jsonl` and the progress bar's metric.
//!
//! Built-ins: [`Accuracy`] (argmax over any number of classes), [`BalancedAccuracy`] (mean
//! per-class recall), [`RocAuc`] (binary, on p(class 1), ties averaged), [`MeanHit`] (the mean
//! of the task's own per-example hits, e.g. in-batch retrieval), [`MeanValue`] (the mean of one
//! of the task's named per-example values, e.g. an error in the hole of an inpainting) and
//! [`ByKind`] (counts and accuracy per example kind, a detail). Every metric reads larger as
//! better when it is a primary one (checkpoints are ranked by it).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What a task model's evaluation of one batch gives the metrics.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scored {
    /// Mean loss over the batch.
    pub loss: f64,
    /// Examples in the batch.
    pub examples: usize,
    /// Classes per scored row.
    pub classes: usize,
    /// Class probabilities, `rows × classes`, row-major.
    pub probs: Vec<f32>,
    /// Target class per row.
    pub targets: Vec<i64>,
    /// Kind per row ("positive", "easy", "rot90", "in-batch", ...).
    pub kinds: Vec<String>,
    /// The example each row belongs to (index in the batch).
    pub rows_example: Vec<usize>,
    /// The task's own per-example hit in [0, 1] (what the train accuracy averages).
    pub hits: Vec<f32>,
    /// Named per-example quantities of tasks that are not (only) classifiers, e.g. a
    /// reconstruction error or an AuC per example, and the same quantity of a baseline; read by
    /// [`MeanValue`] and by tasks' own metrics.
    pub values: BTreeMap<String, Vec<f64>>,
}

impl Scored {
    /// Number of scored rows.
    pub fn rows(&self) -> usize {
        self.targets.len()
    }

    /// The argmax class of row `r`; ties go to the higher class, so for two classes this is
    /// `p(class 1) >= 0.5`.
    pub fn predicted(&self, r: usize) -> i64 {
        let row = &self.probs[r * self.classes..(r + 1) * self.classes];
        let mut best = 0;
        for (c, p) in row.iter().enumerate() {
            if *p >= row[best] {
                best = c;
            }
        }
        best as i64
    }

    /// p(class 1) of row `r` (binary tasks).
    pub fn p1(&self, r: usize) -> f64 {
        f64::from(self.probs.get(r * self.classes + 1).copied().unwrap_or(f32::NAN))
    }

    /// Checks that the parts agree; the message says which does not.
    pub fn check(&self) -> Result<(), String> {
        let r = self.targets.len();
        if self.classes == 0 && r > 0 {
            return Err("scored rows with 0 classes".into());
        }
        if self.probs.len() != r * self.classes
            || self.kinds.len() != r
            || self.rows_example.len() != r
        {
            return Err(format!(
                "{r} targets but {} probabilities for {} classes, {} kinds, {} row owners",
                self.probs.len(),
                self.classes,
                self.kinds.len(),
                self.rows_example.len()
            ));
        }
        for (key, v) in &self.values {
            if v.len() != self.examples {
                return Err(format!(
                    "value '{key}' has {} entries for {} examples",
                    v.len(),
                    self.examples
                ));
            }
        }
        Ok(())
    }
}

/// A named metric accumulated over batches.
pub trait Metric: Send {
    /// Its name (a key of `metrics.jsonl`).
    fn name(&self) -> &str;
    /// Accumulates one batch.
    fn update(&mut self, scored: &Scored);
    /// The value so far (`None` when undefined, e.g. an AUC with one class).
    fn value(&self) -> Option<f64>;
    /// Forgets everything accumulated.
    fn reset(&mut self);
    /// Extra structured detail (e.g. per-kind counts).
    fn detail(&self) -> Option<serde_json::Value> {
        None
    }
}

/// Share of rows whose argmax class is the target, for any number of classes.
#[derive(Debug, Default)]
pub struct Accuracy {
    right: u64,
    total: u64,
}

impl Metric for Accuracy {
    fn name(&self) -> &str {
        "accuracy"
    }
    fn update(&mut self, s: &Scored) {
        for r in 0..s.rows() {
            self.right += u64::from(s.predicted(r) == s.targets[r]);
            self.total += 1;
        }
    }
    fn value(&self) -> Option<f64> {
        (self.total > 0).then(|| self.right as f64 / self.total as f64)
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Mean over the classes present of the share of their rows predicted right.
#[derive(Debug, Default)]
pub struct BalancedAccuracy {
    per_class: BTreeMap<i64, (u64, u64)>,
}

impl Metric for BalancedAccuracy {
    fn name(&self) -> &str {
        "balanced_accuracy"
    }
    fn update(&mut self, s: &Scored) {
        for r in 0..s.rows() {
            let e = self.per_class.entry(s.targets[r]).or_default();
            e.0 += u64::from(s.predicted(r) == s.targets[r]);
            e.1 += 1;
        }
    }
    fn value(&self) -> Option<f64> {
        let n = self.per_class.len();
        (n > 0).then(|| {
            self.per_class.values().map(|(r, t)| *r as f64 / *t as f64).sum::<f64>() / n as f64
        })
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// ROC AUC of p(class 1) against `target == 1` (binary tasks), ties counted half.
#[derive(Debug, Default)]
pub struct RocAuc {
    scores: Vec<f64>,
    labels: Vec<i64>,
}

impl Metric for RocAuc {
    fn name(&self) -> &str {
        "roc_auc"
    }
    fn update(&mut self, s: &Scored) {
        for r in 0..s.rows() {
            self.scores.push(s.p1(r));
            self.labels.push(i64::from(s.targets[r] == 1));
        }
    }
    fn value(&self) -> Option<f64> {
        roc_auc(&self.scores, &self.labels)
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// The mean of the task's per-example hits, under a name of the task's choosing.
#[derive(Debug)]
pub struct MeanHit {
    name: &'static str,
    sum: f64,
    n: u64,
}

impl MeanHit {
    /// A mean of hits reported as `name`.
    pub fn new(name: &'static str) -> Self {
        MeanHit { name, sum: 0.0, n: 0 }
    }
}

impl Metric for MeanHit {
    fn name(&self) -> &str {
        self.name
    }
    fn update(&mut self, s: &Scored) {
        self.sum += s.hits.iter().map(|h| f64::from(*h)).sum::<f64>();
        self.n += s.hits.len() as u64;
    }
    fn value(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
    fn reset(&mut self) {
        (self.sum, self.n) = (0.0, 0);
    }
}

/// The mean of a named per-example value ([`Scored::values`]) under a name of the task's choosing;
/// undefined until a batch carries the value.
#[derive(Debug)]
pub struct MeanValue {
    name: &'static str,
    key: &'static str,
    sum: f64,
    n: u64,
}

impl MeanValue {
    /// The mean of `values[key]`, reported as `name`.
    pub fn new(name: &'static str, key: &'static str) -> Self {
        MeanValue { name, key, sum: 0.0, n: 0 }
    }
}

impl Metric for MeanValue {
    fn name(&self) -> &str {
        self.name
    }
    fn update(&mut self, s: &Scored) {
        if let Some(v) = s.values.get(self.key) {
            self.sum += v.iter().sum::<f64>();
            self.n += v.len() as u64;
        }
    }
    fn value(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum / self.n as f64)
    }
    fn reset(&mut self) {
        (self.sum, self.n) = (0.0, 0);
    }
}

/// Counts and accuracy of one kind of row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KindCount {
    /// Rows of this kind.
    pub n: u64,
    /// Rows predicted right.
    pub correct: u64,
    /// `correct / n`.
    pub accuracy: f64,
}

/// Counts and accuracy per row kind (a detail, no value).
#[derive(Debug, Default)]
pub struct ByKind {
    kinds: BTreeMap<String, KindCount>,
}

impl Metric for ByKind {
    fn name(&self) -> &str {
        "by_kind"
    }
    fn update(&mut self, s: &Scored) {
        for r in 0..s.rows() {
            let k = self.kinds.entry(s.kinds[r].clone()).or_default();
            k.n += 1;
            k.correct += u64::from(s.predicted(r) == s.targets[r]);
            k.accuracy = k.correct as f64 / k.n as f64;
        }
    }
    fn value(&self) -> Option<f64> {
        None
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
    fn detail(&self) -> Option<serde_json::Value> {
        serde_json::to_value(&self.kinds).ok()
    }
}

/// A task's metrics; the first is the primary one.
pub struct MetricSet {
    metrics: Vec<Box<dyn Metric>>,
}

impl std::fmt::Debug for MetricSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.metrics.iter().map(|m| m.name().to_string())).finish()
    }
}

impl MetricSet {
    /// A set with `primary` first.
    pub fn new(primary: Box<dyn Metric>, others: Vec<Box<dyn Metric>>) -> Self {
        let mut metrics = vec![primary];
        metrics.extend(others);
        MetricSet { metrics }
    }

    /// The primary metric's name.
    pub fn primary(&self) -> &str {
        self.metrics[0].name()
    }

    /// Accumulates one batch into every metric.
    pub fn update(&mut self, scored: &Scored) {
        for m in &mut self.metrics {
            m.update(scored);
        }
    }

    /// The values (defined ones) and details so far.
    pub fn values(&self) -> (BTreeMap<String, f64>, BTreeMap<String, serde_json::Value>) {
        let mut values = BTreeMap::new();
        let mut details = BTreeMap::new();
        for m in &self.metrics {
            if let Some(v) = m.value() {
                values.insert(m.name().to_string(), v);
            }
            if let Some(d) = m.detail() {
                details.insert(m.name().to_string(), d);
            }
        }
        (values, details)
    }

    /// Forgets everything accumulated (before the next validation).
    pub fn reset(&mut self) {
        for m in &mut self.metrics {
            m.reset();
        }
    }

    /// The primary metric's value so far.
    pub fn primary_value(&self) -> Option<f64> {
        self.metrics[0].value()
    }
}

/// ROC AUC of `scores` against binary `labels` (1 positive), ties counted half; `None` when a
/// class is missing.
pub fn roc_auc(scores: &[f64], labels: &[i64]) -> Option<f64> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let pos = labels.iter().filter(|&&l| l == 1).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    // Mann-Whitney U with average ranks for ties.
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg = (i + j) as f64 / 2.0 + 1.0;
        for &k in &idx[i..=j] {
            if labels[k] == 1 {
                rank_sum += avg;
            }
        }
        i = j + 1;
    }
    let u = rank_sum - (pos * (pos + 1)) as f64 / 2.0;
    Some(u / (pos * neg) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of one-hot probabilities for `pred`, against `targets`.
    fn scored(classes: usize, pred: &[i64], targets: &[i64]) -> Scored {
        let mut probs = vec![0.0f32; pred.len() * classes];
        for (r, &p) in pred.iter().enumerate() {
            probs[r * classes + p as usize] = 1.0;
        }
        Scored {
            loss: 0.0,
            examples: pred.len(),
            classes,
            probs,
            targets: targets.to_vec(),
            kinds: targets.iter().map(|t| format!("k{t}")).collect(),
            rows_example: (0..pred.len()).collect(),
            hits: Vec::new(),
            values: BTreeMap::new(),
        }
    }

    #[test]
    fn mean_value_averages_a_named_value_and_check_counts_its_entries() {
        let mut s = Scored { examples: 3, ..Default::default() };
        s.values.insert("err".into(), vec![1.0, 2.0, 6.0]);
        assert_eq!(s.check(), Ok(()));
        let mut m = MeanValue::new("hole_l2", "err");
        assert_eq!(m.value(), None);
        m.update(&Scored { examples: 2, ..Default::default() });
        assert_eq!(m.value(), None, "a batch without the value adds nothing");
        m.update(&s);
        assert_eq!((m.name(), m.value()), ("hole_l2", Some(3.0)));
        s.values.insert("short".into(), vec![1.0]);
        assert!(s.check().unwrap_err().contains("short"));
    }

    #[test]
    fn a_perfect_four_class_model_scores_one_and_chance_is_a_quarter() {
        let targets: Vec<i64> = (0..40).map(|i| i % 4).collect();
        let mut set = MetricSet::new(
            Box::new(Accuracy::default()),
            vec![Box::new(BalancedAccuracy::default()), Box::new(ByKind::default())],
        );
        set.update(&scored(4, &targets, &targets));
        let (v, d) = set.values();
        assert_eq!((v["accuracy"], v["balanced_accuracy"]), (1.0, 1.0));
        assert_eq!(set.primary(), "accuracy");
        assert_eq!(d["by_kind"]["k3"]["n"], 10);
        // Always predicting class 0: accuracy and balanced accuracy 1/4 (not 1/2 as a binary
        // p(class 1) >= 0.5 rule would read a 4-way model).
        let mut acc = Accuracy::default();
        let mut bal = BalancedAccuracy::default();
        let zeros = vec![0; 40];
        acc.update(&scored(4, &zeros, &targets));
        bal.update(&scored(4, &zeros, &targets));
        assert_eq!((acc.value(), bal.value()), (Some(0.25), Some(0.25)));
    }

    #[test]
    fn balanced_accuracy_weighs_classes_not_rows() {
        // 1 positive right, 3 negatives all wrong: accuracy 1/4, balanced (1 + 0) / 2.
        let mut bal = BalancedAccuracy::default();
        bal.update(&scored(2, &[1, 1, 1, 1], &[1, 0, 0, 0]));
        assert_eq!(bal.value(), Some(0.5));
    }

    #[test]
    fn roc_auc_counts_ties_half_and_needs_both_classes() {
        assert_eq!(roc_auc(&[0.1, 0.4, 0.35, 0.8], &[0, 0, 1, 1]), Some(0.75));
        // Pairs (pos, neg): (0.35,0.1)=1 (0.35,0.4)=0 (0.8,*)=2 (0.4,0.1)=1 (0.4,0.4)=0.5.
        let auc = roc_auc(&[0.1, 0.4, 0.35, 0.8, 0.4], &[0, 0, 1, 1, 1]).unwrap();
        assert!((auc - 4.5 / 6.0).abs() < 1e-12);
        assert_eq!(roc_auc(&[0.5, 0.5], &[0, 1]), Some(0.5));
        assert_eq!(roc_auc(&[0.5, 0.6], &[1, 1]), None);
        let mut hit = MeanHit::new("retrieval_accuracy");
        hit.update(&Scored { hits: vec![1.0, 0.0, 0.5, 0.5], ..Default::default() });
        assert_eq!((hit.name(), hit.value()), ("retrieval_accuracy", Some(0.5)));
    }
}
