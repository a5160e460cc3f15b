//! Where a task's examples come from for training and evaluation: `toy` (the task's generated
//! examples in memory) or video folders split by file, turned into the trainer's
//! [`DataSource`] with the task's training and evaluation samplers.

use std::path::{Path, PathBuf};

use super::TaskError as Error;
use super::{Role, Task};
use crate::pipeline::InputSpec;
use crate::training::{split_files, DataSource, PipelineSource, PipelineSourceConfig, ToySource};

type Result<T> = std::result::Result<T, Error>;

/// The data side of a run or an evaluation.
#[derive(Debug, Clone)]
pub struct DataSpec {
    /// Video folders or files, or the single word `toy`.
    pub data: Vec<PathBuf>,
    /// A split file (see `training::split_files`).
    pub split_file: Option<PathBuf>,
    /// Decode workers (feature workers: half of them, at least one).
    pub workers: usize,
    /// Held-out examples per validation or evaluation.
    pub val_examples: u64,
    /// Examples per file visit.
    pub clips_per_file: usize,
    /// The held-out split read: `val` or `test`.
    pub eval_split: String,
    /// Seed of the streams.
    pub seed: u64,
    /// The run folder (split.json, probe cache, quarantine), when training.
    pub run_dir: Option<PathBuf>,
    /// Decode every file whole at index time and quarantine damaged ones.
    pub verify: bool,
}

impl DataSpec {
    /// Feature workers of a pipeline with `decode_workers` decode workers (half, at least one).
    pub fn feature_workers_for(decode_workers: usize) -> usize {
        (decode_workers / 2).max(1)
    }

    /// Whether this is the generated in-memory source.
    pub fn is_toy(&self) -> bool {
        self.data.len() == 1 && self.data[0].as_os_str() == "toy"
    }
}

/// Opens the data source of `task` seen through `input`.
pub fn data_source(
    task: &dyn Task,
    input: &InputSpec,
    spec: &DataSpec,
) -> Result<Box<dyn DataSource>> {
    let (train, eval) = (task.data(Role::Train), task.data(Role::Eval));
    if spec.is_toy() {
        let seed = if spec.eval_split == "test" { spec.seed ^ 0x7e57 } else { spec.seed };
        let mut toy = ToySource::new(train, eval, input.clone(), seed);
        toy.val_examples = spec.val_examples as usize;
        return Ok(Box::new(toy));
    }
    for d in &spec.data {
        if !d.exists() {
            return Err(Error::Config(format!("--data {}: no such file or folder", d.display())));
        }
    }
    let files = split_files(&spec.data, spec.split_file.as_deref())?;
    if let Some(dir) = &spec.run_dir {
        let json = serde_json::to_vec_pretty(&files).map_err(|e| Error::Config(e.to_string()))?;
        crate::io::write_atomic(&dir.join("split.json"), &json)?;
    }
    let cfg = PipelineSourceConfig {
        seed: spec.seed,
        decode_workers: spec.workers.max(1),
        feature_workers: DataSpec::feature_workers_for(spec.workers),
        eval_split: spec.eval_split.clone(),
        val_examples: spec.val_examples,
        clips_per_file: spec.clips_per_file,
        state_dir: spec.run_dir.as_deref().map(Path::to_path_buf),
        verify: spec.verify,
    };
    Ok(Box::new(PipelineSource::new(files, input, train, eval, cfg)?))
}
