//! The supervised upper bound: a fresh trunk of a checkpoint's architecture trained end to end
//! on the probe labels for a wall-clock budget (the pretext runs' budget), after which its frozen
//! features are probed exactly like a pretext trunk's.
//!
//! Each tower gets a linear classifier on its embedding (the tower's own pooling and
//! projection); the loss is the sum of the towers' cross-entropies, so an audio-visual trunk
//! learns the label from both modalities. The inputs are the train split's moments as the probes
//! see them ([`super::ProbeView`], read once into memory: this baseline is for splits of a few
//! thousand moments), with a random horizontal flip of the frames as the only augmentation;
//! Adam, learning rate 1e-3, batches drawn from a ChaCha8 stream of `seed`. The weights are
//! saved as `.safetensors`, whose content hash keys the feature cache as a checkpoint's does.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tch::nn::{self, ModuleT, OptimizerConfig};
use tch::{Device, Kind, Tensor};

use super::{clip_times, ProbeClip, ProbeView};
use crate::evaluation::{EvaluationError, Result};
use crate::models::{ModelConfig, Trunk, TrunkNeeds};
use crate::pipeline::{InputReader, Values};

/// How the supervised trunk is trained.
#[derive(Debug, Clone, PartialEq)]
pub struct SupervisedConfig {
    /// Wall-clock budget of the training loop.
    pub max_time: Duration,
    /// Examples per step.
    pub batch: usize,
    /// Adam's learning rate.
    pub lr: f64,
    /// Seed of the weights, batches and flips.
    pub seed: u64,
    /// Moments per clip.
    pub per_clip: usize,
}

/// What training did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SupervisedStats {
    /// Optimiser steps.
    pub steps: usize,
    /// Training examples (moments).
    pub examples: usize,
    /// Train accuracy of the vision head over the last 20 steps.
    pub train_accuracy: f64,
}

/// A trained supervised trunk and the variables it lives in.
#[derive(Debug)]
pub struct SupervisedTrunk {
    /// The variables (trunk and classifiers).
    pub vs: nn::VarStore,
    /// The trunk.
    pub trunk: Trunk,
}

/// Trains a fresh trunk (`model`'s architecture, `needs`' towers) on `clips` with `labels`,
/// saves it to `save`, and returns it. `step(steps, elapsed_s)` reports progress.
#[allow(clippy::too_many_arguments)]
pub fn train_supervised(
    model: &ModelConfig,
    needs: TrunkNeeds,
    clips: &[ProbeClip],
    labels: &[i64],
    classes: usize,
    cfg: &SupervisedConfig,
    device: Device,
    save: &Path,
    step: &dyn Fn(usize, f64),
) -> Result<(SupervisedTrunk, SupervisedStats)> {
    let frames = needs.vision_channels.map(|c| (c / 3).max(1) as usize).unwrap_or(1);
    let view = Arc::new(ProbeView { frames, audio: needs.audio });
    let mut reader = InputReader::new(view, model.input.clone(), Duration::from_secs(300));
    let (mut xs, mut specs, mut ys) = (Vec::new(), Vec::new(), Vec::new());
    for (clip, &y) in clips.iter().zip(labels) {
        let Ok(entry) = InputReader::entry(&clip.file) else { continue };
        let times = clip_times(
            clip,
            entry.video_start,
            entry.video_end,
            model.input.clip_seconds,
            cfg.per_clip,
        );
        let Ok(got) = reader.at_entry(&entry, &times) else { continue };
        for e in got.into_iter().flatten() {
            if let Some(Values::F32(v)) = e.field("frames").map(|f| &f.values) {
                xs.push(v.clone());
            }
            if let Some(Values::F32(v)) = e.field("spec").map(|f| &f.values) {
                specs.push(v.clone());
            }
            ys.push(y);
        }
    }
    if ys.len() < 2 || xs.len() != ys.len() || (needs.audio && specs.len() != ys.len()) {
        return Err(EvaluationError::Config(format!(
            "supervised baseline: {} usable training moments",
            ys.len()
        )));
    }
    tch::manual_seed(cfg.seed as i64);
    let vs = nn::VarStore::new(device);
    let trunk = Trunk::new(&vs.root(), model, needs);
    let emb = model.head.embedding;
    let heads = vs.root().sub("heads").sub("supervised");
    let vis_fc = nn::linear(heads.sub("vision"), emb, classes as i64, Default::default());
    let aud_fc = nn::linear(heads.sub("audio"), emb, classes as i64, Default::default());
    let mut opt = nn::Adam::default().build(&vs, cfg.lr)?;
    let s = i64::from(model.input.frame_size);
    let c = needs.vision_channels.unwrap_or(3);
    let (f, t) = model.input.spec_shape();
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut order: Vec<usize> = (0..ys.len()).collect();
    let (mut steps, t0, mut recent) = (0usize, Instant::now(), Vec::<f64>::new());
    'outer: loop {
        order.shuffle(&mut rng);
        for chunk in order.chunks(cfg.batch.max(2)) {
            if t0.elapsed() >= cfg.max_time {
                break 'outer;
            }
            if chunk.len() < 2 {
                continue;
            }
            let b = chunk.len() as i64;
            let flat: Vec<f32> = chunk.iter().flat_map(|&i| xs[i].iter().copied()).collect();
            let mut x = Tensor::from_slice(&flat).f_view([b, c, s, s])?.f_to(device)?;
            if rng.gen::<bool>() {
                x = x.f_flip([3])?;
            }
            let y = Tensor::from_slice(&chunk.iter().map(|&i| ys[i]).collect::<Vec<_>>())
                .f_to(device)?;
            let vl = trunk.vision()?.forward_t(&x, true).apply(&vis_fc);
            let mut loss =
                vl.f_cross_entropy_loss::<Tensor>(&y, None, tch::Reduction::Mean, -100, 0.0)?;
            if needs.audio {
                let flat: Vec<f32> = chunk.iter().flat_map(|&i| specs[i].iter().copied()).collect();
                let a =
                    Tensor::from_slice(&flat).f_view([b, 1, f as i64, t as i64])?.f_to(device)?;
                let al = trunk.audio()?.forward_t(&a, true).apply(&aud_fc);
                loss = loss.f_add(&al.f_cross_entropy_loss::<Tensor>(
                    &y,
                    None,
                    tch::Reduction::Mean,
                    -100,
                    0.0,
                )?)?;
            }
            opt.backward_step(&loss);
            let acc = vl
                .f_argmax(-1, false)?
                .f_eq_tensor(&y)?
                .f_to_kind(Kind::Float)?
                .f_mean(Kind::Float)?;
            recent.push(acc.f_double_value(&[])?);
            if recent.len() > 20 {
                recent.remove(0);
            }
            steps += 1;
            step(steps, t0.elapsed().as_secs_f64());
        }
    }
    vs.save(save).map_err(|e| EvaluationError::Other(format!("{}: {e}", save.display())))?;
    let train_accuracy = recent.iter().sum::<f64>() / recent.len().max(1) as f64;
    Ok((
        SupervisedTrunk { vs, trunk },
        SupervisedStats { steps, examples: ys.len(), train_accuracy },
    ))
}
