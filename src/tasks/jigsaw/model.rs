//! The jigsaw model: the shared tile Siamese ([`TileSiamese`]) over the 9 tiles in puzzle order,
//! one class per permutation of the set; `embed` gives the mean of the tiles' trunk embeddings
//! (the puzzle's order does not change it). Metrics: accuracy (primary) and top-5 accuracy.
//! VarStore paths: `trunk.vision.*`, `heads.jigsaw.{reduce,tile,fc1,fc2}`.

use tch::nn;

use super::{JIGSAW, TILES};
use crate::models::{ModelConfig, ModelError};
use crate::tasks::tile_siamese::{TileEmbedding, TileSiamese};
use crate::training::{Accuracy, Metric, MetricSet, Scored};

/// The jigsaw model.
pub type JigsawNet = TileSiamese;

/// Builds the jigsaw model under `p` with `classes` permutations.
pub fn new(p: &nn::Path, cfg: &ModelConfig, classes: i64) -> Result<JigsawNet, ModelError> {
    TileSiamese::new(p, cfg, JIGSAW.name, TILES as i64, classes, TileEmbedding::MeanOfTiles)
}

/// The jigsaw metrics: accuracy first, then top-5 accuracy.
pub fn metrics() -> MetricSet {
    MetricSet::new(Box::new(Accuracy::default()), vec![Box::new(TopK::new(5, "top5_accuracy"))])
}

/// Share of rows whose target is among the `k` most probable classes (ties with the k-th
/// counted against the target).
#[derive(Debug)]
pub struct TopK {
    k: usize,
    name: &'static str,
    right: u64,
    total: u64,
}

impl TopK {
    /// Top-`k` accuracy reported as `name`.
    pub fn new(k: usize, name: &'static str) -> Self {
        TopK { k, name, right: 0, total: 0 }
    }
}

impl Metric for TopK {
    fn name(&self) -> &str {
        self.name
    }
    fn update(&mut self, s: &Scored) {
        for r in 0..s.rows() {
            let row = &s.probs[r * s.classes..(r + 1) * s.classes];
            let hit = usize::try_from(s.targets[r])
                .ok()
                .and_then(|t| row.get(t))
                .is_some_and(|p| row.iter().filter(|q| *q >= p).count() <= self.k);
            self.right += u64::from(hit);
            self.total += 1;
        }
    }
    fn value(&self) -> Option<f64> {
        (self.total > 0).then(|| self.right as f64 / self.total as f64)
    }
    fn reset(&mut self) {
        (self.right, self.total) = (0, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicBool;

    use crate::tasks::trainer_contract::{tiny_run, tiny_sets};
    use crate::training::Trainer;

    #[test]
    fn top_k_counts_the_target_among_the_k_most_probable() {
        let s = Scored {
            classes: 4,
            probs: vec![0.1, 0.2, 0.3, 0.4, 0.4, 0.3, 0.2, 0.1, 0.25, 0.25, 0.25, 0.25],
            targets: vec![1, 1, 0],
            kinds: vec![String::new(); 3],
            rows_example: vec![0, 1, 2],
            ..Default::default()
        };
        let mut top2 = TopK::new(2, "top2");
        top2.update(&s);
        // Row 0: class 1 is third; row 1: second; row 2: four-way tie, counted as a miss.
        assert_eq!(top2.value(), Some(1.0 / 3.0));
        let mut top4 = TopK::new(4, "top4");
        top4.update(&s);
        assert_eq!(top4.value(), Some(1.0));
    }

    /// The jigsaw head learns toy puzzles (a radial brightness pattern: each tile's gradient
    /// points away from the crop's centre, greyscale or not): the overfit test of the head.
    #[test]
    fn jigsaw_learns_toy_puzzles() {
        let (task, mut run, mut toy) = tiny_run("jigsaw", tiny_sets("jigsaw"), 300);
        run.model.vision.channels = vec![8, 16];
        run.model.head.hidden = 32;
        (run.train.batch, run.train.lr, run.train.warmup_steps) = (32, 3e-3, 5);
        run.train.val_batches = 4;
        toy.val_examples = 128;
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::new(dir.path(), run, &task).unwrap();
        let before = t.validate(&toy).unwrap();
        assert_eq!(before.metric_name, "accuracy");
        let never = AtomicBool::new(false);
        let out = t.run(&toy, &never, &mut |_| {}).unwrap();
        let after = out.last_val.unwrap();
        assert!(after.metric >= 0.9, "jigsaw accuracy {} -> {}", before.metric, after.metric);
        assert!(after.metrics["top5_accuracy"] >= after.metric);
    }
}
