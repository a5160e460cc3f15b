//! The CPU budget of `train` and `bench train`: libtorch gets the CPUs this process may use
//! (affinity and cgroup quota, see `pretext::training::cpu_budget`) less the data pipeline's
//! decode and feature workers, and the start-up line says how that was decided.

use pretext::training::cpu_budget::{self, CpuLimits};

use super::data::DataArgs;

/// The pipeline's own threads for `data` (none for the in-memory toy source): decode workers
/// plus the feature workers the data source gives them.
pub fn pipeline_workers(data: &DataArgs) -> usize {
    match data.decode_workers() {
        0 => 0,
        d => d + pretext::tasks::DataSpec::feature_workers_for(d),
    }
}

/// libtorch threads: `--threads` when given, else what the pipeline leaves of the available
/// CPUs. Returns the count and a line for the log.
pub fn torch_threads(requested: Option<usize>, data: &DataArgs) -> (usize, String) {
    let limits = CpuLimits::detect();
    let workers = pipeline_workers(data);
    let budget = cpu_budget::torch_threads(limits.available(), workers);
    let (threads, how) = match requested {
        Some(n) if n > budget => {
            (n, format!("by --threads, over the budget of {budget}: expect waits for a CPU"))
        }
        Some(n) => (n.max(1), "by --threads".to_string()),
        None => (budget, "by the budget".to_string()),
    };
    let wait = if super::omp_env::set_here() {
        "; idle OpenMP threads sleep (OMP_WAIT_POLICY=ACTIVE to spin)"
    } else {
        ""
    };
    let line = format!(
        "CPU budget: {}; {workers} pipeline worker(s), {threads} libtorch thread(s) {how}{wait}",
        limits.describe()
    );
    (threads, line)
}

/// The progress line's note on CPU contention: empty below
/// [`cpu_budget::RunQueueClock::CONTENDED`].
pub fn contention_note(wait_share: Option<f64>) -> String {
    match wait_share {
        Some(w) if w >= cpu_budget::RunQueueClock::CONTENDED => format!(
            ", CPU contended: threads waited {:.0}% of their runnable time for a CPU",
            100.0 * w
        ),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contention_is_named_only_above_the_threshold() {
        assert_eq!(contention_note(None), "");
        assert_eq!(contention_note(Some(0.02)), "");
        assert!(contention_note(Some(0.4)).contains("CPU contended: threads waited 40%"));
    }
}
