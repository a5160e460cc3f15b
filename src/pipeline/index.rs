//! The discover and index stages. Discover expands the inputs into a sorted file list and sends
//! it on; index probes each file once (or takes the manifest's cached entry when size and mtime
//! match) and sends the [`IndexEntry`]. Unreadable or stream-less files go to the quarantine;
//! files already quarantined are skipped without being opened.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
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

/// Runs the index stage; saves the manifest at the end.
#[allow(clippy::too_many_arguments)]
pub fn run_index(
    manifest: &mut Manifest,
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
        let entry = if let Some(e) = manifest.get(&path, size, mtime) {
            hits.fetch_add(1, Ordering::Relaxed);
            Some(e.clone())
        } else {
            match probe(&path) {
                Ok(info) => match IndexEntry::from_probe(&info, size, mtime) {
                    Some(e) => {
                        manifest.insert(e.clone());
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
    manifest.save()?;
    Ok(st)
}
