//! The one training loop, for every task.
//!
//! One thread owns the VarStore, the model and the optimizer (tch tensors are not `Sync`);
//! batches arrive as plain buffers from a [`DataSource`]. Each step: wait for a batch (timed as
//! data wait), the task model's loss (under autocast with a dynamic loss scale when mixed
//! precision is on), backward, global-norm clipping, AdamW at the scheduled rate, and (with
//! `ema` > 0) the weight average's update. Nothing here knows the task: its [`TaskModel`] gives
//! the loss and the scores, its [`MetricSet`] the metrics. Every `val_every` steps the model is
//! validated on held-out files and a checkpoint is written; the best one (by the task's primary
//! metric) is kept as `best.safetensors`; with EMA on, validation and
//! the checkpoints' model variables use the averaged weights. `max_time` and cancellation
//! (Ctrl-C) stop the loop between steps after saving, so a run loses at most the steps since its
//! last checkpoint, and `--resume` continues with the same weights, moments, step and data
//! position.
//!
//! Run folder: `config.json`, `metrics.jsonl`, `curves.png`, `checkpoints/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Kind};

use super::checkpoint::{self, CheckpointMeta};
use super::{
    ema, AdamW, AdamWConfig, BatchIter, DataSource, MetricSet, MetricsLog, ModelFactory, RunConfig,
    Schedule, Scored, TaskModel, TensorBatch, TrainingError,
};
use crate::pipeline::Batch;

/// Progress after a logged step, for a progress bar or a log.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Steps done.
    pub step: u64,
    /// Steps in the run.
    pub total: u64,
    /// Mean training loss over the logging window.
    pub loss: f64,
    /// Mean training accuracy (the task's per-example hits) over the logging window.
    pub accuracy: f64,
    /// Current learning rate.
    pub lr: f64,
    /// Training examples per second over the window (data wait included).
    pub samples_per_s: f64,
    /// Share of the window's wall time spent waiting for batches.
    pub data_wait_share: f64,
    /// The task's primary metric at the last validation.
    pub val_metric: Option<f64>,
    /// Share of the process's runnable thread time spent waiting for a CPU over the window
    /// (see [`super::cpu_budget::RunQueueClock`]); `None` where the kernel does not report it.
    pub cpu_wait_share: Option<f64>,
}

/// A validation (or evaluation) result: every metric of the task, its primary one named.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ValReport {
    /// Mean loss per example.
    pub loss: f64,
    /// The task's primary metric (it ranks checkpoints).
    pub metric_name: String,
    /// Its value.
    pub metric: f64,
    /// Examples scored.
    #[serde(default)]
    pub examples: usize,
    /// Every metric with a value.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    /// Structured details (per-kind counts, ...).
    #[serde(default)]
    pub details: BTreeMap<String, serde_json::Value>,
    /// How the examples were drawn.
    #[serde(default)]
    pub policy: String,
}

impl ValReport {
    /// The metric `name`, when defined.
    pub fn get(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied()
    }

    /// The report as one `metrics.jsonl` record body: loss, examples, every metric and detail.
    pub fn record(&self) -> serde_json::Map<String, serde_json::Value> {
        let mut rec = serde_json::Map::new();
        rec.insert("loss".into(), self.loss.into());
        rec.insert("examples".into(), self.examples.into());
        rec.insert("metric".into(), self.metric_name.clone().into());
        for (k, v) in &self.metrics {
            rec.insert(k.clone(), (*v).into());
        }
        for (k, v) in &self.details {
            rec.insert(k.clone(), v.clone());
        }
        rec.insert("policy".into(), self.policy.clone().into());
        rec
    }
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

/// Runs `model` in eval mode over at most `max_batches` batches of `iter` and reports `metrics`
/// (reset first); `each` sees every batch with its scores (to write predictions).
pub fn evaluate(
    model: &dyn TaskModel,
    iter: BatchIter,
    max_batches: Option<usize>,
    device: Device,
    metrics: &mut MetricSet,
    policy: &str,
    each: &mut dyn FnMut(&Batch, &Scored),
) -> Result<ValReport, TrainingError> {
    let _guard = tch::no_grad_guard();
    metrics.reset();
    let (mut loss_sum, mut examples) = (0.0, 0usize);
    for (i, batch) in iter.enumerate() {
        if max_batches.is_some_and(|m| i >= m) {
            break;
        }
        let batch = batch?;
        if batch.is_empty() {
            continue;
        }
        let tb = TensorBatch::from_batch(&batch, device)?;
        let scored = model.evaluate(&tb)?;
        scored.check().map_err(TrainingError::Batch)?;
        loss_sum += scored.loss * scored.examples as f64;
        examples += scored.examples;
        metrics.update(&scored);
        each(&batch, &scored);
    }
    if examples == 0 {
        return Err(TrainingError::NoData("validation"));
    }
    let (values, details) = metrics.values();
    let metric_name = metrics.primary().to_string();
    let metric = values.get(&metric_name).copied().ok_or_else(|| {
        TrainingError::Batch(format!("the validation stream left {metric_name} undefined"))
    })?;
    Ok(ValReport {
        loss: loss_sum / examples as f64,
        metric_name,
        metric,
        examples,
        metrics: values,
        details,
        policy: policy.to_string(),
    })
}

/// The trainer: model, optimizer and run state.
pub struct Trainer {
    cfg: RunConfig,
    run_dir: PathBuf,
    device: Device,
    vs: VarStore,
    model: Box<dyn TaskModel>,
    metrics: MetricSet,
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
    /// A fresh run in `run_dir` (created), with weights drawn from the configured seed; the
    /// task's model and metrics come from `task`.
    pub fn new(
        run_dir: &Path,
        cfg: RunConfig,
        task: &dyn ModelFactory,
    ) -> Result<Self, TrainingError> {
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
        let model = task.build(&vs.root(), &cfg.model)?;
        let metrics = task.metrics();
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
            metrics,
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
    /// `cfg` may extend `steps` or change `max_time_s`; the model and task must be the same.
    pub fn resume(
        run_dir: &Path,
        cfg: RunConfig,
        checkpoint: &Path,
        task: &dyn ModelFactory,
    ) -> Result<Self, TrainingError> {
        let (meta, tensors) = checkpoint::read_checkpoint(checkpoint)?;
        if meta.run.model != cfg.model || meta.run.task != cfg.task {
            return Err(TrainingError::Checkpoint {
                path: checkpoint.to_path_buf(),
                reason: "was trained with another model or task than the one configured".into(),
            });
        }
        let mut t = Trainer::new(run_dir, cfg, task)?;
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

    /// The name of the metric that ranks checkpoints.
    pub fn metric_name(&self) -> &str {
        self.metrics.primary()
    }

    /// One optimisation step on `batch`; returns (loss, accuracy) before the update.
    pub fn train_step(&mut self, batch: &TensorBatch) -> Result<(f64, f64), TrainingError> {
        let lr = self.schedule.lr(self.step);
        self.opt.zero_grad();
        let amp = self.cfg.train.amp && self.device.is_cuda();
        let out = if amp {
            tch::autocast(true, || self.model.train_step(batch))?
        } else {
            self.model.train_step(batch)?
        };
        let loss = out.loss.f_to_kind(Kind::Float)?;
        let loss_v = loss.f_double_value(&[])?;
        if !loss_v.is_finite() {
            return Err(TrainingError::Diverged { step: self.step, loss: loss_v });
        }
        let acc = out.hits.f_to_kind(Kind::Float)?.f_mean(Kind::Float)?.f_double_value(&[])?;
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
        self.samples_seen += batch.len() as u64;
        Ok((loss_v, acc))
    }

    /// Runs `f` with the averaged weights in the model when the run averages them.
    fn with_average<R>(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<R, TrainingError>,
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
        let policy = data.policy();
        self.with_average(|s| {
            let iter = data.val(t.batch)?;
            evaluate(
                s.model.as_ref(),
                iter,
                Some(t.val_batches),
                s.device,
                &mut s.metrics,
                &policy,
                &mut |_, _| {},
            )
        })
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
            attached: Default::default(),
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
        let mut rec = val.record();
        rec.insert("phase".into(), "val".into());
        rec.insert("step".into(), self.step.into());
        rec.insert("elapsed_s".into(), elapsed.into());
        let rec = serde_json::Value::Object(rec);
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
                    &t_metric(self),
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
            super::plot_curves(&metrics_path, &self.run_dir.join("curves.png"), &t_metric(self))?;
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

fn t_metric(t: &Trainer) -> String {
    t.metrics.primary().to_string()
}
