//! WebDataset-style tar shards: `shard-000000.tar`, ... each holding up to `per_shard` examples
//! as one `{key}.{field}.npy` per field the task declares (`frames` `[3, H, W]` or
//! `[K, 3, H, W]`, `spec` `[1, F, T]`, `label` `[]`, `tiles`, ...), `{key}.cls` (the label as
//! text, when the task has a scalar `label` field) and `{key}.json` (the [`SampleMeta`]: file,
//! video time(s), audio file and time, label, kind, augmentation). Keys are `s` + the zero-padded sequence number, with no dot, so Python's
//! `webdataset` groups the members unchanged. A `samples.jsonl` beside the shards logs every
//! example with its shard for reproduction.
//!
//! Outputs are whole or absent (issue #26 §3):
//! - A shard is written as `.shard-N.tar.partial`, its index lines beside it as
//!   `.shard-N.jsonl.partial`. Committing it syncs the tar, renames it to `shard-N.tar`, then
//!   appends its lines to `samples.jsonl` in one copy. So `samples.jsonl` only ever names
//!   samples of complete shards, and once a run has ended (finished, failed or interrupted)
//!   the shards and the index hold exactly the same samples.
//! - Any write error (a full disk) removes the open shard's partial files; an error while
//!   committing also truncates `samples.jsonl` back to its last whole shard and removes the
//!   shard just renamed. Memory stays bounded by one example whatever `per_shard` is.
//! - Only a process killed in the middle of a commit can leave a complete shard whose lines
//!   are missing or cut from the index (its `{key}.json` members still describe its samples).
//! - A new writer always deletes stale `.shard-*.partial` files (a killed run's). It refuses a
//!   folder that already holds shards or a non-empty `samples.jsonl` unless
//!   [`ShardWriterConfig::overwrite`] is set, which deletes them first; `manifest.json` and
//!   `quarantine.jsonl` (caches of earlier runs) are kept either way.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{Batch, PipelineError, SampleMeta, Values};
use crate::io::{npy_f32_bytes, npy_i64_bytes};

/// The index file beside the shards.
pub const INDEX_NAME: &str = "samples.jsonl";

/// Shard writer options.
#[derive(Debug, Clone)]
pub struct ShardWriterConfig {
    /// Output folder (created if missing).
    pub dir: PathBuf,
    /// Examples per shard.
    pub per_shard: usize,
    /// Replace the shards and index of an earlier run in `dir` instead of refusing to start.
    pub overwrite: bool,
}

/// A file whose writes can be made to run out of space (tests); in production `space` is
/// `None` and writes go straight through.
struct Disk {
    file: File,
    space: Option<Arc<AtomicU64>>,
}

impl Write for Disk {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let Some(space) = &self.space else { return self.file.write(buf) };
        let left = space.load(Ordering::SeqCst);
        if left == 0 && !buf.is_empty() {
            return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
        }
        let n = self.file.write(&buf[..buf.len().min(left as usize)])?;
        space.fetch_sub(n as u64, Ordering::SeqCst);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

struct OpenShard {
    tmp: PathBuf,
    path: PathBuf,
    lines_tmp: PathBuf,
    builder: tar::Builder<BufWriter<Disk>>,
    lines: BufWriter<Disk>,
    count: usize,
}

impl OpenShard {
    /// Deletes the partial files (a shard that will not be committed).
    fn discard(self) {
        let (tmp, lines_tmp) = (self.tmp.clone(), self.lines_tmp.clone());
        drop(self);
        let _ = std::fs::remove_file(tmp);
        let _ = std::fs::remove_file(lines_tmp);
    }
}

/// Writes batches into tar shards.
pub struct ShardWriter {
    config: ShardWriterConfig,
    shard: Option<OpenShard>,
    next_index: usize,
    index: Disk,
    index_path: PathBuf,
    /// Length of `samples.jsonl` after the last committed shard.
    index_len: u64,
    committed: u64,
    shards: Vec<PathBuf>,
}

#[derive(serde::Serialize)]
struct LogLine<'a> {
    key: String,
    shard: String,
    #[serde(flatten)]
    meta: &'a SampleMeta,
}

/// Whether `name` is a shard (`shard-N.tar`) or a partial file of one (`.shard-N.*.partial`).
fn shard_file_kind(name: &str) -> Option<bool> {
    if name.starts_with("shard-") && name.ends_with(".tar") {
        Some(true)
    } else if name.starts_with(".shard-") && name.ends_with(".partial") {
        Some(false)
    } else {
        None
    }
}

/// Deletes stale partial files in `dir`; refuses (or, with `overwrite`, deletes) the shards and
/// index of an earlier run.
fn prepare_dir(dir: &Path, overwrite: bool) -> Result<(), PipelineError> {
    let list = std::fs::read_dir(dir)
        .map_err(|e| PipelineError::file(dir, "listing the output folder", e))?;
    let mut shards = Vec::new();
    for entry in list {
        let entry = entry.map_err(|e| PipelineError::file(dir, "listing the output folder", e))?;
        let name = entry.file_name();
        match shard_file_kind(&name.to_string_lossy()) {
            Some(true) => shards.push(entry.path()),
            Some(false) => std::fs::remove_file(entry.path()).map_err(|e| {
                PipelineError::file(&entry.path(), "removing a stale partial shard", e)
            })?,
            None => {}
        }
    }
    let index = dir.join(INDEX_NAME);
    let index_bytes = std::fs::metadata(&index).map(|m| m.len()).unwrap_or(0);
    if shards.is_empty() && index_bytes == 0 {
        return Ok(());
    }
    if !overwrite {
        return Err(PipelineError::OutputExists { dir: dir.to_path_buf(), shards: shards.len() });
    }
    for p in shards.iter().chain(std::iter::once(&index).filter(|p| p.exists())) {
        std::fs::remove_file(p)
            .map_err(|e| PipelineError::file(p, "removing an earlier run", e))?;
    }
    Ok(())
}

impl ShardWriter {
    /// Creates the folder, clears stale partial shards, and starts an empty `samples.jsonl`
    /// (refusing a folder with an earlier run's shards unless `overwrite` is set).
    pub fn create(config: ShardWriterConfig) -> Result<Self, PipelineError> {
        if config.per_shard == 0 {
            return Err(PipelineError::Config("per_shard must be at least 1".into()));
        }
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| PipelineError::file(&config.dir, "creating the output folder", e))?;
        prepare_dir(&config.dir, config.overwrite)?;
        let index_path = config.dir.join(INDEX_NAME);
        let file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .open(&index_path)
            .map_err(|e| PipelineError::file(&index_path, "creating the sample log", e))?;
        Ok(ShardWriter {
            config,
            shard: None,
            next_index: 0,
            index: Disk { file, space: None },
            index_path,
            index_len: 0,
            committed: 0,
            shards: Vec::new(),
        })
    }

    /// The key of sequence number `seq`.
    pub fn key(seq: u64) -> String {
        format!("s{seq:010}")
    }

    /// Examples written so far: the committed ones and the open shard's.
    pub fn written(&self) -> u64 {
        self.committed + self.shard.as_ref().map_or(0, |s| s.count as u64)
    }

    /// Examples in committed shards (and in `samples.jsonl`).
    pub fn committed(&self) -> u64 {
        self.committed
    }

    fn create_partial(&self, path: &Path) -> Result<Disk, PipelineError> {
        let file = File::create(path)
            .map_err(|e| PipelineError::file(path, "creating a partial shard", e))?;
        Ok(Disk { file, space: self.index.space.clone() })
    }

    fn open_shard(&mut self) -> Result<&mut OpenShard, PipelineError> {
        if self.shard.as_ref().is_some_and(|s| s.count >= self.config.per_shard) {
            self.close_shard()?;
        }
        if self.shard.is_none() {
            let stem = format!("shard-{:06}", self.next_index);
            self.next_index += 1;
            let path = self.config.dir.join(format!("{stem}.tar"));
            let tmp = self.config.dir.join(format!(".{stem}.tar.partial"));
            let lines_tmp = self.config.dir.join(format!(".{stem}.jsonl.partial"));
            let tar = self.create_partial(&tmp)?;
            let lines = match self.create_partial(&lines_tmp) {
                Ok(l) => l,
                Err(e) => {
                    let _ = std::fs::remove_file(&tmp);
                    return Err(e);
                }
            };
            let builder = tar::Builder::new(BufWriter::new(tar));
            let lines = BufWriter::new(lines);
            self.shard = Some(OpenShard { tmp, path, lines_tmp, builder, lines, count: 0 });
        }
        self.shard.as_mut().ok_or(PipelineError::Cancelled)
    }

    /// Commits the open shard: tar synced and renamed, then its lines appended to the index.
    /// On any error the shard is removed and the index truncated back to its last whole shard.
    fn close_shard(&mut self) -> Result<(), PipelineError> {
        let Some(mut s) = self.shard.take() else { return Ok(()) };
        let count = s.count as u64;
        // Finish the tar (end blocks) and the lines; both stay partial until renamed.
        let finished = s
            .builder
            .finish()
            .and_then(|()| s.builder.get_mut().flush())
            .and_then(|()| s.builder.get_ref().get_ref().file.sync_all())
            .map_err(|e| PipelineError::file(&s.tmp, "finishing a shard", e))
            .and_then(|()| {
                s.lines.flush().map_err(|e| PipelineError::file(&s.lines_tmp, "flushing", e))
            });
        if let Err(e) = finished {
            s.discard();
            return Err(e);
        }
        if let Err(e) = std::fs::rename(&s.tmp, &s.path) {
            let err = PipelineError::file(&s.path, "renaming a shard", e);
            s.discard();
            return Err(err);
        }
        let path = s.path.clone();
        let lines_tmp = s.lines_tmp.clone();
        drop(s);
        if let Err(e) = self.append_lines(&lines_tmp) {
            // Roll back: the index ends at the previous shard, and this shard goes.
            let _ = self.index.file.set_len(self.index_len);
            let _ = self.index.file.seek(SeekFrom::Start(self.index_len));
            let _ = std::fs::remove_file(&path);
            let _ = std::fs::remove_file(&lines_tmp);
            return Err(e);
        }
        let _ = std::fs::remove_file(&lines_tmp);
        self.committed += count;
        self.shards.push(path);
        Ok(())
    }

    /// Appends the lines file to the index and syncs it.
    fn append_lines(&mut self, lines: &Path) -> Result<(), PipelineError> {
        let mut src = File::open(lines)
            .map_err(|e| PipelineError::file(lines, "reopening shard lines", e))?;
        let werr = |e| PipelineError::file(&self.index_path, "writing the sample log", e);
        let n = std::io::copy(&mut src, &mut self.index).map_err(werr)?;
        self.index.file.sync_data().map_err(werr)?;
        self.index_len += n;
        Ok(())
    }

    /// Writes every example of `batch`.
    pub fn write_batch(&mut self, batch: &Batch) -> Result<(), PipelineError> {
        let b = batch.len();
        if b == 0 {
            return Ok(());
        }
        for i in 0..b {
            let meta = &batch.meta[i];
            let key = Self::key(meta.seq);
            let mut members: Vec<(String, Vec<u8>)> = Vec::with_capacity(batch.fields.len() + 2);
            for f in &batch.fields {
                let shape = &f.shape[1..];
                let n: usize = shape.iter().product();
                let bytes = match &f.values {
                    Values::F32(v) => npy_f32_bytes(shape, &v[i * n..(i + 1) * n]),
                    Values::I64(v) => npy_i64_bytes(shape, &v[i * n..(i + 1) * n]),
                };
                members.push((format!("{key}.{}.npy", f.name), bytes));
                if let (true, "label", Values::I64(v)) =
                    (shape.is_empty(), f.name.as_str(), &f.values)
                {
                    members.push((format!("{key}.cls"), v[i].to_string().into_bytes()));
                }
            }
            let json = serde_json::to_vec(meta).unwrap_or_default();
            members.push((format!("{key}.json"), json));
            if let Err(e) = self.append_example(key, members, meta) {
                // A member or line was cut short (a full disk): the open shard cannot be
                // committed; delete its partial files so nothing torn is left behind.
                if let Some(s) = self.shard.take() {
                    s.discard();
                }
                return Err(e);
            }
        }
        Ok(())
    }

    /// Appends one example's members to the open shard and its line to the shard's lines.
    fn append_example(
        &mut self,
        key: String,
        members: Vec<(String, Vec<u8>)>,
        meta: &SampleMeta,
    ) -> Result<(), PipelineError> {
        let shard = self.open_shard()?;
        for (name, data) in members {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_mtime(0);
            h.set_cksum();
            shard
                .builder
                .append_data(&mut h, &name, data.as_slice())
                .map_err(|e| PipelineError::file(&shard.tmp, "writing a shard member", e))?;
        }
        let shard_name = shard.path.file_name().map(|n| n.to_string_lossy().into_owned());
        let line = LogLine { key, shard: shard_name.unwrap_or_default(), meta };
        let mut text = serde_json::to_string(&line).unwrap_or_default();
        text.push('\n');
        shard
            .lines
            .write_all(text.as_bytes())
            .map_err(|e| PipelineError::file(&shard.lines_tmp, "writing shard lines", e))?;
        shard.count += 1;
        Ok(())
    }

    /// Commits the open shard, if any. On error that shard is removed and the index still
    /// matches the shards committed before it.
    pub fn close(&mut self) -> Result<(), PipelineError> {
        self.close_shard()
    }

    /// The committed shards.
    pub fn shards(&self) -> &[PathBuf] {
        &self.shards
    }

    /// Commits the last shard; returns the shard paths (see [`Self::close`]).
    pub fn finish(mut self) -> Result<Vec<PathBuf>, PipelineError> {
        self.close_shard()?;
        Ok(std::mem::take(&mut self.shards))
    }

    /// Output folder.
    pub fn dir(&self) -> &Path {
        &self.config.dir
    }
}

impl Drop for ShardWriter {
    fn drop(&mut self) {
        // Dropped without `finish` (a panic, an early return): leave no partial files.
        if let Some(s) = self.shard.take() {
            s.discard();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(seq: u64) -> SampleMeta {
        SampleMeta {
            seq,
            file: "/v/a.mp4".into(),
            video_times: vec![1.0],
            audio_file: Some("/v/b.mp4".into()),
            audio_time: Some(0.5),
            label: (seq % 2) as i64,
            kind: "easy".into(),
            augment: None,
            frame_pts: vec![1.0],
        }
    }

    fn config(dir: &Path, per_shard: usize, overwrite: bool) -> ShardWriterConfig {
        ShardWriterConfig { dir: dir.into(), per_shard, overwrite }
    }

    fn batch(seqs: std::ops::Range<u64>) -> Batch {
        let n = seqs.clone().count();
        let field = |name: &str, shape: Vec<usize>, values| crate::pipeline::BatchField {
            name: name.into(),
            shape,
            values,
        };
        Batch {
            fields: vec![
                field(
                    "frames",
                    vec![n, 3, 2, 2],
                    Values::F32((0..n * 12).map(|v| v as f32).collect()),
                ),
                field("spec", vec![n, 1, 2, 3], Values::F32(vec![0.5; n * 6])),
                field(
                    "label",
                    vec![n],
                    Values::I64(seqs.clone().map(|s| (s % 2) as i64).collect()),
                ),
            ],
            meta: seqs.map(meta).collect(),
        }
    }

    /// Checks that `dir` is whole: no partial file, every index line complete and naming a
    /// sample of an existing shard, and every shard's samples (each with all five members: its
    /// three fields, `.cls` and `.json`)
    /// listed in the index. Returns the number of samples.
    fn assert_whole(dir: &Path) -> usize {
        let mut in_shards = std::collections::BTreeSet::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().into_owned();
            assert!(!name.ends_with(".partial"), "{name} was left behind");
            if shard_file_kind(&name) == Some(true) {
                let mut members = std::collections::BTreeMap::<String, usize>::new();
                let mut ar = tar::Archive::new(File::open(dir.join(&name)).unwrap());
                for m in ar.entries().unwrap() {
                    let m = m.unwrap();
                    let path = m.path().unwrap().to_string_lossy().into_owned();
                    let key = path.split('.').next().unwrap().to_string();
                    *members.entry(key).or_default() += 1;
                }
                for (key, n) in members {
                    assert_eq!(n, 5, "{name}: {key} has {n} members");
                    in_shards.insert((name.clone(), key));
                }
            }
        }
        let text = std::fs::read_to_string(dir.join(INDEX_NAME)).unwrap_or_default();
        assert!(text.is_empty() || text.ends_with('\n'), "torn last line: {text:?}");
        let mut in_index = std::collections::BTreeSet::new();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("a whole JSON line");
            let (shard, key) = (v["shard"].as_str().unwrap(), v["key"].as_str().unwrap());
            in_index.insert((shard.to_string(), key.to_string()));
        }
        assert_eq!(in_index, in_shards, "samples.jsonl and the shards disagree");
        in_shards.len()
    }

    #[test]
    fn r26_a_full_disk_leaves_whole_shards_and_index() {
        // One unlimited run gives the total size; then every budget from nothing to all of it
        // (in steps that land inside headers, members, end blocks and index lines).
        let full = tempfile::tempdir().unwrap();
        let mut w = ShardWriter::create(config(full.path(), 3, false)).unwrap();
        for k in 0..4 {
            w.write_batch(&batch(k * 4..k * 4 + 4)).unwrap();
        }
        w.finish().unwrap();
        assert_eq!(assert_whole(full.path()), 16);
        let total: u64 = std::fs::read_dir(full.path())
            .unwrap()
            .map(|e| e.unwrap().metadata().unwrap().len())
            .sum();
        let total = 2 * total; // partial line files are written too
        let mut failures = 0;
        let mut budget = 0;
        while budget <= total {
            let dir = tempfile::tempdir().unwrap();
            let mut w = ShardWriter::create(config(dir.path(), 3, false)).unwrap();
            let space = Arc::new(AtomicU64::new(budget));
            w.index.space = Some(space.clone());
            let mut result = Ok(());
            for k in 0..4 {
                result = w.write_batch(&batch(k * 4..k * 4 + 4));
                if result.is_err() {
                    break;
                }
            }
            // As `pretext pairs` does: commit what is open even after an error.
            let closed = w.close();
            let failed = result.is_err() || closed.is_err();
            failures += usize::from(failed);
            let kept = w.committed() as usize;
            drop(w);
            let n = assert_whole(dir.path());
            assert_eq!(n, kept, "budget {budget}: {n} samples on disk, {kept} reported");
            if failed {
                let err = result.err().or(closed.err()).unwrap().to_string();
                assert!(err.contains("No space left"), "{err}");
            } else {
                assert_eq!(n, 16);
            }
            budget += 613;
        }
        assert!(failures > 10, "the budget never ran out ({failures} failures)");
    }

    #[test]
    fn r26_a_rerun_refuses_or_overwrites_and_clears_partials() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        // A killed run's partial files, with no shard: cleared, and the run goes ahead.
        std::fs::write(d.join(".shard-000003.tar.partial"), b"torn").unwrap();
        std::fs::write(d.join(".shard-000003.jsonl.partial"), b"{\"key\"").unwrap();
        std::fs::write(d.join("manifest.json"), b"{}").unwrap();
        let mut w = ShardWriter::create(config(d, 2, false)).unwrap();
        w.write_batch(&batch(0..5)).unwrap();
        assert_eq!(w.finish().unwrap().len(), 3);
        assert_eq!(assert_whole(d), 5);
        // A second run into the same folder is refused, and leaves it as it was.
        std::fs::write(d.join(".shard-000009.tar.partial"), b"torn").unwrap();
        let err = ShardWriter::create(config(d, 2, false)).err().expect("refused");
        assert!(matches!(err, PipelineError::OutputExists { shards: 3, .. }), "{err}");
        assert!(err.to_string().contains("--overwrite"), "{err}");
        assert_eq!(assert_whole(d), 5);
        // With overwrite: the old shards go, the caches stay.
        let mut w = ShardWriter::create(config(d, 4, true)).unwrap();
        w.write_batch(&batch(10..12)).unwrap();
        assert_eq!(w.finish().unwrap().len(), 1);
        assert_eq!(assert_whole(d), 2);
        assert!(!d.join("shard-000001.tar").exists());
        assert!(d.join("manifest.json").exists());
        // An index without shards (every shard lost) still counts as an earlier run.
        std::fs::remove_file(d.join("shard-000000.tar")).unwrap();
        let err = ShardWriter::create(config(d, 2, false)).err().expect("refused");
        assert!(matches!(err, PipelineError::OutputExists { shards: 0, .. }), "{err}");
    }

    #[test]
    fn dropping_a_writer_leaves_no_partial_files() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ShardWriter::create(config(dir.path(), 10, false)).unwrap();
        w.write_batch(&batch(0..3)).unwrap();
        drop(w);
        assert_eq!(assert_whole(dir.path()), 0);
    }

    #[test]
    fn shards_roll_over_and_members_are_grouped() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ShardWriter::create(config(dir.path(), 2, false)).unwrap();
        let batch = Batch {
            fields: vec![
                crate::pipeline::BatchField {
                    name: "frames".into(),
                    shape: vec![3, 3, 2, 2],
                    values: Values::F32((0..3 * 12).map(|v| v as f32).collect()),
                },
                crate::pipeline::BatchField {
                    name: "spec".into(),
                    shape: vec![3, 1, 2, 3],
                    values: Values::F32(vec![0.5; 3 * 6]),
                },
                crate::pipeline::BatchField {
                    name: "label".into(),
                    shape: vec![3],
                    values: Values::I64(vec![0, 1, 0]),
                },
            ],
            meta: vec![meta(4), meta(5), meta(6)],
        };
        w.write_batch(&batch).unwrap();
        let shards = w.finish().unwrap();
        assert_eq!(shards.len(), 2);
        let mut ar = tar::Archive::new(File::open(&shards[0]).unwrap());
        let names: Vec<String> = ar
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "s0000000004.frames.npy",
                "s0000000004.spec.npy",
                "s0000000004.label.npy",
                "s0000000004.cls",
                "s0000000004.json",
                "s0000000005.frames.npy",
                "s0000000005.spec.npy",
                "s0000000005.label.npy",
                "s0000000005.cls",
                "s0000000005.json"
            ]
        );
        let log = std::fs::read_to_string(dir.path().join("samples.jsonl")).unwrap();
        assert_eq!(log.lines().count(), 3);
        assert!(log.lines().nth(2).unwrap().contains("shard-000001.tar"));
        assert!(!dir.path().join(".shard-000001.tar.partial").exists());
    }
}
