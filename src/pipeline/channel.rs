//! Cancellable, instrumented channel operations shared by every stage.
//!
//! Channels are bounded crossbeam channels. A stage stops when its input is disconnected (end of
//! stream), when its output is disconnected (downstream stopped), or when the shared cancel flag
//! is set (Ctrl-C, dropped consumer, another stage's error). Blocking operations wake every
//! [`POLL`] to look at the flag, so no thread can stay parked on a queue whose peer is itself
//! waiting on something else: this is what makes shutdown deadlock-free.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};

use super::StageStats;

/// How often a blocked stage looks at the cancel flag.
pub const POLL: Duration = Duration::from_millis(25);

/// Receives the next item; `None` at end of stream or on cancellation. Wait time and the queue
/// length are recorded in `stats`.
pub fn recv<T>(rx: &Receiver<T>, cancel: &AtomicBool, stats: &mut StageStats) -> Option<T> {
    stats.observe_queue(rx.len());
    let t0 = Instant::now();
    let out = loop {
        if cancel.load(Ordering::Relaxed) {
            break None;
        }
        match rx.recv_timeout(POLL) {
            Ok(v) => break Some(v),
            Err(RecvTimeoutError::Timeout) => continue,
            Err(RecvTimeoutError::Disconnected) => break None,
        }
    };
    stats.wait_in_s += t0.elapsed().as_secs_f64();
    out
}

/// Sends an item; `false` when downstream is gone or the run is cancelled (the stage should
/// then stop). Time blocked on a full queue is recorded in `stats`.
pub fn send<T>(tx: &Sender<T>, item: T, cancel: &AtomicBool, stats: &mut StageStats) -> bool {
    let t0 = Instant::now();
    let mut item = item;
    let ok = loop {
        if cancel.load(Ordering::Relaxed) {
            break false;
        }
        match tx.send_timeout(item, POLL) {
            Ok(()) => break true,
            Err(SendTimeoutError::Timeout(back)) => item = back,
            Err(SendTimeoutError::Disconnected(_)) => break false,
        }
    };
    stats.wait_out_s += t0.elapsed().as_secs_f64();
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recv_ends_on_disconnect_and_cancel() {
        let cancel = AtomicBool::new(false);
        let mut st = StageStats::new("t");
        let (tx, rx) = crossbeam_channel::bounded::<u32>(1);
        tx.send(7).unwrap();
        drop(tx);
        assert_eq!(recv(&rx, &cancel, &mut st), Some(7));
        assert_eq!(recv(&rx, &cancel, &mut st), None);
        let (_tx2, rx2) = crossbeam_channel::bounded::<u32>(1);
        cancel.store(true, Ordering::Relaxed);
        assert_eq!(recv(&rx2, &cancel, &mut st), None);
    }

    #[test]
    fn send_fails_when_full_and_cancelled_or_disconnected() {
        let cancel = AtomicBool::new(false);
        let mut st = StageStats::new("t");
        let (tx, rx) = crossbeam_channel::bounded::<u32>(1);
        assert!(send(&tx, 1, &cancel, &mut st));
        cancel.store(true, Ordering::Relaxed);
        assert!(!send(&tx, 2, &cancel, &mut st));
        cancel.store(false, Ordering::Relaxed);
        drop(rx);
        assert!(!send(&tx, 3, &cancel, &mut st));
    }
}
