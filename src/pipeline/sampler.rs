//! The sampler stage: turns the index into decode jobs, deterministically.
//!
//! Sequence numbers are laid out epoch by epoch: epoch `e` visits the usable files in an order
//! drawn from `(seed, e)` and gives each file `clips_per_file` consecutive sequence numbers. The
//! plan of example `seq` (times, label, negative source, augmentation) depends only on
//! `(seed, seq)` and the index, never on worker count or timing, so a stream can be resumed at
//! any `seq` ([`Schedule::locate`]). One [`Job`] carries every example a file owes in an epoch,
//! so a decode worker visits the file once.
//!
//! Flow control: the sampler takes one token per example from a bounded token channel and the
//! batcher returns it when the example (or its drop notice) leaves the reorder buffer. This caps
//! the examples in flight, hence the reorder buffer, whatever a slow worker does.

use std::sync::atomic::AtomicBool;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{
    channel, AugmentConfig, AugmentParams, IndexEntry, InputSpec, PipelineError, PlanContext,
    SampleSpec, StageStats, TaskData,
};

/// Stream tags separating the random draws made for one `(seed, n)`.
const TAG_EPOCH: u64 = 1;
const TAG_PLAN: u64 = 2;
const TAG_AUGMENT: u64 = 3;
const TAG_DECODE: u64 = 4;
const TAG_ASSEMBLE: u64 = 5;

/// The random generator of item `n` (an epoch or a sequence number) for purpose `tag`.
pub fn item_rng(seed: u64, n: u64, tag: u64) -> ChaCha8Rng {
    let mut s = [0u8; 32];
    s[..8].copy_from_slice(&seed.to_le_bytes());
    s[8..16].copy_from_slice(&n.to_le_bytes());
    s[16..24].copy_from_slice(&tag.to_le_bytes());
    s[24..].copy_from_slice(b"pretext!");
    ChaCha8Rng::from_seed(s)
}

/// The generator a decode worker uses for `spec`'s decode-time choices.
pub fn decode_rng(spec: &SampleSpec) -> ChaCha8Rng {
    item_rng(spec.rng_seed, spec.seq, TAG_DECODE)
}

/// The generator a feature worker hands the task's assembler for `spec`.
pub fn assemble_rng(spec: &SampleSpec) -> ChaCha8Rng {
    item_rng(spec.rng_seed, spec.seq, TAG_ASSEMBLE)
}

/// All examples a file owes in one epoch.
#[derive(Debug, Clone)]
pub struct Job {
    /// Index of the file.
    pub file: usize,
    /// The examples, by increasing `seq`.
    pub specs: Vec<SampleSpec>,
}

/// Where sequence numbers fall.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Usable files.
    pub n_files: usize,
    /// Examples per file per epoch.
    pub clips_per_file: usize,
    /// Master seed.
    pub seed: u64,
    /// Shuffle files per epoch.
    pub shuffle: bool,
}

impl Schedule {
    /// Examples per epoch.
    pub fn per_epoch(&self) -> u64 {
        self.n_files as u64 * self.clips_per_file as u64
    }

    /// File order of `epoch`.
    pub fn epoch_order(&self, epoch: u64) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.n_files).collect();
        if self.shuffle {
            order.shuffle(&mut item_rng(self.seed, epoch, TAG_EPOCH));
        }
        order
    }

    /// `(epoch, position in the epoch's file order, clip)` of `seq`.
    pub fn locate(&self, seq: u64) -> (u64, usize, usize) {
        let per = self.per_epoch().max(1);
        let k = self.clips_per_file.max(1) as u64;
        let within = seq % per;
        (seq / per, (within / k) as usize, (within % k) as usize)
    }
}

/// Plans example `seq` of `file`: the task's plan plus augmentation and decode seed.
pub fn plan_example(
    task: &dyn TaskData,
    ctx: &PlanContext<'_>,
    augment: &AugmentConfig,
    seed: u64,
    file: usize,
    seq: u64,
) -> SampleSpec {
    let mut spec = task.plan(ctx, file, seq, &mut item_rng(seed, seq, TAG_PLAN));
    let mut r = item_rng(seed, seq, TAG_AUGMENT);
    let j = augment.jitter;
    let factor = |r: &mut ChaCha8Rng| if j > 0.0 { r.gen_range(1.0 - j..=1.0 + j) } else { 1.0 };
    spec.augment = AugmentParams {
        crop_x: if augment.random_crop { r.gen_range(0.0..=1.0) } else { 0.5 },
        crop_y: if augment.random_crop { r.gen_range(0.0..=1.0) } else { 0.5 },
        flip: augment.flip && r.gen_bool(0.5),
        brightness: factor(&mut r),
        contrast: factor(&mut r),
        saturation: factor(&mut r),
    };
    spec.rng_seed = seed;
    spec
}

/// What the sampler stage needs.
pub struct SamplerInput<'a> {
    /// Usable files.
    pub index: &'a [IndexEntry],
    /// The task.
    pub task: &'a dyn TaskData,
    /// Schedule.
    pub schedule: Schedule,
    /// Augmentation policy.
    pub augment: &'a AugmentConfig,
    /// What the model sees.
    pub input: &'a InputSpec,
    /// First sequence number.
    pub start_seq: u64,
    /// Epoch limit (`None`: forever).
    pub epochs: Option<u64>,
}

/// Runs the sampler: one job per (epoch, file), one token per example.
pub fn run(
    input: SamplerInput<'_>,
    tokens: &Receiver<()>,
    tx: &Sender<Job>,
    cancel: &AtomicBool,
) -> Result<StageStats, PipelineError> {
    let mut st = StageStats::new("sample");
    let ctx = PlanContext { index: input.index, input: input.input };
    let sch = input.schedule;
    let k = sch.clips_per_file as u64;
    let (mut epoch, first_pos, first_clip) = sch.locate(input.start_seq);
    let mut first = true;
    loop {
        if input.epochs.is_some_and(|n| epoch >= n) {
            return Ok(st);
        }
        let order = sch.epoch_order(epoch);
        let start_pos = if first { first_pos } else { 0 };
        for (pos, &file) in order.iter().enumerate().skip(start_pos) {
            let clip0 = if first { first_clip } else { 0 };
            first = false;
            let base = epoch * sch.per_epoch() + pos as u64 * k;
            let mut specs = Vec::with_capacity(k as usize);
            for c in clip0 as u64..k {
                if channel::recv(tokens, cancel, &mut st).is_none() {
                    return Ok(st);
                }
                let t0 = Instant::now();
                specs.push(plan_example(input.task, &ctx, input.augment, sch.seed, file, base + c));
                st.busy(t0.elapsed());
            }
            st.items += specs.len() as u64;
            if !channel::send(tx, Job { file, specs }, cancel, &mut st) {
                return Ok(st);
            }
        }
        first = false;
        epoch += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedule_is_a_bijection_per_epoch() {
        let s = Schedule { n_files: 5, clips_per_file: 3, seed: 9, shuffle: true };
        let o1 = s.epoch_order(0);
        let o2 = s.epoch_order(1);
        let mut sorted = o1.clone();
        sorted.sort();
        assert_eq!(sorted, vec![0, 1, 2, 3, 4]);
        assert_ne!(o1, o2, "epochs differ");
        assert_eq!(o1, s.epoch_order(0), "reproducible");
        assert_eq!(s.locate(0), (0, 0, 0));
        assert_eq!(s.locate(14), (0, 4, 2));
        assert_eq!(s.locate(16), (1, 0, 1));
    }

    #[test]
    fn item_rngs_are_independent_of_order() {
        let a: u64 = item_rng(1, 5, TAG_PLAN).gen();
        let _skip: u64 = item_rng(1, 4, TAG_PLAN).gen();
        let b: u64 = item_rng(1, 5, TAG_PLAN).gen();
        assert_eq!(a, b);
        let c: u64 = item_rng(2, 5, TAG_PLAN).gen();
        assert_ne!(a, c);
    }
}
