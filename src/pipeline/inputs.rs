//! Model inputs for given moments of a file, outside training: the one path `embed`,
//! `localize` and evaluation use, and the same code the pipeline's workers run.
//!
//! [`InputReader::at`] probes the file, asks the task for the example of each time
//! ([`TaskData::plan_at`]: the frames and audio window of that moment, no randomness), decodes
//! them in one visit with the decode worker's code (`decode::decode_job`) and assembles them with
//! the feature worker's (`featurize::assemble`) with no augmentation: the centred crop, no flip,
//! no jitter. What comes out is exactly what validation batches hold.

use std::path::Path;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use super::decode::{self, DecodeContext, Decoded};
use super::featurize::{self, FeatureContext};
use super::sampler::Job;
use super::{
    file_stamp, Example, IndexEntry, InputSpec, PipelineError, PlanContext, Progress, Quarantine,
    TaskData,
};
use crate::features::Spectrogram;
use crate::media::{probe, MediaError};

/// Reads model inputs for moments of files, reusing its spectrogram extractor across files.
pub struct InputReader {
    task: Arc<dyn TaskData>,
    input: InputSpec,
    deadline: Duration,
    spectrogram: Option<Spectrogram>,
}

impl std::fmt::Debug for InputReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InputReader").field("task", &self.task.name()).finish_non_exhaustive()
    }
}

impl InputReader {
    /// A reader for `task`'s examples as `input` defines them; `deadline` bounds each file's
    /// decoding.
    pub fn new(task: Arc<dyn TaskData>, input: InputSpec, deadline: Duration) -> Self {
        InputReader { task, input, deadline, spectrogram: None }
    }

    /// What the model sees.
    pub fn input(&self) -> &InputSpec {
        &self.input
    }

    /// The file's index entry (its video stream's range, frame rate, audio range).
    pub fn entry(path: &Path) -> Result<IndexEntry, PipelineError> {
        let (size, mtime) =
            file_stamp(path).map_err(|e| PipelineError::file(path, "reading", e))?;
        let info = probe(path).map_err(|e| PipelineError::Media(Box::new(e)))?;
        IndexEntry::from_probe(&info, size, mtime).ok_or_else(|| {
            PipelineError::Media(Box::new(MediaError::NoStream {
                path: path.to_path_buf(),
                kind: "video",
            }))
        })
    }

    /// The examples of `path` at `times` (seconds on the container clock), in order; `None`
    /// where the task has no example at that time (too close to an end, no audio there). An
    /// example may hold fewer fields than the task declares where the file lacks a stream (an
    /// audio-visual task's frames of a silent file).
    pub fn at(
        &mut self,
        path: &Path,
        times: &[f64],
    ) -> Result<Vec<Option<Example>>, PipelineError> {
        let entry = Self::entry(path)?;
        self.at_entry(&entry, times)
    }

    /// [`Self::at`] for a file already probed.
    pub fn at_entry(
        &mut self,
        entry: &IndexEntry,
        times: &[f64],
    ) -> Result<Vec<Option<Example>>, PipelineError> {
        let index = std::slice::from_ref(entry);
        let task = self.task.as_ref();
        // No `usable` check: that is the training sampler's rule; `plan_at` says per time
        // whether the task has an example there (a file without sound may still have frames).
        let ctx = PlanContext { index, input: &self.input };
        let mut slots: Vec<Option<usize>> = vec![None; times.len()];
        let mut specs = Vec::new();
        for (i, &t) in times.iter().enumerate() {
            if let Some(mut s) = task.plan_at(&ctx, 0, t) {
                s.seq = specs.len() as u64;
                slots[i] = Some(specs.len());
                specs.push(s);
            }
        }
        let quarantine = Quarantine::in_memory();
        let progress = Progress::default();
        let dctx = DecodeContext {
            index,
            task,
            input: &self.input,
            deadline: self.deadline,
            quarantine: &quarantine,
            progress: &progress,
        };
        let never = AtomicBool::new(false);
        let decoded = decode::decode_job(&dctx, Job { file: 0, specs }, &never)?;
        if let Some(q) = quarantine.added().into_iter().next() {
            return Err(PipelineError::Decode { path: q.path, reason: q.reason });
        }
        let fctx = FeatureContext { index, task, input: &self.input };
        let mut examples = Vec::with_capacity(decoded.len());
        for d in decoded {
            examples.push(match d {
                Decoded::Sample { spec, frames, audio } => {
                    Some(featurize::assemble(&fctx, &spec, &frames, &audio, &mut self.spectrogram)?)
                }
                Decoded::Dropped { .. } => None,
            });
        }
        Ok(slots.into_iter().map(|s| s.and_then(|k| examples.get_mut(k)?.take())).collect())
    }
}
