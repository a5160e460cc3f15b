//! A linear probe of one layer's frozen features, as VISSL's linear benchmark trains it: batch
//! norm then a linear layer (VISSL's `eval_mlp`), cross-entropy, SGD with Nesterov momentum 0.9
//! and weight decay 5e-4, the learning rate divided by 10 at fixed fractions of training
//! (VISSL: epochs 8, 16, 24 of 28). Scaled to the data: VISSL's 28 epochs over ImageNet are about
//! 140k steps at batch 256; a split of a few hundred clips would get a few hundred steps, too
//! few for the probe to converge, so training is stretched to at least `min_steps` (1,000) steps,
//! at a small batch (32) and VISSL's base learning rate 0.01 (not reduced for the batch), the
//! schedule's milestones keeping their fractions. Everything is seeded: the initial weights from `seed`, the batches from a
//! ChaCha8 stream of `seed`, so a probe is reproducible.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::LayerMatrix;
use crate::evaluation::{EvaluationError, Result};

/// How a probe is trained.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeConfig {
    /// Passes over the training rows.
    pub epochs: usize,
    /// Rows per step.
    pub batch: usize,
    /// Initial learning rate.
    pub lr: f64,
    /// Nesterov momentum.
    pub momentum: f64,
    /// L2 weight decay.
    pub weight_decay: f64,
    /// Fractions of training where the rate is divided by 10.
    pub milestones: Vec<f64>,
    /// Epochs are added until training takes at least this many steps.
    #[serde(default)]
    pub min_steps: usize,
    /// Seed of the weights and the batch order.
    pub seed: u64,
}

impl Default for ProbeConfig {
    fn default() -> Self {
        ProbeConfig {
            epochs: 28,
            batch: 32,
            lr: 0.01,
            momentum: 0.9,
            weight_decay: 5e-4,
            milestones: vec![8.0 / 28.0, 16.0 / 28.0, 24.0 / 28.0],
            min_steps: 1000,
            seed: 0,
        }
    }
}

/// A trained probe.
#[derive(Debug)]
pub struct LinearProbe {
    _vs: nn::VarStore,
    bn: nn::BatchNorm,
    fc: nn::Linear,
    device: Device,
}

fn matrix(m: &LayerMatrix, device: Device) -> Result<Tensor> {
    Ok(Tensor::from_slice(&m.data).f_view([m.rows as i64, m.dim as i64])?.f_to(device)?)
}

impl LinearProbe {
    /// Trains a probe on `x` with labels `y` in `0..classes` for `cfg.epochs` epochs, or more
    /// where that is fewer than `cfg.min_steps` steps; `step(epoch)` is called after each epoch.
    pub fn train(
        x: &LayerMatrix,
        y: &[i64],
        classes: usize,
        cfg: &ProbeConfig,
        device: Device,
        step: &dyn Fn(usize),
    ) -> Result<Self> {
        if x.rows != y.len() || x.rows == 0 || classes < 2 {
            return Err(EvaluationError::Config(format!(
                "a probe needs rows and labels of equal count and 2+ classes ({} rows, {} labels, \
                 {classes} classes)",
                x.rows,
                y.len()
            )));
        }
        if let Some(bad) = y.iter().find(|&&c| c < 0 || c as usize >= classes) {
            return Err(EvaluationError::Config(format!("label {bad} outside 0..{classes}")));
        }
        tch::manual_seed(cfg.seed as i64);
        let vs = nn::VarStore::new(device);
        let root = vs.root();
        let bn = nn::batch_norm1d(&root / "bn", x.dim as i64, Default::default());
        let fc = nn::linear(&root / "fc", x.dim as i64, classes as i64, Default::default());
        let mut opt = nn::Sgd {
            momentum: cfg.momentum,
            dampening: 0.0,
            wd: cfg.weight_decay,
            nesterov: true,
        }
        .build(&vs, cfg.lr)?;
        let xs = matrix(x, device)?;
        let ys = Tensor::from_slice(y).f_to(device)?;
        let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
        let mut order: Vec<i64> = (0..x.rows as i64).collect();
        let batch = cfg.batch.max(2);
        let per_epoch = x.rows.div_ceil(batch).max(1);
        let epochs = cfg.epochs.max(cfg.min_steps.div_ceil(per_epoch));
        for epoch in 0..epochs {
            let done = epoch as f64 / epochs.max(1) as f64;
            let drops = cfg.milestones.iter().filter(|&&m| done >= m - 1e-9).count();
            opt.set_lr(cfg.lr * 0.1f64.powi(drops as i32));
            order.shuffle(&mut rng);
            for chunk in order.chunks(batch) {
                // A batch of one row has no batch statistics; it joins the previous batch's
                // epoch worth of rows instead (skipped).
                if chunk.len() < 2 {
                    continue;
                }
                let idx = Tensor::from_slice(chunk).f_to(device)?;
                let xb = xs.f_index_select(0, &idx)?;
                let yb = ys.f_index_select(0, &idx)?;
                let logits = xb.apply_t(&bn, true).apply(&fc);
                let loss = logits.f_cross_entropy_loss::<Tensor>(
                    &yb,
                    None,
                    tch::Reduction::Mean,
                    -100,
                    0.0,
                )?;
                opt.backward_step(&loss);
            }
            step(epoch + 1);
        }
        Ok(LinearProbe { _vs: vs, bn, fc, device })
    }

    /// `[N, classes]` logits of `x` in eval mode.
    pub fn logits(&self, x: &LayerMatrix) -> Result<Tensor> {
        let _g = tch::no_grad_guard();
        let xs = matrix(x, self.device)?;
        Ok(self.fc.forward_t(&xs.apply_t(&self.bn, false), false).f_to_kind(Kind::Float)?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::knn::top_k_accuracy;
    use super::*;
    use rand::Rng;

    #[test]
    fn a_separable_signal_is_learned_and_noise_is_not() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, d, c) = (300usize, 40usize, 4usize);
        let labels: Vec<i64> = (0..n).map(|i| (i % c) as i64).collect();
        let mut signal = vec![0f32; n * d];
        let mut noise = vec![0f32; n * d];
        for i in 0..n {
            for j in 0..d {
                noise[i * d + j] = rng.gen::<f32>();
                signal[i * d + j] = rng.gen::<f32>() * 0.5;
            }
            signal[i * d + labels[i] as usize] += 2.0;
        }
        let split = 200;
        let take = |v: &[f32], a: usize, b: usize| LayerMatrix {
            rows: b - a,
            dim: d,
            data: v[a * d..b * d].to_vec(),
        };
        let cfg = ProbeConfig::default();
        for (v, lo, hi) in [(&signal, 0.95, 1.01), (&noise, 0.0, 0.45)] {
            let p = LinearProbe::train(
                &take(v, 0, split),
                &labels[..split],
                c,
                &cfg,
                Device::Cpu,
                &|_| {},
            )
            .unwrap();
            let acc = top_k_accuracy(&p.logits(&take(v, split, n)).unwrap(), &labels[split..], 1)
                .unwrap();
            assert!((lo..hi).contains(&acc), "accuracy {acc} outside [{lo}, {hi})");
        }
        let a = LinearProbe::train(
            &take(&signal, 0, split),
            &labels[..split],
            c,
            &cfg,
            Device::Cpu,
            &|_| {},
        )
        .unwrap();
        let b = LinearProbe::train(
            &take(&signal, 0, split),
            &labels[..split],
            c,
            &cfg,
            Device::Cpu,
            &|_| {},
        )
        .unwrap();
        let x = take(&noise, split, n);
        assert!(a.logits(&x).unwrap().equal(&b.logits(&x).unwrap()), "same seed, same probe");
        assert!(LinearProbe::train(
            &take(&signal, 0, 10),
            &labels[..9],
            c,
            &cfg,
            Device::Cpu,
            &|_| {}
        )
        .is_err());
    }
}
