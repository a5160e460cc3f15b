//! The AVC task's model as the trainer sees it: [`AvcNet`] (trunk + head) with the objective the
//! options chose, the scores validation reads, and the metrics that rank checkpoints.
//!
//! - `pairs`/`mil`: `[B, 2]` logits of the stream's labelled pairs, cross-entropy; validated on
//!   labelled pairs (accuracy primary, balanced accuracy, ROC AUC, counts per kind).
//! - `in-batch`: trained on every (frame, audio) pair of the batch ([`Objective::AllPairs`]),
//!   validated on labelled pairs exactly like `pairs`.
//! - `contrastive`: EZ-VSL's `[B, B]` logits of batches of matching pairs from distinct files,
//!   symmetric cross-entropy; validated in-batch (retrieval accuracy primary, pair ROC AUC).

use tch::{nn, Device, Kind, Tensor};

use super::{
    contrastive, AvcNet, AvcObjective, AvcOptions, MapScore, Objective, SameFileNegatives,
};
use crate::models::{ModelConfig, Trunk};
use crate::training::{
    classifier_scores, Accuracy, BalancedAccuracy, ByKind, Embeddings, Localize, MeanHit,
    MetricSet, RocAuc, Scored, StepOutput, TaskModel, TensorBatch, TrainingError,
};

/// The AVC (and localisation) task model.
#[derive(Debug)]
pub struct AvcModel {
    net: AvcNet,
    train_objective: Objective,
    eval_objective: Objective,
    score: MapScore,
}

impl AvcModel {
    /// Builds the network under `root` for `options`' objective.
    pub fn new(
        root: &nn::Path,
        model: &ModelConfig,
        options: &AvcOptions,
    ) -> Result<Self, TrainingError> {
        let net = AvcNet::new(root, model)?;
        let same_file = options.same_file().then_some(SameFileNegatives {
            min_shift: options.min_shift,
            window: model.input.clip_seconds,
        });
        let (train_objective, eval_objective) = match options.objective() {
            AvcObjective::InBatch => (
                Objective::AllPairs { hard_share: options.hard_share, same_file },
                Objective::Classification,
            ),
            AvcObjective::Contrastive => {
                (Objective::InBatchContrastive, Objective::InBatchContrastive)
            }
            AvcObjective::Pairs | AvcObjective::Mil => {
                (Objective::Classification, Objective::Classification)
            }
        };
        Ok(AvcModel { net, train_objective, eval_objective, score: MapScore::default() })
    }

    /// The network.
    pub fn net(&self) -> &AvcNet {
        &self.net
    }

    fn inputs<'a>(&self, b: &'a TensorBatch) -> Result<(&'a Tensor, &'a Tensor), TrainingError> {
        Ok((b.get("frames")?, b.get("spec")?))
    }

    /// The logits `objective` reads, in train or eval mode.
    fn objective_logits(
        &self,
        objective: Objective,
        b: &TensorBatch,
        train: bool,
    ) -> Result<Tensor, TrainingError> {
        let (frames, specs) = self.inputs(b)?;
        Ok(match objective {
            Objective::Classification => self.net.forward_t(frames, specs, train)?,
            Objective::AllPairs { .. } => self.net.all_pairs_t(frames, specs, train)?,
            Objective::InBatchContrastive => {
                let (vmap, a) = self.net.maps_t(frames, specs, train)?;
                contrastive::contrastive_logits(&vmap, &a, self.net.temperature())?
            }
        })
    }
}

/// The metrics of the AVC task for `options`' objective.
pub fn metrics(options: &AvcOptions) -> MetricSet {
    let rest: Vec<Box<dyn crate::training::Metric>> =
        vec![Box::new(RocAuc::default()), Box::new(ByKind::default())];
    match options.objective() {
        // Top-1 in-batch retrieval, frame → audio and audio → frame averaged.
        AvcObjective::Contrastive => {
            MetricSet::new(Box::new(MeanHit::new("retrieval_accuracy")), rest)
        }
        _ => {
            let mut others: Vec<Box<dyn crate::training::Metric>> =
                vec![Box::new(BalancedAccuracy::default())];
            others.extend(rest);
            MetricSet::new(Box::new(Accuracy::default()), others)
        }
    }
}

impl TaskModel for AvcModel {
    fn train_step(&self, b: &TensorBatch) -> Result<StepOutput, TrainingError> {
        let o = self.train_objective;
        let logits = self.objective_logits(o, b, true)?;
        let labels = b.get("label")?;
        let loss = o.loss(&logits, labels, &b.origins)?;
        let hits = o.hits(&logits.f_detach()?, labels, &b.origins)?;
        Ok(StepOutput { loss, hits })
    }

    fn evaluate(&self, b: &TensorBatch) -> Result<Scored, TrainingError> {
        let o = self.eval_objective;
        let logits = self.objective_logits(o, b, false)?.f_to_kind(Kind::Float)?;
        let labels = b.get("label")?;
        match o {
            Objective::InBatchContrastive => {
                // One row per (frame, audio) pair: p = the softmax over the frame's row, so own
                // pairs (label 1) against the batch's other audio (label 0) give a pair ROC AUC.
                let n = b.len();
                let loss = o.loss(&logits, labels, &b.origins)?.f_double_value(&[])?;
                let p = Vec::<f32>::try_from(
                    logits.f_softmax(1, Kind::Float)?.f_flatten(0, -1)?.f_to(Device::Cpu)?,
                )?;
                let hits =
                    Vec::<f32>::try_from(o.hits(&logits, labels, &b.origins)?.f_to(Device::Cpu)?)?;
                let mut s = Scored { loss, examples: n, classes: 2, hits, ..Default::default() };
                for i in 0..n {
                    for j in 0..n {
                        let pij = p[i * n + j];
                        s.probs.extend([1.0 - pij, pij]);
                        s.targets.push(i64::from(i == j));
                        s.kinds.push(if i == j { "positive" } else { "in-batch" }.into());
                        s.rows_example.push(i);
                    }
                }
                Ok(s)
            }
            _ => {
                let mut s = classifier_scores(&logits, labels, &b.meta)?;
                s.loss = o.loss(&logits, labels, &b.origins)?.f_double_value(&[])?;
                Ok(s)
            }
        }
    }

    fn logits(&self, b: &TensorBatch) -> Result<Tensor, TrainingError> {
        self.objective_logits(self.eval_objective, b, false)
    }

    fn trunk(&self) -> &Trunk {
        self.net.trunk()
    }

    /// Both embeddings; the vision one alone for a batch without `spec` (a silent file).
    fn embed(&self, b: &TensorBatch) -> Result<Embeddings, TrainingError> {
        if b.get("spec").is_err() {
            return Ok(Embeddings {
                vision: self.net.embed_vision(b.get("frames")?)?,
                audio: None,
            });
        }
        let (frames, specs) = self.inputs(b)?;
        let (v, a) = self.net.embed(frames, specs)?;
        Ok(Embeddings { vision: v, audio: Some(a) })
    }

    fn localizer(&self) -> Option<&dyn Localize> {
        Some(self)
    }

    fn set_map_score(&mut self, head: bool) -> bool {
        self.score = if head { MapScore::Head } else { MapScore::Cosine };
        true
    }
}

impl Localize for AvcModel {
    fn maps(&self, b: &TensorBatch) -> Result<Tensor, TrainingError> {
        let (frames, specs) = self.inputs(b)?;
        Ok(self.net.localization_map(frames, specs, self.score)?)
    }

    fn map_is_probability(&self) -> bool {
        self.net.map_is_probability(self.score)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use super::*;
    use crate::models::HeadKind;
    use crate::tasks::Task;
    use crate::training::{RunConfig, ToySource, Trainer};

    /// The shared tiny run, with a learning rate that moves a fixed batch in a few steps.
    fn tiny(
        task: &str,
        sets: &[(&str, &str)],
        steps: u64,
    ) -> (Box<dyn Task>, RunConfig, ToySource) {
        let (task, mut run, toy) = crate::tasks::trainer_contract::tiny_run(task, sets, steps);
        (run.train.lr, run.train.warmup_steps) = (1e-2, 0);
        (task, run, toy)
    }

    #[test]
    fn every_objective_lowers_its_loss_on_a_fixed_batch() {
        for objective in ["pairs", "in-batch", "contrastive"] {
            let negatives = if objective == "in-batch" { "easy" } else { "easy,hard" };
            let (task, run, toy) =
                tiny("avc", &[("objective", objective), ("negatives", negatives)], 10);
            let dir = tempfile::tempdir().unwrap();
            let mut t = Trainer::new(dir.path(), run, &task).unwrap();
            let batch = TensorBatch::from_batch(&toy.batch(0, 0, 8).unwrap(), Device::Cpu).unwrap();
            let (first, _) = t.train_step(&batch).unwrap();
            for _ in 0..4 {
                t.train_step(&batch).unwrap();
            }
            let (last, _) = t.train_step(&batch).unwrap();
            assert!(last < first, "{objective}: loss {first} -> {last}");
        }
    }

    #[test]
    fn in_batch_avc_trains_on_matching_pairs_and_validates_on_labelled_pairs() {
        let never = AtomicBool::new(false);
        let (task, run, toy) = tiny("avc", &[("objective", "in-batch"), ("negatives", "easy")], 4);
        // The training stream is matching pairs only.
        let batch = toy.batch(0, 0, 8).unwrap();
        assert!(batch.labels().iter().all(|&l| l == 1));
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::new(dir.path(), run, &task).unwrap();
        let out = t.run(&toy, &never, &mut |r| assert!(r.loss.is_finite())).unwrap();
        let val = out.last_val.unwrap();
        assert_eq!(val.metric_name, "accuracy");
        let kinds = &val.details["by_kind"];
        assert_eq!(
            kinds["positive"]["n"].as_u64().unwrap() + kinds["easy"]["n"].as_u64().unwrap(),
            16
        );
        assert!(val.get("roc_auc").is_some());
    }

    #[test]
    fn contrastive_localisation_validates_in_batch_and_loads_as_an_avc_model() {
        let never = AtomicBool::new(false);
        let (task, run, toy) = tiny("localize", &[("objective", "contrastive")], 4);
        assert_eq!(run.model.head.kind, HeadKind::Cosine);
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::new(dir.path(), run.clone(), &task).unwrap();
        let out = t.run(&toy, &never, &mut |r| assert!(r.loss.is_finite())).unwrap();
        assert_eq!(out.step, 4);
        let val = out.last_val.unwrap();
        assert_eq!(val.metric_name, "retrieval_accuracy");
        assert!((0.0..=1.0).contains(&val.metric), "{}", val.metric);
        // 16 validation examples in batches of 8: 2 × 8 own-audio pairs, 2 × 56 in-batch ones.
        let kinds = &val.details["by_kind"];
        assert_eq!(
            (kinds["positive"]["n"].as_u64(), kinds["in-batch"]["n"].as_u64()),
            (Some(16), Some(112))
        );
        let log = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
        assert!(log.contains("\"retrieval_accuracy\""), "{log}");
        // The checkpoint holds an AVC network's variables and draws maps.
        let (_, model) = crate::training::checkpoint::load_for_inference(
            &out.checkpoint,
            Device::Cpu,
            |p, meta| {
                crate::tasks::rebuild(&meta.run.task.name, &meta.run.task.options)
                    .map_err(|e| TrainingError::Config(e.to_string()))?
                    .model(p, &meta.run.model)
            },
        )
        .unwrap();
        let tb = TensorBatch::from_batch(&toy.batch(1, 0, 2).unwrap(), Device::Cpu).unwrap();
        let map = model.localizer().unwrap().maps(&tb).unwrap();
        assert_eq!(map.size()[0], 2);
    }
}
