//! A task and its model rebuilt from a checkpoint: what `eval`, `embed` and `localize` load.
//! The checkpoint records the task's name and options and the model configuration (with its
//! input spec), so nothing else is needed; `--set task.K=V` overrides may change how the task
//! draws evaluation examples (e.g. `task.eval_negatives=hard`), never the model.

use std::path::Path;

use tch::{nn::VarStore, Device};

use super::TaskError as Error;
use super::{apply_set, rebuild, Task};
use crate::training::{checkpoint, CheckpointMeta, TaskModel};

type Result<T> = std::result::Result<T, Error>;

/// A checkpoint's task and model.
pub struct Restored {
    /// The task, with the recorded options (and any overrides).
    pub task: Box<dyn Task>,
    /// The checkpoint's metadata.
    pub meta: CheckpointMeta,
    /// The model's variables.
    pub vs: VarStore,
    /// The model.
    pub model: Box<dyn TaskModel>,
}

impl std::fmt::Debug for Restored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restored").field("task", &self.task.name()).finish_non_exhaustive()
    }
}

/// The task a run recorded, with `sets` (`task.K=V`) applied to its options.
pub fn recorded_task(meta: &CheckpointMeta, sets: &[String]) -> Result<Box<dyn Task>> {
    let name = &meta.run.task.name;
    if sets.is_empty() {
        return rebuild(name, &meta.run.task.options);
    }
    let mut options = meta.run.task.options.clone();
    if let Some(o) = options.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    let mut root = toml::Table::new();
    root.insert(
        "task".into(),
        toml::Value::try_from(&options).map_err(|e| Error::Config(e.to_string()))?,
    );
    for s in sets {
        if !s.trim().starts_with("task.") {
            return Err(Error::Config(format!(
                "--set {s}: only task options (task.KEY=VALUE) can change for a trained model"
            )));
        }
        apply_set(&mut root, s.trim()).map_err(Error::Config)?;
    }
    let table = root.remove("task").and_then(|t| t.as_table().cloned()).unwrap_or_default();
    super::build(name, &table)
}

impl Restored {
    /// Loads `path` on `device`; with `untrained`, the same architecture with fresh weights
    /// drawn from the run's seed (the baseline every report shows).
    pub fn load(path: &Path, device: Device, sets: &[String], untrained: bool) -> Result<Self> {
        let (meta, tensors) = checkpoint::read_checkpoint(path)?;
        let task = recorded_task(&meta, sets)?;
        tch::manual_seed(meta.run.train.seed as i64);
        let vs = VarStore::new(device);
        let model = task.model(&vs.root(), &meta.run.model)?;
        if !untrained {
            checkpoint::load_variables(path, &vs, &tensors)?;
        }
        Ok(Restored { task, meta, vs, model })
    }

    /// A fresh model of the same task and architecture with weights drawn from `seed`.
    pub fn untrained(&self, seed: u64, device: Device) -> Result<(VarStore, Box<dyn TaskModel>)> {
        tch::manual_seed(seed as i64);
        let vs = VarStore::new(device);
        let model = self.task.model(&vs.root(), &self.meta.run.model)?;
        Ok((vs, model))
    }
}
