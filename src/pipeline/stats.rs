//! Telemetry: per-stage busy and wait time, queue depths and throughput, so a user can see which
//! stage limits a run. Each stage thread owns one [`StageStats`] and returns it when it ends;
//! live counters ([`Progress`]) are atomics the CLI polls for its progress bar.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;

/// What one stage thread did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageStats {
    /// Stage name ("decode", "features", ...).
    pub stage: String,
    /// Threads folded into this record.
    pub threads: usize,
    /// Items the stage produced.
    pub items: u64,
    /// Seconds spent working.
    pub busy_s: f64,
    /// Seconds spent waiting for input.
    pub wait_in_s: f64,
    /// Seconds spent blocked on a full output queue.
    pub wait_out_s: f64,
    /// Sum of the input queue length seen at each receive (for the mean).
    pub queue_sum: u64,
    /// Number of queue-length observations.
    pub queue_obs: u64,
    /// Largest input queue length seen.
    pub queue_max: usize,
}

impl StageStats {
    /// An empty record for `stage`.
    pub fn new(stage: &str) -> Self {
        StageStats { stage: stage.to_string(), threads: 1, ..Default::default() }
    }

    /// Adds busy time.
    pub fn busy(&mut self, d: Duration) {
        self.busy_s += d.as_secs_f64();
    }

    /// Records one observation of the input queue length.
    pub fn observe_queue(&mut self, len: usize) {
        self.queue_sum += len as u64;
        self.queue_obs += 1;
        self.queue_max = self.queue_max.max(len);
    }

    /// Folds another thread's record of the same stage into this one.
    pub fn merge(&mut self, other: &StageStats) {
        self.threads += other.threads;
        self.items += other.items;
        self.busy_s += other.busy_s;
        self.wait_in_s += other.wait_in_s;
        self.wait_out_s += other.wait_out_s;
        self.queue_sum += other.queue_sum;
        self.queue_obs += other.queue_obs;
        self.queue_max = self.queue_max.max(other.queue_max);
    }

    /// Mean input queue length.
    pub fn queue_mean(&self) -> f64 {
        if self.queue_obs == 0 {
            0.0
        } else {
            self.queue_sum as f64 / self.queue_obs as f64
        }
    }
}

/// The whole run's telemetry.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PipelineStats {
    /// Wall-clock seconds from start to end of the stream.
    pub elapsed_s: f64,
    /// Examples delivered to the consumer.
    pub samples: u64,
    /// Examples dropped because a file they needed was quarantined.
    pub dropped: u64,
    /// Files whose clips were all cut (decode jobs finished).
    pub files_done: u64,
    /// Files quarantined during this run.
    pub quarantined: u64,
    /// Files in the index.
    pub indexed_files: u64,
    /// Index entries served from the manifest cache.
    pub manifest_hits: u64,
    /// Largest number of examples held in the reorder buffer.
    pub reorder_max: u64,
    /// Peak resident memory of the process in kB (Linux `VmHWM`), when known.
    pub peak_rss_kb: Option<u64>,
    /// Video frames the decoders produced for the requested frames, over all file visits (what
    /// the decode stage's time mostly pays for: every reference frame from a keyframe to each
    /// requested frame; the frame-order task's thumbnail motion pass is not counted).
    pub video_frames_decoded: u64,
    /// Seeks the video decoders made, over all file visits.
    pub video_seeks: u64,
    /// Per-stage records, in pipeline order (threads of one stage merged).
    pub stages: Vec<StageStats>,
}

/// The process's peak resident set size in kB, from `/proc/self/status` (Linux only).
pub fn peak_rss_kb() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

impl PipelineStats {
    /// Delivered examples per second.
    pub fn samples_per_s(&self) -> f64 {
        if self.elapsed_s > 0.0 {
            self.samples as f64 / self.elapsed_s
        } else {
            0.0
        }
    }

    /// Adds a stage record, merging it with an existing one of the same name.
    pub fn add_stage(&mut self, s: StageStats) {
        match self.stages.iter_mut().find(|x| x.stage == s.stage) {
            Some(x) => x.merge(&s),
            None => self.stages.push(s),
        }
    }

    /// A human-readable table: per stage, threads, items, busy/wait seconds, utilisation
    /// (busy / (threads × elapsed)) and queue depths. The stage with the highest utilisation is
    /// the one that limits throughput.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{} samples in {:.2} s = {:.1} samples/s; {} files done, {} dropped samples, {} \
             quarantined files, {} indexed ({} from cache)",
            self.samples,
            self.elapsed_s,
            self.samples_per_s(),
            self.files_done,
            self.dropped,
            self.quarantined,
            self.indexed_files,
            self.manifest_hits
        );
        if self.files_done > 0 && self.video_frames_decoded > 0 {
            let visits = self.files_done as f64;
            let _ = writeln!(
                s,
                "video: {} frames decoded, {} seeks ({:.1} frames and {:.2} seeks per file visit)",
                self.video_frames_decoded,
                self.video_seeks,
                self.video_frames_decoded as f64 / visits,
                self.video_seeks as f64 / visits
            );
        }
        let _ = writeln!(
            s,
            "{:<10} {:>4} {:>8} {:>9} {:>9} {:>9} {:>6} {:>7} {:>5}",
            "stage", "thr", "items", "busy s", "wait-in", "wait-out", "util", "q mean", "q max"
        );
        for st in &self.stages {
            let util = if self.elapsed_s > 0.0 {
                st.busy_s / (st.threads.max(1) as f64 * self.elapsed_s)
            } else {
                0.0
            };
            let _ = writeln!(
                s,
                "{:<10} {:>4} {:>8} {:>9.2} {:>9.2} {:>9.2} {:>5.0}% {:>7.1} {:>5}",
                st.stage,
                st.threads,
                st.items,
                st.busy_s,
                st.wait_in_s,
                st.wait_out_s,
                util * 100.0,
                st.queue_mean(),
                st.queue_max
            );
        }
        s
    }
}

/// Live counters for a progress display, updated by the stages while they run.
#[derive(Debug, Default)]
pub struct Progress {
    /// Examples delivered.
    pub samples: AtomicU64,
    /// Files whose decode job finished.
    pub files_done: AtomicU64,
    /// Files quarantined.
    pub errors: AtomicU64,
    /// Video frames decoded so far (all decode workers).
    pub video_frames_decoded: AtomicU64,
    /// Video seeks so far (all decode workers).
    pub video_seeks: AtomicU64,
}

impl Progress {
    /// (samples, files done, errors) now.
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.samples.load(Ordering::Relaxed),
            self.files_done.load(Ordering::Relaxed),
            self.errors.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_and_table() {
        let mut p = PipelineStats { elapsed_s: 2.0, samples: 10, ..Default::default() };
        let mut a = StageStats::new("decode");
        a.items = 3;
        a.busy_s = 1.0;
        a.observe_queue(4);
        let mut b = StageStats::new("decode");
        b.items = 2;
        b.busy_s = 1.0;
        b.observe_queue(2);
        p.add_stage(a);
        p.add_stage(b);
        assert_eq!(p.stages.len(), 1);
        assert_eq!(p.stages[0].threads, 2);
        assert_eq!(p.stages[0].items, 5);
        assert_eq!(p.stages[0].queue_max, 4);
        assert!((p.stages[0].queue_mean() - 3.0).abs() < 1e-9);
        assert!((p.samples_per_s() - 5.0).abs() < 1e-9);
        let t = p.table();
        assert!(t.contains("decode") && t.contains("50%"), "{t}");
    }
}
