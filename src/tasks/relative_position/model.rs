//! The relative-position model: the shared tile Siamese ([`TileSiamese`]) over the two patches
//! (centre first), 8 classes; `embed` gives the centre patch's trunk embedding. Metrics: 8-way
//! accuracy (primary), balanced accuracy, and accuracy per position.
//! VarStore paths: `trunk.vision.*`, `heads.relative-position.{reduce,tile,fc1,fc2}`.

use tch::nn;

use super::RELATIVE_POSITION;
use crate::models::{ModelConfig, ModelError};
use crate::tasks::tile_siamese::{TileEmbedding, TileSiamese};
use crate::training::{Accuracy, BalancedAccuracy, ByKind, MetricSet};

/// Builds the relative-position model under `p`.
pub fn new(p: &nn::Path, cfg: &ModelConfig) -> Result<TileSiamese, ModelError> {
    TileSiamese::new(p, cfg, RELATIVE_POSITION.name, 2, 8, TileEmbedding::First)
}

/// The relative-position metrics: accuracy first.
pub fn metrics() -> MetricSet {
    MetricSet::new(
        Box::new(Accuracy::default()),
        vec![Box::new(BalancedAccuracy::default()), Box::new(ByKind::default())],
    )
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use crate::tasks::trainer_contract::{tiny_run, tiny_sets};
    use crate::training::Trainer;

    /// The head learns where the second patch lies on toy crops (brightness grows away from
    /// the centre, so a patch's gradient points away from it): the overfit test of the head.
    #[test]
    fn relative_position_learns_toy_pairs() {
        let (task, mut run, mut toy) =
            tiny_run("relative-position", tiny_sets("relative-position"), 120);
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
        assert!(after.metric >= 0.9, "accuracy {} -> {}", before.metric, after.metric);
    }
}
