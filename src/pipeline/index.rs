//! The discover and index stages. Discover expands the inputs into a sorted file list and sends
//! it on. Index workers (as many as decode workers, sharing one manifest) probe each file once,
//! or take the manifest's cached entry when size and mtime match, and send the [`IndexEntry`];
//! the coordinator sorts the entries by path, so the index does not depend on worker timing.
//! Unreadable or stream-less files go to the quarantine; files already quarantined are skipped
//! without being opened.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::manifest::file_stamp;
use super::StageStats;
use super::{channel, discover, IndexEntry, Manifest, PipelineError, Progress, Quarantine};
use crate::media::probe;

/// Runs discovery: sends every input file, sorted.
pub fn run_discover(
    inputs: &[PathBuf],
    tx: &Sender<PathBuf>,
    cancel: &AtomicBool,
) -> Result<StageStats, PipelineError> {
    let mut st = StageStats::new("discover");
    let t0 = Instant::now();
    let files = discover(inputs)?;
    st.busy(t0.elapsed());
    for f in files {
        st.items += 1;
        if !channel::send(tx, f, cancel, &mut st) {
            break;
        }
    }
    Ok(st)
}

/// Runs one index worker (several may share the manifest); the caller saves the manifest.
pub fn run_index(
    manifest: &Mutex<&mut Manifest>,
    quarantine: &Quarantine,
    progress: &Progress,
    hits: &AtomicU64,
    rx: &Receiver<PathBuf>,
    tx: &Sender<IndexEntry>,
    cancel: &AtomicBool,
) -> Result<StageStats, PipelineError> {
    let mut st = StageStats::new("index");
    while let Some(path) = channel::recv(rx, cancel, &mut st) {
        let t0 = Instant::now();
        if quarantine.contains(&path) {
            continue;
        }
        let fail = |reason: String, kind: &str| -> Result<(), PipelineError> {
            if quarantine.add(&path, &reason, kind, "index")? {
                progress.errors.fetch_add(1, Ordering::Relaxed);
            }
            Ok(())
        };
        let (size, mtime) = match file_stamp(&path) {
            Ok(s) => s,
            Err(e) => {
                fail(format!("{}: {e}", path.display()), "io")?;
                continue;
            }
        };
        let cached = lock(manifest).get(&path, size, mtime).cloned();
        let entry = if let Some(e) = cached {
            hits.fetch_add(1, Ordering::Relaxed);
            Some(e)
        } else {
            match probe(&path) {
                Ok(info) => match IndexEntry::from_probe(&info, size, mtime) {
                    Some(e) => {
                        lock(manifest).insert(e.clone());
                        Some(e)
                    }
                    None => {
                        fail(
                            format!("{}: no video stream with a known duration", path.display()),
                            "no_stream",
                        )?;
                        None
                    }
                },
                Err(e) => {
                    fail(e.to_string(), e.kind())?;
                    None
                }
            }
        };
        st.busy(t0.elapsed());
        if let Some(e) = entry {
            st.items += 1;
            if !channel::send(tx, e, cancel, &mut st) {
                break;
            }
        }
    }
    Ok(st)
}

fn lock<'a, 'b>(m: &'a Mutex<&'b mut Manifest>) -> std::sync::MutexGuard<'a, &'b mut Manifest> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
