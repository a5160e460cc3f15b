//! The map smoothing that travels with a model.
//!
//! σ is chosen once, on a validation split (`pretext eval localize --smooth auto`), and is then
//! part of the model: it is attached to the checkpoint's metadata under [`KEY`]
//! (`training::checkpoint::attach`, an atomic rewrite of the file) and written beside the run
//! as `RUN/localize-smoothing.json`. `pretext eval localize` and `pretext localize` read it
//! when no `--smooth` is given, and both say which σ they used and where it came from
//! ([`SmoothingChoice`]). A checkpoint trained again is a new model: the trainer writes fresh
//! metadata, so a stale σ never follows it.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::MapSmoothing;
use crate::training::{checkpoint, CheckpointMeta, TrainingError};

/// The metadata key of the stored smoothing.
pub const KEY: &str = "localize.smoothing";

/// A σ chosen on held-out data, with what it was chosen on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSmoothing {
    /// The chosen smoothing (σ as a fraction of the map side).
    pub sigma: MapSmoothing,
    /// The split it was chosen on.
    pub split: String,
    /// The data folder of that split.
    pub data: PathBuf,
    /// Samples scored to choose it.
    pub samples: usize,
    /// The metric it maximised.
    pub metric: String,
    /// Each σ tried with its metric value.
    pub tried: Vec<(f64, f64)>,
    /// The evaluation settings it was chosen under (protocol, upsampling), as reported.
    pub settings: serde_json::Value,
}

impl StoredSmoothing {
    /// The smoothing stored in a checkpoint's metadata, if any.
    pub fn read(meta: &CheckpointMeta) -> Result<Option<Self>, super::LocalizationError> {
        match meta.attached.get(KEY) {
            None => Ok(None),
            Some(v) => serde_json::from_value(v.clone()).map(Some).map_err(|e| {
                super::LocalizationError::Invalid(format!(
                    "the checkpoint's stored {KEY} is unreadable ({e}); choose it again with \
                     `pretext eval localize --smooth auto`"
                ))
            }),
        }
    }

    /// Attaches this choice to `checkpoint` and writes it beside the run; returns the run file
    /// written, if the checkpoint lies in a run's `checkpoints/` folder.
    pub fn store(&self, checkpoint: &Path) -> Result<Option<PathBuf>, TrainingError> {
        let value = serde_json::to_value(self).map_err(|e| TrainingError::Checkpoint {
            path: checkpoint.to_path_buf(),
            reason: e.to_string(),
        })?;
        checkpoint::attach(checkpoint, KEY, value.clone())?;
        let Some(run) = run_dir(checkpoint) else { return Ok(None) };
        let file = run.join("localize-smoothing.json");
        let record = serde_json::json!({ "checkpoint": checkpoint, KEY: value });
        let text = serde_json::to_string_pretty(&record).unwrap_or_default() + "\n";
        crate::io::write_atomic(&file, text.as_bytes())
            .map_err(|e| TrainingError::Checkpoint { path: file.clone(), reason: e.to_string() })?;
        Ok(Some(file))
    }
}

/// `RUN` for a checkpoint at `RUN/checkpoints/NAME.safetensors`.
fn run_dir(checkpoint: &Path) -> Option<PathBuf> {
    let dir = checkpoint.parent()?;
    (dir.file_name()? == "checkpoints").then(|| dir.parent().map(Path::to_path_buf)).flatten()
}

/// Which σ a command used and why, for its report.
#[derive(Debug, Clone, PartialEq)]
pub enum SmoothingChoice {
    /// `--smooth SIGMA` on the command line.
    Given(MapSmoothing),
    /// Read from the checkpoint.
    Stored(StoredSmoothing),
    /// Chosen now on a validation split (and stored).
    Chosen(StoredSmoothing),
    /// Nothing given or stored: no smoothing.
    Unset,
}

impl SmoothingChoice {
    /// The smoothing to apply.
    pub fn smoothing(&self) -> MapSmoothing {
        match self {
            SmoothingChoice::Given(s) => *s,
            SmoothingChoice::Stored(s) | SmoothingChoice::Chosen(s) => s.sigma,
            SmoothingChoice::Unset => MapSmoothing::OFF,
        }
    }

    /// Where σ came from, for JSON reports: "given", "stored", "chosen" or "unset".
    pub fn source(&self) -> &'static str {
        match self {
            SmoothingChoice::Given(_) => "given",
            SmoothingChoice::Stored(_) => "stored",
            SmoothingChoice::Chosen(_) => "chosen",
            SmoothingChoice::Unset => "unset",
        }
    }

    /// The split σ was chosen on, when it was.
    pub fn chosen_on(&self) -> Option<&str> {
        match self {
            SmoothingChoice::Stored(s) | SmoothingChoice::Chosen(s) => Some(&s.split),
            _ => None,
        }
    }

    /// One line for people: which σ, and why.
    pub fn describe(&self) -> String {
        let sigma = self.smoothing().sigma();
        match self {
            SmoothingChoice::Given(_) => format!("map smoothing σ = {sigma} (--smooth)"),
            SmoothingChoice::Stored(s) => format!(
                "map smoothing σ = {sigma}, stored with the checkpoint (chosen on split {:?} of \
                 {}; --smooth overrides)",
                s.split,
                s.data.display()
            ),
            SmoothingChoice::Chosen(s) => format!(
                "map smoothing σ = {sigma}, chosen now on split {:?} ({} samples, best {})",
                s.split, s.samples, s.metric
            ),
            SmoothingChoice::Unset => "map smoothing off: none stored with the checkpoint \
                                       (`pretext eval localize --smooth auto` on a synthetic \
                                       world chooses and stores one)"
                .to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_dir_is_found_only_for_run_checkpoints() {
        assert_eq!(
            run_dir(Path::new("/r/run/checkpoints/best.safetensors")),
            Some(PathBuf::from("/r/run"))
        );
        assert_eq!(run_dir(Path::new("/r/model.safetensors")), None);
    }

    #[test]
    fn choices_report_their_sigma_and_source() {
        let stored = StoredSmoothing {
            sigma: MapSmoothing::new(0.25).unwrap(),
            split: "val".into(),
            data: "/w".into(),
            samples: 180,
            metric: "cIoU@0.5".into(),
            tried: vec![(0.0, 0.7), (0.25, 0.9)],
            settings: serde_json::json!({}),
        };
        let c = SmoothingChoice::Stored(stored.clone());
        assert_eq!(
            (c.smoothing().sigma(), c.source(), c.chosen_on()),
            (0.25, "stored", Some("val"))
        );
        assert!(c.describe().contains("0.25") && c.describe().contains("stored"));
        assert_eq!(SmoothingChoice::Unset.smoothing(), MapSmoothing::OFF);
        // The record round-trips through JSON (what the checkpoint keeps).
        let v = serde_json::to_value(&stored).unwrap();
        assert_eq!(serde_json::from_value::<StoredSmoothing>(v).unwrap(), stored);
    }
}
