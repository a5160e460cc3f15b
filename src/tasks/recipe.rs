//! A run's recipe: the task, the model and (with `torch`) the training settings, resolved in one
//! place from a preset (`models/NAME.toml`, or a file of the same schema), its `[task]` table
//! and `--set KEY=VALUE` overrides, validated as a whole. The CLI only parses flags into a
//! [`RecipeSource`]; `train`, `pairs`, `bench` and the tests all resolve through here.
//!
//! Precedence, lowest first: the task's own option defaults; the preset's tables; `--set`.
//! Keys of `--set`: `task.K` (the task's options, `pretext tasks` lists them), `train.K` (the
//! trainer's `[train]` table), and the model's tables `input.K`, `vision.K`, `audio.K`, `head.K`
//! (also spelled `model.input.K`, ...).

use std::path::PathBuf;

use super::TaskError as Error;
use super::{apply_set, build, find, preset_text, Task};
use crate::models::ModelConfig;

type Result<T> = std::result::Result<T, Error>;

/// Where a recipe comes from.
#[derive(Debug, Clone, Default)]
pub struct RecipeSource {
    /// The task's registry name.
    pub task: String,
    /// A shipped preset (`models/NAME.toml`); `None` with no `config`: the task's default.
    pub preset: Option<String>,
    /// A preset file of the user's own.
    pub config: Option<PathBuf>,
    /// `KEY=VALUE` overrides, applied in order.
    pub sets: Vec<String>,
}

/// A resolved recipe.
pub struct Recipe {
    /// The task, options validated.
    pub task: Box<dyn Task>,
    /// The model, adapted to the task and validated; its input spec written out in full.
    pub model: ModelConfig,
    /// The trainer's settings.
    #[cfg(feature = "torch")]
    pub train: crate::training::TrainConfig,
    /// Where the preset came from ("preset NAME" or the file).
    pub origin: String,
}

impl std::fmt::Debug for Recipe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recipe")
            .field("task", &self.task.name())
            .field("model", &self.model.name)
            .field("origin", &self.origin)
            .finish_non_exhaustive()
    }
}

impl Recipe {
    /// Resolves `source`.
    pub fn resolve(source: &RecipeSource) -> Result<Self> {
        let descriptor = find(&source.task)?;
        let (text, origin) = match (&source.config, &source.preset) {
            (Some(path), _) => (
                std::fs::read_to_string(path).map_err(|e| Error::file(path, e))?,
                path.display().to_string(),
            ),
            (None, preset) => {
                let name = preset.as_deref().unwrap_or(descriptor.default_preset);
                (preset_text(name)?.to_string(), format!("preset {name}"))
            }
        };
        let mut root: toml::Table =
            text.parse().map_err(|e: toml::de::Error| Error::Config(format!("{origin}: {e}")))?;
        for set in &source.sets {
            let set = set.trim();
            let set = set.strip_prefix("model.").unwrap_or(set);
            apply_set(&mut root, set).map_err(Error::Config)?;
        }
        let task_table = match root.remove("task") {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(_) => return Err(Error::Config(format!("{origin}: [task] must be a table"))),
        };
        let task = build(descriptor.name, &task_table)?;
        #[cfg(feature = "torch")]
        let train = match root.remove("train") {
            None => crate::training::TrainConfig::default(),
            Some(t) => t.try_into().map_err(|e: toml::de::Error| {
                Error::Config(format!("{origin} [train]: {}", e.message().trim()))
            })?,
        };
        #[cfg(not(feature = "torch"))]
        root.remove("train");
        let mut model: ModelConfig =
            toml::Value::Table(root).try_into().map_err(|e: toml::de::Error| {
                Error::Config(format!("{origin}: {}", e.message().trim()))
            })?;
        task.adapt_model(&mut model)?;
        model.validate().map_err(|e| Error::Config(format!("{origin}: {e}")))?;
        model.input = model.input.resolved();
        #[cfg(feature = "torch")]
        train.validate()?;
        Ok(Recipe {
            task,
            model,
            #[cfg(feature = "torch")]
            train,
            origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(task: &str, preset: Option<&str>, sets: &[&str]) -> RecipeSource {
        RecipeSource {
            task: task.into(),
            preset: preset.map(String::from),
            config: None,
            sets: sets.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn presets_tables_and_sets_resolve_in_order() {
        let r = Recipe::resolve(&source(
            "frame-order",
            None,
            &["task.gap=7", "input.frame_size=48", "model.vision.channels=[8, 16]"],
        ))
        .unwrap();
        assert_eq!(r.task.options()["gap"], 7);
        assert_eq!(r.model.input.frame_size, 48);
        assert_eq!(r.model.input.decode_size, Some(54));
        assert_eq!(r.model.vision.channels, vec![8, 16]);
        assert_eq!(r.origin, "preset fast");
        // The rotation preset's [task] table is read.
        let r = Recipe::resolve(&source("rotation", None, &[])).unwrap();
        assert_eq!(r.task.options()["copies"], 4);
        // The colourisation preset's [task] table is read.
        let r = Recipe::resolve(&source("colorization", None, &[])).unwrap();
        assert_eq!(r.task.options()["prior_batches"], 20);
        // The inpainting preset's: its band scaled to 64 px frames.
        let r = Recipe::resolve(&source("inpainting", None, &["task.mask=regions"])).unwrap();
        assert_eq!((r.task.options()["overlap"].as_u64(), r.model.input.frame_size), (Some(4), 64));
        assert_eq!(r.task.options()["mask"], "regions");
        // Errors name the thing.
        let e = Recipe::resolve(&source("avc", Some("nope"), &[])).unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
        let e = Recipe::resolve(&source("avc", None, &["task.objectiv=pairs"])).unwrap_err();
        assert!(e.to_string().contains("objectiv"), "{e}");
        let e = Recipe::resolve(&source("avc", None, &["input.frame_size=8"])).unwrap_err();
        assert!(e.to_string().contains("frame_size"), "{e}");
    }

    #[cfg(feature = "torch")]
    #[test]
    fn train_settings_come_from_the_preset_and_sets() {
        let r =
            Recipe::resolve(&source("avc", Some("sync"), &["train.lr=0.005", "train.ema=0.99"]))
                .unwrap();
        assert_eq!((r.train.lr, r.train.ema, r.train.steps), (0.005, 0.99, 2600));
        assert!(Recipe::resolve(&source("avc", None, &["train.batch=0"])).is_err());
    }

    /// Issue #27: `--task avc` and `--task localize` with no other flag run the recipes that
    /// meet the targets in docs/results.md; the old ones stay reachable by flags.
    #[cfg(feature = "torch")]
    #[test]
    fn the_best_recipe_is_the_default() {
        let avc = Recipe::resolve(&source("avc", None, &[])).unwrap();
        assert_eq!(avc.origin, "preset avc");
        let o: crate::tasks::avc::AvcOptions = serde_json::from_value(avc.task.options()).unwrap();
        assert_eq!(o.objective, crate::tasks::avc::AvcObjective::InBatch);
        assert!(o.negatives.easy && o.negatives.hard && o.same_file());
        assert_eq!(o.policy(crate::tasks::Role::Train).positive_ratio, 1.0);
        // Changing one part of the recipe does not contradict the rest (the preset's [task]
        // table sets no derived value).
        for set in ["task.negatives=easy", "task.objective=pairs", "task.objective=contrastive"] {
            let r = Recipe::resolve(&source("avc", None, &[set])).unwrap();
            let o: crate::tasks::avc::AvcOptions =
                serde_json::from_value(r.task.options()).unwrap();
            assert!(!o.same_file(), "{set}");
        }
        let stream =
            Recipe::resolve(&source("avc", None, &["task.same_file_negatives=false"])).unwrap();
        let o: crate::tasks::avc::AvcOptions =
            serde_json::from_value(stream.task.options()).unwrap();
        assert_eq!(o.policy(crate::tasks::Role::Train).positive_ratio, 0.5);
        assert_eq!((avc.model.input.frames, avc.model.audio.time_steps), (5, 5));
        assert!(avc.model.head.sync > 0, "the sync model");
        assert_eq!((avc.train.ema, avc.train.steps), (0.998, 2600));
        let loc = Recipe::resolve(&source("localize", None, &[])).unwrap();
        assert_eq!(loc.origin, "preset localize");
        assert_eq!(loc.task.options()["objective"], "in-batch");
        assert_eq!(loc.model.head.kind, crate::models::HeadKind::Avol);
        assert_eq!(loc.model.input.frame_size, 96);
        // The old default: the quick preset and the pairs objective.
        let old =
            Recipe::resolve(&source("avc", Some("quick"), &["task.objective=pairs"])).unwrap();
        assert_eq!(old.task.options()["objective"], "pairs");
        assert_eq!(old.train.ema, 0.0);
    }
}
