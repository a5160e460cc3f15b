//! [`BatchStream`]: the public entry point. It owns the pipeline's threads and hands out
//! batches as an iterator.
//!
//! `BatchStream::start` spawns one coordinator thread which runs every stage inside
//! `std::thread::scope`, joined by bounded channels:
//!
//! ```text
//! discover → index → sample ⇉ decode×N ⇉ features×M ⇉ batch → (iterator)
//!                      ▲                                 │
//!                      └──────── flow-control tokens ────┘
//! ```
//!
//! The first stage error wins: it is stored, the cancel flag is raised, every stage winds down,
//! and the iterator yields that error last. A panicking stage becomes a `Panic` error. Dropping
//! the stream raises the cancel flag and joins the coordinator, so no thread outlives it.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, Receiver};

use super::batcher::{self, BatchOutcome, BatchPlan};
use super::decode::{self, DecodeContext};
use super::featurize::{self, FeatureContext};
use super::sampler::{self, SamplerInput, Schedule};
use super::{index, Batch, IndexEntry, Manifest, PipelineConfig, PipelineError, PipelineStats};
use super::{Progress, Quarantine, QuarantineEntry, StageStats};

/// What a stage thread returns: its telemetry, or `None` after recording its error.
type StageResult = Option<StageStats>;

/// A running pipeline, yielding batches in deterministic order.
pub struct BatchStream {
    rx: Option<Receiver<Result<Batch, PipelineError>>>,
    cancel: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
}

struct Shared {
    progress: Progress,
    quarantine: Quarantine,
    stats: Mutex<Option<PipelineStats>>,
    index: Mutex<Vec<IndexEntry>>,
}

/// Keeps the first error; raises the cancel flag.
struct FirstError<'a> {
    slot: Mutex<Option<PipelineError>>,
    cancel: &'a AtomicBool,
}

impl FirstError<'_> {
    fn set(&self, e: PipelineError) {
        let mut slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            *slot = Some(e);
        }
        self.cancel.store(true, Ordering::SeqCst);
    }
}

/// Raises the cancel flag if its thread unwinds (so no peer waits for a dead stage).
struct PanicGuard<'a>(&'a AtomicBool);

impl Drop for PanicGuard<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.store(true, Ordering::SeqCst);
        }
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "non-string panic payload".into())
}

impl BatchStream {
    /// Validates `config` and starts the pipeline. Side files (quarantine list) are opened here,
    /// so their errors surface immediately.
    pub fn start(config: PipelineConfig) -> Result<Self, PipelineError> {
        config.validate()?;
        let quarantine = match &config.quarantine {
            Some(p) => Quarantine::open(p)?,
            None => Quarantine::in_memory(),
        };
        let manifest = Manifest::load(config.manifest.as_deref())?;
        let cancel = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            progress: Progress::default(),
            quarantine,
            stats: Mutex::new(None),
            index: Mutex::new(Vec::new()),
        });
        let (out_tx, out_rx) = bounded(2);
        let (c2, s2) = (cancel.clone(), shared.clone());
        let handle = std::thread::Builder::new()
            .name("pretext-pipeline".into())
            .spawn(move || coordinate(config, manifest, &s2, &c2, out_tx))
            .map_err(|e| PipelineError::file(&PathBuf::from("<thread>"), "spawning", e))?;
        Ok(BatchStream { rx: Some(out_rx), cancel, handle: Some(handle), shared })
    }

    /// The cancel flag: set it (e.g. from a Ctrl-C handler) to stop every stage.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Live counters (samples, files done, errors).
    pub fn progress(&self) -> (u64, u64, u64) {
        self.shared.progress.snapshot()
    }

    /// Telemetry, available once the iterator has ended.
    pub fn stats(&self) -> Option<PipelineStats> {
        self.shared.stats.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Files quarantined during this run.
    pub fn quarantined(&self) -> Vec<QuarantineEntry> {
        self.shared.quarantine.added()
    }

    /// The usable files the sampler drew from (filled once indexing is done).
    pub fn index(&self) -> Vec<IndexEntry> {
        self.shared.index.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Joins the coordinator; a panic there becomes the stream's last item.
    fn finish(&mut self) -> Option<Result<Batch, PipelineError>> {
        self.rx = None;
        let h = self.handle.take()?;
        match h.join() {
            Ok(()) => None,
            Err(p) => Some(Err(PipelineError::Panic {
                stage: "coordinator".into(),
                message: panic_message(p),
            })),
        }
    }
}

impl Iterator for BatchStream {
    type Item = Result<Batch, PipelineError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rx = self.rx.as_ref()?;
        match rx.recv() {
            Ok(b) => Some(b),
            Err(_) => self.finish(),
        }
    }
}

impl Drop for BatchStream {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
        let _ = self.finish();
    }
}

/// Runs every stage and sends batches (and the first error, last) to `out`.
fn coordinate(
    config: PipelineConfig,
    mut manifest: Manifest,
    shared: &Shared,
    cancel: &AtomicBool,
    out: crossbeam_channel::Sender<Result<Batch, PipelineError>>,
) {
    let started = Instant::now();
    let first = FirstError { slot: Mutex::new(None), cancel };
    let task = config.task.as_ref();
    let hits = AtomicU64::new(0);
    let mut stats = PipelineStats::default();
    let q = config.queue_depth;
    let mut outcome = BatchOutcome::default();

    // Phase 1: discover → index (the sampler needs the whole index to draw negatives).
    let mut entries: Vec<IndexEntry> = Vec::new();
    let shared_manifest = Mutex::new(&mut manifest);
    std::thread::scope(|s| {
        let (path_tx, path_rx) = bounded(q * 4);
        let (entry_tx, entry_rx) = bounded::<IndexEntry>(q * 4);
        let files = &config.files;
        let first = &first;
        let h1 = s.spawn(move || {
            let _g = PanicGuard(cancel);
            run_stage(first, || index::run_discover(files, &path_tx, cancel))
        });
        // Probing is I/O- and parse-bound: as many index workers as decode workers.
        let mut index_handles = Vec::new();
        for _ in 0..config.decode_workers {
            let (m, qq, pr, hh) = (&shared_manifest, &shared.quarantine, &shared.progress, &hits);
            let (rx, tx, verify) = (path_rx.clone(), entry_tx.clone(), config.verify_deadline());
            index_handles.push(s.spawn(move || {
                let _g = PanicGuard(cancel);
                run_stage(first, || index::run_index(m, qq, pr, hh, verify, &rx, &tx, cancel))
            }));
        }
        drop((path_rx, entry_tx));
        while let Ok(e) = entry_rx.recv() {
            entries.push(e);
        }
        join(first, &mut stats, "discover", h1);
        for h in index_handles {
            join(first, &mut stats, "index", h);
        }
    });
    if let Err(e) = shared_manifest.into_inner().unwrap_or_else(|p| p.into_inner()).save() {
        first.set(e);
    }
    let given = entries.len();
    entries.retain(|e| task.usable(e, &config.input));
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    stats.indexed_files = entries.len() as u64;
    stats.manifest_hits = hits.load(Ordering::Relaxed);
    *shared.index.lock().unwrap_or_else(|p| p.into_inner()) = entries.clone();
    if first.slot.lock().map(|s| s.is_none()).unwrap_or(false)
        && entries.is_empty()
        && !cancel.load(Ordering::SeqCst)
    {
        let quarantined = shared.quarantine.added().len();
        first.set(PipelineError::NoFiles { given: given + quarantined, quarantined });
    }

    // Phase 2: sample ⇉ decode ⇉ features ⇉ batch.
    if !cancel.load(Ordering::SeqCst) {
        let index = entries.as_slice();
        let k = config.clips_per_file();
        let window = (q * config.decode_workers * k).max(k).max(2 * config.batch_size);
        let (tok_tx, tok_rx) = bounded::<()>(window);
        for _ in 0..window {
            let _ = tok_tx.try_send(());
        }
        let dctx = DecodeContext {
            index,
            task,
            input: &config.input,
            deadline: Duration::from_secs_f64(config.decode_deadline_s),
            quarantine: &shared.quarantine,
            progress: &shared.progress,
        };
        let fctx = FeatureContext { index, task, input: &config.input };
        let plan = BatchPlan {
            batch_size: config.batch_size,
            fields: task.fields(&config.input),
            keep_partial: config.keep_partial_batch,
            max_samples: config.max_samples,
            start_seq: config.start_seq,
        };
        let input = SamplerInput {
            index,
            task,
            schedule: Schedule {
                n_files: index.len(),
                clips_per_file: k,
                seed: config.seed,
                shuffle: config.shuffle_files,
            },
            augment: &config.augment,
            input: &config.input,
            start_seq: config.start_seq,
            epochs: config.epochs,
        };
        std::thread::scope(|s| {
            let (job_tx, job_rx) = bounded(q);
            let (dec_tx, dec_rx) = bounded(q * k.max(1));
            let (feat_tx, feat_rx) = bounded(q * k.max(1));
            let first = &first;
            let mut handles: Vec<(&str, std::thread::ScopedJoinHandle<'_, StageResult>)> =
                Vec::new();
            let tok_rx2 = tok_rx;
            handles.push((
                "sample",
                s.spawn(move || {
                    let _g = PanicGuard(cancel);
                    run_stage(first, || sampler::run(input, &tok_rx2, &job_tx, cancel))
                }),
            ));
            for _ in 0..config.decode_workers {
                let (rx, tx, d) = (job_rx.clone(), dec_tx.clone(), &dctx);
                handles.push((
                    "decode",
                    s.spawn(move || {
                        let _g = PanicGuard(cancel);
                        run_stage(first, || decode::run(d, &rx, &tx, cancel))
                    }),
                ));
            }
            drop((job_rx, dec_tx));
            for _ in 0..config.feature_workers {
                let (rx, tx, f) = (dec_rx.clone(), feat_tx.clone(), &fctx);
                handles.push((
                    "features",
                    s.spawn(move || {
                        let _g = PanicGuard(cancel);
                        run_stage(first, || featurize::run(f, &rx, &tx, cancel))
                    }),
                ));
            }
            drop((dec_rx, feat_tx));
            let (plan, pr, out2) = (&plan, &shared.progress, out.clone());
            let hb = s.spawn(move || {
                let _g = PanicGuard(cancel);
                let r = batcher::run(plan, pr, &feat_rx, &tok_tx, &out2, cancel);
                // Everything asked for is delivered: stop the upstream stages promptly.
                cancel.store(true, Ordering::SeqCst);
                r
            });
            match hb.join() {
                Ok(Ok((st, o))) => {
                    outcome = o;
                    stats.add_stage(st);
                }
                Ok(Err(e)) => first.set(e),
                Err(p) => first
                    .set(PipelineError::Panic { stage: "batch".into(), message: panic_message(p) }),
            }
            for (name, h) in handles {
                join(first, &mut stats, name, h);
            }
        });
        // Put the batch stage last in the table.
        if let Some(pos) = stats.stages.iter().position(|s| s.stage == "batch") {
            let b = stats.stages.remove(pos);
            stats.stages.push(b);
        }
    }
    stats.elapsed_s = started.elapsed().as_secs_f64();
    stats.samples = outcome.samples;
    stats.dropped = outcome.dropped;
    stats.reorder_max = outcome.reorder_max;
    stats.peak_rss_kb = super::stats::peak_rss_kb();
    let (_, files_done, _) = shared.progress.snapshot();
    stats.files_done = files_done;
    stats.video_frames_decoded = shared.progress.video_frames_decoded.load(Ordering::Relaxed);
    stats.video_seeks = shared.progress.video_seeks.load(Ordering::Relaxed);
    stats.quarantined = shared.quarantine.added().len() as u64;
    *shared.stats.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
    let err = first.slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    match err {
        Some(e) => {
            let _ = out.send(Err(e));
        }
        None if !outcome.complete => {
            let _ = out.send(Err(PipelineError::Cancelled));
        }
        None => {}
    }
}

/// Runs a stage body, recording its error at once (so the first error in time wins).
fn run_stage(
    first: &FirstError<'_>,
    f: impl FnOnce() -> Result<StageStats, PipelineError>,
) -> StageResult {
    match f() {
        Ok(st) => Some(st),
        Err(e) => {
            first.set(e);
            None
        }
    }
}

fn join(
    first: &FirstError<'_>,
    stats: &mut PipelineStats,
    name: &str,
    h: std::thread::ScopedJoinHandle<'_, StageResult>,
) {
    match h.join() {
        Ok(Some(st)) => stats.add_stage(st),
        Ok(None) => {}
        Err(p) => first.set(PipelineError::Panic { stage: name.into(), message: panic_message(p) }),
    }
}
