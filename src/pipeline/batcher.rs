//! Assemble and batch: the last stage. It puts examples back in sequence order (reorder buffer),
//! returns one flow-control token per released sequence number, and packs examples into
//! contiguous [`Batch`]es: frames `[B, C, H, W]` (or `[B, K, C, H, W]` for K-frame tuples),
//! spectrograms `[B, 1, F, T]`, labels and metadata.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::featurize::{Example, Featured};
use super::reorder::Reorder;
use super::{channel, Batch, PipelineError, Progress, StageStats};

/// Batch layout and stop rule.
#[derive(Debug, Clone, Copy)]
pub struct BatchPlan {
    /// Examples per batch.
    pub batch_size: usize,
    /// Frames per example.
    pub frames_per_example: usize,
    /// Crop side.
    pub side: usize,
    /// Emit a last smaller batch.
    pub keep_partial: bool,
    /// Stop after this many examples.
    pub max_samples: Option<u64>,
    /// First sequence number expected.
    pub start_seq: u64,
}

/// How the batcher ended.
#[derive(Debug, Clone, Copy, Default)]
pub struct BatchOutcome {
    /// Examples delivered.
    pub samples: u64,
    /// Examples dropped (quarantined sources).
    pub dropped: u64,
    /// The stream ended by itself (epochs or `max_samples`), not by cancellation.
    pub complete: bool,
    /// Largest reorder-buffer occupancy seen.
    pub reorder_max: u64,
}

fn pack(examples: &mut Vec<Example>, plan: &BatchPlan) -> Result<Batch, PipelineError> {
    let b = examples.len();
    let mut batch = Batch::default();
    let (f, t) = examples.first().map(|e| e.spec_shape).unwrap_or((0, 0));
    batch.frames.reserve(examples.iter().map(|e| e.frames.len()).sum());
    batch.specs.reserve(b * f * t);
    for e in examples.drain(..) {
        if e.spec_shape != (f, t) {
            return Err(PipelineError::Config(format!(
                "spectrogram shapes differ within a batch: {:?} vs {:?}",
                e.spec_shape,
                (f, t)
            )));
        }
        batch.frames.extend_from_slice(&e.frames);
        batch.specs.extend_from_slice(&e.spec);
        batch.labels.push(e.meta.label);
        batch.meta.push(e.meta);
    }
    let s = plan.side;
    batch.frame_shape = if plan.frames_per_example == 1 {
        vec![b, 3, s, s]
    } else {
        vec![b, plan.frames_per_example, 3, s, s]
    };
    batch.spec_shape = if f * t > 0 { vec![b, 1, f, t] } else { Vec::new() };
    Ok(batch)
}

/// Runs the batcher until the stream ends, `max_samples` is reached, or the run stops.
pub fn run(
    plan: &BatchPlan,
    progress: &Progress,
    rx: &Receiver<Featured>,
    tokens: &Sender<()>,
    out: &Sender<Result<Batch, PipelineError>>,
    cancel: &AtomicBool,
) -> Result<(StageStats, BatchOutcome), PipelineError> {
    let mut st = StageStats::new("batch");
    let mut reorder: Reorder<Box<Example>> = Reorder::new(plan.start_seq);
    let mut pending: Vec<Example> = Vec::with_capacity(plan.batch_size);
    let mut res = BatchOutcome::default();
    let limit = plan.max_samples.unwrap_or(u64::MAX);
    'outer: while let Some(item) = channel::recv(rx, cancel, &mut st) {
        let t0 = Instant::now();
        match item {
            Featured::Example(e) => reorder.push(e.meta.seq, Some(e)),
            Featured::Dropped(seq) => reorder.push(seq, None),
        }
        res.reorder_max = res.reorder_max.max(reorder.len() as u64);
        while let Some((_, ex)) = reorder.pop() {
            let _ = tokens.try_send(());
            match ex {
                None => res.dropped += 1,
                Some(e) => {
                    pending.push(*e);
                    res.samples += 1;
                    progress.samples.fetch_add(1, Ordering::Relaxed);
                }
            }
            let full = pending.len() == plan.batch_size;
            let last = res.samples >= limit;
            if full || (last && !pending.is_empty()) {
                let batch = pack(&mut pending, plan)?;
                st.items += 1;
                if !channel::send(out, Ok(batch), cancel, &mut st) {
                    break 'outer;
                }
            }
            if last {
                res.complete = true;
                break 'outer;
            }
        }
        st.busy(t0.elapsed());
    }
    if !res.complete && !cancel.load(Ordering::Relaxed) {
        // Input ended by itself: the epochs are done.
        res.complete = true;
        if plan.keep_partial && !pending.is_empty() {
            let batch = pack(&mut pending, plan)?;
            st.items += 1;
            let _ = channel::send(out, Ok(batch), cancel, &mut st);
        }
    }
    Ok((st, res))
}
