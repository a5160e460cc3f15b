//! How many CPUs this process may really use, how many libtorch threads to give it, and
//! whether the CPUs are contended while it trains.
//!
//! - **Available CPUs** are the fewest of: the online CPUs, the process's scheduler affinity
//!   mask (`sched_getaffinity`: `taskset`, `docker --cpuset-cpus`), and the cgroup CPU
//!   bandwidth quota (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us / cpu.cfs_period_us`, the
//!   tightest along the cgroup's ancestors; `docker --cpus`, Kubernetes limits). A quota of
//!   1.5 CPUs counts as 1: a thread pool sized to the rounded-up figure is throttled every
//!   period. [`CpuLimits::parse`] takes every input as text, so the rules are tested without the
//!   machine's own files.
//! - **libtorch threads** are what is left after the data pipeline's own decode and feature
//!   workers ([`torch_threads`]), at least one (style rule 8: decoder threads + DSP workers +
//!   `set_num_threads` ≤ cores). More threads than CPUs make OpenMP's barriers wait on threads
//!   that are not running.
//! - **Contention** is read from the kernel's per-thread scheduler statistics
//!   (`/proc/self/task/*/schedstat`: time on a CPU, time runnable but waiting for one).
//!   [`RunQueueClock::lap`] returns the share of the process's runnable time spent waiting over
//!   the last interval: near 0 on an idle machine, about a half when another busy process
//!   shares every CPU. It counts waits caused by other processes and by this process's own
//!   oversubscription alike, which is what a user can act on (fewer `--threads`/`--workers`).
#![allow(unsafe_code)]

use std::path::{Path, PathBuf};

/// The limits found on this machine, in CPUs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuLimits {
    /// CPUs online (`available_parallelism` when affinity is unknown).
    pub online: usize,
    /// CPUs in the affinity mask, when it could be read.
    pub affinity: Option<usize>,
    /// The cgroup CPU quota in CPUs (may be fractional), when one is set.
    pub quota: Option<f64>,
}

impl CpuLimits {
    /// Reads the affinity mask, `/proc/self/cgroup` and the cgroup files under `/sys/fs/cgroup`.
    pub fn detect() -> Self {
        let online = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let proc_cgroup = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        let quota = cgroup_quota(Path::new("/sys/fs/cgroup"), &proc_cgroup, &|p| {
            std::fs::read_to_string(p).ok()
        });
        CpuLimits { online, affinity: affinity_cpus(), quota }
    }

    /// The limits from text inputs (tests, or another process's files): `online`, the affinity
    /// count, the contents of `/proc/self/cgroup`, and a reader of cgroup files under `root`.
    pub fn parse(
        online: usize,
        affinity: Option<usize>,
        root: &Path,
        proc_cgroup: &str,
        read: &dyn Fn(&Path) -> Option<String>,
    ) -> Self {
        CpuLimits { online, affinity, quota: cgroup_quota(root, proc_cgroup, read) }
    }

    /// Whole CPUs this process can keep busy, at least 1.
    pub fn available(&self) -> usize {
        let mut n = self.online.max(1);
        if let Some(a) = self.affinity.filter(|&a| a > 0) {
            n = n.min(a);
        }
        if let Some(q) = self.quota.filter(|q| q.is_finite() && *q > 0.0) {
            n = n.min((q.floor() as usize).max(1));
        }
        n
    }

    /// A short account for a start-up line, e.g. "2 CPUs (affinity 2 of 16, cgroup quota 2.5)".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(a) = self.affinity.filter(|&a| a != self.online) {
            parts.push(format!("affinity {a} of {}", self.online));
        }
        if let Some(q) = self.quota {
            parts.push(format!("cgroup quota {q:.2}"));
        }
        let n = self.available();
        let s = if n == 1 { "" } else { "s" };
        if parts.is_empty() {
            format!("{n} CPU{s}")
        } else {
            format!("{n} CPU{s} ({})", parts.join(", "))
        }
    }
}

/// libtorch intra-op threads for `available` CPUs when the data pipeline runs
/// `pipeline_workers` threads of its own: what is left, at least 1.
pub fn torch_threads(available: usize, pipeline_workers: usize) -> usize {
    available.saturating_sub(pipeline_workers).max(1)
}

/// CPUs in this process's affinity mask.
fn affinity_cpus() -> Option<usize> {
    // SAFETY: an all-zero `cpu_set_t` is a valid empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid, writable cpu_set_t of the size passed; pid 0 is this thread.
    let rc =
        unsafe { libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) };
    if rc != 0 {
        return None;
    }
    // SAFETY: `set` was filled by the kernel above.
    let n = unsafe { libc::CPU_COUNT(&set) };
    usize::try_from(n).ok().filter(|&n| n > 0)
}

/// The cgroup v2 `cpu.max` quota in CPUs: `"150000 100000"` is 1.5; `"max 100000"` is none.
pub fn parse_cpu_max(text: &str) -> Option<f64> {
    let mut it = text.split_whitespace();
    let quota = it.next()?;
    let period: f64 = it.next().map_or(Some(100_000.0), |p| p.parse().ok())?;
    if quota == "max" {
        return None;
    }
    let quota: f64 = quota.parse().ok()?;
    (quota > 0.0 && period > 0.0).then(|| quota / period)
}

/// The cgroup v1 quota in CPUs from `cpu.cfs_quota_us` and `cpu.cfs_period_us` (a quota of -1
/// is none).
pub fn parse_cfs_quota(quota_us: &str, period_us: &str) -> Option<f64> {
    let q: i64 = quota_us.trim().parse().ok()?;
    let p: i64 = period_us.trim().parse().ok()?;
    (q > 0 && p > 0).then(|| q as f64 / p as f64)
}

/// `dir` and its ancestors up to and including `root`.
fn up_to(root: &Path, dir: PathBuf) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut d = Some(dir.as_path());
    while let Some(p) = d {
        if !p.starts_with(root) {
            break;
        }
        out.push(p.to_path_buf());
        if p == root {
            break;
        }
        d = p.parent();
    }
    out
}

/// The tightest CPU quota of this process's cgroups (v2, then v1), walking from its own cgroup
/// up to the hierarchy's root (inside a cgroup namespace the path is `/`, and the root's files
/// are the container's).
fn cgroup_quota(
    root: &Path,
    proc_cgroup: &str,
    read: &dyn Fn(&Path) -> Option<String>,
) -> Option<f64> {
    let mut best: Option<f64> = None;
    let mut take = |q: Option<f64>| {
        if let Some(q) = q {
            best = Some(best.map_or(q, |b: f64| b.min(q)));
        }
    };
    for line in proc_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let rel = path.trim_start_matches('/');
        if controllers.is_empty() {
            // cgroup v2 (unified): mounted at the root, or under `unified` on hybrid systems.
            for base in [root.to_path_buf(), root.join("unified")] {
                for dir in up_to(&base, base.join(rel)) {
                    take(read(&dir.join("cpu.max")).as_deref().and_then(parse_cpu_max));
                }
            }
        } else if controllers.split(',').any(|c| c == "cpu") {
            for mount in ["cpu", "cpu,cpuacct", "cpuacct,cpu"] {
                let base = root.join(mount);
                for dir in up_to(&base, base.join(rel)) {
                    let q = read(&dir.join("cpu.cfs_quota_us"));
                    let p = read(&dir.join("cpu.cfs_period_us"));
                    if let (Some(q), Some(p)) = (q, p) {
                        take(parse_cfs_quota(&q, &p));
                    }
                }
            }
        }
    }
    best
}

/// Scheduler statistics of one thread (or a sum), in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SchedTimes {
    /// Time spent running on a CPU.
    pub on_cpu_ns: u64,
    /// Time spent runnable, waiting for a CPU.
    pub waiting_ns: u64,
}

impl SchedTimes {
    /// Parses one `schedstat` line: `on_cpu_ns run_delay_ns timeslices`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut it = text.split_whitespace().map(|v| v.parse::<u64>().ok());
        Some(SchedTimes { on_cpu_ns: it.next()??, waiting_ns: it.next()?? })
    }

    /// The share of runnable time spent waiting, `None` for no runnable time.
    pub fn wait_share(&self) -> Option<f64> {
        let total = self.on_cpu_ns.saturating_add(self.waiting_ns);
        (total > 0).then(|| self.waiting_ns as f64 / total as f64)
    }
}

/// Every thread of this process by thread id (`None` where the kernel keeps no schedstat).
fn read_threads() -> Option<Vec<(u64, SchedTimes)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|t| t.parse::<u64>().ok()) else {
            continue;
        };
        let text = std::fs::read_to_string(entry.path().join("schedstat")).unwrap_or_default();
        if let Some(t) = SchedTimes::parse(&text) {
            out.push((tid, t));
        }
    }
    out.sort_unstable_by_key(|e| e.0);
    (!out.is_empty()).then_some(out)
}

/// What the threads of `now` did since `before` (sorted by id): a thread absent from `before`
/// started in between and counts whole; threads that ended in between are left out.
pub fn interval(before: &[(u64, SchedTimes)], now: &[(u64, SchedTimes)]) -> SchedTimes {
    let mut sum = SchedTimes::default();
    for (tid, t) in now {
        let b = before
            .binary_search_by_key(tid, |e| e.0)
            .map_or(SchedTimes::default(), |k| before[k].1);
        sum.on_cpu_ns += t.on_cpu_ns.saturating_sub(b.on_cpu_ns);
        sum.waiting_ns += t.waiting_ns.saturating_sub(b.waiting_ns);
    }
    sum
}

/// Measures CPU contention over successive intervals (see the module docs).
#[derive(Debug, Clone)]
pub struct RunQueueClock {
    last: Option<Vec<(u64, SchedTimes)>>,
}

impl RunQueueClock {
    /// A share at or above this is reported as contention.
    pub const CONTENDED: f64 = 0.10;

    /// Starts the first interval now.
    pub fn start() -> Self {
        RunQueueClock { last: read_threads() }
    }

    /// The share of runnable time this process's threads spent waiting for a CPU since the last
    /// call (or `start`), and starts the next interval. `None` when the kernel does not say.
    pub fn lap(&mut self) -> Option<f64> {
        let now = read_threads();
        let share = match (&now, &self.last) {
            (Some(n), Some(l)) => interval(l, n).wait_share(),
            _ => None,
        };
        self.last = now;
        share
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn files(entries: &[(&str, &str)]) -> impl Fn(&Path) -> Option<String> {
        let map: HashMap<PathBuf, String> =
            entries.iter().map(|(p, t)| (PathBuf::from(p), t.to_string())).collect();
        move |p: &Path| map.get(p).cloned()
    }

    #[test]
    fn cpu_max_and_cfs_quota_parse() {
        assert_eq!(parse_cpu_max("150000 100000\n"), Some(1.5));
        assert_eq!(parse_cpu_max("max 100000"), None);
        assert_eq!(parse_cpu_max("200000"), Some(2.0));
        assert_eq!(parse_cpu_max("garbage"), None);
        assert_eq!(parse_cfs_quota("-1\n", "100000\n"), None);
        assert_eq!(parse_cfs_quota("50000", "100000"), Some(0.5));
    }

    #[test]
    fn the_tightest_limit_wins() {
        let root = Path::new("/sys/fs/cgroup");
        let none = files(&[]);
        // Nothing but the online count.
        let l = CpuLimits::parse(16, None, root, "0::/\n", &none);
        assert_eq!((l.available(), l.quota), (16, None));
        // Affinity (taskset -c 0,1).
        assert_eq!(CpuLimits::parse(16, Some(2), root, "0::/\n", &none).available(), 2);
        // cgroup v2 quota of 2.5 CPUs in a parent of the process's cgroup: 2 whole CPUs.
        let v2 = files(&[
            ("/sys/fs/cgroup/user.slice/cpu.max", "250000 100000\n"),
            ("/sys/fs/cgroup/user.slice/run-1.scope/cpu.max", "max 100000\n"),
        ]);
        let l = CpuLimits::parse(16, Some(8), root, "0::/user.slice/run-1.scope\n", &v2);
        assert_eq!((l.quota, l.available()), (Some(2.5), 2));
        assert!(l.describe().contains("cgroup quota 2.50"), "{}", l.describe());
        // A quota under one CPU still leaves one thread.
        let tiny = files(&[("/sys/fs/cgroup/cpu.max", "20000 100000")]);
        assert_eq!(CpuLimits::parse(4, None, root, "0::/\n", &tiny).available(), 1);
        // cgroup v1 (a hybrid hierarchy, as on this project's CI machine): cpu,cpuacct mount.
        let v1 = files(&[
            ("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us", "300000\n"),
            ("/sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_period_us", "100000\n"),
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us", "-1\n"),
            ("/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_period_us", "100000\n"),
        ]);
        let text = "4:memory:/docker/abc\n2:cpu,cpuacct:/docker/abc\n0::/\n";
        let l = CpuLimits::parse(8, Some(8), root, text, &v1);
        assert_eq!((l.quota, l.available()), (Some(3.0), 3));
        // A path that climbs out of the mount is not followed.
        let l = CpuLimits::parse(8, None, root, "0::/../../etc\n", &v2);
        assert_eq!(l.quota, None);
    }

    #[test]
    fn torch_gets_what_the_pipeline_leaves() {
        assert_eq!(torch_threads(2, 2), 1);
        assert_eq!(torch_threads(16, 6), 10);
        assert_eq!(torch_threads(1, 0), 1);
        assert_eq!(torch_threads(4, 0), 4);
    }

    #[test]
    fn this_machine_has_at_least_one_cpu() {
        let l = CpuLimits::detect();
        assert!(l.available() >= 1 && l.available() <= l.online, "{l:?}");
    }

    #[test]
    fn wait_share_from_schedstat() {
        let t = |s: &str| SchedTimes::parse(s).unwrap();
        assert_eq!(SchedTimes::parse("x y"), None);
        let before = [(7, t("1000 0 5")), (9, t("500 500 1"))];
        // Thread 7 ran 3000 ns and waited 1000; 9 ended; 12 started (counts whole).
        let now = [(7, t("4000 1000 9")), (12, t("1000 1000 2"))];
        let d = interval(&before, &now);
        assert_eq!(d, SchedTimes { on_cpu_ns: 4000, waiting_ns: 2000 });
        assert_eq!(d.wait_share(), Some(1.0 / 3.0));
        assert_eq!(SchedTimes::default().wait_share(), None);
    }

    #[test]
    fn a_busy_competitor_shows_as_contention() {
        // Two threads of ours and as many spinning competitors as CPUs: our threads must wait.
        let cpus = CpuLimits::detect().available();
        if read_threads().is_none() {
            eprintln!("no schedstat on this kernel: skipped");
            return;
        }
        let stop = std::sync::atomic::AtomicBool::new(false);
        let spin = || {
            let t = std::time::Instant::now();
            let mut x = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && t.elapsed().as_millis() < 3000
            {
                x = std::hint::black_box(x.wrapping_add(1));
            }
        };
        std::thread::scope(|s| {
            // Competitors in another process would be better; threads of this one count the
            // same in the kernel's run queue, which is what is measured.
            let mut clock = RunQueueClock::start();
            for _ in 0..(2 * cpus + 2) {
                s.spawn(spin);
            }
            std::thread::sleep(std::time::Duration::from_millis(600));
            let share = clock.lap();
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            let share = share.expect("schedstat is readable");
            assert!(share >= RunQueueClock::CONTENDED, "wait share {share:.3}");
        });
    }
}
