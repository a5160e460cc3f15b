//! The `annotations.jsonl` schema of a synthetic world (one [`ClipAnnotation`] per line).
//! Other stages read it for splits (training), boxes (localisation) and onsets (tests).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::io::IoError;

/// One clip of the world.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ClipAnnotation {
    /// File name relative to the folder holding `annotations.jsonl`.
    pub file: String,
    /// "train", "val" or "test".
    pub split: String,
    /// Duration in seconds.
    pub duration: f64,
    /// Frames per second.
    pub fps: f64,
    /// Audio sample rate in Hz.
    pub sample_rate: u32,
    /// Frame width in pixels.
    pub width: u32,
    /// Frame height in pixels.
    pub height: u32,
    /// Objects on screen.
    pub objects: Vec<ObjectAnnotation>,
    /// Class of a sound whose source is not visible, if any.
    #[serde(default)]
    pub offscreen_class: Option<usize>,
    /// Onset times (seconds) of the off-screen sound.
    #[serde(default)]
    pub offscreen_onsets: Vec<f64>,
    /// Everything used to generate the clip.
    #[serde(default)]
    pub params: serde_json::Value,
}

/// One object in a clip.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectAnnotation {
    /// Class index.
    pub class: usize,
    /// Class name.
    pub class_name: String,
    /// Whether this object makes sound.
    pub sounding: bool,
    /// Per-frame bounding box `[x0, y0, x1, y1]` in pixels (x1/y1 exclusive), frame i at i/fps.
    pub boxes: Vec<[f32; 4]>,
    /// Onset times (seconds) of this object's sound; empty when silent.
    #[serde(default)]
    pub onsets: Vec<f64>,
}

/// Reads every line of an `annotations.jsonl`.
pub fn read_annotations(path: &Path) -> Result<Vec<ClipAnnotation>, IoError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| IoError::Os { path: path.to_path_buf(), source: e })?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            serde_json::from_str(line).map_err(|e| IoError::Format {
                path: path.to_path_buf(),
                format: "annotations.jsonl",
                reason: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}
