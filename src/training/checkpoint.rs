//! Checkpoints: one `.safetensors` file holding the model's variables under their VarStore
//! names (what PyTorch loads), the AdamW moments (`optim.*`), and a `meta.json` entry (a u8
//! tensor of UTF-8 JSON: step, pipeline position, the resolved run config, the last validation).
//! With weight averaging on, the model's variables are the average and the live training
//! weights follow under `ema.live.*` (see `ema.rs`).
//! A checkpoint therefore describes itself: `eval` and `embed` need nothing else.
//!
//! Files are written to a temporary sibling and renamed, so a run killed at any moment leaves
//! either the previous checkpoint or the new one, never half of one. A run folder keeps the last
//! K `step-NNNNNNNN.safetensors` plus `best.safetensors`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use tch::{nn::VarStore, Device, Kind, Tensor};

use super::{RunConfig, TrainingError};

/// Name of the metadata entry.
pub const META_NAME: &str = "meta.json";
/// Version of the layout described above. 2: variables under `trunk.*`/`heads.<task>.*`, the
/// task as a name plus options. Format 1 (before the task plug-ins) is read and upgraded
/// ([`upgrade_v1`]).
pub const FORMAT_VERSION: u32 = 2;

/// What a checkpoint says about itself.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CheckpointMeta {
    /// Layout version.
    pub format: u32,
    /// Optimisation steps done.
    pub step: u64,
    /// Training examples consumed: where the pipeline resumes.
    pub samples_seen: u64,
    /// The resolved configuration of the run.
    pub run: RunConfig,
    /// Best validation metric so far (the task's metric).
    pub best_metric: Option<f64>,
    /// The last validation report, if any.
    pub last_val: Option<serde_json::Value>,
    /// Wall-clock seconds spent training up to this checkpoint (over all resumptions).
    pub elapsed_s: f64,
    /// Decisions made about this model after training that its users should inherit, by key
    /// (e.g. `localize.smoothing`: the map smoothing chosen on a validation split). Written by
    /// [`attach`]; absent in checkpoints that have none.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attached: BTreeMap<String, serde_json::Value>,
}

fn ck_err(path: &Path, reason: impl Into<String>) -> TrainingError {
    TrainingError::Checkpoint { path: path.to_path_buf(), reason: reason.into() }
}

/// A safetensors failure as an error naming `path`: the OS error when there is one (issue #26:
/// its own text is a debug dump such as `IoError(Os { code: 28, .. })`), else `what` + reason.
fn safetensors_err(path: &Path, e: tch::TchError, what: &str) -> TrainingError {
    match e {
        tch::TchError::SafeTensorError {
            err: safetensors::SafeTensorError::IoError(io), ..
        } => TrainingError::file(path, io),
        e => ck_err(path, format!("{what}{e}")),
    }
}

/// Writes a checkpoint atomically: `vs`'s variables, then the training `state` (optimizer
/// moments, live weights under EMA) as given.
pub fn save_checkpoint(
    path: &Path,
    vs: &VarStore,
    state: Vec<(String, Tensor)>,
    meta: &CheckpointMeta,
) -> Result<(), TrainingError> {
    let mut named: Vec<(String, Tensor)> = Vec::new();
    let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    vars.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in vars {
        named.push((name, t.f_detach()?.f_to(Device::Cpu)?.f_contiguous()?));
    }
    named.extend(state);
    write_tensors(path, named, meta)
}

/// Writes `named` plus `meta` to `path` through a synced temporary sibling and a rename.
fn write_tensors(
    path: &Path,
    mut named: Vec<(String, Tensor)>,
    meta: &CheckpointMeta,
) -> Result<(), TrainingError> {
    let json = serde_json::to_vec(meta).map_err(|e| ck_err(path, e.to_string()))?;
    named.push((META_NAME.to_string(), Tensor::from_slice(&json)));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    if let Err(e) = Tensor::write_safetensors(&named, &tmp) {
        let _ = std::fs::remove_file(&tmp);
        return Err(safetensors_err(path, e, ""));
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| TrainingError::file(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| TrainingError::file(path, e))
}

/// Reads every tensor of a checkpoint and its metadata.
pub fn read_checkpoint(
    path: &Path,
) -> Result<(CheckpointMeta, HashMap<String, Tensor>), TrainingError> {
    if !path.is_file() {
        return Err(ck_err(path, "no such file"));
    }
    let mut tensors: HashMap<String, Tensor> = Tensor::read_safetensors(path)
        .map_err(|e| safetensors_err(path, e, "not a readable safetensors file: "))?
        .into_iter()
        .collect();
    let meta = tensors
        .get(META_NAME)
        .ok_or_else(|| ck_err(path, "no meta.json entry (not a pretext checkpoint?)"))?;
    let bytes: Vec<u8> =
        Vec::<u8>::try_from(meta.to_kind(Kind::Uint8)).map_err(|e| ck_err(path, e.to_string()))?;
    let mut raw: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|e| ck_err(path, format!("meta.json: {e}")))?;
    let format = raw.get("format").and_then(|f| f.as_u64()).unwrap_or(0);
    match format {
        1 => {
            raw = upgrade_v1(raw).map_err(|e| ck_err(path, format!("format 1 meta.json: {e}")))?;
            tensors = tensors.into_iter().map(|(k, v)| (crate::models::rename_v1(&k), v)).collect();
        }
        f if f == u64::from(FORMAT_VERSION) => {}
        f => {
            return Err(ck_err(
                path,
                format!("format {f} (this build reads 1 and {FORMAT_VERSION})"),
            ))
        }
    }
    let meta: CheckpointMeta =
        serde_json::from_value(raw).map_err(|e| ck_err(path, format!("meta.json: {e}")))?;
    Ok((meta, tensors))
}

/// Records `value` under `key` in the checkpoint's metadata ([`CheckpointMeta::attached`]),
/// rewriting the file atomically (a crash leaves the old file or the new one) with every tensor
/// as it was. A format-1 checkpoint is rewritten as format 2.
pub fn attach(path: &Path, key: &str, value: serde_json::Value) -> Result<(), TrainingError> {
    let (mut meta, tensors) = read_checkpoint(path)?;
    meta.format = FORMAT_VERSION;
    meta.attached.insert(key.to_string(), value);
    let mut named: Vec<(String, Tensor)> =
        tensors.into_iter().filter(|(k, _)| k != META_NAME).collect();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    write_tensors(path, named, &meta)
}

/// Upgrades a format-1 `meta.json`: the task kind becomes a task name with the options the run
/// used (read from its data description where recorded), and the two in-batch settings move
/// from `[train]` into the task's options.
pub fn upgrade_v1(mut meta: serde_json::Value) -> Result<serde_json::Value, String> {
    use serde_json::{json, Value};
    let run = meta.get_mut("run").ok_or("no run")?;
    let kind = run.get("task").and_then(Value::as_str).ok_or("no task")?.to_string();
    let train = run.get_mut("train").and_then(Value::as_object_mut).ok_or("no train")?;
    let hard_share = train.remove("hard_share").and_then(|v| v.as_f64());
    let same_file = train.remove("same_file_min_shift").and_then(|v| v.as_f64()).unwrap_or(0.0);
    let p = run.get("data").and_then(|d| d.get("pipeline")).cloned().unwrap_or(Value::Null);
    let neg = |v: &Value| -> Value {
        match (v.get("easy").and_then(Value::as_bool), v.get("hard").and_then(Value::as_bool)) {
            (Some(true), Some(true)) => "easy,hard".into(),
            (Some(false), Some(true)) => "hard".into(),
            (Some(_), Some(_)) => "easy".into(),
            _ => Value::Null,
        }
    };
    let mut avc = json!({
        "negatives": neg(&p["train_negatives"]),
        "eval_negatives": neg(&p["eval_negatives"]),
        "min_shift": p["min_shift"],
        "hard_share": p["hard_share"],
        "curriculum_to": p["curriculum"]["to"],
        "curriculum_over": p["curriculum"]["over"],
        "train_positive_ratio": p["train_positive_ratio"],
    });
    let (name, mut options) = match kind.as_str() {
        "avc" => {
            avc["objective"] = "pairs".into();
            ("avc", avc)
        }
        "avc-in-batch" => {
            avc["objective"] = "in-batch".into();
            avc["hard_share"] = hard_share.map(Value::from).unwrap_or(Value::Null);
            avc["curriculum_to"] = Value::Null;
            avc["curriculum_over"] = Value::Null;
            if same_file > 0.0 {
                avc["same_file_negatives"] = true.into();
                avc["min_shift"] = same_file.into();
            }
            ("avc", avc)
        }
        "localize-contrastive" => ("localize", json!({ "objective": "contrastive" })),
        "frame-order" => (
            "frame-order",
            json!({ "gap": p["frame_order_gap"], "train_positive_ratio": p["train_positive_ratio"] }),
        ),
        other => return Err(format!("unknown task kind '{other}'")),
    };
    if let Some(o) = options.as_object_mut() {
        o.retain(|_, v| !v.is_null());
    }
    run["task"] = json!({ "name": name, "options": options });
    meta["format"] = FORMAT_VERSION.into();
    Ok(meta)
}

/// Copies the model variables of a checkpoint into `vs`; every variable must be present with
/// the same shape (so a checkpoint of another model is an error, not a silent partial load).
pub fn load_variables(
    path: &Path,
    vs: &VarStore,
    tensors: &HashMap<String, Tensor>,
) -> Result<(), TrainingError> {
    let _guard = tch::no_grad_guard();
    for (name, mut var) in vs.variables() {
        let src =
            tensors.get(&name).ok_or_else(|| ck_err(path, format!("lacks variable {name}")))?;
        if src.size() != var.size() {
            return Err(ck_err(
                path,
                format!("{name}: shape {:?}, model has {:?}", src.size(), var.size()),
            ));
        }
        if src.is_floating_point() && !bool::try_from(src.f_isfinite()?.f_all()?)? {
            return Err(ck_err(
                path,
                format!(
                    "{name} holds NaN or infinite values: the run had diverged before this \
                     checkpoint was written; use an earlier checkpoint"
                ),
            ));
        }
        var.f_copy_(src)?;
    }
    Ok(())
}

/// Path of the step checkpoint `step` in `dir`.
pub fn step_path(dir: &Path, step: u64) -> PathBuf {
    dir.join(format!("step-{step:08}.safetensors"))
}

/// Step checkpoints in `dir`, oldest first.
pub fn step_checkpoints(dir: &Path) -> Vec<(u64, PathBuf)> {
    let mut out: Vec<(u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step-")?.strip_suffix(".safetensors")?.parse().ok()?;
            Some((step, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// The newest step checkpoint in `dir`.
pub fn latest_checkpoint(dir: &Path) -> Option<PathBuf> {
    step_checkpoints(dir).pop().map(|(_, p)| p)
}

/// The newest readable checkpoint of a run folder, by the step it records, among the step
/// checkpoints and `best.safetensors`; what `--resume` can fall back to when the newest file is
/// damaged. Unreadable candidates are skipped.
pub fn newest_readable(dir: &Path) -> Option<(PathBuf, u64)> {
    let mut paths: Vec<PathBuf> = step_checkpoints(dir).into_iter().map(|(_, p)| p).collect();
    paths.push(dir.join("best.safetensors"));
    paths
        .into_iter()
        .filter(|p| p.is_file())
        .filter_map(|p| read_checkpoint(&p).ok().map(|(m, _)| (p, m.step)))
        .max_by_key(|(_, step)| *step)
}

/// Removes all but the newest `keep` step checkpoints.
pub fn prune(dir: &Path, keep: usize) -> Result<(), TrainingError> {
    let all = step_checkpoints(dir);
    let n = all.len().saturating_sub(keep);
    for (_, p) in all.into_iter().take(n) {
        std::fs::remove_file(&p).map_err(|e| TrainingError::file(&p, e))?;
    }
    Ok(())
}

/// A model rebuilt from a checkpoint, for evaluation and embedding.
pub struct LoadedCheckpoint {
    /// Its metadata.
    pub meta: CheckpointMeta,
    /// The variables.
    pub vs: VarStore,
}

/// Reads a checkpoint's metadata and builds a VarStore on `device` filled by `build`.
pub fn load_for_inference<M>(
    path: &Path,
    device: Device,
    build: impl FnOnce(&tch::nn::Path, &CheckpointMeta) -> Result<M, TrainingError>,
) -> Result<(LoadedCheckpoint, M), TrainingError> {
    let (meta, tensors) = read_checkpoint(path)?;
    let vs = VarStore::new(device);
    let model = build(&vs.root(), &meta)?;
    load_variables(path, &vs, &tensors)?;
    Ok((LoadedCheckpoint { meta, vs }, model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safetensors_os_errors_read_as_sentences() {
        let full = std::io::Error::from_raw_os_error(28);
        let e = tch::TchError::SafeTensorError {
            path: "/run/ck.safetensors".into(),
            err: safetensors::SafeTensorError::IoError(full),
        };
        let text = safetensors_err(Path::new("/run/ck.safetensors"), e, "").to_string();
        assert!(!text.contains("IoError") && !text.contains("Os {"), "{text}");
        assert!(text.starts_with("/run/ck.safetensors: No space left on device"), "{text}");
    }
}
