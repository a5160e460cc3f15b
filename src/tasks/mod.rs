//! Pretext tasks as plug-ins. A task is one folder here: its options, its sampler and assembler
//! (the [`TaskData`] the pipeline runs), its toy data, and (with the `torch` feature) its
//! head(s), objective(s) and metrics (the [`crate::training::TaskModel`] the trainer runs).
//! [`TASKS`] lists them, one line each, as Symphonia's codec registry lists codecs; `--task NAME`
//! looks the name up there, the task's options come from the `[task]` table of a preset and
//! `--set task.KEY=VALUE`, and `pretext tasks` prints the registry.
//!
//! Nothing outside a task's folder knows the task: the pipeline stacks whatever fields it
//! declares, the trainer runs whatever model it builds and ranks checkpoints by its primary
//! metric, evaluation and `embed` read its inputs through [`crate::pipeline::InputReader`].
//! See `docs/architecture.md`, "Adding a pretext task".

use std::sync::Arc;

use crate::models::ModelConfig;
use crate::pipeline::TaskData;

pub mod avc;
pub mod colorization;
#[cfg(feature = "torch")]
mod data_source;
mod error;
pub mod frame_order;
pub mod inpainting;
pub mod jigsaw;
mod options;
mod recipe;
pub mod relative_position;
#[cfg(feature = "torch")]
mod restored;
pub mod rotation;
mod tile_grid;
#[cfg(feature = "torch")]
mod tile_siamese;
#[cfg(all(test, feature = "torch"))]
mod trainer_contract;

#[cfg(feature = "torch")]
pub use data_source::{data_source, DataSpec};
pub use error::TaskError;
pub use options::{apply_set, parse_options, OptionDoc};
pub use recipe::{Recipe, RecipeSource};
#[cfg(feature = "torch")]
pub use restored::{recorded_task, Restored};

/// The registered tasks: one line per task.
#[rustfmt::skip]
pub static TASKS: &[&TaskDescriptor] = &[
    &avc::AVC,
    &avc::LOCALIZE,
    &colorization::COLORIZATION,
    &frame_order::FRAME_ORDER,
    &inpainting::INPAINTING,
    &jigsaw::JIGSAW,
    &relative_position::RELATIVE_POSITION,
    &rotation::ROTATION,
];

/// Which stream a task's data side feeds: training (its sampling policy, with augmentation) or
/// held-out evaluation (the task's fixed evaluation policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The training stream.
    Train,
    /// Validation and evaluation streams.
    Eval,
}

/// What the registry knows of a task before it is built.
#[derive(Debug)]
pub struct TaskDescriptor {
    /// The name `--task` takes.
    pub name: &'static str,
    /// One line on what it is for.
    pub about: &'static str,
    /// The preset `pretext train --task NAME` uses when none is given: a shipped
    /// `models/*.toml`, or the task's own (named after the task).
    pub default_preset: &'static str,
    /// The task's own preset (TOML of the `models/*.toml` schema), found under the task's name.
    pub own_preset: Option<&'static str>,
    /// Its options (the `[task]` table), each with its help line.
    pub options: &'static [OptionDoc],
    /// The options' default values, as JSON (what `pretext tasks` prints).
    pub defaults: fn() -> serde_json::Value,
    /// Builds the task from its `[task]` table (validated; unknown keys are errors).
    pub build: fn(&toml::Table) -> Result<Box<dyn Task>, TaskError>,
}

/// A built task: options resolved and validated.
pub trait Task: Send + Sync {
    /// The registry name.
    fn name(&self) -> &'static str;

    /// The resolved options, for the run's `config.json` and every checkpoint.
    fn options(&self) -> serde_json::Value;

    /// The sampler and assembler of `role`'s stream.
    fn data(&self, role: Role) -> Arc<dyn TaskData>;

    /// Lets the task set what its head needs in the model configuration (e.g. the localisation
    /// task's per-location head). The default leaves it as the preset says.
    fn adapt_model(&self, model: &mut ModelConfig) -> Result<(), TaskError> {
        let _ = model;
        Ok(())
    }

    /// The task's model (the shared trunk plus its heads) under `root`.
    #[cfg(feature = "torch")]
    fn model(
        &self,
        root: &tch::nn::Path,
        model: &ModelConfig,
    ) -> Result<Box<dyn crate::training::TaskModel>, crate::training::TrainingError>;

    /// The task's metrics, the primary one first (it ranks checkpoints).
    #[cfg(feature = "torch")]
    fn metrics(&self) -> crate::training::MetricSet;
}

#[cfg(feature = "torch")]
impl crate::training::ModelFactory for Box<dyn Task> {
    fn build(
        &self,
        root: &tch::nn::Path,
        model: &ModelConfig,
    ) -> Result<Box<dyn crate::training::TaskModel>, crate::training::TrainingError> {
        self.model(root, model)
    }

    fn metrics(&self) -> crate::training::MetricSet {
        Task::metrics(self.as_ref())
    }
}

/// The TOML text of preset `name`: a task's own preset (named after the task), or one shipped
/// in `models/`.
pub fn preset_text(name: &str) -> Result<&'static str, crate::models::ModelError> {
    if let Some(text) = TASKS.iter().find(|d| d.name == name).and_then(|d| d.own_preset) {
        return Ok(text);
    }
    crate::models::preset_text(name).map_err(|_| crate::models::ModelError::UnknownPreset {
        name: name.to_string(),
        known: preset_names().join(", "),
    })
}

/// Every preset name: the shipped ones, then the tasks' own.
pub fn preset_names() -> Vec<&'static str> {
    let mut names: Vec<&str> = crate::models::PRESETS.iter().map(|(n, _)| *n).collect();
    names.extend(TASKS.iter().filter(|d| d.own_preset.is_some()).map(|d| d.name));
    names
}

/// Looks a task up by name.
pub fn find(name: &str) -> Result<&'static TaskDescriptor, TaskError> {
    TASKS
        .iter()
        .copied()
        .find(|d| d.name == name)
        .ok_or_else(|| TaskError::Unknown { name: name.to_string(), known: names().join(", ") })
}

/// The registered names, in registry order.
pub fn names() -> Vec<&'static str> {
    TASKS.iter().map(|d| d.name).collect()
}

/// Builds task `name` from its `[task]` table.
pub fn build(name: &str, table: &toml::Table) -> Result<Box<dyn Task>, TaskError> {
    (find(name)?.build)(table)
}

/// Rebuilds a task from what a run recorded: its name and resolved options (JSON).
pub fn rebuild(name: &str, options: &serde_json::Value) -> Result<Box<dyn Task>, TaskError> {
    // TOML has no null: unset options are simply absent.
    let mut options = options.clone();
    if let Some(o) = options.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    let table = match &options {
        serde_json::Value::Null => toml::Table::new(),
        v => toml::Table::try_from(v).map_err(|e| TaskError::Options {
            task: name.to_string(),
            reason: format!("recorded options are not a table: {e}"),
        })?,
    };
    build(name, &table)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_registered_task_builds_with_defaults_and_documents_every_option() {
        let mut seen = std::collections::BTreeSet::new();
        for d in TASKS {
            assert!(seen.insert(d.name), "{} registered twice", d.name);
            let task = (d.build)(&toml::Table::new()).unwrap();
            assert_eq!(task.name(), d.name);
            // The documented options are exactly the option struct's fields.
            let defaults = (d.defaults)();
            let keys: Vec<&str> =
                defaults.as_object().map(|o| o.keys().map(String::as_str).collect()).unwrap();
            let mut documented: Vec<&str> = d.options.iter().map(|o| o.key).collect();
            let mut keys = keys;
            keys.sort();
            documented.sort();
            assert_eq!(keys, documented, "{}: options and their docs differ", d.name);
            // Recorded options rebuild the same task.
            let again = rebuild(d.name, &task.options()).unwrap();
            assert_eq!(again.options(), task.options());
            // The default recipe (the task's preset) resolves and validates.
            let r = Recipe::resolve(&RecipeSource { task: d.name.into(), ..Default::default() });
            assert!(r.is_ok(), "{}: {:?}", d.name, r.err());
            let _ = task.data(Role::Train);
            let _ = task.data(Role::Eval);
        }
        assert!(matches!(find("nope"), Err(TaskError::Unknown { .. })));
    }

    #[test]
    fn unknown_and_bad_options_name_the_key() {
        let mut t = toml::Table::new();
        t.insert("bogus".into(), toml::Value::Integer(1));
        let err = build("avc", &t).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("bogus"), "{err}");
    }
}
