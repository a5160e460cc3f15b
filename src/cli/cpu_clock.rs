//! CPU-time clocks for the benchmarks, at nanosecond resolution.
//!
//! `/proc/*/stat` and `/proc/thread-self/schedstat` advance in scheduler ticks (4–10 ms), which
//! quantises a 10 ms measurement into nonsense; `clock_gettime` on the thread or process CPU
//! clock and `getrusage` for waited-for children are what Python's `time.thread_time` and
//! `time.process_time` read, so both sides of a comparison use the same clocks.
#![allow(unsafe_code)]

/// Reads a POSIX CPU clock in seconds.
fn read(clock: libc::clockid_t) -> Option<f64> {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    (rc == 0).then_some(ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9)
}

/// CPU seconds used so far by the calling thread.
pub fn thread_seconds() -> Option<f64> {
    read(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU seconds used so far by every thread of this process.
pub fn process_seconds() -> Option<f64> {
    read(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// CPU seconds (user + system) used by this process's terminated, waited-for children.
pub fn children_seconds() -> Option<f64> {
    // SAFETY: all-zero bytes are a valid `rusage` (plain integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `usage` is a valid, writable rusage for the duration of the call.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 * 1e-6;
    (rc == 0).then(|| secs(usage.ru_utime) + secs(usage.ru_stime))
}

#[cfg(test)]
mod tests {
    #[test]
    fn thread_clock_advances_with_work() {
        let t0 = super::thread_seconds().unwrap();
        let mut x = 0u64;
        for i in 0..20_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        let t1 = super::thread_seconds().unwrap();
        assert!(t1 > t0, "{t0} -> {t1}");
        assert!(super::process_seconds().unwrap() >= t1 - 1e-3);
        assert!(super::children_seconds().unwrap() >= 0.0);
    }
}
