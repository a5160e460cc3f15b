//! The discover and index stages. Discover expands the inputs into a sorted file list and sends
//! it on. Index workers (as many as decode workers, sharing one manifest) probe each file once,
//! or take the manifest's cached entry when size and mtime match, and send the [`IndexEntry`];
//! the coordinator sorts the entries by path, so the index does not depend on worker timing.
//! Unreadable or stream-less files go to the quarantine, and so do files the probe finds cut
//! short (`MediaInfo::integrity`); files already quarantined are skipped without being opened.
//! With verification on (`PipelineConfig::verify`), each file is also decoded whole
//! (`media::verify`) and a damaged one is quarantined before any example is cut from it (or
//! used as another file's audio); the verdict is cached in the manifest like the probe.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

use crossbeam_channel::{Receiver, Sender};

use super::manifest::{file_stamp, Verdict};
use super::StageStats;
use super::{channel, discover, IndexEntry, Manifest, PipelineError, Progress, Quarantine};
use crate::media::probe;

/// The cached or fresh verdict of verifying `path` (`None`: verification could not finish, e.g.
/// its deadline passed; the error is returned as the reason with its kind).
fn verdict(
    manifest: &Mutex<&mut Manifest>,
    path: &std::path::Path,
    (size, mtime): (u64, u128),
    deadline: std::time::Duration,
) -> Result<Verdict, (String, &'static str)> {
    if let Some(v) = lock(manifest).verdict(path, size, mtime).cloned() {
        return Ok(v);
    }
    let v = crate::media::verify(path, Some(deadline)).map_err(|e| (e.to_string(), e.kind()))?;
    let verdict = Verdict {
        path: path.to_path_buf(),
        size,
        mtime_ns: mtime,
        ok: v.is_ok(),
        reason: v.summary(),
    };
    lock(manifest).insert_verdict(verdict.clone());
    Ok(verdict)
}

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
/// `verify`: decode each file whole within this budget (see the module docs).
#[allow(clippy::too_many_arguments)] // one shared handle per stage concern, as `run` has
pub fn run_index(
    manifest: &Mutex<&mut Manifest>,
    quarantine: &Quarantine,
    progress: &Progress,
    hits: &AtomicU64,
    verify: Option<std::time::Duration>,
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
                Ok(info) if info.integrity.is_some() => {
                    let why = info.integrity.as_ref().map(ToString::to_string).unwrap_or_default();
                    fail(format!("{}: {why}", path.display()), "damaged")?;
                    None
                }
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
        let entry = match (entry, verify) {
            (Some(e), Some(deadline)) => match verdict(manifest, &path, (size, mtime), deadline) {
                Ok(v) if v.ok => Some(e),
                Ok(v) => {
                    fail(format!("{}: damaged: {}", path.display(), v.reason), "damaged")?;
                    None
                }
                Err((reason, kind)) => {
                    fail(reason, kind)?;
                    None
                }
            },
            (e, _) => e,
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
