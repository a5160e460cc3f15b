//! The one training loop, for every task.
//!
//! One thread owns the VarStore, the model and the optimizer (tch tensors are not `Sync`);
//! batches arrive as plain buffers from a [`DataSource`]. Each step: wait for a batch (timed as
//! data wait), forward (under autocast with a dynamic loss scale when mixed precision is on),
//! cross-entropy, backward, global-norm clipping, AdamW at the scheduled rate, and (with
//! `ema` > 0) the weight average's update. Every
//! `val_every` steps the model is validated on held-out files and a checkpoint is written; the
//! best one (by the task's metric) is kept as `best.safetensors`; with EMA on, validation and
//! the checkpoints' model variables use the averaged weights. `max_time` and cancellation
//! (Ctrl-C) stop the loop between steps after saving, so a run loses at most the steps since its
//! last checkpoint, and `--resume` continues with the same weights, moments, step and data
//! position.
//!
//! Run folder: `config.json`, `metrics.jsonl`, `curves.png`, `checkpoints/`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::checkpoint::{self, CheckpointMeta};
use super::{
    build_model, ema, AdamW, AdamWConfig, BatchIter, DataSource, MetricsLog, Objective, RunConfig,
    Schedule, TaskModel, TensorBatch, TrainingError,
};
use crate::evaluation::{avc_report, AvcReport};

/// Progress after a logged step, for a progress bar or a log.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Steps done.
    pub step: u64,
    /// Steps in the run.
    pub total: u64,
    /// Mean training loss over the logging window.
    pub loss: f64,
    /// Mean training accuracy over the logging window.
    pub accuracy: f64,
    /// Current learning rate.
    pub lr: f64,
    /// Training examples per second over the window (data wait included).
    pub samples_per_s: f64,
    /// Share of the window's wall time spent waiting for batches.
    pub data_wait_share: f64,
    /// The task metric of the last validation.
    pub val_metric: Option<f64>,
    /// Share of the process's runnable thread time spent waiting for a CPU over the window
    /// (see [`super::cpu_budget::RunQueueClock`]); `None` where the kernel does not report it.
    pub cpu_wait_share: Option<f64>,
}

/// A validation (or evaluation) result.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValReport {
    /// Mean cross-entropy.
    pub loss: f64,
    /// Which metric ranks checkpoints for this task.
    pub metric_name: String,
    /// Its value.
    pub metric: f64,
    /// Examples scored (the report counts pairs for the in-batch objective).
    #[serde(default)]
    pub examples: usize,
    /// Accuracy, AUC, counts, negative policy.
    pub report: AvcReport,
}

/// Why the loop stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// All steps done.
    Finished,
    /// The `max_time` budget was spent.
    TimeBudget,
    /// Cancelled (Ctrl-C).
    Cancelled,
}

/// The end state of a run.
#[derive(Debug, Clone, Serialize)]
pub struct TrainOutcome {
    /// Steps done.
    pub step: u64,
    /// Why it stopped.
    pub stop: StopReason,
    /// The last validation.
    pub last_val: Option<ValReport>,
    /// The best validation metric.
    pub best_metric: Option<f64>,
    /// The last checkpoint written.
    pub checkpoint: PathBuf,
    /// Examples per second over the whole session.
    pub samples_per_s: f64,
    /// Share of the session's step time spent waiting for data.
    pub data_wait_share: f64,
}

/// Scores of a model over a stream.
#[derive(Debug, Clone, Default)]
pub struct Predictions {
    /// p(class 1) per example; for the in-batch contrastive objective, one score per (frame,
    /// audio) pair of each batch: the softmax over the frame's row, so own-audio pairs (label 1)
    /// against the batch's other audio (label 0, kind "in-batch") give a pair ROC AUC.
    pub scores: Vec<f64>,
    /// Labels, one per score.
    pub labels: Vec<i64>,
    /// Kinds, one per score (example kinds from the batch metadata).
    pub kinds: Vec<String>,
    /// Per-example hits of the objective (argmax = label, or in-batch retrieval).
    pub hits: Vec<f64>,
    /// Where each scored example came from (classification objectives: one per score).
    pub meta: Vec<crate::pipeline::SampleMeta>,
    /// Sum of per-example loss.
    pub loss_sum: f64,
}

/// Runs `model` in eval mode over at most `max_batches` batches of `iter`.
pub fn predict(
    model: &dyn TaskModel,
    iter: BatchIter,
    max_batches: Option<usize>,
    device: Device,
) -> Result<Predictions, TrainingError> {
    let _guard = tch::no_grad_guard();
    let mut out = Predictions::default();
    for (i, batch) in iter.enumerate() {
        if max_batches.is_some_and(|m| i >= m) {
            break;
        }
        let batch = batch?;
        if batch.is_empty() {
            continue;
        }
        let tb = TensorBatch::from_batch(&batch, device)?;
        let objective = model.objective();
        let logits = model.logits(&tb, false)?.f_to_kind(Kind::Float)?;
        let loss = objective.loss(&logits, &tb.labels, &tb.origins)?.f_double_value(&[])?;
        out.loss_sum += loss * batch.len() as f64;
        let hits = objective.hits(&logits, &tb.labels, &tb.origins)?.f_to(Device::Cpu)?;
        out.hits.extend(Vec::<f32>::try_from(&hits)?.into_iter().map(f64::from));
        match objective {
            Objective::Classification => {
                let p = logits.f_softmax(-1, Kind::Float)?.f_select(1, 1)?.f_to(Device::Cpu)?;
                out.scores.extend(Vec::<f32>::try_from(&p)?.into_iter().map(f64::from));
                out.labels.extend_from_slice(&batch.labels);
                out.kinds.extend(batch.meta.iter().map(|m| m.kind.clone()));
                out.meta.extend(batch.meta.iter().cloned());
            }
            Objective::InBatchContrastive | Objective::AllPairs { .. } => {
                let p = match objective {
                    Objective::AllPairs { .. } => {
                        logits.f_softmax(-1, Kind::Float)?.f_select(1, 1)?
                    }
                    _ => logits.f_softmax(1, Kind::Float)?.f_flatten(0, -1)?,
                };
                let p = p.f_to(Device::Cpu)?;
                let n = batch.len();
                out.scores.extend(Vec::<f32>::try_from(&p)?.into_iter().map(f64::from));
                for i in 0..n {
                    for j in 0..n {
                        out.labels.push(i64::from(i == j));
                        out.kinds.push(if i == j { "positive" } else { "in-batch" }.to_string());
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Turns predictions into a [`ValReport`] for the task's metric.
pub fn report_of(p: &Predictions, metric_name: &str, policy: &str) -> ValReport {
    let report = avc_report(&p.scores, &p.labels, &p.kinds, policy);
    let n = p.hits.len().max(1) as f64;
    let metric = match metric_name {
        "balanced_accuracy" => report.balanced_accuracy,
        "retrieval_accuracy" => p.hits.iter().sum::<f64>() / n,
        _ => report.accuracy,
    };
    ValReport {
        loss: p.loss_sum / n,
        metric_name: metric_name.to_string(),
        metric,
        examples: p.hits.len(),
        report,
    }
}

/// The trainer: model, optimizer and run state.
pub struct Trainer {
    cfg: RunConfig,
    run_dir: PathBuf,
    device: Device,
    vs: VarStore,
    model: Box<dyn TaskModel>,
    opt: AdamW,
    ema: Option<ema::Ema>,
    schedule: Schedule,
    step: u64,
    samples_seen: u64,
    best: Option<f64>,
    last_val: Option<ValReport>,
    elapsed_before: f64,
    loss_scale: f64,
    good_steps: u64,
}

impl Trainer {
    /// A fresh run in `run_dir` (created), with weights drawn from the configured seed.
    pub fn new(run_dir: &Path, cfg: RunConfig) -> Result<Self, TrainingError> {
        cfg.train.validate()?;
        cfg.model.validate().map_err(TrainingError::Config)?;
        let device = cfg.train.device.resolve()?;
        if let Some(n) = cfg.train.threads {
            tch::set_num_threads(i32::try_from(n).unwrap_or(i32::MAX));
        }
        let seed = cfg.train.seed;
        tch::manual_seed(seed as i64);
        if device.is_cuda() {
            tch::Cuda::manual_seed_all(seed);
        }
        let ckdir = run_dir.join("checkpoints");
        std::fs::create_dir_all(&ckdir).map_err(|e| TrainingError::file(&ckdir, e))?;
        let vs = VarStore::new(device);
        let model = build_model(&cfg, &vs.root())?;
        let t = &cfg.train;
        let opt = AdamW::new(
            &vs,
            AdamWConfig { beta1: t.beta1, beta2: t.beta2, eps: 1e-8, weight_decay: t.weight_decay },
        );
        let ema = if t.ema > 0.0 { Some(ema::Ema::new(&vs, t.ema)?) } else { None };
        let schedule = Schedule {
            base: t.lr,
            warmup: t.warmup_steps,
            total: t.steps,
            min_ratio: t.min_lr_ratio,
        };
        let json =
            serde_json::to_vec_pretty(&cfg).map_err(|e| TrainingError::Config(e.to_string()))?;
        crate::io::write_atomic(&run_dir.join("config.json"), &json)?;
        Ok(Trainer {
            cfg,
            run_dir: run_dir.to_path_buf(),
            device,
            vs,
            model,
            opt,
            ema,
            schedule,
            step: 0,
            samples_seen: 0,
            best: None,
            last_val: None,
            elapsed_before: 0.0,
            loss_scale: 65536.0,
            good_steps: 0,
        })
    }

    /// Continues a run from `checkpoint`: weights, optimizer moments, step, data position.
    /// `cfg` may extend `steps` or change `max_time_s`; the model must be the same.
    pub fn resume(
        run_dir: &Path,
        cfg: RunConfig,
        checkpoint: &Path,
    ) -> Result<Self, TrainingError> {
        let (meta, tensors) = checkpoint::read_checkpoint(checkpoint)?;
        if meta.run.model != cfg.model || meta.run.task != cfg.task {
            return Err(TrainingError::Checkpoint {
                path: checkpoint.to_path_buf(),
                reason: "was trained with another model or task than the one configured".into(),
            });
        }
        let mut t = Trainer::new(run_dir, cfg)?;
        checkpoint::load_variables(checkpoint, &t.vs, &tensors)?;
        // The model variables are the average when the run averages: restart the average there,
        // then put the live weights back under the optimizer.
        if t.ema.is_some() {
            t.ema = Some(ema::Ema::new(&t.vs, t.cfg.train.ema)?);
        }
        ema::load_live(&t.vs, &tensors).map_err(|reason| TrainingError::Checkpoint {
            path: checkpoint.to_path_buf(),
            reason,
        })?;
        t.opt.load_state(&tensors).map_err(|reason| TrainingError::Checkpoint {
            path: checkpoint.to_path_buf(),
            reason,
        })?;
        t.step = meta.step;
        t.samples_seen = meta.samples_seen;
        t.best = meta.best_metric;
        t.elapsed_before = meta.elapsed_s;
        t.last_val = meta.last_val.and_then(|v| serde_json::from_value(v).ok());
        Ok(t)
    }

    /// Steps done.
    pub fn step(&self) -> u64 {
        self.step
    }

    /// The device in use.
    pub fn device(&self) -> Device {
        self.device
    }

    /// The variables (for saving or inspection).
    pub fn var_store(&self) -> &VarStore {
        &self.vs
    }

    /// The model.
    pub fn model(&self) -> &dyn TaskModel {
        self.model.as_ref()
    }

    /// One optimisation step on `batch`; returns (loss, accuracy) before the update.
    pub fn train_step(&mut self, batch: &TensorBatch) -> Result<(f64, f64), TrainingError> {
        let lr = self.schedule.lr(self.step);
        self.opt.zero_grad();
        let amp = self.cfg.train.amp && self.device.is_cuda();
        let logits = if amp {
            tch::autocast(true, || self.model.train_logits(batch))?
        } else {
            self.model.train_logits(batch)?
        };
        let objective = self.model.train_objective();
        let loss = objective.loss(&logits, &batch.labels, &batch.origins)?;
        let loss_v = loss.f_double_value(&[])?;
        if !loss_v.is_finite() {
            return Err(TrainingError::Diverged { step: self.step, loss: loss_v });
        }
        let acc = objective
            .hits(&logits.f_detach()?, &batch.labels, &batch.origins)?
            .f_mean(Kind::Float)?
            .f_double_value(&[])?;
        let mut apply = true;
        if amp {
            // Dynamic loss scaling: half-precision gradients would underflow unscaled.
            loss.f_mul_scalar(self.loss_scale)?.f_backward()?;
            let norm = self.opt.grad_norm()?;
            if norm.is_finite() {
                self.opt.scale_grads(1.0 / self.loss_scale)?;
                self.good_steps += 1;
                if self.good_steps % 1000 == 0 {
                    self.loss_scale *= 2.0;
                }
            } else {
                self.loss_scale = (self.loss_scale / 2.0).max(1.0);
                self.good_steps = 0;
                apply = false;
            }
        } else {
            loss.f_backward()?;
        }
        if apply {
            self.opt.clip_grad_norm(self.cfg.train.clip_grad_norm)?;
            self.opt.step(lr)?;
            if let Some(e) = &mut self.ema {
                e.update(self.step)?;
            }
        }
        self.step += 1;
        self.samples_seen += batch.labels.size().first().copied().unwrap_or(0) as u64;
        Ok((loss_v, acc))
    }

    /// Runs `f` with the averaged weights in the model when the run averages them.
    fn with_average<R>(
        &mut self,
        f: impl FnOnce(&Self) -> Result<R, TrainingError>,
    ) -> Result<R, TrainingError> {
        if let Some(e) = &mut self.ema {
            e.swap()?;
        }
        let out = f(self);
        if let Some(e) = &mut self.ema {
            e.swap()?;
        }
        out
    }

    /// Validates on `data`'s held-out stream (with the averaged weights under EMA).
    pub fn validate(&mut self, data: &dyn DataSource) -> Result<ValReport, TrainingError> {
        let t = self.cfg.train.clone();
        let preds = self.with_average(|s| {
            predict(s.model.as_ref(), data.val(t.batch)?, Some(t.val_batches), s.device)
        })?;
        if preds.scores.is_empty() {
            return Err(TrainingError::NoData("validation"));
        }
        Ok(report_of(&preds, self.cfg.task.metric_name(), &data.negative_policy()))
    }

    /// Writes a checkpoint (atomically) to `path`: under EMA the model variables are the
    /// average and the live weights go with the optimizer state.
    pub fn save(&mut self, path: &Path, elapsed_s: f64) -> Result<(), TrainingError> {
        let meta = CheckpointMeta {
            format: checkpoint::FORMAT_VERSION,
            step: self.step,
            samples_seen: self.samples_seen,
            run: self.cfg.clone(),
            best_metric: self.best,
            last_val: self.last_val.as_ref().and_then(|v| serde_json::to_value(v).ok()),
            elapsed_s,
        };
        self.with_average(|s| {
            let mut state = s.opt.state_tensors()?;
            if let Some(e) = &s.ema {
                // Swapped: the shadow side holds the live weights now.
                state.extend(e.shadow_tensors()?);
            }
            checkpoint::save_checkpoint(path, &s.vs, state, &meta)
        })
    }

    fn checkpoint_dir(&self) -> PathBuf {
        self.run_dir.join("checkpoints")
    }

    fn save_step(&mut self, elapsed: f64) -> Result<PathBuf, TrainingError> {
        let path = checkpoint::step_path(&self.checkpoint_dir(), self.step);
        self.save(&path, elapsed)?;
        checkpoint::prune(&self.checkpoint_dir(), self.cfg.train.keep_last)?;
        Ok(path)
    }

    fn validate_and_log(
        &mut self,
        data: &dyn DataSource,
        log: &mut MetricsLog,
        elapsed: f64,
    ) -> Result<(), TrainingError> {
        let val = self.validate(data)?;
        let mut rec = serde_json::json!({
            "phase": "val",
            "step": self.step,
            "loss": val.loss,
            "accuracy": val.report.accuracy,
            "balanced_accuracy": val.report.balanced_accuracy,
            "roc_auc": val.report.roc_auc,
            "examples": val.examples,
            "negative_policy": val.report.negative_policy,
            "elapsed_s": elapsed,
        });
        if let Some(obj) = rec.as_object_mut() {
            // The ranking metric under its own name (for tasks where it is not one of the above).
            obj.insert(val.metric_name.clone(), val.metric.into());
            obj.insert(
                "by_kind".into(),
                serde_json::to_value(&val.report.by_kind).unwrap_or_default(),
            );
        }
        log.write(&rec)?;
        let improved = self.best.is_none_or(|b| val.metric > b);
        if improved {
            self.best = Some(val.metric);
        }
        self.last_val = Some(val);
        if improved {
            self.save(&self.checkpoint_dir().join("best.safetensors"), elapsed)?;
        }
        Ok(())
    }

    /// Runs the loop until `steps`, the time budget or cancellation; `on_step` sees every
    /// logged step.
    pub fn run(
        &mut self,
        data: &dyn DataSource,
        cancel: &AtomicBool,
        on_step: &mut dyn FnMut(&StepReport),
    ) -> Result<TrainOutcome, TrainingError> {
        let started = Instant::now();
        let elapsed = |s: &Self| s.elapsed_before + started.elapsed().as_secs_f64();
        let t = self.cfg.train.clone();
        let metrics_path = self.run_dir.join("metrics.jsonl");
        let mut log = MetricsLog::open(&metrics_path)?;
        let mut iter = data.train(self.samples_seen, t.batch)?;
        let (mut win_loss, mut win_acc, mut win_n, mut win_samples) = (0.0, 0.0, 0u64, 0u64);
        let (mut win_wait, mut win_total) = (0.0f64, 0.0f64);
        let (mut all_wait, mut all_total, mut all_samples) = (0.0f64, 0.0f64, 0u64);
        let mut last_val_step = None;
        let mut cpu_clock = super::cpu_budget::RunQueueClock::start();
        let mut checkpoint = PathBuf::new();
        let mut stop = StopReason::Finished;
        while self.step < t.steps {
            if cancel.load(Ordering::Relaxed) {
                stop = StopReason::Cancelled;
                break;
            }
            if t.max_time_s.is_some_and(|m| started.elapsed().as_secs_f64() >= m) {
                stop = StopReason::TimeBudget;
                break;
            }
            let t0 = Instant::now();
            let batch = match iter.next() {
                Some(b) => b?,
                None => {
                    // End of an epoch: start the next one where we are.
                    iter = data.train(self.samples_seen, t.batch)?;
                    iter.next().ok_or(TrainingError::NoData("training"))??
                }
            };
            let tb = TensorBatch::from_batch(&batch, self.device)?;
            let wait = t0.elapsed().as_secs_f64();
            let (loss, acc) = self.train_step(&tb)?;
            let total = t0.elapsed().as_secs_f64();
            win_loss += loss;
            win_acc += acc;
            win_n += 1;
            win_samples += batch.len() as u64;
            win_wait += wait;
            win_total += total;
            all_wait += wait;
            all_total += total;
            all_samples += batch.len() as u64;
            let last = self.step == t.steps;
            let val_due = t.val_every > 0 && self.step % t.val_every == 0;
            if self.step % t.log_every.max(1) == 0 || last || val_due {
                let report = StepReport {
                    step: self.step,
                    total: t.steps,
                    loss: win_loss / win_n as f64,
                    accuracy: win_acc / win_n as f64,
                    lr: self.schedule.lr(self.step.saturating_sub(1)),
                    samples_per_s: win_samples as f64 / win_total.max(1e-9),
                    data_wait_share: win_wait / win_total.max(1e-9),
                    val_metric: self.last_val.as_ref().map(|v| v.metric),
                    cpu_wait_share: cpu_clock.lap(),
                };
                let mut rec = serde_json::to_value(&report).unwrap_or_default();
                if let Some(o) = rec.as_object_mut() {
                    o.insert("phase".into(), "train".into());
                    o.insert("elapsed_s".into(), elapsed(self).into());
                    o.remove("val_metric");
                }
                log.write(&rec)?;
                on_step(&report);
                (win_loss, win_acc, win_n, win_samples, win_wait, win_total) =
                    (0.0, 0.0, 0, 0, 0.0, 0.0);
            }
            if val_due {
                self.validate_and_log(data, &mut log, elapsed(self))?;
                last_val_step = Some(self.step);
                super::plot_curves(
                    &metrics_path,
                    &self.run_dir.join("curves.png"),
                    t_metric(self),
                )?;
            }
            if val_due || (t.checkpoint_every > 0 && self.step % t.checkpoint_every == 0) {
                checkpoint = self.save_step(elapsed(self))?;
            }
        }
        drop(iter);
        // Save first (the budget's promise), then the final validation, then save again.
        checkpoint = if checkpoint.as_os_str().is_empty()
            || checkpoint != checkpoint::step_path(&self.checkpoint_dir(), self.step)
        {
            self.save_step(elapsed(self))?
        } else {
            checkpoint
        };
        if stop != StopReason::Cancelled && last_val_step != Some(self.step) && self.step > 0 {
            self.validate_and_log(data, &mut log, elapsed(self))?;
            checkpoint = self.save_step(elapsed(self))?;
        }
        if self.step > 0 {
            super::plot_curves(&metrics_path, &self.run_dir.join("curves.png"), t_metric(self))?;
        }
        Ok(TrainOutcome {
            step: self.step,
            stop,
            last_val: self.last_val.clone(),
            best_metric: self.best,
            checkpoint,
            samples_per_s: all_samples as f64 / all_total.max(1e-9),
            data_wait_share: all_wait / all_total.max(1e-9),
        })
    }
}

fn t_metric(t: &Trainer) -> &'static str {
    t.cfg.task.metric_name()
}

/// Logits of a model on a batch, in eval mode (for tests and tools).
pub fn eval_logits(model: &dyn TaskModel, batch: &TensorBatch) -> Result<Tensor, TrainingError> {
    let _guard = tch::no_grad_guard();
    model.logits(batch, false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{HeadConfig, InputConfig, ModelConfig, TowerConfig};
    use crate::training::{DeviceSpec, TaskKind, ToySource, TrainConfig};

    fn tiny_run(task: TaskKind, steps: u64) -> (RunConfig, ToySource) {
        let tower = TowerConfig { channels: vec![4, 8, 8], ..Default::default() };
        let model = ModelConfig {
            name: "tiny".into(),
            input: InputConfig { frame_size: 16, ..Default::default() },
            vision: tower.clone(),
            audio: tower,
            head: HeadConfig { embedding: 8, hidden: 8, ..Default::default() },
        };
        let train = TrainConfig {
            steps,
            batch: 8,
            warmup_steps: 1,
            val_every: 0,
            val_batches: 2,
            checkpoint_every: 0,
            device: DeviceSpec::Cpu,
            log_every: 1,
            ..Default::default()
        };
        let mut toy = ToySource::new(task, 16, 7);
        toy.spec_bins = 16;
        toy.spec_frames = 16;
        toy.val_examples = 16;
        let run = RunConfig { task, model, train, data: toy.describe() };
        (run, toy)
    }

    #[test]
    fn one_step_lowers_the_loss_on_a_fixed_batch() {
        for task in [TaskKind::Avc, TaskKind::FrameOrder, TaskKind::LocalizeContrastive] {
            let dir = tempfile::tempdir().unwrap();
            let (mut run, toy) = tiny_run(task, 10);
            run.train.lr = 1e-2;
            run.train.warmup_steps = 0;
            let mut t = Trainer::new(dir.path(), run).unwrap();
            let batch = TensorBatch::from_batch(&toy.batch(0, 0, 8), Device::Cpu).unwrap();
            let objective = t.model().objective();
            let before = objective
                .loss(&eval_logits(t.model(), &batch).unwrap(), &batch.labels, &batch.origins)
                .unwrap()
                .double_value(&[]);
            for _ in 0..3 {
                t.train_step(&batch).unwrap();
            }
            let after = objective
                .loss(&eval_logits(t.model(), &batch).unwrap(), &batch.labels, &batch.origins)
                .unwrap()
                .double_value(&[]);
            // Eval mode uses running BN statistics; training steps on the batch must still help.
            let (train_loss, _) = t.train_step(&batch).unwrap();
            assert!(train_loss.is_finite());
            assert!(after < before, "{task:?}: loss {before} -> {after}");
        }
    }

    #[test]
    fn in_batch_avc_trains_on_all_pairs_and_validates_on_labelled_pairs() {
        let never = AtomicBool::new(false);
        let (mut run, toy) = tiny_run(TaskKind::AvcInBatch, 8);
        run.train.lr = 1e-2;
        run.train.warmup_steps = 0;
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::new(dir.path(), run.clone()).unwrap();
        assert_eq!(
            t.model().train_objective(),
            Objective::AllPairs { hard_share: 0.5, same_file: None }
        );
        assert_eq!(t.model().objective(), Objective::Classification);
        // The training stream is matching pairs only; the all-pairs loss falls on it.
        let batch = toy.batch(0, 0, 8);
        assert!(batch.labels.iter().all(|&l| l == 1));
        let tb = TensorBatch::from_batch(&batch, Device::Cpu).unwrap();
        let (first, _) = t.train_step(&tb).unwrap();
        for _ in 0..4 {
            t.train_step(&tb).unwrap();
        }
        let (last, _) = t.train_step(&tb).unwrap();
        assert!(last < first, "all-pairs loss {first} -> {last}");
        // Validation scores the labelled pairs of the validation stream, like any AVC model.
        let dir2 = tempfile::tempdir().unwrap();
        let mut t = Trainer::new(dir2.path(), run).unwrap();
        let out = t.run(&toy, &never, &mut |r| assert!(r.loss.is_finite())).unwrap();
        let val = out.last_val.unwrap();
        assert_eq!(val.metric_name, "accuracy");
        assert_eq!(val.report.positives + val.report.negatives, 16);
        assert!(val.report.positives > 0 && val.report.negatives > 0);
    }

    #[test]
    fn contrastive_localisation_runs_end_to_end_and_loads_as_an_avc_model() {
        let never = AtomicBool::new(false);
        let (mut run, toy) = tiny_run(TaskKind::LocalizeContrastive, 4);
        run.model.head.kind = crate::models::HeadKind::Cosine;
        run.model.head.temperature = 0.1;
        let dir = tempfile::tempdir().unwrap();
        let mut t = Trainer::new(dir.path(), run.clone()).unwrap();
        assert_eq!(t.model().objective(), Objective::InBatchContrastive);
        let out = t.run(&toy, &never, &mut |r| assert!(r.loss.is_finite())).unwrap();
        assert_eq!(out.step, 4);
        let val = out.last_val.unwrap();
        assert_eq!(val.metric_name, "retrieval_accuracy");
        assert!((0.0..=1.0).contains(&val.metric), "{}", val.metric);
        // 16 validation examples in batches of 8: 2 × 8 own-audio pairs, 2 × 56 in-batch ones.
        assert_eq!((val.report.positives, val.report.negatives), (16, 112));
        let log = std::fs::read_to_string(dir.path().join("metrics.jsonl")).unwrap();
        assert!(log.contains("\"retrieval_accuracy\""), "{log}");
        // The checkpoint is an AVC network's variables: the localisation tools build it so.
        let vs = VarStore::new(Device::Cpu);
        let net = crate::models::AvcNet::new(&vs.root(), &run.model).unwrap();
        let (_, tensors) = checkpoint::read_checkpoint(&out.checkpoint).unwrap();
        checkpoint::load_variables(&out.checkpoint, &vs, &tensors).unwrap();
        let batch = toy.batch(1, 0, 2);
        let tb = TensorBatch::from_batch(&batch, Device::Cpu).unwrap();
        let specs = tb.specs.as_ref().unwrap();
        let map = net.localization_map(&tb.frames, specs, crate::models::MapScore::Cosine).unwrap();
        assert_eq!(map.size()[0], 2);
    }

    #[test]
    fn save_load_round_trip_gives_the_same_logits() {
        let dir = tempfile::tempdir().unwrap();
        let (run, toy) = tiny_run(TaskKind::Avc, 4);
        let mut t = Trainer::new(dir.path(), run).unwrap();
        let batch = TensorBatch::from_batch(&toy.batch(0, 0, 8), Device::Cpu).unwrap();
        t.train_step(&batch).unwrap();
        let path = dir.path().join("ck.safetensors");
        t.save(&path, 1.0).unwrap();
        let want = eval_logits(t.model(), &batch).unwrap();
        let (loaded, model) =
            checkpoint::load_for_inference(&path, Device::Cpu, |p, meta| build_model(&meta.run, p))
                .unwrap();
        assert_eq!(loaded.meta.step, 1);
        assert_eq!(loaded.meta.samples_seen, 8);
        let got = eval_logits(model.as_ref(), &batch).unwrap();
        assert!(got.allclose(&want, 0.0, 0.0, false));
        // A checkpoint of another model is refused, not half-loaded.
        let (mut other, _) = tiny_run(TaskKind::Avc, 4);
        other.model.head.embedding = 4;
        let vs = VarStore::new(Device::Cpu);
        let _m = build_model(&other, &vs.root()).unwrap();
        let (_, tensors) = checkpoint::read_checkpoint(&path).unwrap();
        assert!(checkpoint::load_variables(&path, &vs, &tensors).is_err());
    }

    #[test]
    fn resume_gives_the_same_next_step_loss() {
        for ema in [0.0, 0.9] {
            resume_matches_an_uninterrupted_run(ema);
        }
    }

    fn resume_matches_an_uninterrupted_run(ema: f64) {
        let never = AtomicBool::new(false);
        let (mut run, toy) = tiny_run(TaskKind::Avc, 6);
        run.train.ema = ema;
        // Uninterrupted: 6 steps, remember the losses.
        let a = tempfile::tempdir().unwrap();
        let mut losses = Vec::new();
        let mut t = Trainer::new(a.path(), run.clone()).unwrap();
        t.run(&toy, &never, &mut |r| losses.push(r.loss)).unwrap();
        assert_eq!(losses.len(), 6);
        // Interrupted after 3 steps, then resumed from the checkpoint in a new trainer.
        let b = tempfile::tempdir().unwrap();
        // (Same config: the schedule must be the same; stop by cancellation after step 3.)
        let cancel = AtomicBool::new(false);
        let mut t = Trainer::new(b.path(), run.clone()).unwrap();
        let out = t
            .run(&toy, &cancel, &mut |r| {
                if r.step == 3 {
                    cancel.store(true, Ordering::Relaxed);
                }
            })
            .unwrap();
        assert_eq!(out.stop, StopReason::Cancelled);
        assert_eq!(out.step, 3);
        drop(t);
        let ck = checkpoint::latest_checkpoint(&b.path().join("checkpoints")).unwrap();
        let mut resumed = Vec::new();
        let mut t = Trainer::resume(b.path(), run, &ck).unwrap();
        assert_eq!(t.step(), 3);
        t.run(&toy, &never, &mut |r| resumed.push(r.loss)).unwrap();
        assert_eq!(resumed.len(), 3);
        for (x, y) in losses[3..].iter().zip(&resumed) {
            assert!(
                (x - y).abs() < 1e-6,
                "uninterrupted {:?} vs resumed {resumed:?}",
                &losses[3..]
            );
        }
        assert!(b.path().join("metrics.jsonl").is_file());
        assert!(b.path().join("curves.png").is_file());
        assert!(b.path().join("checkpoints/best.safetensors").is_file());
        // The published weights (the average under EMA) are those of the uninterrupted run.
        let last = |d: &Path| {
            let ck = checkpoint::latest_checkpoint(&d.join("checkpoints")).unwrap();
            checkpoint::read_checkpoint(&ck).unwrap().1
        };
        let (ua, ub) = (last(a.path()), last(b.path()));
        let mut compared = 0;
        for (name, x) in &ua {
            if name.starts_with("optim.") || name == checkpoint::META_NAME {
                continue;
            }
            let y = &ub[name];
            let diff = (x - y).abs().max().double_value(&[]);
            assert!(diff < 1e-5, "ema {ema}: {name} differs by {diff} after resuming");
            compared += 1;
        }
        assert!(compared > 0);
        assert_eq!(ua.keys().any(|k| k.starts_with(ema::LIVE_PREFIX)), ema > 0.0);
    }

    #[test]
    fn ema_checkpoints_publish_the_average_and_keep_the_live_weights() {
        let dir = tempfile::tempdir().unwrap();
        let (mut run, toy) = tiny_run(TaskKind::Avc, 4);
        run.train.ema = 0.5;
        run.train.lr = 1e-2;
        let mut t = Trainer::new(dir.path(), run).unwrap();
        let batch = TensorBatch::from_batch(&toy.batch(0, 0, 8), Device::Cpu).unwrap();
        for _ in 0..3 {
            t.train_step(&batch).unwrap();
        }
        let live = eval_logits(t.model(), &batch).unwrap();
        let path = dir.path().join("ck.safetensors");
        t.save(&path, 1.0).unwrap();
        // Saving swaps the average in and back out: training continues from the live weights.
        assert!(eval_logits(t.model(), &batch).unwrap().allclose(&live, 0.0, 0.0, false));
        let (_, model) =
            checkpoint::load_for_inference(&path, Device::Cpu, |p, meta| build_model(&meta.run, p))
                .unwrap();
        let published = eval_logits(model.as_ref(), &batch).unwrap();
        let gap = (&published - &live).abs().max().double_value(&[]);
        assert!(gap > 1e-4, "the checkpoint holds the live weights, not their average");
        // The live weights travel under ema.live.* and equal the trainer's.
        let (_, tensors) = checkpoint::read_checkpoint(&path).unwrap();
        let vs = VarStore::new(Device::Cpu);
        let m = build_model(&t.cfg, &vs.root()).unwrap();
        assert!(ema::load_live(&vs, &tensors).unwrap());
        assert!(eval_logits(m.as_ref(), &batch).unwrap().allclose(&live, 1e-6, 1e-6, false));
    }

    /// Frame order is a question about *where* the object is in each frame: on the toy tuples
    /// (a square at a random place, moving s/8 per frame) the model must learn it. A vision
    /// descriptor that pools the map globally (translation-invariant) stays near chance here.
    #[test]
    fn frame_order_learns_positions_of_a_moving_square() {
        let dir = tempfile::tempdir().unwrap();
        let (mut run, mut toy) = tiny_run(TaskKind::FrameOrder, 150);
        run.model.input.frame_size = 32;
        run.model.vision.channels = vec![8, 16, 16];
        run.model.head = HeadConfig { embedding: 16, hidden: 16, ..Default::default() };
        run.train.batch = 16;
        run.train.lr = 3e-3;
        run.train.warmup_steps = 5;
        run.train.val_batches = 8;
        toy.frame_size = 32;
        toy.val_examples = 128;
        let mut t = Trainer::new(dir.path(), run).unwrap();
        let before = t.validate(&toy).unwrap().metric;
        for batch in toy.train(0, 16).unwrap().take(150) {
            let batch = TensorBatch::from_batch(&batch.unwrap(), Device::Cpu).unwrap();
            t.train_step(&batch).unwrap();
        }
        let after = t.validate(&toy).unwrap();
        assert_eq!(after.metric_name, "balanced_accuracy");
        assert!(after.metric >= 0.8, "balanced accuracy {before} -> {}", after.metric);
    }

    #[test]
    fn cancellation_stops_after_saving() {
        let (run, toy) = tiny_run(TaskKind::FrameOrder, 100);
        let dir = tempfile::tempdir().unwrap();
        let cancel = AtomicBool::new(false);
        let mut t = Trainer::new(dir.path(), run).unwrap();
        let out = t
            .run(&toy, &cancel, &mut |r| {
                if r.step == 2 {
                    cancel.store(true, Ordering::Relaxed);
                }
            })
            .unwrap();
        assert_eq!(out.stop, StopReason::Cancelled);
        assert_eq!(out.step, 2);
        assert!(checkpoint::step_path(&dir.path().join("checkpoints"), 2).is_file());
    }
}
