//! Feature workers: augment the decoded frames into normalised CHW f32 (and let the task
//! transform them), and compute the spectrogram of the audio window with one [`Spectrogram`]
//! per worker (its FFT plans and scratch buffers are built on the worker's thread and reused).

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::augment::{augment_into, Normalize};
use super::decode::Decoded;
use super::{channel, IndexEntry, PipelineError, SampleMeta, StageStats};
use crate::features::{Preset, Spectrogram};
use crate::tasks::Task;

/// A finished example.
#[derive(Debug, Clone)]
pub struct Example {
    /// Reproduction record.
    pub meta: SampleMeta,
    /// `[K, 3, side, side]` values (K = frames per example).
    pub frames: Vec<f32>,
    /// `[F, T]` spectrogram values (empty for vision-only tasks).
    pub spec: Vec<f32>,
    /// `(F, T)`.
    pub spec_shape: (usize, usize),
}

/// An example, or the notice that one was dropped.
#[derive(Debug)]
pub enum Featured {
    /// A finished example.
    Example(Box<Example>),
    /// Sequence number of a dropped example.
    Dropped(u64),
}

/// What every feature worker shares.
pub struct FeatureContext<'a> {
    /// Usable files (for names in the metadata).
    pub index: &'a [IndexEntry],
    /// The task.
    pub task: &'a dyn Task,
    /// Crop side.
    pub frame_size: usize,
    /// Normalisation.
    pub norm: Normalize,
    /// Spectrogram preset.
    pub preset: Preset,
}

/// Runs one feature worker.
pub fn run(
    ctx: &FeatureContext<'_>,
    rx: &Receiver<Decoded>,
    tx: &Sender<Featured>,
    cancel: &AtomicBool,
) -> Result<StageStats, PipelineError> {
    let mut st = StageStats::new("features");
    let mut spectrogram: Option<Spectrogram> = None;
    while let Some(d) = channel::recv(rx, cancel, &mut st) {
        let t0 = Instant::now();
        let out = match d {
            Decoded::Dropped { seq } => Featured::Dropped(seq),
            Decoded::Sample { spec, frames, audio } => {
                let side = ctx.frame_size;
                let per = 3 * side * side;
                let mut fbuf = vec![0.0f32; per * frames.len()];
                for (k, (f, out)) in frames.iter().zip(fbuf.chunks_exact_mut(per)).enumerate() {
                    augment_into(f, &spec.augment, side, &ctx.norm, out);
                    ctx.task.transform(&spec, k, out, side);
                }
                let (sbuf, shape) = if ctx.task.needs_audio() {
                    if spectrogram.is_none() {
                        spectrogram = Some(Spectrogram::new(ctx.preset.config())?);
                    }
                    let sp = spectrogram.as_mut().ok_or(PipelineError::Cancelled)?;
                    let shape = sp.shape(audio.len());
                    let mut sbuf = vec![0.0f32; shape.0 * shape.1];
                    sp.compute_into(&audio, &mut sbuf)?;
                    (sbuf, shape)
                } else {
                    (Vec::new(), (0, 0))
                };
                let meta = SampleMeta {
                    seq: spec.seq,
                    file: ctx.index[spec.file].path.to_string_lossy().into_owned(),
                    video_times: spec.video_times.clone(),
                    audio_file: spec
                        .audio
                        .map(|a| ctx.index[a.file].path.to_string_lossy().into_owned()),
                    audio_time: spec.audio.map(|a| a.start),
                    label: spec.label,
                    kind: spec.kind.clone(),
                    augment: Some(spec.augment),
                    frame_pts: frames.iter().map(|f| f.pts).collect(),
                };
                st.items += 1;
                Featured::Example(Box::new(Example {
                    meta,
                    frames: fbuf,
                    spec: sbuf,
                    spec_shape: shape,
                }))
            }
        };
        st.busy(t0.elapsed());
        if !channel::send(tx, out, cancel, &mut st) {
            break;
        }
    }
    Ok(st)
}
