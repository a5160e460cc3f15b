//! Assemble and batch: the last stage. It puts examples back in sequence order (reorder buffer),
//! returns one flow-control token per released sequence number, and packs examples into
//! contiguous [`Batch`]es: every field the task declares stacked to `[B, ...]` (a field whose
//! shape or dtype differs from its declaration is an error naming the example), plus metadata.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::example::stack;
use super::featurize::Featured;
use super::reorder::Reorder;
use super::{channel, Batch, Example, FieldSpec, PipelineError, Progress, StageStats};

/// Batch layout and stop rule.
#[derive(Debug, Clone)]
pub struct BatchPlan {
    /// Examples per batch.
    pub batch_size: usize,
    /// The fields every example declares (stacked in this order).
    pub fields: Vec<FieldSpec>,
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

/// Stacks the pending examples into a [`Batch`] (checking every field against its declaration)
/// and empties `examples`.
pub fn pack(examples: &mut Vec<Example>, fields: &[FieldSpec]) -> Result<Batch, PipelineError> {
    let stacked = stack(fields, examples).map_err(PipelineError::Config)?;
    let meta = examples.drain(..).map(|e| e.meta).collect();
    Ok(Batch { fields: stacked, meta })
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
                let batch = pack(&mut pending, &plan.fields)?;
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
            let batch = pack(&mut pending, &plan.fields)?;
            st.items += 1;
            let _ = channel::send(out, Ok(batch), cancel, &mut st);
        }
    }
    Ok((st, res))
}
