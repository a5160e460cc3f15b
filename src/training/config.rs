//! The trainer's configuration: defaults, the `[train]` table of a preset, then CLI overrides,
//! validated once. The resolved [`RunConfig`] (model + training + data description) is written
//! to `RUN/config.json` and into every checkpoint, so a checkpoint is self-describing.

use serde::{Deserialize, Serialize};

use super::{DeviceSpec, TrainingError};
use crate::models::ModelConfig;

/// Everything the loop needs besides the model and the data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainConfig {
    /// Optimisation steps in total (a resumed run continues up to this).
    pub steps: u64,
    /// Examples per batch.
    pub batch: usize,
    /// Peak learning rate.
    pub lr: f64,
    /// Final learning rate as a fraction of `lr`.
    pub min_lr_ratio: f64,
    /// Linear warm-up steps.
    pub warmup_steps: u64,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// AdamW β₁.
    pub beta1: f64,
    /// AdamW β₂.
    pub beta2: f64,
    /// Global gradient-norm clip (0 = off).
    pub clip_grad_norm: f64,
    /// Validate every N steps (0 = only at the end).
    pub val_every: u64,
    /// Validation batches per validation.
    pub val_batches: usize,
    /// Write a checkpoint every N steps (0 = only at validations and the end).
    pub checkpoint_every: u64,
    /// Step checkpoints kept (the best one is kept besides).
    pub keep_last: usize,
    /// Wall-clock budget in seconds; the run saves and stops when it is spent.
    pub max_time_s: Option<f64>,
    /// Seed for weights and everything the loop draws.
    pub seed: u64,
    /// Where to train.
    pub device: DeviceSpec,
    /// libtorch intra-op threads (None = cores minus decode workers, at least 1).
    pub threads: Option<usize>,
    /// Mixed precision (CUDA only; ignored on CPU with a note in the log).
    pub amp: bool,
    /// Train-metric logging period in steps.
    pub log_every: u64,
    /// Decay of the exponential moving average of the weights that validation and checkpoints
    /// use (0 = off; 0.999 averages over about the last thousand steps).
    pub ema: f64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            steps: 2000,
            batch: 32,
            lr: 1e-3,
            min_lr_ratio: 0.05,
            warmup_steps: 50,
            weight_decay: 1e-4,
            beta1: 0.9,
            beta2: 0.999,
            clip_grad_norm: 5.0,
            val_every: 200,
            val_batches: 8,
            checkpoint_every: 200,
            keep_last: 2,
            max_time_s: None,
            seed: 0,
            device: DeviceSpec::Auto,
            threads: None,
            amp: false,
            log_every: 10,
            ema: 0.0,
        }
    }
}

impl TrainConfig {
    /// Reads the `[train]` table of a preset file (absent table = defaults).
    pub fn from_toml(text: &str, origin: &str) -> Result<Self, TrainingError> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| TrainingError::Config(format!("{origin}: {e}")))?;
        match table.get("train") {
            None => Ok(TrainConfig::default()),
            Some(v) => v.clone().try_into().map_err(|e: toml::de::Error| {
                TrainingError::Config(format!("{origin} [train]: {e}"))
            }),
        }
    }

    /// Checks every value once, with a message naming the field.
    pub fn validate(&self) -> Result<(), TrainingError> {
        let bad = |m: String| Err(TrainingError::Config(m));
        if self.steps == 0 {
            return bad("steps must be at least 1".into());
        }
        if !(1..=65536).contains(&self.batch) {
            return bad(format!("batch {} is outside 1..=65536", self.batch));
        }
        if !(self.lr > 0.0 && self.lr < 10.0) {
            return bad(format!("lr {} must be in (0, 10)", self.lr));
        }
        if !(0.0..=1.0).contains(&self.min_lr_ratio) {
            return bad("min_lr_ratio must be in [0, 1]".into());
        }
        if !(0.0..1.0).contains(&self.ema) {
            return bad(format!("ema {} must be in [0, 1) (0 = off)", self.ema));
        }
        if !(0.0..1.0).contains(&self.beta1) || !(0.0..1.0).contains(&self.beta2) {
            return bad("beta1 and beta2 must be in [0, 1)".into());
        }
        if self.weight_decay < 0.0 || self.clip_grad_norm < 0.0 {
            return bad("weight_decay and clip_grad_norm must be >= 0".into());
        }
        if self.val_batches == 0 {
            return bad("val_batches must be at least 1".into());
        }
        if self.keep_last == 0 {
            return bad("keep_last must be at least 1".into());
        }
        if let Some(t) = self.max_time_s {
            if t.is_nan() || t <= 0.0 {
                return bad(format!("max_time {t} s must be positive"));
            }
        }
        if self.threads == Some(0) {
            return bad("threads must be at least 1".into());
        }
        Ok(())
    }
}

/// The task of a run: its registry name and resolved options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskSpec {
    /// The registry name (`avc`, `frame-order`, ...).
    pub name: String,
    /// The resolved options (the task's `[task]` table as JSON).
    pub options: serde_json::Value,
}

/// The fully resolved configuration of a run, as written to `RUN/config.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The task.
    pub task: TaskSpec,
    /// The model (its `input` is what the model sees: the pipeline, evaluation, `embed` and
    /// `localize` read it from here).
    pub model: ModelConfig,
    /// The loop.
    pub train: TrainConfig,
    /// What the data source says about itself (folders, split, negative policy, ...).
    pub data: serde_json::Value,
}

/// Parses durations like `900`, `90s`, `15m`, `1h30m`, `1.5h` into seconds.
pub fn parse_duration(s: &str) -> Result<f64, TrainingError> {
    let err =
        || TrainingError::Config(format!("duration '{s}': expected e.g. 900, 90s, 15m, 1h30m"));
    let s = s.trim();
    if let Ok(v) = s.parse::<f64>() {
        return if v > 0.0 { Ok(v) } else { Err(err()) };
    }
    let (mut total, mut num) = (0.0, String::new());
    for c in s.chars() {
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            continue;
        }
        let unit = match c {
            'h' => 3600.0,
            'm' => 60.0,
            's' => 1.0,
            _ => return Err(err()),
        };
        total += num.parse::<f64>().map_err(|_| err())? * unit;
        num.clear();
    }
    if !num.is_empty() || total.is_nan() || total <= 0.0 {
        return Err(err());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), 900.0);
        assert_eq!(parse_duration("1h30m").unwrap(), 5400.0);
        assert_eq!(parse_duration("90").unwrap(), 90.0);
        assert_eq!(parse_duration("2.5s").unwrap(), 2.5);
        assert!(parse_duration("15x").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("0").is_err());
    }

    #[test]
    fn preset_train_tables_parse_and_validate() {
        for (name, text) in crate::models::PRESETS {
            crate::models::ModelConfig::from_toml(text, name).unwrap();
            let cfg = TrainConfig::from_toml(text, name).unwrap();
            cfg.validate().unwrap();
        }
        let bad = TrainConfig { batch: 0, ..Default::default() };
        assert!(bad.validate().unwrap_err().to_string().contains("batch"));
    }
}
