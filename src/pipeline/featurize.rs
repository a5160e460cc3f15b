//! Feature workers: hand each decoded example to the task's assembler, which turns frames and
//! audio into the example's named fields (the standard crop/flip/jitter/normalise and the
//! spectrogram come from [`AssembleContext`]), and write the example's reproduction record. One
//! [`Spectrogram`] per worker: its FFT plans and scratch buffers are built on the worker's
//! thread and reused.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::decode::Decoded;
use super::sampler::assemble_rng;
use super::{
    channel, AssembleContext, Example, IndexEntry, InputSpec, PipelineError, SampleMeta,
    SampleSpec, StageStats, TaskData,
};
use crate::features::Spectrogram;
use crate::media::RgbFrame;

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
    pub task: &'a dyn TaskData,
    /// What the model sees.
    pub input: &'a InputSpec,
}

/// Assembles one decoded example: the task's fields plus its reproduction record.
pub fn assemble(
    ctx: &FeatureContext<'_>,
    spec: &SampleSpec,
    frames: &[RgbFrame],
    audio: &[f32],
    spectrogram: &mut Option<Spectrogram>,
) -> Result<Example, PipelineError> {
    let mut cx = AssembleContext::new(ctx.input, spectrogram, assemble_rng(spec));
    let fields = ctx.task.assemble(spec, frames, audio, &mut cx)?;
    let name = |f: usize| ctx.index[f].path.to_string_lossy().into_owned();
    let meta = SampleMeta {
        seq: spec.seq,
        file: name(spec.file),
        video_times: spec.video_times.clone(),
        audio_file: spec.audio.map(|a| name(a.file)),
        audio_time: spec.audio.map(|a| a.start),
        label: spec.label,
        kind: spec.kind.clone(),
        augment: Some(spec.augment),
        frame_pts: frames.iter().map(|f| f.pts).collect(),
    };
    Ok(Example { meta, fields })
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
                st.items += 1;
                let e = assemble(ctx, &spec, &frames, &audio, &mut spectrogram)?;
                Featured::Example(Box::new(e))
            }
        };
        st.busy(t0.elapsed());
        if !channel::send(tx, out, cancel, &mut st) {
            break;
        }
    }
    Ok(st)
}
