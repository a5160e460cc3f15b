//! WebDataset-style tar shards: `shard-000000.tar`, ... each holding up to `per_shard` examples
//! as one `{key}.{field}.npy` per field the task declares (`frames` `[3, H, W]` or
//! `[K, 3, H, W]`, `spec` `[1, F, T]`, `label` `[]`, `tiles`, ...), `{key}.cls` (the label as
//! text, when the task has a scalar `label` field) and `{key}.json` (the [`SampleMeta`]: file,
//! video time(s), audio file and time, label, kind, augmentation). Keys are `s` + the zero-padded sequence number, with no dot, so Python's
//! `webdataset` groups the members unchanged. A `samples.jsonl` beside the shards logs every
//! example with its shard for reproduction. Shards are written under a temporary name and
//! renamed when complete, so a killed run never leaves a truncated shard under a final name.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::{Batch, PipelineError, SampleMeta, Values};
use crate::io::{npy_f32_bytes, npy_i64_bytes};

/// Shard writer options.
#[derive(Debug, Clone)]
pub struct ShardWriterConfig {
    /// Output folder (created if missing).
    pub dir: PathBuf,
    /// Examples per shard.
    pub per_shard: usize,
}

struct OpenShard {
    tmp: PathBuf,
    path: PathBuf,
    builder: tar::Builder<BufWriter<File>>,
    count: usize,
}

/// Writes batches into tar shards.
pub struct ShardWriter {
    config: ShardWriterConfig,
    shard: Option<OpenShard>,
    next_index: usize,
    log: BufWriter<File>,
    log_path: PathBuf,
    written: u64,
    shards: Vec<PathBuf>,
}

#[derive(serde::Serialize)]
struct LogLine<'a> {
    key: String,
    shard: String,
    #[serde(flatten)]
    meta: &'a SampleMeta,
}

impl ShardWriter {
    /// Creates the folder and the `samples.jsonl` log.
    pub fn create(config: ShardWriterConfig) -> Result<Self, PipelineError> {
        if config.per_shard == 0 {
            return Err(PipelineError::Config("per_shard must be at least 1".into()));
        }
        std::fs::create_dir_all(&config.dir)
            .map_err(|e| PipelineError::file(&config.dir, "creating the output folder", e))?;
        let log_path = config.dir.join("samples.jsonl");
        let log = File::create(&log_path)
            .map_err(|e| PipelineError::file(&log_path, "creating the sample log", e))?;
        Ok(ShardWriter {
            config,
            shard: None,
            next_index: 0,
            log: BufWriter::new(log),
            log_path,
            written: 0,
            shards: Vec::new(),
        })
    }

    /// The key of sequence number `seq`.
    pub fn key(seq: u64) -> String {
        format!("s{seq:010}")
    }

    /// Examples written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    fn open_shard(&mut self) -> Result<&mut OpenShard, PipelineError> {
        if self.shard.as_ref().is_some_and(|s| s.count >= self.config.per_shard) {
            self.close_shard()?;
        }
        if self.shard.is_none() {
            let name = format!("shard-{:06}.tar", self.next_index);
            self.next_index += 1;
            let path = self.config.dir.join(&name);
            let tmp = self.config.dir.join(format!(".{name}.partial"));
            let f =
                File::create(&tmp).map_err(|e| PipelineError::file(&tmp, "creating a shard", e))?;
            let builder = tar::Builder::new(BufWriter::new(f));
            self.shard = Some(OpenShard { tmp, path, builder, count: 0 });
        }
        self.shard.as_mut().ok_or(PipelineError::Cancelled)
    }

    fn close_shard(&mut self) -> Result<(), PipelineError> {
        if let Some(s) = self.shard.take() {
            let tmp = s.tmp.clone();
            let mut w = s
                .builder
                .into_inner()
                .map_err(|e| PipelineError::file(&tmp, "finishing a shard", e))?;
            w.flush().map_err(|e| PipelineError::file(&tmp, "flushing a shard", e))?;
            drop(w);
            std::fs::rename(&tmp, &s.path)
                .map_err(|e| PipelineError::file(&s.path, "renaming a shard", e))?;
            self.shards.push(s.path);
        }
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
            let shard = self.open_shard()?;
            for (name, data) in members {
                let mut h = tar::Header::new_ustar();
                h.set_size(data.len() as u64);
                h.set_mode(0o644);
                h.set_mtime(0);
                h.set_cksum();
                let tmp = shard.tmp.clone();
                shard
                    .builder
                    .append_data(&mut h, &name, data.as_slice())
                    .map_err(|e| PipelineError::file(&tmp, "writing a shard member", e))?;
            }
            shard.count += 1;
            let shard_name = shard.path.file_name().map(|n| n.to_string_lossy().into_owned());
            let line = LogLine { key, shard: shard_name.unwrap_or_default(), meta };
            let mut text = serde_json::to_string(&line).unwrap_or_default();
            text.push('\n');
            self.log
                .write_all(text.as_bytes())
                .map_err(|e| PipelineError::file(&self.log_path, "writing the sample log", e))?;
            self.written += 1;
        }
        Ok(())
    }

    /// Closes the last shard and the log; returns the shard paths.
    pub fn finish(mut self) -> Result<Vec<PathBuf>, PipelineError> {
        self.close_shard()?;
        self.log
            .flush()
            .map_err(|e| PipelineError::file(&self.log_path, "flushing the sample log", e))?;
        Ok(std::mem::take(&mut self.shards))
    }

    /// Output folder.
    pub fn dir(&self) -> &Path {
        &self.config.dir
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

    #[test]
    fn shards_roll_over_and_members_are_grouped() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = ShardWriter::create(ShardWriterConfig { dir: dir.path().into(), per_shard: 2 })
            .unwrap();
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
